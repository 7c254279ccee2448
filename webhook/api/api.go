// Package api serves kizashi-webhook's HTTP API: the Alertmanager receiver
// (POST /api/v1/alerts) and the service-desk REST API under
// /api/v1/incidents. Handlers authenticate, decode, call the service layer
// and encode; they hold no ITIL rules.
package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
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
	"github.com/kizashi-dev/kizashi/webhook/publicid"
	"github.com/kizashi-dev/kizashi/webhook/sanitize"
	"github.com/kizashi-dev/kizashi/webhook/service"
	"github.com/kizashi-dev/kizashi/webhook/store"
)

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
	// Server returns the HTTP settings: trusted proxies, failed-authentication limits, cookies
	// (nil: the defaults).
	Server func() *config.Server
	// Sessions are the page's sessions (nil: the cookie authenticates nothing).
	Sessions *Sessions
	// Guard counts, logs and limits failed authentications (nil: none).
	Guard *Guard
	// IDs maps the store's ids to public ids (nil: shown as they are).
	IDs *publicid.Codec
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
// commit; 503 when the store failed or the source is throttled; never 429.
func (a *API) receive(w http.ResponseWriter, r *http.Request) {
	p, ok := a.alertmanager(w, r)
	if !ok {
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
	writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "duplicate": res.Duplicate, "incidents": a.publicIDs(res.Incidents)})
}

// publicIDs maps incident ids to their public ids (never nil).
func (a *API) publicIDs(ids []int64) []int64 {
	out := make([]int64, len(ids))
	for i, id := range ids {
		out[i] = a.IDs.Public(publicid.Incident, id)
	}
	return out
}

func (a *API) ready(w http.ResponseWriter, r *http.Request) {
	if err := a.Service.Store.Ping(r.Context()); err != nil {
		http.Error(w, "store unavailable", http.StatusServiceUnavailable)
		return
	}
	_, _ = io.WriteString(w, "OK\n")
}

// ParseFilter reads list parameters; a tenant caller is always scoped to its
// own tenant, an operator may pass tenant= or see all. before= is a public id.
func (a *API) ParseFilter(q map[string][]string, p config.Principal) (store.Filter, error) {
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
		id, ok := a.IDs.Private(publicid.Incident, n)
		if err != nil || !ok {
			return f, errors.New("before must be a positive incident id")
		}
		f.BeforeID = id
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
	f, err := a.ParseFilter(r.URL.Query(), p)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	var out ListResponse
	out.Incidents, out.Next, err = a.ListIncidents(r.Context(), f)
	if err != nil {
		a.storeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// ListIncidents reads a page of incidents with their tickets, and the before=
// of the next page when the page is full. When only the tickets could not be
// read, it returns the incidents without them along with the error.
func (a *API) ListIncidents(ctx context.Context, f store.Filter) ([]Incident, string, error) {
	ins, err := a.Service.Store.ListIncidents(ctx, f)
	if err != nil {
		return nil, "", err
	}
	now := time.Now()
	out := make([]Incident, 0, len(ins))
	for _, in := range ins {
		out = append(out, FromIncident(in, now))
	}
	next := ""
	if len(ins) == f.Limit {
		next = strconv.FormatInt(a.IDs.Public(publicid.Incident, ins[len(ins)-1].ID), 10)
	}
	err = AttachRefs(ctx, a.Service.Store, out)
	for i := range out {
		a.publish(&out[i])
	}
	return out, next, err
}

// publish replaces the store's ids of an incident by public ones.
func (a *API) publish(in *Incident) {
	in.ID = a.IDs.Public(publicid.Incident, in.ID)
	in.PreviousID = a.IDs.Public(publicid.Incident, in.PreviousID)
}

// PathID reads the {id} path value, a public incident id, and returns the
// store's id.
func (a *API) PathID(r *http.Request) (int64, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		return 0, false
	}
	return a.IDs.Private(publicid.Incident, id)
}

// Caller is who acts through the API or the page: the authenticated
// principal, named in the journal by the credential's owner (a tenant, a
// basic-auth user or an operator) and nothing the request says.
func Caller(p config.Principal) service.Caller {
	return service.Caller{Name: p.Name, Tenant: p.Tenant, Operator: p.Operator}
}

// Scope is the tenant filter of a principal: "" means all tenants.
func Scope(p config.Principal) string { return Caller(p).Scope() }

func (a *API) get(w http.ResponseWriter, r *http.Request, p config.Principal) {
	id, ok := a.PathID(r)
	if !ok {
		writeError(w, http.StatusBadRequest, "invalid incident id")
		return
	}
	d, err := a.LoadDetail(r.Context(), Scope(p), id)
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
	// User is accepted and ignored (it used to name the person in the
	// journal, which anyone could spoof): the journal names the credential's
	// owner.
	User string `json:"user"`
}

// DecodeAction validates an action request.
func DecodeAction(kind string, body io.Reader) (incident.Action, error) {
	if !slices.Contains(incident.Actions, kind) {
		return incident.Action{}, fmt.Errorf("unknown action %q", kind)
	}
	var req ActionRequest
	dec := json.NewDecoder(io.LimitReader(body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil && !errors.Is(err, io.EOF) {
		return incident.Action{}, fmt.Errorf("decode action: %w", err)
	}
	return incident.Action{Kind: kind, Text: req.Text, Reason: req.Reason, CloseCode: req.CloseCode,
		AssignmentGroup: req.AssignmentGroup, Assignee: req.Assignee, FalsePositive: req.FalsePositive}, nil
}

func (a *API) act(w http.ResponseWriter, r *http.Request, p config.Principal) {
	id, ok := a.PathID(r)
	if !ok {
		writeError(w, http.StatusBadRequest, "invalid incident id")
		return
	}
	act, err := DecodeAction(r.PathValue("action"), r.Body)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if _, err := a.Service.Act(r.Context(), Caller(p), id, act); err != nil {
		a.storeError(w, err)
		return
	}
	d, err := a.LoadDetail(r.Context(), Scope(p), id)
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
		msg = a.Unavailable(err)
	}
	if code == http.StatusNotFound {
		msg = "incident not found"
	}
	writeError(w, code, msg)
}

// Unavailable logs a store failure under a new request id and returns the
// message for the caller: generic, with the id to find the log line.
func (a *API) Unavailable(err error) string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	id := hex.EncodeToString(b)
	a.Logger.Error("service desk request", "request_id", id, "err", err)
	return "store unavailable (request id " + id + ")"
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"error": msg})
}
