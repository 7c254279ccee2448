package auth_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kizashi-dev/kizashi/webhook/auth"
	"github.com/kizashi-dev/kizashi/webhook/config"
)

// FuzzOIDCFinish feeds the callback any state cookie and query: nothing but a log-in this
// installation started (a cookie signed with its secret, the same state) gets past the checks
// that come before the provider is contacted, and nothing panics.
func FuzzOIDCFinish(f *testing.F) {
	c, err := config.Parse([]byte(`
tenants:
  - {name: acme, tokens: ["acme-secret-token-0123456789"]}
users:
  - {name: alice, role: operator, oidc_subject: alice}
oidc:
  issuer: http://127.0.0.1:1/
  client_id: kizashi
  client_secret: s3cret-0123456789
  redirect_url: http://127.0.0.1:9095/login/oidc/callback
`), ".")
	require.NoError(f, err)
	cfg := func() *config.Config { return c }
	o := auth.NewOIDC(cfg, auth.NewUsers(cfg, []byte("secret")), []byte("secret"), nil)
	f.Add("a.b.c.9999999999.sig", "state=a&code=x")
	f.Add("....", "error=access_denied")
	f.Add("", "")
	f.Fuzz(func(t *testing.T, cookie, query string) {
		r := httptest.NewRequest(http.MethodGet, "/login/oidc/callback", nil)
		if q, err := url.ParseQuery(query); err == nil {
			r.URL.RawQuery = q.Encode()
		}
		if cookie != "" {
			r.AddCookie(&http.Cookie{Name: auth.OIDCStateCookie, Value: url.QueryEscape(cookie)})
		}
		w := httptest.NewRecorder()
		_, ref, err := o.Finish(w, r, false)
		require.ErrorIs(t, err, auth.ErrOIDCLogin)
		require.Empty(t, ref)
	})
}
