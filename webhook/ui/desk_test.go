package ui_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kizashi-dev/kizashi/webhook/alertmsg"
	"github.com/kizashi-dev/kizashi/webhook/auth"
	"github.com/kizashi-dev/kizashi/webhook/config"
	"github.com/kizashi-dev/kizashi/webhook/incident"
	"github.com/kizashi-dev/kizashi/webhook/service"
	"github.com/kizashi-dev/kizashi/webhook/store/sqlite"
	"github.com/kizashi-dev/kizashi/webhook/store/sqlstore"
	"github.com/kizashi-dev/kizashi/webhook/testkit"
	"github.com/kizashi-dev/kizashi/webhook/ui"
)

const (
	tokNOC   = "noc-token-0123456789abcdefXY"
	tokNOC2  = "noc2-token-0123456789abcdefXY"
	tokGlobx = "globex-token-0123456789abcdef"
	// tokAM and tokGlobxAM are the tenants' Alertmanager tokens, which the page refuses; tok and
	// tokGlobx are their API tokens (role act).
	tokAM      = "acme-alertmanager-0123456789"
	tokGlobxAM = "globex-alertmanager-0123456789"
)

// desk is the page on a real SQLite store, with a tenant (acme), another tenant (globex) and
// two operators (noc, noc2).
type desk struct {
	t      testing.TB
	srv    *httptest.Server
	svc    *service.Service
	st     *sqlstore.Store
	access *auth.Access
	cfg    *config.Config
	clock  *testkit.Clock
	ui     *ui.UI
}

func newDesk(t testing.TB, extra string) *desk {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "k.db"), sqlite.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, st.Close()) })
	cfg, err := config.Parse([]byte(`tenants:
  - name: acme
    tokens: ["`+tokAM+`"]
    api_tokens: [{name: acme, role: act, tokens: ["`+tok+`"]}]
  - name: globex
    tokens: ["`+tokGlobxAM+`"]
    api_tokens: [{name: globex, role: act, tokens: ["`+tokGlobx+`"]}]
operators:
  - name: noc
    tokens: ["`+tokNOC+`"]
  - name: noc2
    tokens: ["`+tokNOC2+`"]
`+extra), ".")
	require.NoError(t, err)
	secret, err := st.ServerSecret(ctx, []byte("s"))
	require.NoError(t, err)
	d := &desk{t: t, st: st, cfg: cfg, clock: testkit.NewClock(time.Now())}
	d.svc = &service.Service{Store: st, Rules: func() service.Rules { return cfg }, Now: d.clock.Now}
	current := func() *config.Config { return cfg }
	d.access = &auth.Access{Authenticator: auth.WithUsers(auth.NewTokens(current, secret), auth.NewUsers(current, secret)), Sessions: auth.NewSessions(st, secret)}
	mux := http.NewServeMux()
	d.ui = &ui.UI{Service: d.svc, Access: d.access, Logger: slog.New(slog.DiscardHandler), Config: func() *config.Config { return cfg }}
	d.ui.Register(mux)
	d.srv = httptest.NewServer(mux)
	t.Cleanup(d.srv.Close)
	return d
}

// ingest opens (or updates) an incident of acme from one alert and returns its id.
func (d *desk) ingest(tenant, group string, starts time.Time, labels, annotations map[string]string) int64 {
	d.t.Helper()
	body := testkit.JSONPayload(d.t, tenant+"-ops", group, "firing", testkit.JSONAlert{Status: "firing", Labels: labels,
		Annotations: annotations, StartsAt: starts.UTC().Format(time.RFC3339Nano)})
	m, err := alertmsg.Parse(body)
	require.NoError(d.t, err)
	res, err := d.svc.Ingest(context.Background(), tenant, m, body)
	require.NoError(d.t, err)
	require.Len(d.t, res.Incidents, 1)
	return res.Incidents[0]
}

func (d *desk) act(id int64, a incident.Action) {
	d.t.Helper()
	_, err := d.svc.Act(context.Background(), service.Caller{Name: "noc", Operator: true}, id, a)
	require.NoError(d.t, err)
}

// session opens a page session for a token: its cookie and CSRF token.
func (d *desk) session(token string) (string, string) {
	return d.sessionOf(auth.Credential{Token: token})
}

// sessionOf opens a page session for a credential (a token, or a user's name and password).
func (d *desk) sessionOf(c auth.Credential) (string, string) {
	d.t.Helper()
	cookie, _, err := d.access.Sessions.Open(context.Background(), d.access.Authenticator, c, time.Now())
	require.NoError(d.t, err)
	return cookie, d.access.Sessions.CSRFToken(cookie)
}

type answer struct {
	code     int
	location string
	body     string
	header   http.Header
}

// do sends a request with the session cookie (and extra cookies/headers), following no redirect.
func (d *desk) do(cookie, method, path string, form url.Values, headers map[string]string, cookies ...*http.Cookie) answer {
	d.t.Helper()
	req, err := http.NewRequest(method, d.srv.URL+path, strings.NewReader(form.Encode()))
	require.NoError(d.t, err)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	if cookie != "" {
		req.AddCookie(&http.Cookie{Name: auth.SessionCookie, Value: cookie})
	}
	for _, c := range cookies {
		req.AddCookie(c)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	require.NoError(d.t, err)
	b, err := io.ReadAll(resp.Body)
	require.NoError(d.t, err)
	require.NoError(d.t, resp.Body.Close())
	return answer{resp.StatusCode, resp.Header.Get("Location"), string(b), resp.Header}
}
