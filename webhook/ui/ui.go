// Package ui serves the service-desk page: server-rendered html/template
// pages with embedded assets (no JavaScript build step). A person logs in
// with a tenant's (or an operator's) token, kept in an HttpOnly, SameSite
// Strict cookie; the page offers the same actions as the REST API.
package ui

import (
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/kizashi-dev/kizashi/webhook/api"
	"github.com/kizashi-dev/kizashi/webhook/config"
	"github.com/kizashi-dev/kizashi/webhook/incident"
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
	tmpl    *template.Template
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
}

var funcs = template.FuncMap{
	"stateLabel": func(s incident.State) string { return s.Label() },
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
	"states":      func() []incident.State { return incident.States },
}

type base struct {
	Principal config.Principal
	Error     string
	Notice    string
}

func (u *UI) render(w http.ResponseWriter, name string, code int, data any) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'self'; style-src 'self'; script-src 'self'; form-action 'self'; frame-ancestors 'none'")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	if err := u.tmpl.ExecuteTemplate(w, name, data); err != nil {
		u.API.Logger.Error("render page", "page", name, "err", err)
	}
}

func (u *UI) loginPage(w http.ResponseWriter, r *http.Request) {
	u.render(w, "login.html", http.StatusOK, base{Error: r.URL.Query().Get("error")})
}

func sameOrigin(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" || o == "null" {
		return r.Header.Get("Sec-Fetch-Site") != "cross-site"
	}
	ou, err := url.Parse(o)
	return err == nil && ou.Host == r.Host
}

func (u *UI) login(w http.ResponseWriter, r *http.Request) {
	if !sameOrigin(r) {
		http.Error(w, "cross-site request", http.StatusForbidden)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 4096)
	token := strings.TrimSpace(r.PostFormValue("token"))
	session, ok := u.API.Auth().NewSession(token, time.Now())
	if !ok {
		u.render(w, "login.html", http.StatusUnauthorized, base{Error: "unknown token"})
		return
	}
	http.SetCookie(w, &http.Cookie{Name: api.SessionCookie, Value: session, Path: "/", MaxAge: int(config.SessionTTL.Seconds()),
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
	http.Redirect(w, r, "/incidents", http.StatusSeeOther)
}

func (u *UI) logout(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: api.SessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

type pageHandler func(w http.ResponseWriter, r *http.Request, p config.Principal)

func (u *UI) page(h pageHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c, err := r.Cookie(api.SessionCookie)
		if err != nil {
			http.Redirect(w, r, "/login", http.StatusSeeOther)
			return
		}
		p, ok := u.API.Auth().AuthenticateSession(c.Value, time.Now())
		if !ok {
			http.Redirect(w, r, "/login?error="+url.QueryEscape("session expired"), http.StatusSeeOther)
			return
		}
		if r.Method == http.MethodPost && !sameOrigin(r) {
			http.Error(w, "cross-site request", http.StatusForbidden)
			return
		}
		h(w, r, p)
	}
}

type listData struct {
	base
	Incidents []api.Incident
	Query     url.Values
	NextQuery string
}

func (u *UI) list(w http.ResponseWriter, r *http.Request, p config.Principal) {
	q := r.URL.Query()
	f, err := api.ParseFilter(q, p)
	d := listData{base: base{Principal: p}, Query: q}
	if err != nil {
		d.Error = err.Error()
		u.render(w, "list.html", http.StatusBadRequest, d)
		return
	}
	var ids []int64
	d.Incidents, ids, err = api.ListIncidents(r.Context(), u.Service.Store, f)
	if err != nil {
		d.Error = "store unavailable"
		u.render(w, "list.html", http.StatusServiceUnavailable, d)
		return
	}
	if len(ids) == f.Limit {
		nq := url.Values{}
		for k, v := range q {
			nq[k] = v
		}
		nq.Set("before", strconv.FormatInt(ids[len(ids)-1], 10))
		d.NextQuery = nq.Encode()
	}
	u.render(w, "list.html", http.StatusOK, d)
}

type detailData struct {
	base
	*api.Detail
}

func (u *UI) detail(w http.ResponseWriter, r *http.Request, p config.Principal) {
	id, ok := api.PathID(r)
	if !ok {
		http.NotFound(w, r)
		return
	}
	d, err := api.LoadDetail(r, u.Service.Store, api.Scope(p), id)
	if err != nil {
		code := api.StatusOf(err)
		u.render(w, "error.html", code, base{Principal: p, Error: http.StatusText(code)})
		return
	}
	u.render(w, "detail.html", http.StatusOK, detailData{base: base{Principal: p, Error: r.URL.Query().Get("error"), Notice: r.URL.Query().Get("notice")}, Detail: d})
}

func (u *UI) act(w http.ResponseWriter, r *http.Request, p config.Principal) {
	id, ok := api.PathID(r)
	if !ok {
		http.NotFound(w, r)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	a := incident.Action{
		Kind: r.PostFormValue("action"), Text: r.PostFormValue("text"), Reason: r.PostFormValue("reason"),
		CloseCode: r.PostFormValue("close_code"), AssignmentGroup: r.PostFormValue("assignment_group"),
		Assignee: r.PostFormValue("assignee"), FalsePositive: r.PostFormValue("false_positive") == "on",
	}
	target := fmt.Sprintf("/incidents/%d", id)
	if _, err := u.Service.Act(r.Context(), api.Caller(p, r.PostFormValue("user")), id, a); err != nil {
		if api.StatusOf(err) == http.StatusNotFound {
			http.NotFound(w, r)
			return
		}
		http.Redirect(w, r, target+"?error="+url.QueryEscape(err.Error()), http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, target+"?notice="+url.QueryEscape(a.Kind+" done"), http.StatusSeeOther)
}
