package ui

import (
	"errors"
	"net/http"
	"time"

	"github.com/kizashi-dev/kizashi/webhook/auth"
)

// RegisterOIDC adds the OpenID Connect log-in: GET /login/oidc redirects to the provider,
// GET /login/oidc/callback takes its answer and opens a session (see auth.OIDC). Both answer
// 404 while OpenID Connect is not configured.
func (u *UI) RegisterOIDC(mux *http.ServeMux, o *auth.OIDC) {
	mux.HandleFunc("GET /login/oidc", func(w http.ResponseWriter, r *http.Request) {
		if !o.Enabled() {
			http.NotFound(w, r)
			return
		}
		to, err := o.Start(w, r, u.Access.SecureCookie(r))
		if err != nil {
			u.Logger.Error("oidc log-in", "err", err)
			http.Redirect(w, r, "/login?error=oidc", http.StatusSeeOther)
			return
		}
		http.Redirect(w, r, to, http.StatusFound)
	})
	mux.HandleFunc("GET /login/oidc/callback", func(w http.ResponseWriter, r *http.Request) {
		if !o.Enabled() {
			http.NotFound(w, r)
			return
		}
		if t, d := u.Access.Throttled(r); t {
			w.Header().Set("Retry-After", auth.RetryAfter(d))
			http.Error(w, u.locale(r).T("Too many failed log-ins from your address: try again later."), http.StatusTooManyRequests)
			return
		}
		secure := u.Access.SecureCookie(r)
		_, ref, err := o.Finish(w, r, secure)
		if errors.Is(err, auth.ErrOIDCLogin) {
			u.Access.Failed(r, auth.FailLogin)
		}
		var cookie string
		if err == nil {
			cookie, err = u.Access.Sessions.OpenRef(r.Context(), ref, time.Now())
		}
		if err != nil {
			u.Logger.Warn("oidc log-in refused", "err", err)
			http.Redirect(w, r, "/login?error=oidc", http.StatusSeeOther)
			return
		}
		http.SetCookie(w, &http.Cookie{Name: auth.SessionCookie, Value: cookie, Path: "/", MaxAge: int(auth.SessionTTL.Seconds()),
			HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: secure})
		http.Redirect(w, r, "/incidents", http.StatusSeeOther)
	})
}
