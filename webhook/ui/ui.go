// Package ui serves the service-desk page: server-rendered html/template
// pages with embedded assets (no JavaScript build step). A person logs in
// with a tenant's (or an operator's) token; the session (api.Sessions) is
// kept in the store and named by an HttpOnly, SameSite Strict cookie, and
// every form posts the session's CSRF token. The page offers the same
// actions as the REST API.
package ui

import (
	"embed"
	"errors"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kizashi-dev/kizashi/webhook/api"
	"github.com/kizashi-dev/kizashi/webhook/apitypes"
	"github.com/kizashi-dev/kizashi/webhook/config"
	"github.com/kizashi-dev/kizashi/webhook/forward"
	"github.com/kizashi-dev/kizashi/webhook/incident"
	"github.com/kizashi-dev/kizashi/webhook/readmodel"
	"github.com/kizashi-dev/kizashi/webhook/service"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// UI is the service-desk page.
type UI struct {
	API     *api.API
	Service *service.Service
	// Config and Status feed the forwarding page: the configured targets and their state in
	// this process (nil: no forwarders run here).
	Config func() *config.Config
	Status func() []forward.TargetStatus
	tmpl   *template.Template
}

// reader reads what the page shows (the same as the API).
func (u *UI) reader() *readmodel.Reader {
	return &readmodel.Reader{Store: u.Service.Store, IDs: u.API.IDs, Logger: u.API.Logger}
}

// Register adds the page's routes to mux.
func (u *UI) Register(mux *http.ServeMux) {
	u.tmpl = template.Must(template.New("").Funcs(funcs).ParseFS(templateFS, "templates/*.html"))
	static, err := fs.Sub(staticFS, "static")
	if err != nil {
		panic(err) // embedded at build time
	}
	mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	mux.HandleFunc("GET /favicon.ico", func(w http.ResponseWriter, r *http.Request) {
		http.ServeFileFS(w, r, static, "favicon.svg")
	})
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/incidents", http.StatusSeeOther) })
	mux.HandleFunc("GET /login", u.loginPage)
	mux.HandleFunc("POST /login", u.login)
	mux.HandleFunc("POST /logout", u.logout)
	mux.HandleFunc("GET /incidents", u.page(u.list))
	mux.HandleFunc("GET /incidents/{id}", u.page(u.detail))
	mux.HandleFunc("POST /incidents/{id}/act", u.page(u.act))
	mux.HandleFunc("GET /forwarding", u.page(u.forwarding))
}

var funcs = template.FuncMap{
	"stateLabel": func(s string) string { return incident.State(s).Label() },
	"ts": func(t *time.Time) string {
		if t == nil {
			return "—"
		}
		return t.Local().Format("2006-01-02 15:04:05")
	},
	"rfc3339": func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"remaining": func(s *float64) string {
		if s == nil {
			return ""
		}
		d := time.Duration(*s) * time.Second
		if d < 0 {
			return "breached " + (-d).Round(time.Minute).String() + " ago"
		}
		return d.Round(time.Second).String()
	},
	"secs": func(s *float64) string {
		if s == nil {
			return ""
		}
		return strconv.FormatFloat(*s, 'f', 0, 64)
	},
	"closeCodes":  func() []string { return incident.CloseCodes },
	"holdReasons": func() []string { return incident.HoldReasons },
	"states": func() []string {
		out := make([]string, len(incident.States))
		for i, s := range incident.States {
			out[i] = string(s)
		}
		return out
	},
}

type base struct {
	Principal config.Principal
	// CSRF is the session's CSRF token: every form posts it.
	CSRF   string
	Error  string
	Notice string
}

// viewer is who looks at a page: the session's principal and CSRF token.
type viewer struct {
	config.Principal
	CSRF string
}

func (v viewer) base() base { return base{Principal: v.Principal, CSRF: v.CSRF} }

func (u *UI) render(w http.ResponseWriter, name string, code int, data any) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'self'; style-src 'self'; script-src 'self'; form-action 'self'; frame-ancestors 'none'")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Referrer-Policy", "same-origin")
	w.WriteHeader(code)
	if err := u.tmpl.ExecuteTemplate(w, name, data); err != nil {
		u.API.Logger.Error("render page", "page", name, "err", err)
	}
}

// fail renders the error page; a store failure shows a generic message with the request id of
// its log line, never the database's words.
func (u *UI) fail(w http.ResponseWriter, v viewer, err error) {
	code := readmodel.Status(err)
	b := v.base()
	b.Error = http.StatusText(code)
	if code == http.StatusServiceUnavailable {
		b.Error = u.reader().Unavailable(err)
	}
	u.render(w, "error.html", code, b)
}

// loginErrors are the messages the log-in page shows for ?error= (nothing for other values:
// the page never shows text from the URL).
var loginErrors = map[string]string{
	"expired": "Your session ended (log-out, expiry or a configuration change): log in again.",
}

func (u *UI) loginPage(w http.ResponseWriter, r *http.Request) {
	u.render(w, "login.html", http.StatusOK, base{Error: loginErrors[r.URL.Query().Get("error")]})
}

func (u *UI) crossSite(w http.ResponseWriter, r *http.Request) bool {
	if err := api.CrossOrigin().Check(r); err != nil {
		srv := u.API.ServerConfig()
		u.API.Guard.Failed(api.ClientAddr(r, srv.Proxies()), api.FailCSRF, r.URL.Path, srv.AuthFailures)
		http.Error(w, "cross-site request refused", http.StatusForbidden)
		return true
	}
	return false
}

func (u *UI) login(w http.ResponseWriter, r *http.Request) {
	if u.crossSite(w, r) {
		return
	}
	srv := u.API.ServerConfig()
	src := api.ClientAddr(r, srv.Proxies())
	if t, d := u.API.Guard.Throttled(src, srv.AuthFailures); t {
		w.Header().Set("Retry-After", api.RetryAfter(d))
		u.render(w, "login.html", http.StatusTooManyRequests, base{Error: "Too many failed log-ins from your address: try again later."})
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 4096)
	token := strings.TrimSpace(r.PostFormValue("token"))
	cookie, _, err := u.API.Sessions.Open(r.Context(), u.API.Auth(), token, time.Now())
	switch {
	case errors.Is(err, api.ErrUnknownToken):
		u.API.Guard.Failed(src, api.FailLogin, r.URL.Path, srv.AuthFailures)
		u.render(w, "login.html", http.StatusUnauthorized, base{Error: "unknown token"})
		return
	case err != nil:
		u.render(w, "login.html", http.StatusServiceUnavailable, base{Error: u.reader().Unavailable(err)})
		return
	}
	http.SetCookie(w, &http.Cookie{Name: api.SessionCookie, Value: cookie, Path: "/", MaxAge: int(config.SessionTTL.Seconds()),
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: srv.SecureCookies || api.IsHTTPS(r, srv.Proxies())})
	http.Redirect(w, r, "/incidents", http.StatusSeeOther)
}

// logout ends the session in the store (every replica) and clears the cookie. A live session
// needs its CSRF token, so that another site cannot log the user out.
func (u *UI) logout(w http.ResponseWriter, r *http.Request) {
	if u.crossSite(w, r) {
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 4096)
	if c, err := r.Cookie(api.SessionCookie); err == nil {
		_, live, err := u.API.Sessions.Principal(r.Context(), u.API.Auth(), c.Value, time.Now())
		if err == nil && live && !u.API.Sessions.ValidCSRF(c.Value, r.PostFormValue("csrf")) {
			http.Error(w, "cross-site request refused", http.StatusForbidden)
			return
		}
		if err == nil {
			err = u.API.Sessions.Close(r.Context(), c.Value)
		}
		if err != nil {
			u.fail(w, viewer{}, err)
			return
		}
	}
	srv := u.API.ServerConfig()
	http.SetCookie(w, &http.Cookie{Name: api.SessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: srv.SecureCookies || api.IsHTTPS(r, srv.Proxies())})
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

type pageHandler func(w http.ResponseWriter, r *http.Request, v viewer)

// page authenticates the session cookie; a post must also carry the session's CSRF token and
// come from the page's origin.
func (u *UI) page(h pageHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c, err := r.Cookie(api.SessionCookie)
		if err != nil {
			http.Redirect(w, r, "/login", http.StatusSeeOther)
			return
		}
		p, ok, err := u.API.Sessions.Principal(r.Context(), u.API.Auth(), c.Value, time.Now())
		if err != nil {
			u.fail(w, viewer{}, err)
			return
		}
		srv := u.API.ServerConfig()
		if !ok {
			u.API.Guard.Failed(api.ClientAddr(r, srv.Proxies()), api.FailSession, r.URL.Path, srv.AuthFailures)
			http.Redirect(w, r, "/login?error=expired", http.StatusSeeOther)
			return
		}
		if r.Method == http.MethodPost {
			if u.crossSite(w, r) {
				return
			}
			r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
			if !u.API.Sessions.ValidCSRF(c.Value, r.PostFormValue("csrf")) {
				u.API.Guard.Failed(api.ClientAddr(r, srv.Proxies()), api.FailCSRF, r.URL.Path, srv.AuthFailures)
				http.Error(w, "missing or wrong CSRF token: reload the page", http.StatusForbidden)
				return
			}
		}
		h(w, r, viewer{Principal: p, CSRF: u.API.Sessions.CSRFToken(c.Value)})
	}
}

type listData struct {
	base
	Incidents []apitypes.Incident
	Query     url.Values
	NextQuery string
}

func (u *UI) list(w http.ResponseWriter, r *http.Request, v viewer) {
	q := r.URL.Query()
	f, err := u.reader().ParseFilter(q, api.Scope(v.Principal))
	d := listData{base: v.base(), Query: q}
	if err != nil {
		d.Error = err.Error()
		u.render(w, "list.html", http.StatusBadRequest, d)
		return
	}
	var next string
	d.Incidents, next, err = u.reader().List(r.Context(), f)
	if err != nil {
		d.Error = u.reader().Unavailable(err)
		u.render(w, "list.html", http.StatusServiceUnavailable, d)
		return
	}
	if next != "" {
		nq := url.Values{}
		for k, v := range q {
			nq[k] = v
		}
		nq.Set("before", next)
		d.NextQuery = nq.Encode()
	}
	u.render(w, "list.html", http.StatusOK, d)
}

type detailData struct {
	base
	*apitypes.Detail
}

func (u *UI) detail(w http.ResponseWriter, r *http.Request, v viewer) {
	id, ok := u.reader().IncidentID(r.PathValue("id"))
	if !ok {
		http.NotFound(w, r)
		return
	}
	b := v.base()
	if done := r.URL.Query().Get("done"); slices.Contains(incident.Actions, done) {
		b.Notice = done + " done"
	}
	u.showDetail(w, r, v, id, b, http.StatusOK)
}

func (u *UI) showDetail(w http.ResponseWriter, r *http.Request, v viewer, id int64, b base, code int) {
	d, err := u.reader().Detail(r.Context(), api.Scope(v.Principal), id)
	if err != nil {
		u.fail(w, v, err)
		return
	}
	u.render(w, "detail.html", code, detailData{base: b, Detail: d})
}

func (u *UI) act(w http.ResponseWriter, r *http.Request, v viewer) {
	id, ok := u.reader().IncidentID(r.PathValue("id"))
	if !ok {
		http.NotFound(w, r)
		return
	}
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	a := incident.Action{
		Kind: r.PostFormValue("action"), Text: r.PostFormValue("text"), Reason: r.PostFormValue("reason"),
		CloseCode: r.PostFormValue("close_code"), AssignmentGroup: r.PostFormValue("assignment_group"),
		Assignee: r.PostFormValue("assignee"), FalsePositive: r.PostFormValue("false_positive") == "on",
	}
	if _, err := u.Service.Act(r.Context(), api.Caller(v.Principal), id, a); err != nil {
		code := readmodel.Status(err)
		if code == http.StatusNotFound || code == http.StatusServiceUnavailable {
			u.fail(w, v, err)
			return
		}
		// A refused action (invalid input, a transition not allowed): the page again, with why.
		b := v.base()
		b.Error = err.Error()
		u.showDetail(w, r, v, id, b, code)
		return
	}
	http.Redirect(w, r, "/incidents/"+r.PathValue("id")+"?done="+url.QueryEscape(a.Kind), http.StatusSeeOther)
}
