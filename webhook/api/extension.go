package api

import (
	"net/http"

	"github.com/kizashi-dev/kizashi/webhook/auth"
)

// Authed wraps h with the REST API's authentication (the Authorization header, or the page's
// session with its CSRF token for changes; throttling of failures): packages that add routes
// of their own (problemapi) answer exactly as the incidents' routes do.
func (a *API) Authed(h func(w http.ResponseWriter, r *http.Request, p auth.Principal)) http.HandlerFunc {
	return a.authed(h)
}
