// Package api serves kizashi-webhook's HTTP API: the Alertmanager receiver
// (POST /api/v1/alerts) and the service-desk REST API under
// /api/v1/incidents. Handlers authenticate, decode, call the service layer
// and encode; they hold no ITIL rules.
package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kizashi-dev/kizashi/webhook/config"
	"github.com/kizashi-dev/kizashi/webhook/incident"
	"github.com/kizashi-dev/kizashi/webhook/limit"
	"github.com/kizashi-dev/kizashi/webhook/sanitize"
	"github.com/kizashi-dev/kizashi/webhook/service"
	"github.com/kizashi-dev/kizashi/webhook/store"
)

// Auth authenticates callers (the configuration implements it).
type Auth interface {
	Authenticate(token string) (config.Principal, bool)
	AuthenticateBasic(user, pass string) (config.Principal, bool)
	AuthenticateSession(cookie string, now time.Time) (config.Principal, bool)
	NewSession(token string, now time.Time) (string, bool)
}

// API holds the handlers' dependencies.
type API struct {
	Service      *service.Service
	Auth         func() Auth
	MaxBodyBytes func() int64
	// MaxAlerts bounds the alerts kept per notification (nil or 0: all).
	MaxAlerts func() int
	// Gate and TenantLimits share ingest between tenants (nil: no limits).
	Gate         *limit.Gate
	TenantLimits func(tenant string) limit.Settings
	Logger       *slog.Logger
}

// Register adds the routes to mux.
func (a *API) Register(mux *http.ServeMux) {
	mux.HandleFunc("POST /api/v1/alerts", a.receive)
	mux.HandleFunc("GET /api/v1/incidents", a.authed(a.list))
	mux.HandleFunc("GET /api/v1/incidents/{id}", a.authed(a.get))
	mux.HandleFunc("POST /api/v1/incidents/{id}/{action}", a.authed(a.act))
	mux.HandleFunc("GET /-/healthy", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "OK\n") })
	mux.HandleFunc("GET /-/ready", a.ready)
	a.registerForwarding(mux)
}

// Principal finds the caller of r: a bearer token, basic auth or the
// service-desk page's session cookie.
func (a *API) Principal(r *http.Request) (config.Principal, bool) {
	auth := a.Auth()
	if h := r.Header.Get("Authorization"); h != "" {
		if tok, ok := strings.CutPrefix(h, "Bearer "); ok {
			return auth.Authenticate(strings.TrimSpace(tok))
		}
		if u, p, ok := r.BasicAuth(); ok {
			return auth.AuthenticateBasic(u, p)
		}
		return config.Principal{}, false
	}
	if c, err := r.Cookie(SessionCookie); err == nil {
		return auth.AuthenticateSession(c.Value, time.Now())
	}
	return config.Principal{}, false
}

// SessionCookie holds the service-desk page's session (see config.Config.NewSession).
const SessionCookie = "kizashi_session"

func (a *API) reject(w http.ResponseWriter, code int, reason, msg string) {
	if a.Service.Metrics != nil {
		a.Service.Metrics.Rejected.WithLabelValues(reason).Inc()
	}
	if code == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="kizashi-webhook"`)
	}
	http.Error(w, msg, code)
}

// receive is the Alertmanager webhook. Answers follow Alertmanager's
// retrier: 2xx done, 4xx final (dropped), 5xx retried. 200 only after the
// commit; 503 only when the store failed; never 429.
func (a *API) receive(w http.ResponseWriter, r *http.Request) {
	p, ok := a.Principal(r)
	if !ok {
		a.reject(w, http.StatusUnauthorized, service.RejectUnauthorized, "unauthorized")
		return
	}
	if p.Tenant == "" {
		a.reject(w, http.StatusForbidden, service.RejectForbidden, "operators cannot send alerts")
		return
	}
	done, ok := a.admit(w, r, p.Tenant)
	if !ok {
		return
	}
	defer done()
	m, ok := a.decode(w, r, p.Tenant, http.StatusServiceUnavailable)
	if !ok {
		return
	}
	res, err := a.Service.Ingest(r.Context(), p.Tenant, m, nil)
	if err != nil {
		a.Logger.Error("ingest notification", "tenant", p.Tenant, "err", err)
		a.reject(w, http.StatusServiceUnavailable, service.RejectUnavailable, "store unavailable, retry")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "duplicate": res.Duplicate, "incidents": nonNil(res.Incidents)})
}

func nonNil(ids []int64) []int64 {
	if ids == nil {
		return []int64{}
	}
	return ids
}

func (a *API) ready(w http.ResponseWriter, r *http.Request) {
	if err := a.Service.Store.Ping(r.Context()); err != nil {
		http.Error(w, "store unavailable", http.StatusServiceUnavailable)
		return
	}
	_, _ = io.WriteString(w, "OK\n")
}

type handler func(w http.ResponseWriter, r *http.Request, p config.Principal)

func (a *API) authed(h handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, ok := a.Principal(r)
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="kizashi-webhook"`)
			writeError(w, http.StatusUnauthorized, "unauthorized")
			return
		}
		h(w, r, p)
	}
}

// ParseFilter reads list parameters; a tenant caller is always scoped to its
// own tenant, an operator may pass tenant= or see all.
func ParseFilter(q map[string][]string, p config.Principal) (store.Filter, error) {
	get := func(k string) string {
		if v := q[k]; len(v) > 0 {
			return sanitize.Text(v[0], 0)
		}
		return ""
	}
	f := store.Filter{Tenant: p.Tenant, Assignee: get("assignee"), AssignmentGroup: get("assignment_group"), Search: get("q")}
	if p.Operator {
		f.Tenant = get("tenant")
	}
	for _, s := range q["state"] {
		for _, part := range strings.Split(s, ",") {
			if part == "" {
				continue
			}
			st := incident.State(part)
			if !st.Valid() {
				return f, fmt.Errorf("unknown state %q", part)
			}
			f.States = append(f.States, st)
		}
	}
	switch get("open") {
	case "", "false", "0":
	case "true", "1":
		f.OpenOnly = true
	default:
		return f, errors.New("open must be true or false")
	}
	ints := []struct {
		key      string
		dst      *int
		min, max int
	}{{"priority", &f.Priority, 1, 5}, {"limit", &f.Limit, 1, 500}}
	for _, it := range ints {
		if v := get(it.key); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < it.min || n > it.max {
				return f, fmt.Errorf("%s must be an integer %d-%d", it.key, it.min, it.max)
			}
			*it.dst = n
		}
	}
	if v := get("before"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 {
			return f, errors.New("before must be a positive incident id")
		}
		f.BeforeID = n
	}
	for _, t := range []struct {
		key string
		dst *time.Time
	}{{"from", &f.ActiveFrom}, {"to", &f.ActiveTo}} {
		if v := get(t.key); v != "" {
			tm, err := time.Parse(time.RFC3339, v)
			if err != nil {
				return f, fmt.Errorf("%s must be an RFC 3339 time: %w", t.key, err)
			}
			// Beyond the years the store holds (1678-2262) the bound means "unbounded".
			*t.dst, _ = sanitize.Time(tm)
		}
	}
	if !f.ActiveFrom.IsZero() && !f.ActiveTo.IsZero() && f.ActiveTo.Before(f.ActiveFrom) {
		return f, errors.New("to must not be before from")
	}
	if len(f.Search) > 200 {
		return f, errors.New("q too long")
	}
	if f.Limit == 0 {
		f.Limit = 50
	}
	return f, nil
}

func (a *API) list(w http.ResponseWriter, r *http.Request, p config.Principal) {
	f, err := ParseFilter(r.URL.Query(), p)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	var (
		out ListResponse
		ids []int64
	)
	out.Incidents, ids, err = ListIncidents(r.Context(), a.Service.Store, f)
	if err != nil {
		a.storeError(w, err)
		return
	}
	if len(ids) == f.Limit {
		out.Next = strconv.FormatInt(ids[len(ids)-1], 10)
	}
	writeJSON(w, http.StatusOK, out)
}

// ListIncidents reads a page of incidents with their tickets, and their ids
// (the last one is the before= of the next page when the page is full).
// When only the tickets could not be read, it returns the incidents without
// them along with the error.
func ListIncidents(ctx context.Context, st store.Store, f store.Filter) ([]Incident, []int64, error) {
	ins, err := st.ListIncidents(ctx, f)
	if err != nil {
		return nil, nil, err
	}
	now := time.Now()
	out, ids := make([]Incident, 0, len(ins)), make([]int64, 0, len(ins))
	for _, in := range ins {
		out, ids = append(out, FromIncident(in, now)), append(ids, in.ID)
	}
	return out, ids, AttachRefs(ctx, st, out)
}

// PathID reads the {id} path value, a positive integer.
func PathID(r *http.Request) (int64, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	return id, err == nil && id > 0
}

// Caller is who acts through the API or the page: the principal, with the
// person named in the request (see Actor).
func Caller(p config.Principal, user string) service.Caller {
	return service.Caller{Name: Actor(p, user), Tenant: p.Tenant, Operator: p.Operator}
}

// Scope is the tenant filter of a principal: "" means all tenants.
func Scope(p config.Principal) string { return Caller(p, "").Scope() }

func (a *API) get(w http.ResponseWriter, r *http.Request, p config.Principal) {
	id, ok := PathID(r)
	if !ok {
		writeError(w, http.StatusBadRequest, "invalid incident id")
		return
	}
	d, err := LoadDetail(r, a.Service.Store, Scope(p), id)
	if err != nil {
		a.storeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, d)
}

// ActionRequest is the body of POST /api/v1/incidents/{id}/{action}.
type ActionRequest struct {
	Text            string `json:"text"`
	Reason          string `json:"reason"`
	CloseCode       string `json:"close_code"`
	AssignmentGroup string `json:"assignment_group"`
	Assignee        string `json:"assignee"`
	FalsePositive   bool   `json:"false_positive"`
	// User names the person acting with the token (journal: user@token).
	User string `json:"user"`
}

// maxUser bounds the person named by `user` (bytes, cut on a rune boundary).
const maxUser = 100

// Actor is the journal's "who" of a caller.
func Actor(p config.Principal, user string) string {
	user = strings.TrimSpace(user)
	if user == "" {
		return p.Name
	}
	return sanitize.Text(user, maxUser) + "@" + p.Name
}

// DecodeAction validates an action request.
func DecodeAction(kind string, body io.Reader) (incident.Action, string, error) {
	if !slices.Contains(incident.Actions, kind) {
		return incident.Action{}, "", fmt.Errorf("unknown action %q", kind)
	}
	var req ActionRequest
	dec := json.NewDecoder(io.LimitReader(body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil && !errors.Is(err, io.EOF) {
		return incident.Action{}, "", fmt.Errorf("decode action: %w", err)
	}
	return incident.Action{Kind: kind, Text: req.Text, Reason: req.Reason, CloseCode: req.CloseCode,
		AssignmentGroup: req.AssignmentGroup, Assignee: req.Assignee, FalsePositive: req.FalsePositive}, req.User, nil
}

func (a *API) act(w http.ResponseWriter, r *http.Request, p config.Principal) {
	id, ok := PathID(r)
	if !ok {
		writeError(w, http.StatusBadRequest, "invalid incident id")
		return
	}
	act, user, err := DecodeAction(r.PathValue("action"), r.Body)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if _, err := a.Service.Act(r.Context(), Caller(p, user), id, act); err != nil {
		a.storeError(w, err)
		return
	}
	d, err := LoadDetail(r, a.Service.Store, Scope(p), id)
	if err != nil {
		a.storeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, d)
}

// StatusOf maps a service error to an HTTP status.
func StatusOf(err error) int {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, incident.ErrTransition):
		return http.StatusConflict
	case errors.Is(err, incident.ErrInvalid):
		return http.StatusBadRequest
	case errors.Is(err, store.ErrConflict):
		return http.StatusConflict
	}
	return http.StatusServiceUnavailable
}

func (a *API) storeError(w http.ResponseWriter, err error) {
	code := StatusOf(err)
	msg := err.Error()
	if code == http.StatusServiceUnavailable {
		a.Logger.Error("service desk request", "err", err)
		msg = "store unavailable"
	}
	if code == http.StatusNotFound {
		msg = "incident not found"
	}
	writeError(w, code, msg)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"error": msg})
}
