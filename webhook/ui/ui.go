// Package ui serves the service-desk page: server-rendered html/template
// pages with embedded assets (no JavaScript build step). A person logs in
// with a tenant's (or an operator's) token; the session (auth.Sessions) is
// kept in the store and named by an HttpOnly, SameSite Strict cookie, and
// every form posts the session's CSRF token. The page offers the same
// actions as the REST API.
package ui

import (
	"embed"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kizashi-dev/kizashi/webhook/apitypes"
	"github.com/kizashi-dev/kizashi/webhook/auth"
	"github.com/kizashi-dev/kizashi/webhook/config"
	"github.com/kizashi-dev/kizashi/webhook/forward"
	"github.com/kizashi-dev/kizashi/webhook/incident"
	"github.com/kizashi-dev/kizashi/webhook/publicid"
	"github.com/kizashi-dev/kizashi/webhook/readmodel"
	"github.com/kizashi-dev/kizashi/webhook/service"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// UI is the service-desk page.
type UI struct {
	Service *service.Service
	// Access tells who a request is (sessions, credentials, throttling of failures).
	Access *auth.Access
	// IDs maps the store's ids to public ids (nil: shown as they are).
	IDs    *publicid.Codec
	Logger *slog.Logger
	// Config and Status feed the forwarding page: the configured targets and their state in
	// this process (nil: no forwarders run here).
	Config func() *config.Config
	Status func() []forward.TargetStatus
	// Prometheus, when set, is the client of the anomaly charts instead of one for
	// page.prometheus_url (tests).
	Prometheus *http.Client
	// Now is the on-call page's clock (nil: time.Now).
	Now  func() time.Time
	tmpl *template.Template
}

// reader reads what the page shows (the same as the API).
func (u *UI) reader() *readmodel.Reader {
	return &readmodel.Reader{Store: u.Service.Store, IDs: u.IDs, Logger: u.Logger}
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
	mux.HandleFunc("GET /incidents/new", u.page(u.newIncident))
	mux.HandleFunc("POST /incidents/new", u.page(u.createIncident))
	mux.HandleFunc("POST /incidents/{id}/act", u.page(u.act))
	mux.HandleFunc("GET /forwarding", u.page(u.forwarding))
	u.registerShift(mux)
	mux.HandleFunc("GET /oncall", u.page(u.oncall)) // oncall.go
}

var funcs = template.FuncMap{
	"stateLabel": func(s string) string { return incident.State(s).Label() },
	"ts": func(t *time.Time) string {
		if t == nil {
			return "—"
		}
		return t.Local().Format("2006-01-02 15:04:05")
	},
	"tsv":     func(t time.Time) string { return t.Local().Format("2006-01-02 15:04:05") },
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
	// L is the user's language and time zone.
	L *Locale
	// Title is the page's title (translated).
	Title string
	// Refresh is the seconds between refreshes of the page's live parts (0: none), from
	// RefreshURL (the page's own address, also after a form posted elsewhere showed it).
	Refresh    int
	RefreshURL string
	Principal  auth.Principal
	// CSRF is the session's CSRF token: every form posts it.
	CSRF   string
	Error  string
	Notice string
}

// viewer is who looks at a page: the session's principal and CSRF token.
type viewer struct {
	auth.Principal
	CSRF string
	L    *Locale
}

func (v viewer) base() base { return base{Principal: v.Principal, CSRF: v.CSRF, L: v.L} }

func (u *UI) render(w http.ResponseWriter, name string, code int, data any) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'self'; style-src 'self'; script-src 'self'; form-action 'self'; frame-ancestors 'none'")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Referrer-Policy", "same-origin")
	w.WriteHeader(code)
	if err := u.tmpl.ExecuteTemplate(w, name, data); err != nil {
		u.Logger.Error("render page", "page", name, "err", err)
	}
}

// fail renders the error page; a store failure shows a generic message with the request id of
// its log line, never the database's words.
func (u *UI) fail(w http.ResponseWriter, v viewer, err error) {
	code := readmodel.Status(err)
	b := v.base()
	b.Error = v.L.T(http.StatusText(code))
	if errors.Is(err, errReadOnly) {
		code = http.StatusForbidden
		b.Error = actionError(v.L, err)
	}
	if code == http.StatusServiceUnavailable {
		b.Error = u.unavailable(v.L, err)
	}
	u.render(w, "error.html", code, b)
}

// ingestOnlyMessage refuses a tenant's Alertmanager credential on the page (auth.ErrIngestOnly).
const ingestOnlyMessage = "This is an Alertmanager credential: it only posts alerts. Log in as a user, or with an operator token or a tenant API token (api_tokens)."

// loginErrors are the messages the log-in page shows for ?error= (nothing for other values:
// the page never shows text from the URL).
var loginErrors = map[string]string{
	"expired":      "Your session ended (log-out, expiry or a configuration change): log in again.",
	"oidc":         "Single sign-on did not log you in (refused, expired, or you are not a configured user).",
	"alertmanager": ingestOnlyMessage,
}

func (u *UI) loginPage(w http.ResponseWriter, r *http.Request) {
	l := u.locale(r)
	msg := loginErrors[r.URL.Query().Get("error")]
	if msg != "" {
		msg = l.T(msg)
	}
	u.render(w, "login.html", http.StatusOK, base{Error: msg, L: l})
}

func (u *UI) crossSite(w http.ResponseWriter, r *http.Request) bool {
	if err := auth.CrossOrigin().Check(r); err != nil {
		u.Access.Failed(r, auth.FailCSRF)
		http.Error(w, u.locale(r).T("cross-site request refused"), http.StatusForbidden)
		return true
	}
	return false
}

func (u *UI) login(w http.ResponseWriter, r *http.Request) {
	if u.crossSite(w, r) {
		return
	}
	if t, d := u.Access.Throttled(r); t {
		w.Header().Set("Retry-After", auth.RetryAfter(d))
		u.render(w, "login.html", http.StatusTooManyRequests, base{Error: u.locale(r).T("Too many failed log-ins from your address: try again later."), L: u.locale(r)})
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 4096)
	cred := auth.Credential{Token: strings.TrimSpace(r.PostFormValue("token"))}
	if name := r.PostFormValue("username"); name != "" {
		cred = auth.Credential{Username: name, Password: r.PostFormValue("password")}
	}
	p, ref, err := u.Access.Authenticator.Authenticate(r.Context(), cred)
	if err == nil && p.IngestOnly() {
		u.render(w, "login.html", http.StatusForbidden, base{Error: u.locale(r).T(ingestOnlyMessage), L: u.locale(r)})
		return
	}
	var cookie string
	if err == nil {
		cookie, err = u.Access.Sessions.OpenRef(r.Context(), ref, time.Now())
	}
	switch {
	case errors.Is(err, auth.ErrUnauthenticated):
		u.Access.Failed(r, auth.FailLogin)
		u.render(w, "login.html", http.StatusUnauthorized, base{Error: u.locale(r).T("unknown user, password or token"), L: u.locale(r)})
		return
	case err != nil:
		u.render(w, "login.html", http.StatusServiceUnavailable, base{Error: u.unavailable(u.locale(r), err), L: u.locale(r)})
		return
	}
	http.SetCookie(w, &http.Cookie{Name: auth.SessionCookie, Value: cookie, Path: "/", MaxAge: int(auth.SessionTTL.Seconds()),
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: u.Access.SecureCookie(r)})
	http.Redirect(w, r, "/incidents", http.StatusSeeOther)
}

// logout ends the session in the store (every replica) and clears the cookie. A live session
// needs its CSRF token, so that another site cannot log the user out.
func (u *UI) logout(w http.ResponseWriter, r *http.Request) {
	if u.crossSite(w, r) {
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 4096)
	if c, err := r.Cookie(auth.SessionCookie); err == nil {
		_, live, err := u.Access.Sessions.Principal(r.Context(), u.Access.Authenticator, c.Value, time.Now())
		if err == nil && live && !u.Access.Sessions.ValidCSRF(c.Value, r.PostFormValue("csrf")) {
			http.Error(w, u.locale(r).T("cross-site request refused"), http.StatusForbidden)
			return
		}
		if err == nil {
			err = u.Access.Sessions.Close(r.Context(), c.Value)
		}
		if err != nil {
			u.fail(w, viewer{}, err)
			return
		}
	}
	http.SetCookie(w, &http.Cookie{Name: auth.SessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: u.Access.SecureCookie(r)})
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

type pageHandler func(w http.ResponseWriter, r *http.Request, v viewer)

// page authenticates the session cookie; a post must also carry the session's CSRF token and
// come from the page's origin.
func (u *UI) page(h pageHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, cookie, ok, err := u.Access.Session(r)
		if cookie == "" && err == nil {
			http.Redirect(w, r, "/login", http.StatusSeeOther)
			return
		}
		if err != nil {
			u.fail(w, viewer{}, err)
			return
		}
		if !ok {
			u.Access.Failed(r, auth.FailSession)
			http.Redirect(w, r, "/login?error=expired", http.StatusSeeOther)
			return
		}
		if p.IngestOnly() { // a session opened before Alertmanager credentials became ingest-only
			http.Redirect(w, r, "/login?error=alertmanager", http.StatusSeeOther)
			return
		}
		if r.Method == http.MethodPost {
			if u.crossSite(w, r) {
				return
			}
			r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
			if !u.Access.Sessions.ValidCSRF(cookie, r.PostFormValue("csrf")) {
				u.Access.Failed(r, auth.FailCSRF)
				http.Error(w, u.locale(r).T("missing or wrong CSRF token: reload the page"), http.StatusForbidden)
				return
			}
		}
		h(w, r, viewer{Principal: p, CSRF: u.Access.Sessions.CSRFToken(cookie), L: u.localeFor(r, p)})
	}
}

type detailData struct {
	base
	*apitypes.Detail
	// CanAct: the principal may work on incidents; Allowed: the actions the incident's state
	// allows (incident.Do decides).
	CanAct  bool
	Allowed map[string]bool
	// Forwarding is the incident's delivery to each target.
	Forwarding []jobRow
	// Chart is the anomaly that opened the incident (nil: not an anomaly alert).
	Chart *chartInfo
}

func (u *UI) detail(w http.ResponseWriter, r *http.Request, v viewer) {
	id, ok := u.reader().IncidentID(r.PathValue("id"))
	if !ok {
		http.NotFound(w, r)
		return
	}
	b := v.base()
	if done := r.URL.Query().Get("done"); slices.Contains(incident.Actions, done) {
		b.Notice = v.L.T("%s done", v.L.T(done))
	}
	switch r.URL.Query().Get("retried") {
	case "1":
		b.Notice = v.L.T("The dead letter is due again.")
	case "0":
		b.Error = v.L.T("Not a dead letter (any more).")
	}
	u.showDetail(w, r, v, id, b, http.StatusOK)
}

func (u *UI) showDetail(w http.ResponseWriter, r *http.Request, v viewer, id int64, b base, code int) {
	rd := u.reader()
	rd.Customer = !v.SeesInternal() // customers never read internal work notes
	rd.Groups = v.Groups            // an operator limited to assignment groups
	d, err := rd.Detail(r.Context(), v.Scope(), id)
	if err != nil {
		u.fail(w, v, err)
		return
	}
	dd := detailData{base: b, Detail: d, CanAct: mayAct(v.Principal)}
	dd.Title = v.L.T("Incident") + " #" + strconv.FormatInt(d.Incident.ID, 10)
	dd.Refresh, dd.RefreshURL = u.refreshSeconds(), "/incidents/"+strconv.FormatInt(d.Incident.ID, 10)
	if dd.CanAct {
		if dd.Allowed, err = u.allowed(r.Context(), v, id); err != nil {
			u.fail(w, v, err)
			return
		}
	}
	if dd.Forwarding, err = u.incidentJobs(r.Context(), v, id); err != nil {
		u.fail(w, v, err)
		return
	}
	dd.Chart = u.chartInfo(d)
	u.render(w, "detail.html", code, dd)
}

// formAction is the desk action a page's form posts.
func formAction(r *http.Request) incident.Action {
	return incident.Action{
		Kind: r.PostFormValue("action"), Text: r.PostFormValue("text"), Reason: r.PostFormValue("reason"),
		CloseCode: r.PostFormValue("close_code"), AssignmentGroup: r.PostFormValue("assignment_group"),
		Assignee: r.PostFormValue("assignee"), FalsePositive: r.PostFormValue("false_positive") == "on",
	}
}

func (u *UI) act(w http.ResponseWriter, r *http.Request, v viewer) {
	id, ok := u.reader().IncidentID(r.PathValue("id"))
	if !ok {
		http.NotFound(w, r)
		return
	}
	if err := r.ParseForm(); err != nil {
		http.Error(w, u.locale(r).T("bad form"), http.StatusBadRequest)
		return
	}
	if !mayAct(v.Principal) {
		u.fail(w, v, errReadOnly)
		return
	}
	a := formAction(r)
	if _, err := u.Service.Act(r.Context(), v.Caller(), id, a); err != nil {
		code := readmodel.Status(err)
		if code == http.StatusNotFound || code == http.StatusServiceUnavailable {
			u.fail(w, v, err)
			return
		}
		// A refused action (invalid input, a transition not allowed): the page again, with why.
		b := v.base()
		b.Error = actionError(v.L, err)
		u.showDetail(w, r, v, id, b, code)
		return
	}
	http.Redirect(w, r, "/incidents/"+r.PathValue("id")+"?done="+url.QueryEscape(a.Kind), http.StatusSeeOther)
}

// unavailable logs a store failure and returns the user's message with the request id of the
// log line.
func (u *UI) unavailable(l *Locale, err error) string {
	msg := u.reader().Unavailable(err)
	id := strings.TrimSuffix(strings.TrimPrefix(msg, "store unavailable (request id "), ")")
	return l.T("store unavailable (request id %s)", id)
}
