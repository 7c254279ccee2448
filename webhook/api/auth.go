package api

import (
	"net/http"

	"github.com/kizashi-dev/kizashi/webhook/apitypes"
	"github.com/kizashi-dev/kizashi/webhook/auth"
	"github.com/kizashi-dev/kizashi/webhook/i18n"
	"github.com/kizashi-dev/kizashi/webhook/service"
)

// alertmanager authenticates a sender of notifications (/api/v1/alerts, /api/v1/watchdog):
// the Authorization header only, never the page's cookie. On failure it has answered: 401
// or 403 (final: the credential is wrong), or 503 with Retry-After when the source is
// throttled or the credential could not be checked (Alertmanager drops every 4xx, a 429
// included, and retries a 5xx: a legitimate sender behind the same address as a guesser loses
// nothing).
func (a *API) alertmanager(w http.ResponseWriter, r *http.Request) (auth.Principal, bool) {
	if t, d := a.Access.Throttled(r); t {
		w.Header().Set("Retry-After", auth.RetryAfter(d))
		a.reject(w, http.StatusServiceUnavailable, service.RejectThrottled, "too many failed authentications from this address, retry later")
		return auth.Principal{}, false
	}
	p, present, reason, err := a.Access.FromHeader(r.Context(), r)
	switch {
	case !present:
		a.reject(w, http.StatusUnauthorized, service.RejectUnauthorized, "unauthorized")
		return auth.Principal{}, false
	case reason != "":
		a.Access.Failed(r, reason)
		a.reject(w, http.StatusUnauthorized, service.RejectUnauthorized, "unauthorized")
		return auth.Principal{}, false
	case err != nil:
		a.Logger.Error("check credentials", "path", r.URL.Path, "err", err)
		a.reject(w, http.StatusServiceUnavailable, service.RejectUnavailable, "credentials cannot be checked now, retry")
		return auth.Principal{}, false
	case !p.SendsAlerts():
		a.reject(w, http.StatusForbidden, service.RejectForbidden, "only a tenant's Alertmanager credential (tenants[].tokens, token_files, basic_auth) posts alerts")
		return auth.Principal{}, false
	}
	return p, true
}

// safe methods change nothing: the page's cookie may authenticate them without a CSRF token.
func safe(method string) bool {
	return method == http.MethodGet || method == http.MethodHead || method == http.MethodOptions
}

// caller authenticates a REST API caller: the Authorization header, or the page's session
// cookie, which may change state only with the session's CSRF token in X-CSRF-Token and from
// the page's own origin. On failure it has answered: 401, 403, 503 (store down, credentials
// that cannot be checked) or 429 with Retry-After when the source is throttled (the REST API is
// not Alertmanager's: its clients read 429 as "slow down", and a 503 would page whoever
// watches the service).
func (a *API) caller(w http.ResponseWriter, r *http.Request) (auth.Principal, bool) {
	if t, d := a.Access.Throttled(r); t {
		w.Header().Set("Retry-After", auth.RetryAfter(d))
		writeError(w, r, http.StatusTooManyRequests, apitypes.CodeThrottled, i18n.New("too many failed authentications from this address, retry later"))
		return auth.Principal{}, false
	}
	unauthorized := func() (auth.Principal, bool) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="kizashi-webhook"`)
		writeError(w, r, http.StatusUnauthorized, apitypes.CodeUnauthorized, i18n.New("unauthorized"))
		return auth.Principal{}, false
	}
	p, present, reason, err := a.Access.FromHeader(r.Context(), r)
	switch {
	case present && reason != "":
		a.Access.Failed(r, reason)
		return unauthorized()
	case present && err != nil:
		a.Logger.Error("check credentials", "path", r.URL.Path, "err", err)
		writeError(w, r, http.StatusServiceUnavailable, apitypes.CodeUnavailable, i18n.New("credentials cannot be checked now, retry"))
		return auth.Principal{}, false
	case present:
		return a.notIngestOnly(w, r, p)
	}
	p, cookie, ok, err := a.Access.Session(r)
	switch {
	case err != nil:
		a.storeError(w, r, err)
		return auth.Principal{}, false
	case cookie == "":
		return unauthorized()
	case !ok:
		a.Access.Failed(r, auth.FailSession)
		return unauthorized()
	}
	if !safe(r.Method) {
		if err := auth.CrossOrigin().Check(r); err != nil || !a.Access.Sessions.ValidCSRF(cookie, r.Header.Get(auth.CSRFHeader)) {
			a.Access.Failed(r, auth.FailCSRF)
			writeError(w, r, http.StatusForbidden, apitypes.CodeCSRF, i18n.Errorf("a state change with the page's session needs its CSRF token in %s and the page's origin", auth.CSRFHeader))
			return auth.Principal{}, false
		}
	}
	return a.notIngestOnly(w, r, p)
}

// notIngestOnly refuses an Alertmanager credential (403, naming the credentials the REST API
// takes): it only posts alerts.
func (a *API) notIngestOnly(w http.ResponseWriter, r *http.Request, p auth.Principal) (auth.Principal, bool) {
	if p.IngestOnly() {
		writeError(w, r, http.StatusForbidden, apitypes.CodeIngestOnly, auth.ErrIngestOnly)
		return auth.Principal{}, false
	}
	return p, true
}

type handler func(w http.ResponseWriter, r *http.Request, p auth.Principal)

func (a *API) authed(h handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, ok := a.caller(w, r)
		if !ok {
			return
		}
		// The language of the answer's messages: the user's own choice, else Accept-Language,
		// else English. Only an error answer has words of the catalogue (and Content-Language);
		// every answer may depend on the header.
		// Negotiated when an error is answered: a successful request reads no preferences.
		r = i18n.WithNegotiation(r, func() string {
			return i18n.Negotiate(a.savedLanguage(r, p), r.Header.Get("Accept-Language"), i18n.English)
		})
		i18n.Vary(w)
		// A read-only principal (a customer) changes nothing, on any route.
		if p.ReadOnly() && !safe(r.Method) {
			writeError(w, r, http.StatusForbidden, apitypes.CodeReadOnly, i18n.New("read-only role: this changes nothing"))
			return
		}
		h(w, r, p)
	}
}

// staffOnly refuses customers what only the service provider's staff reads (the forwarding's
// dead letters).
func (a *API) staffOnly(h handler) handler {
	return func(w http.ResponseWriter, r *http.Request, p auth.Principal) {
		if !p.SeesInternal() {
			writeError(w, r, http.StatusForbidden, apitypes.CodeForbidden, i18n.New("not for customers"))
			return
		}
		h(w, r, p)
	}
}

// savedLanguage is the language p chose on the page's preferences ("" for none): a named
// user's saved choice (service.Preferences), else the preferences' cookie, which a request
// with the page's session carries. A store that cannot be read now counts as no choice.
func (a *API) savedLanguage(r *http.Request, p auth.Principal) string {
	if prefs, err := a.Service.Preferences(r.Context(), p.Caller()); err == nil && i18n.Valid(prefs.Language) {
		return prefs.Language
	}
	if c, err := r.Cookie(i18n.Cookie); err == nil && i18n.Valid(c.Value) {
		return c.Value
	}
	return ""
}
