package ui_test

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kizashi-dev/kizashi/webhook/auth"
	"github.com/kizashi-dev/kizashi/webhook/incident"
)

const tokViewer = "viewer-token-0123456789abcdefXY"

// viewerAuth adds a principal of a role the page does not know as one that works on
// incidents (as a customer's read-only viewer will be) to the configuration's tokens.
type viewerAuth struct{ auth.Authenticator }

var viewer = auth.Principal{Name: "carol", Tenant: "acme", Role: "viewer"}

func (a viewerAuth) Authenticate(ctx context.Context, c auth.Credential) (auth.Principal, string, error) {
	if c.Token == tokViewer {
		return viewer, "viewer:carol", nil
	}
	return a.Authenticator.Authenticate(ctx, c)
}

func (a viewerAuth) Resolve(ctx context.Context, ref string) (auth.Principal, error) {
	if ref == "viewer:carol" {
		return viewer, nil
	}
	return a.Authenticator.Resolve(ctx, ref)
}

// TestReadOnlyPrincipal: a principal that only reads sees its tenant's queue and incidents
// with no action, bulk form or retry, and every write it posts anyway is refused (403) and
// changes nothing; it may still export and set its preferences.
func TestReadOnlyPrincipal(t *testing.T) {
	d := newDesk(t, "")
	d.access.Authenticator = viewerAuth{d.access.Authenticator}
	id := d.ingest("acme", "g", time.Now(), map[string]string{"alertname": "A"}, nil)
	d.ingest("globex", "g", time.Now(), map[string]string{"alertname": "GlobexSecret"}, nil)
	cookie, csrf := d.session(tokViewer)
	path := "/incidents/" + strconv.FormatInt(id, 10)

	list := d.do(cookie, http.MethodGet, "/incidents", nil, nil)
	require.Equal(t, http.StatusOK, list.code)
	require.Equal(t, []int64{id}, queueIDs(t, list.body))
	require.NotContains(t, list.body, `id="bulk-apply"`)
	require.NotContains(t, list.body, `class="pick"`)
	page := d.do(cookie, http.MethodGet, path, nil, nil).body
	require.Empty(t, buttons(page))
	require.Contains(t, page, `<p class="muted" id="read-only">You may read incidents but not change them.</p>`)

	for _, w := range []struct {
		path string
		form url.Values
	}{
		{path + "/act", url.Values{"action": {"acknowledge"}}},
		{path + "/act", url.Values{"action": {"note"}, "text": {"hello"}}},
		{"/incidents/bulk", url.Values{"action": {"acknowledge"}, "ids": {strconv.FormatInt(id, 10)}}},
		{path + "/retry", url.Values{"dead_letter": {"1"}}},
	} {
		w.form.Set("csrf", csrf)
		ans := d.do(cookie, http.MethodPost, w.path, w.form, nil)
		require.Equal(t, http.StatusForbidden, ans.code, w.path)
	}
	in, err := d.st.Incident(t.Context(), "acme", id)
	require.NoError(t, err)
	require.Equal(t, incident.StateNew, in.State)
	j, err := d.st.Journal(t.Context(), id)
	require.NoError(t, err)
	for _, e := range j {
		require.NotEqual(t, "carol", e.Actor)
	}
	require.Equal(t, http.StatusOK, d.do(cookie, http.MethodGet, "/incidents.csv", nil, nil).code)
	require.Equal(t, http.StatusSeeOther, d.do(cookie, http.MethodPost, "/preferences", url.Values{"csrf": {csrf}, "zone": {"Asia/Tokyo"}}, nil).code)
}
