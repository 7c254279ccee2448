package app

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/http"

	"github.com/kizashi-dev/kizashi/webhook/auth"
	"github.com/kizashi-dev/kizashi/webhook/config"
	"github.com/kizashi-dev/kizashi/webhook/publicid"
	"github.com/kizashi-dev/kizashi/webhook/store"
)

// secrets reads the installation's secret from the store (created by the first replica) and
// returns what is keyed by it: the authenticator of the configuration cfg returns (named
// users, then tokens), its OpenID Connect log-in, the page's sessions and the public ids.
func secrets(ctx context.Context, st store.Store, cfg func() *config.Config) (auth.Authenticator, *auth.OIDC, *auth.Sessions, *publicid.Codec, error) {
	ss, ok := st.(store.Sessions)
	if !ok {
		return nil, nil, nil, nil, fmt.Errorf("store %T keeps no sessions", st)
	}
	fresh := make([]byte, 32)
	if _, err := rand.Read(fresh); err != nil {
		return nil, nil, nil, nil, fmt.Errorf("new secret: %w", err)
	}
	secret, err := ss.ServerSecret(ctx, fresh)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	ids, err := publicid.New(auth.DeriveKey(secret, "public ids"))
	if err != nil {
		return nil, nil, nil, nil, err
	}
	users := auth.NewUsers(cfg, secret)
	return auth.WithUsers(auth.NewTokens(cfg, secret), users), auth.NewOIDC(cfg, users, secret, nil), auth.NewSessions(ss, secret), ids, nil
}

// operational guards /metrics and /-/reload: the web config's basic_auth_users when it has
// some (failures count against the source like any other), and for POST the page's origin.
func (p *program) operational(a *auth.Access, ws *webServer, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		users, err := ws.users()
		if err != nil {
			p.logger.Error("read web config", "err", err)
			http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
			return
		}
		if len(users) > 0 {
			if t, d := a.Throttled(r); t {
				w.Header().Set("Retry-After", auth.RetryAfter(d))
				http.Error(w, "too many failed authentications from this address, retry later", http.StatusTooManyRequests)
				return
			}
			if ok, present := ws.authorized(r, users); !ok {
				if present {
					a.Failed(r, auth.FailBasic)
				}
				w.Header().Set("WWW-Authenticate", `Basic realm="kizashi-webhook"`)
				http.Error(w, http.StatusText(http.StatusUnauthorized), http.StatusUnauthorized)
				return
			}
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			if err := auth.CrossOrigin().Check(r); err != nil {
				a.Failed(r, auth.FailCSRF)
				http.Error(w, "cross-site request refused", http.StatusForbidden)
				return
			}
		}
		h.ServeHTTP(w, r)
	})
}
