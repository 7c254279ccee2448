// Package api serves kizashi-webhook's HTTP API: the Alertmanager receiver
// (POST /api/v1/alerts) and the service-desk REST API under
// /api/v1/incidents. Handlers authenticate, decode, call the service layer
// and encode; they hold no ITIL rules.
package api

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"slices"

	"github.com/kizashi-dev/kizashi/webhook/apitypes"
	"github.com/kizashi-dev/kizashi/webhook/auth"
	"github.com/kizashi-dev/kizashi/webhook/i18n"
	"github.com/kizashi-dev/kizashi/webhook/incident"
	"github.com/kizashi-dev/kizashi/webhook/limit"
	"github.com/kizashi-dev/kizashi/webhook/publicid"
	"github.com/kizashi-dev/kizashi/webhook/readmodel"
	"github.com/kizashi-dev/kizashi/webhook/service"
)

// API holds the handlers' dependencies.
type API struct {
	Service *service.Service
	// Access tells who a request is (credentials, sessions, throttling of failures).
	Access       *auth.Access
	MaxBodyBytes func() int64
	// MaxAlerts bounds the alerts kept per notification (nil or 0: all).
	MaxAlerts func() int
	// Gate and TenantLimits share ingest between tenants (nil: no limits).
	Gate         *limit.Gate
	TenantLimits func(tenant string) limit.Settings
	Logger       *slog.Logger
	// IDs maps the store's ids to public ids (nil: shown as they are).
	IDs *publicid.Codec
}

// reader reads what the API shows.
func (a *API) reader() *readmodel.Reader {
	return &readmodel.Reader{Store: a.Service.Store, IDs: a.IDs, Logger: a.Logger}
}

// readerFor reads what p may see.
func (a *API) readerFor(p auth.Principal) *readmodel.Reader {
	rd := a.reader()
	rd.Customer = !p.SeesInternal()
	rd.Groups = p.Groups
	return rd
}

// Register adds the routes to mux.
func (a *API) Register(mux *http.ServeMux) {
	mux.HandleFunc("POST /api/v1/alerts", a.receive)
	mux.HandleFunc("GET "+apitypes.IncidentsPath, a.authed(a.list))
	mux.HandleFunc("GET "+apitypes.IncidentsPath+"/{id}", a.authed(a.get))
	mux.HandleFunc("POST "+apitypes.IncidentsPath+"/{id}/{action}", a.authed(a.act))
	mux.HandleFunc("GET "+apitypes.KPIsPath, a.authed(a.kpis))
	mux.HandleFunc("POST "+apitypes.IncidentsPath, a.authed(a.create))
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

func (a *API) list(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	f, err := a.reader().ParseFilter(r.URL.Query(), p.Scope())
	if err != nil {
		writeError(w, r, http.StatusBadRequest, apitypes.CodeBadRequest, err)
		return
	}
	var out apitypes.ListResponse
	out.Incidents, out.Next, err = a.readerFor(p).List(r.Context(), f)
	if err != nil {
		a.storeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (a *API) get(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	id, ok := a.reader().IncidentID(r.PathValue("id"))
	if !ok {
		writeError(w, r, http.StatusBadRequest, apitypes.CodeBadRequest, i18n.New("invalid incident id"))
		return
	}
	d, err := a.readerFor(p).Detail(r.Context(), p.Scope(), id)
	if err != nil {
		a.storeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, d)
}

// DecodeAction validates an action request.
func DecodeAction(kind string, body io.Reader) (incident.Action, error) {
	if !slices.Contains(incident.Actions, kind) {
		return incident.Action{}, i18n.Errorf("unknown action %q", kind)
	}
	var req apitypes.ActionRequest
	dec := json.NewDecoder(io.LimitReader(body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil && !errors.Is(err, io.EOF) {
		return incident.Action{}, i18n.Errorf("decode action: %w", err)
	}
	return incident.Action{Kind: kind, Text: req.Text, Reason: req.Reason, CloseCode: req.CloseCode,
		AssignmentGroup: req.AssignmentGroup, Assignee: req.Assignee, FalsePositive: req.FalsePositive,
		Impact: req.Impact, Urgency: req.Urgency}, nil
}

func (a *API) act(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	id, ok := a.reader().IncidentID(r.PathValue("id"))
	if !ok {
		writeError(w, r, http.StatusBadRequest, apitypes.CodeBadRequest, i18n.New("invalid incident id"))
		return
	}
	if kind := r.PathValue("action"); kind == incident.RelLink || kind == incident.RelMerge {
		a.relate(w, r, p, kind, id)
		return
	}
	act, err := DecodeAction(r.PathValue("action"), r.Body)
	if err != nil {
		writeError(w, r, http.StatusBadRequest, apitypes.CodeBadRequest, err)
		return
	}
	if _, err := a.Service.Act(r.Context(), p.Caller(), id, act); err != nil {
		a.storeError(w, r, err)
		return
	}
	d, err := a.readerFor(p).Detail(r.Context(), p.Scope(), id)
	if err != nil {
		a.storeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, d)
}

// storeError answers a failure of the service layer or the store: a refused action in the
// rule's words (400 invalid, 409 transition_not_allowed or conflict, 403), 404, or 503 with a
// request id to find the log line (never the database's words).
func (a *API) storeError(w http.ResponseWriter, r *http.Request, err error) {
	status := readmodel.Status(err)
	code := apitypes.CodeUnavailable
	switch {
	case status == http.StatusServiceUnavailable:
		err = a.reader().UnavailableError(err)
	case status == http.StatusNotFound:
		code, err = apitypes.CodeNotFound, i18n.New("incident not found")
	case errors.Is(err, incident.ErrTransition):
		code = apitypes.CodeTransition
	case errors.Is(err, incident.ErrInvalid):
		code = apitypes.CodeInvalid
	case errors.Is(err, service.ErrForbidden):
		code = apitypes.CodeForbidden
	default:
		// store.ErrConflict: its words are the store's (and may be the database's).
		code, err = apitypes.CodeConflict, i18n.New("the incident changed meanwhile: read it again and retry")
	}
	writeError(w, r, status, code, err)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// writeError answers an apitypes.Error in the request's language (see i18n.Language).
func writeError(w http.ResponseWriter, r *http.Request, status int, code string, err error) {
	i18n.WriteError(w, r, status, code, err)
}
