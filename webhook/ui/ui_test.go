package ui_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kizashi-dev/kizashi/webhook/alertmsg"
	"github.com/kizashi-dev/kizashi/webhook/auth"
	"github.com/kizashi-dev/kizashi/webhook/config"
	"github.com/kizashi-dev/kizashi/webhook/incident"
	"github.com/kizashi-dev/kizashi/webhook/service"
	"github.com/kizashi-dev/kizashi/webhook/store"
	"github.com/kizashi-dev/kizashi/webhook/store/sqlite"
	"github.com/kizashi-dev/kizashi/webhook/testkit"
	"github.com/kizashi-dev/kizashi/webhook/ui"
)

const tok = "acme-token-0123456789abcdef"

// broken fails the incident reads and writes with a database's words while down is set.
type broken struct {
	store.Store
	down *atomic.Bool
}

var errDB = errors.New(`pq: could not connect to 10.0.0.7:5432 as kizashi`)

func (b broken) Update(ctx context.Context, fn func(context.Context, store.Tx) error) error {
	if b.down.Load() {
		return errDB
	}
	return b.Store.Update(ctx, fn)
}

func (b broken) ListIncidents(ctx context.Context, f store.Filter) ([]*incident.Incident, error) {
	if b.down.Load() {
		return nil, errDB
	}
	return b.Store.ListIncidents(ctx, f)
}

func (b broken) Incident(ctx context.Context, tenant string, id int64) (*incident.Incident, error) {
	if b.down.Load() {
		return nil, errDB
	}
	return b.Store.Incident(ctx, tenant, id)
}

// TestStoreErrorsOnThePage: when the store fails, the page shows a generic message with a
// request id, and the log has the database's words under that id.
func TestStoreErrorsOnThePage(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "k.db"), sqlite.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, st.Close()) })
	cfg, err := config.Parse([]byte("tenants:\n  - name: acme\n    tokens: [\""+tokAM+"\"]\n    api_tokens: [{name: acme, role: act, tokens: [\""+tok+"\"]}]\n"), ".")
	require.NoError(t, err)
	secret, err := st.ServerSecret(ctx, []byte("s"))
	require.NoError(t, err)
	var down atomic.Bool
	var log bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&log, nil))
	svc := &service.Service{Store: broken{st, &down}, Rules: func() service.Rules { return cfg }}
	access := &auth.Access{Authenticator: auth.NewTokens(func() *config.Config { return cfg }, secret), Sessions: auth.NewSessions(st, secret)}
	mux := http.NewServeMux()
	(&ui.UI{Service: svc, Access: access, Logger: logger}).Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	body := testkit.Payload("r", "g", "firing", time.Now().UTC(), map[string]string{"alertname": "A"})
	m, err := alertmsg.Parse(body)
	require.NoError(t, err)
	res, err := svc.Ingest(ctx, "acme", m, body)
	require.NoError(t, err)
	cookie, _, err := access.Sessions.Open(ctx, access.Authenticator, auth.Credential{Token: tok}, time.Now())
	require.NoError(t, err)
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	do := func(method, path string, form url.Values) (int, string, string) {
		req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(form.Encode()))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.AddCookie(&http.Cookie{Name: auth.SessionCookie, Value: cookie})
		resp, err := client.Do(req)
		require.NoError(t, err)
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		require.NoError(t, resp.Body.Close())
		return resp.StatusCode, resp.Header.Get("Location"), string(b)
	}
	detail := fmt.Sprintf("/incidents/%d", res.Incidents[0])
	code, _, _ := do(http.MethodGet, detail, nil)
	require.Equal(t, 200, code)

	down.Store(true)
	act := url.Values{"csrf": {access.Sessions.CSRFToken(cookie)}, "action": {"acknowledge"}}
	for _, r := range []struct {
		method, path string
		form         url.Values
	}{{http.MethodGet, "/incidents", nil}, {http.MethodGet, detail, nil}, {http.MethodPost, detail + "/act", act}} {
		code, location, page := do(r.method, r.path, r.form)
		require.Equal(t, http.StatusServiceUnavailable, code, "%s %s", r.method, r.path)
		require.Empty(t, location, "no redirect carrying the error")
		require.NotContains(t, page, "10.0.0.7")
		i := strings.Index(page, "store unavailable (request id ")
		require.GreaterOrEqual(t, i, 0, page)
		id := page[i+len("store unavailable (request id ") : i+len("store unavailable (request id ")+16]
		require.Contains(t, log.String(), "request_id="+id+` err="`)
	}
	require.Contains(t, log.String(), "10.0.0.7", "the log has the database's words")
}
