package api

import (
	"iter"
	"net/http"
	"strings"
	"time"

	"github.com/kizashi-dev/kizashi/webhook/config"
	"github.com/kizashi-dev/kizashi/webhook/service"
)

// Auth authenticates credentials (the configuration implements it).
type Auth interface {
	Authenticate(token string) (config.Principal, bool)
	AuthenticateBasic(user, pass string) (config.Principal, bool)
	// TokenID and Tokens identify tokens without keeping them (page sessions).
	TokenID(token string) ([32]byte, config.Principal, bool)
	Tokens() iter.Seq2[[32]byte, config.Principal]
}

// ServerConfig returns the HTTP settings (defaults when the API has none).
func (a *API) ServerConfig() *config.Server {
	if a.Server != nil {
		if s := a.Server(); s != nil {
			return s
		}
	}
	return &config.DefaultServer
}

// fromHeader authenticates the Authorization header. present is false when there is none;
// reason names a failure.
func (a *API) fromHeader(r *http.Request) (p config.Principal, present bool, reason string) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return config.Principal{}, false, ""
	}
	auth := a.Auth()
	if tok, ok := strings.CutPrefix(h, "Bearer "); ok {
		if p, ok := auth.Authenticate(strings.TrimSpace(tok)); ok {
			return p, true, ""
		}
		return config.Principal{}, true, FailToken
	}
	if u, pw, ok := r.BasicAuth(); ok {
		if p, ok := auth.AuthenticateBasic(u, pw); ok {
			return p, true, ""
		}
		return config.Principal{}, true, FailBasic
	}
	return config.Principal{}, true, FailMalformed
}

// alertmanager authenticates a sender of notifications (/api/v1/alerts, /api/v1/watchdog):
// the Authorization header only, never the page's cookie. On failure it has answered: 401
// or 403 (final: the credential is wrong), or 503 with Retry-After when the source is
// throttled (Alertmanager drops every 4xx, a 429 included, and retries a 5xx: a legitimate
// sender behind the same address as a guesser loses nothing).
func (a *API) alertmanager(w http.ResponseWriter, r *http.Request) (config.Principal, bool) {
	srv := a.ServerConfig()
	src := ClientAddr(r, srv.Proxies())
	if t, d := a.Guard.Throttled(src, srv.AuthFailures); t {
		w.Header().Set("Retry-After", RetryAfter(d))
		a.reject(w, http.StatusServiceUnavailable, service.RejectThrottled, "too many failed authentications from this address, retry later")
		return config.Principal{}, false
	}
	p, present, reason := a.fromHeader(r)
	if !present {
		a.reject(w, http.StatusUnauthorized, service.RejectUnauthorized, "unauthorized")
		return config.Principal{}, false
	}
	if reason != "" {
		a.Guard.Failed(src, reason, r.URL.Path, srv.AuthFailures)
		a.reject(w, http.StatusUnauthorized, service.RejectUnauthorized, "unauthorized")
		return config.Principal{}, false
	}
	if p.Tenant == "" {
		a.reject(w, http.StatusForbidden, service.RejectForbidden, "operators cannot send alerts")
		return config.Principal{}, false
	}
	return p, true
}

// safe methods change nothing: the page's cookie may authenticate them without a CSRF token.
func safe(method string) bool {
	return method == http.MethodGet || method == http.MethodHead || method == http.MethodOptions
}

// caller authenticates a REST API caller: the Authorization header, or the page's session
// cookie, which may change state only with the session's CSRF token in X-CSRF-Token and from
// the page's own origin. On failure it has answered: 401, 403, 503 (store down) or 429 with
// Retry-After when the source is throttled (the REST API is not Alertmanager's: its clients
// read 429 as "slow down", and a 503 would page whoever watches the service).
func (a *API) caller(w http.ResponseWriter, r *http.Request) (config.Principal, bool) {
	srv := a.ServerConfig()
	src := ClientAddr(r, srv.Proxies())
	if t, d := a.Guard.Throttled(src, srv.AuthFailures); t {
		w.Header().Set("Retry-After", RetryAfter(d))
		writeError(w, http.StatusTooManyRequests, "too many failed authentications from this address, retry later")
		return config.Principal{}, false
	}
	unauthorized := func() (config.Principal, bool) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="kizashi-webhook"`)
		writeError(w, http.StatusUnauthorized, "unauthorized")
		return config.Principal{}, false
	}
	p, present, reason := a.fromHeader(r)
	switch {
	case present && reason == "":
		return p, true
	case present:
		a.Guard.Failed(src, reason, r.URL.Path, srv.AuthFailures)
		return unauthorized()
	}
	c, err := r.Cookie(SessionCookie)
	if err != nil || a.Sessions == nil {
		return unauthorized()
	}
	p, ok, err := a.Sessions.Principal(r.Context(), a.Auth(), c.Value, time.Now())
	if err != nil {
		a.storeError(w, err)
		return config.Principal{}, false
	}
	if !ok {
		a.Guard.Failed(src, FailSession, r.URL.Path, srv.AuthFailures)
		return unauthorized()
	}
	if !safe(r.Method) {
		if err := a.crossOrigin().Check(r); err != nil || !a.Sessions.ValidCSRF(c.Value, r.Header.Get(CSRFHeader)) {
			a.Guard.Failed(src, FailCSRF, r.URL.Path, srv.AuthFailures)
			writeError(w, http.StatusForbidden, "a state change with the page's session needs its CSRF token in "+CSRFHeader+" and the page's origin")
			return config.Principal{}, false
		}
	}
	return p, true
}

// crossOrigin refuses cross-origin browser requests (Sec-Fetch-Site, or Origin against Host).
func (a *API) crossOrigin() *http.CrossOriginProtection {
	return CrossOrigin()
}

// CrossOrigin refuses cross-origin browser requests that change state: Sec-Fetch-Site must be
// same-origin (or none: typed by the user), or else Origin must name this host; requests
// with neither header are not from a browser and pass.
func CrossOrigin() *http.CrossOriginProtection {
	return http.NewCrossOriginProtection()
}

type handler func(w http.ResponseWriter, r *http.Request, p config.Principal)

func (a *API) authed(h handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, ok := a.caller(w, r)
		if !ok {
			return
		}
		h(w, r, p)
	}
}
