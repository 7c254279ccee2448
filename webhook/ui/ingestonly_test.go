package ui_test

import (
	"context"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kizashi-dev/kizashi/webhook/auth"
)

// TestAlertmanagerTokenCannotLogIn: a tenant's Alertmanager token only posts alerts. The log-in
// form refuses it (403, naming the credentials that log in) and opens no session; a session
// opened with it before the upgrade is sent back to the log-in page; the tenant's API token
// logs in.
func TestAlertmanagerTokenCannotLogIn(t *testing.T) {
	d := newDesk(t, "")
	origin := map[string]string{"Origin": d.srv.URL}
	a := d.do("", http.MethodPost, "/login", url.Values{"token": {tokAM}}, origin)
	require.Equal(t, http.StatusForbidden, a.code, a.body)
	require.Contains(t, a.body, "api_tokens")
	require.Empty(t, a.header.Values("Set-Cookie"), "no session for Alertmanager's token")

	a = d.do("", http.MethodPost, "/login", url.Values{"token": {tok}}, origin)
	require.Equal(t, http.StatusSeeOther, a.code, a.body)
	require.Equal(t, "/incidents", a.location)

	// A session of the Alertmanager token that predates the rule (opened in the store directly).
	p, ref, err := d.access.Authenticator.Authenticate(context.Background(), auth.Credential{Token: tokAM})
	require.NoError(t, err)
	require.True(t, p.IngestOnly())
	cookie, err := d.access.Sessions.OpenRef(context.Background(), ref, time.Now())
	require.NoError(t, err)
	a = d.do(cookie, http.MethodGet, "/incidents", nil, nil)
	require.Equal(t, http.StatusSeeOther, a.code)
	require.Equal(t, "/login?error=alertmanager", a.location)
	a = d.do("", http.MethodGet, "/login?error=alertmanager", nil, nil)
	require.Contains(t, a.body, "only posts alerts")
}
