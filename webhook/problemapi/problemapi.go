// Package problemapi serves problem management, major incidents, the service report and the
// audit-trail export over HTTP (paths and bodies in package apitypes), and their page
// (/problems). Handlers authenticate through the REST API's Authed, decode, call package
// problem or report and encode; tenants see only their own records (another tenant's answers
// 404), operators every tenant's.
package problemapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/kizashi-dev/kizashi/webhook/apitypes"
	"github.com/kizashi-dev/kizashi/webhook/auth"
	"github.com/kizashi-dev/kizashi/webhook/i18n"
	"github.com/kizashi-dev/kizashi/webhook/problem"
	"github.com/kizashi-dev/kizashi/webhook/publicid"
	"github.com/kizashi-dev/kizashi/webhook/readmodel"
	"github.com/kizashi-dev/kizashi/webhook/report"
	"github.com/kizashi-dev/kizashi/webhook/store"
)

// Authed is the REST API's authentication (api.API.Authed).
type Authed func(h func(w http.ResponseWriter, r *http.Request, p auth.Principal)) http.HandlerFunc

// Handlers holds the dependencies.
type Handlers struct {
	Desk    *problem.Desk
	Authed  Authed
	IDs     *publicid.Codec
	Printer *report.Printer
	Logger  *slog.Logger
	Now     func() time.Time
	// Location is a tenant's time zone for its report when the request names none (nil: UTC).
	Location func(tenant string) *time.Location
}

// maxBody bounds a request body.
const maxBody = 1 << 20

// Register adds the routes to mux.
func (h *Handlers) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET "+apitypes.ProblemsPath, h.Authed(h.listProblems))
	mux.HandleFunc("POST "+apitypes.ProblemsPath, h.Authed(h.writer(h.createProblem)))
	mux.HandleFunc("GET "+apitypes.ProblemsPath+"/{id}", h.Authed(h.getProblem))
	mux.HandleFunc("POST "+apitypes.ProblemsPath+"/{id}", h.Authed(h.writer(h.changeProblem)))
	mux.HandleFunc("GET "+apitypes.SuppressionsPath, h.Authed(h.listSuppressions))
	mux.HandleFunc("POST "+apitypes.SuppressionsPath, h.Authed(h.writer(h.suppress)))
	mux.HandleFunc("GET "+apitypes.MajorIncidentsPath, h.Authed(h.listMajors))
	mux.HandleFunc("POST "+apitypes.MajorIncidentsPath+"/{id}", h.Authed(h.writer(h.declare)))
	mux.HandleFunc("POST "+apitypes.MajorIncidentsPath+"/{id}/{action}", h.Authed(h.writer(h.majorAction)))
	mux.HandleFunc("GET "+apitypes.ReportPath, h.Authed(h.reader(h.report)))
	mux.HandleFunc("GET "+apitypes.ExportPath+"/{what}", h.Authed(h.reader(h.export)))
	mux.HandleFunc("GET /problems", h.Authed(h.page))
}

// Who may do what. A tenant's API token of role act reads and changes its tenant's records,
// an operator's every tenant's (a tenant's Alertmanager credential never gets here: Authed
// refuses it). The customer viewer of issue 14 plugs in here: a viewer role
// reads its tenant's report and export (canRead) and changes nothing (canChange false).
func canRead(p auth.Principal) bool { return p.AllTenants() || p.Tenant != "" }

func canChange(p auth.Principal) bool { return p.WorksOnIncidents() }

func (h *Handlers) reader(next func(http.ResponseWriter, *http.Request, auth.Principal)) func(http.ResponseWriter, *http.Request, auth.Principal) {
	return func(w http.ResponseWriter, r *http.Request, p auth.Principal) {
		if !canRead(p) {
			writeError(w, r, http.StatusForbidden, apitypes.CodeForbidden, i18n.New("this credential may not read reports"))
			return
		}
		next(w, r, p)
	}
}

func (h *Handlers) writer(next func(http.ResponseWriter, *http.Request, auth.Principal)) func(http.ResponseWriter, *http.Request, auth.Principal) {
	return func(w http.ResponseWriter, r *http.Request, p auth.Principal) {
		if !canChange(p) {
			writeError(w, r, http.StatusForbidden, apitypes.CodeForbidden, i18n.New("this credential may not change problems or major incidents"))
			return
		}
		next(w, r, p)
	}
}

// tenant is the tenant a request is about: the principal's, or for an operator the tenant
// parameter (required when required is set).
func tenant(r *http.Request, p auth.Principal, required bool) (string, error) {
	if !p.AllTenants() {
		return p.Tenant, nil
	}
	t := r.URL.Query().Get(apitypes.ParamTenant)
	if t == "" && required {
		return "", i18n.New("an operator names the tenant (tenant=)")
	}
	return t, nil
}

func (h *Handlers) fail(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, store.ErrNotFound):
		writeError(w, r, http.StatusNotFound, apitypes.CodeNotFound, i18n.New("not found"))
	case errors.Is(err, store.ErrExists):
		writeError(w, r, http.StatusConflict, apitypes.CodeConflict, err)
	case errors.Is(err, problem.ErrInvalid):
		writeError(w, r, http.StatusBadRequest, apitypes.CodeInvalid, err)
	default:
		rm := &readmodel.Reader{Logger: h.Logger}
		writeError(w, r, http.StatusServiceUnavailable, apitypes.CodeUnavailable, rm.UnavailableError(err))
	}
}

func decode(r *http.Request, v any) error {
	dec := json.NewDecoder(io.LimitReader(r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return i18n.Errorf("%w: invalid JSON body: %w", problem.ErrInvalid, err)
	}
	return nil
}

func (h *Handlers) problemID(s string) (int64, bool) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return 0, false
	}
	return h.IDs.Private(publicid.Problem, n)
}

func (h *Handlers) incidentID(s string) (int64, bool) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return 0, false
	}
	return h.IDs.Private(publicid.Incident, n)
}

func (h *Handlers) incidentIDs(pub []int64) ([]int64, error) {
	out := make([]int64, 0, len(pub))
	for _, p := range pub {
		id, ok := h.IDs.Private(publicid.Incident, p)
		if !ok || p <= 0 {
			return nil, store.ErrNotFound
		}
		out = append(out, id)
	}
	return out, nil
}

func tp(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func (h *Handlers) wireProblem(p *store.Problem) apitypes.Problem {
	return apitypes.Problem{ID: h.IDs.Public(publicid.Problem, p.ID), Tenant: p.Tenant, Title: p.Title, State: p.State, Origin: p.Origin,
		Scope: p.Scope, Subject: p.Subject, RootCause: p.RootCause, Workaround: p.Workaround, KnownError: p.KnownError,
		CreatedBy: p.CreatedBy, CreatedAt: p.CreatedAt, UpdatedAt: p.UpdatedAt, ResolvedAt: tp(p.ResolvedAt), ClosedAt: tp(p.ClosedAt)}
}

func (h *Handlers) listProblems(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	t, err := tenant(r, p, false)
	if err != nil {
		writeError(w, r, http.StatusBadRequest, apitypes.CodeBadRequest, err)
		return
	}
	q := r.URL.Query()
	ps, err := h.Desk.Problems.ListProblems(r.Context(), store.ProblemFilter{Tenant: t, OpenOnly: q.Get("open") == "true", KnownError: q.Get("known_error") == "true"})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out := apitypes.ProblemsResponse{Problems: []apitypes.Problem{}}
	for _, pr := range ps {
		out.Problems = append(out.Problems, h.wireProblem(pr))
	}
	writeJSON(w, http.StatusOK, out)
}

func (h *Handlers) detail(r *http.Request, scope string, id int64) (*apitypes.ProblemDetail, error) {
	pr, err := h.Desk.Problems.Problem(r.Context(), scope, id)
	if err != nil {
		return nil, err
	}
	ids, err := h.Desk.Problems.ProblemIncidents(r.Context(), pr.ID)
	if err != nil {
		return nil, err
	}
	j, err := h.Desk.Problems.ProblemJournal(r.Context(), pr.Tenant, pr.ID)
	if err != nil {
		return nil, err
	}
	d := &apitypes.ProblemDetail{Problem: h.wireProblem(pr), Incidents: []int64{}, Journal: []apitypes.ProblemEntry{}}
	for _, id := range ids {
		d.Incidents = append(d.Incidents, h.IDs.Public(publicid.Incident, id))
	}
	for _, e := range j {
		d.Journal = append(d.Journal, apitypes.ProblemEntry{At: e.At, Actor: e.Actor, Kind: e.Kind, Subject: e.Subject, Message: e.Message})
	}
	return d, nil
}

func (h *Handlers) getProblem(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	id, ok := h.problemID(r.PathValue("id"))
	if !ok {
		writeError(w, r, http.StatusNotFound, apitypes.CodeNotFound, i18n.New("not found"))
		return
	}
	d, err := h.detail(r, p.Scope(), id)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, d)
}

func (h *Handlers) createProblem(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	t, err := tenant(r, p, true)
	if err != nil {
		writeError(w, r, http.StatusBadRequest, apitypes.CodeBadRequest, err)
		return
	}
	var req apitypes.ProblemRequest
	if err := decode(r, &req); err != nil {
		h.fail(w, r, err)
		return
	}
	ids, err := h.incidentIDs(req.Incidents)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	pr, err := h.Desk.CreateProblem(r.Context(), problem.Create{Tenant: t, Actor: p.Name, Title: req.Title, Key: req.Key, CI: req.CI,
		RootCause: req.RootCause, Workaround: req.Workaround, KnownError: req.KnownError, Incidents: ids})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	d, err := h.detail(r, pr.Tenant, pr.ID)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, d)
}

func (h *Handlers) changeProblem(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	id, ok := h.problemID(r.PathValue("id"))
	if !ok {
		writeError(w, r, http.StatusNotFound, apitypes.CodeNotFound, i18n.New("not found"))
		return
	}
	var req apitypes.ProblemChange
	if err := decode(r, &req); err != nil {
		h.fail(w, r, err)
		return
	}
	pr, err := h.Desk.Problems.Problem(r.Context(), p.Scope(), id)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	ids, err := h.incidentIDs(req.Link)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if _, err := h.Desk.ChangeProblem(r.Context(), id, problem.Change{Tenant: pr.Tenant, Actor: p.Name, RootCause: req.RootCause,
		Workaround: req.Workaround, KnownError: req.KnownError, State: req.State, Link: ids}); err != nil {
		h.fail(w, r, err)
		return
	}
	d, err := h.detail(r, pr.Tenant, pr.ID)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, d)
}

func (h *Handlers) listSuppressions(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	t, err := tenant(r, p, false)
	if err != nil {
		writeError(w, r, http.StatusBadRequest, apitypes.CodeBadRequest, err)
		return
	}
	sps, err := h.Desk.Problems.Suppressions(r.Context(), t, h.Now())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out := apitypes.SuppressionsResponse{Suppressions: []apitypes.Suppression{}}
	for _, s := range sps {
		out.Suppressions = append(out.Suppressions, apitypes.Suppression{Key: s.Key, Tenant: s.Tenant, Until: s.Until, Reason: s.Reason, Actor: s.Actor, CreatedAt: s.CreatedAt})
	}
	writeJSON(w, http.StatusOK, out)
}

func (h *Handlers) suppress(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	t, err := tenant(r, p, true)
	if err != nil {
		writeError(w, r, http.StatusBadRequest, apitypes.CodeBadRequest, err)
		return
	}
	var req apitypes.SuppressRequest
	if err := decode(r, &req); err != nil {
		h.fail(w, r, err)
		return
	}
	if err := h.Desk.Suppress(r.Context(), t, p.Name, req.Key, req.Until, req.Reason); err != nil {
		h.fail(w, r, err)
		return
	}
	h.listSuppressions(w, r, p)
}

func (h *Handlers) wireMajor(r *http.Request, m store.MajorIncident) (apitypes.MajorIncident, error) {
	ups, err := h.Desk.Problems.MajorUpdates(r.Context(), m.Tenant, m.IncidentID)
	if err != nil {
		return apitypes.MajorIncident{}, err
	}
	out := apitypes.MajorIncident{IncidentID: h.IDs.Public(publicid.Incident, m.IncidentID), Tenant: m.Tenant, DeclaredAt: m.DeclaredAt,
		DeclaredBy: m.DeclaredBy, Coordinator: m.Coordinator, UpdateEverySeconds: m.UpdateEvery.Seconds(), LastUpdateAt: tp(m.LastUpdateAt),
		NextUpdateDue: tp(m.NextUpdateDue), EndedAt: tp(m.EndedAt), ReviewSummary: m.ReviewSummary, ReviewBy: m.ReviewBy,
		ReviewAt: tp(m.ReviewAt), CustomerUpdateCount: len(ups),
		UpdateDue: m.EndedAt.IsZero() && !m.NextUpdateDue.IsZero() && !m.NextUpdateDue.After(h.Now())}
	if m.ProblemID != 0 {
		out.ReviewProblemID = h.IDs.Public(publicid.Problem, m.ProblemID)
	}
	return out, nil
}

func (h *Handlers) listMajors(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	t, err := tenant(r, p, false)
	if err != nil {
		writeError(w, r, http.StatusBadRequest, apitypes.CodeBadRequest, err)
		return
	}
	var due time.Time
	if r.URL.Query().Get("due") == "true" {
		due = h.Now()
	}
	ms, err := h.Desk.Problems.ListMajors(r.Context(), t, time.Time{}, time.Time{}, due)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out := apitypes.MajorIncidentsResponse{MajorIncidents: []apitypes.MajorIncident{}}
	for _, m := range ms {
		wm, err := h.wireMajor(r, m)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		out.MajorIncidents = append(out.MajorIncidents, wm)
	}
	writeJSON(w, http.StatusOK, out)
}

func parseEvery(s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, i18n.Errorf("%w: update_every: %w", problem.ErrInvalid, err)
	}
	return d, nil
}

// incidentTenant is the tenant of an incident the principal may see.
func (h *Handlers) incidentTenant(r *http.Request, p auth.Principal) (int64, string, error) {
	id, ok := h.incidentID(r.PathValue("id"))
	if !ok {
		return 0, "", store.ErrNotFound
	}
	in, err := h.Desk.Store.Incident(r.Context(), p.Scope(), id)
	if err != nil {
		return 0, "", err
	}
	return id, in.Tenant, nil
}

func (h *Handlers) declare(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	id, t, err := h.incidentTenant(r, p)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	var req apitypes.MajorDeclare
	if err := decode(r, &req); err != nil {
		h.fail(w, r, err)
		return
	}
	every, err := parseEvery(req.UpdateEvery)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	m, err := h.Desk.Declare(r.Context(), t, p.Name, id, req.Coordinator, every)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.writeMajor(w, r, *m, http.StatusCreated)
}

func (h *Handlers) writeMajor(w http.ResponseWriter, r *http.Request, m store.MajorIncident, code int) {
	wm, err := h.wireMajor(r, m)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, code, wm)
}

func (h *Handlers) majorAction(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	id, t, err := h.incidentTenant(r, p)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	switch r.PathValue("action") {
	case "update":
		var req apitypes.MajorUpdateRequest
		if err := decode(r, &req); err != nil {
			h.fail(w, r, err)
			return
		}
		if _, err := h.Desk.CustomerUpdate(r.Context(), t, p.Name, id, req.Text); err != nil {
			h.fail(w, r, err)
			return
		}
	case "review":
		var req apitypes.MajorReview
		if err := decode(r, &req); err != nil {
			h.fail(w, r, err)
			return
		}
		var pid int64
		if req.ProblemID != 0 {
			var ok bool
			if pid, ok = h.IDs.Private(publicid.Problem, req.ProblemID); !ok {
				h.fail(w, r, store.ErrNotFound)
				return
			}
		}
		if _, err := h.Desk.ChangeMajor(r.Context(), id, problem.MajorChange{Tenant: t, Actor: p.Name, Review: &req.Summary, ProblemID: pid}); err != nil {
			h.fail(w, r, err)
			return
		}
	case "change":
		var req apitypes.MajorChange
		if err := decode(r, &req); err != nil {
			h.fail(w, r, err)
			return
		}
		c := problem.MajorChange{Tenant: t, Actor: p.Name, Coordinator: req.Coordinator, End: req.End}
		if req.UpdateEvery != nil {
			every, err := parseEvery(*req.UpdateEvery)
			if err != nil {
				h.fail(w, r, err)
				return
			}
			c.UpdateEvery = &every
		}
		if _, err := h.Desk.ChangeMajor(r.Context(), id, c); err != nil {
			h.fail(w, r, err)
			return
		}
	default:
		writeError(w, r, http.StatusNotFound, apitypes.CodeNotFound, i18n.New("unknown action (update, review, change)"))
		return
	}
	m, err := h.Desk.Problems.Major(r.Context(), t, id)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.writeMajor(w, r, *m, http.StatusOK)
}

// rangeOf reads from/to (RFC 3339) or month (2006-01) in loc.
func rangeOf(r *http.Request, loc *time.Location) (time.Time, time.Time, error) {
	q := r.URL.Query()
	if m := q.Get("month"); m != "" {
		t, err := time.ParseInLocation("2006-01", m, loc)
		if err != nil {
			return time.Time{}, time.Time{}, i18n.New("month must be YYYY-MM")
		}
		from, to := report.Month(t.Year(), t.Month(), loc)
		return from, to, nil
	}
	from, err := time.Parse(time.RFC3339, q.Get("from"))
	if err != nil {
		return time.Time{}, time.Time{}, i18n.New("from and to (RFC 3339), or month (YYYY-MM), are required")
	}
	to, err := time.Parse(time.RFC3339, q.Get("to"))
	if err != nil {
		return time.Time{}, time.Time{}, i18n.New("to must be RFC 3339")
	}
	if !to.After(from) {
		return time.Time{}, time.Time{}, i18n.New("to must be after from")
	}
	if to.Sub(from) > 366*24*time.Hour {
		return time.Time{}, time.Time{}, i18n.New("a range is at most 366 days")
	}
	return from, to, nil
}

func (h *Handlers) location(r *http.Request, t string) (*time.Location, error) {
	if tz := r.URL.Query().Get("tz"); tz != "" {
		loc, err := time.LoadLocation(tz)
		if err != nil || strings.Contains(tz, "..") {
			return nil, i18n.New("unknown time zone")
		}
		return loc, nil
	}
	if h.Location != nil {
		if loc := h.Location(t); loc != nil {
			return loc, nil
		}
	}
	return time.UTC, nil
}

func (h *Handlers) report(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	t, err := tenant(r, p, true)
	if err != nil {
		writeError(w, r, http.StatusBadRequest, apitypes.CodeBadRequest, err)
		return
	}
	loc, err := h.location(r, t)
	if err != nil {
		writeError(w, r, http.StatusBadRequest, apitypes.CodeBadRequest, err)
		return
	}
	from, to, err := rangeOf(r, loc)
	if err != nil {
		writeError(w, r, http.StatusBadRequest, apitypes.CodeBadRequest, err)
		return
	}
	q := r.URL.Query()
	format := q.Get("format")
	if format == "" {
		format = "html"
	}
	if format != "html" && format != "pdf" && format != "json" {
		writeError(w, r, http.StatusBadRequest, apitypes.CodeBadRequest, i18n.New("format must be html, pdf or json"))
		return
	}
	rep, err := report.Compute(r.Context(), h.Desk.Store, h.Desk.Problems, report.Options{Tenant: t, From: from, To: to, Location: loc,
		Now: h.Now(), PublicID: func(id int64) int64 { return h.IDs.Public(publicid.Incident, id) },
		ProblemID: func(id int64) int64 { return h.IDs.Public(publicid.Problem, id) }})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if format == "json" {
		writeJSON(w, http.StatusOK, wireReport(rep))
		return
	}
	var page bytes.Buffer
	if err := report.HTML(&page, rep, report.Lang(q.Get("lang")), h.Now()); err != nil {
		h.fail(w, r, err)
		return
	}
	name := fmt.Sprintf("report-%s-%s", sanitizeName(t), from.In(loc).Format("2006-01-02"))
	if format == "html" {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src data:")
		_, _ = w.Write(page.Bytes())
		return
	}
	pdf, err := h.Printer.PDF(r.Context(), page.Bytes())
	if err != nil {
		h.Logger.Error("print report", "tenant", t, "err", err)
		writeError(w, r, http.StatusServiceUnavailable, apitypes.CodeUnavailable, i18n.New("the PDF cannot be printed now (see the log)"))
		return
	}
	w.Header().Set("Content-Type", "application/pdf")
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`.pdf"`)
	_, _ = w.Write(pdf)
}

// sanitizeName keeps a file name to letters, digits, - and _.
func sanitizeName(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '-' || r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') {
			return r
		}
		return '_'
	}, s)
}

func (h *Handlers) export(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	// An operator may export every tenant (no tenant=).
	t, err := tenant(r, p, false)
	if err != nil {
		writeError(w, r, http.StatusBadRequest, apitypes.CodeBadRequest, err)
		return
	}
	from, to, err := rangeOf(r, time.UTC)
	if err != nil {
		writeError(w, r, http.StatusBadRequest, apitypes.CodeBadRequest, err)
		return
	}
	what := r.PathValue("what")
	format := r.URL.Query().Get("format")
	if format == "" {
		format = report.FormatCSV
	}
	if (what != "incidents" && what != "journal") || (format != report.FormatCSV && format != report.FormatJSON) {
		writeError(w, r, http.StatusBadRequest, apitypes.CodeBadRequest, i18n.New("export incidents or journal, as csv or json"))
		return
	}
	e := &report.Export{Store: h.Desk.Store, Problems: h.Desk.Problems, Tenant: t, From: from, To: to, Now: h.Now(),
		IncidentID: func(id int64) int64 { return h.IDs.Public(publicid.Incident, id) },
		JournalID:  func(id int64) int64 { return h.IDs.Public(publicid.Journal, id) }}
	if f, ok := w.(http.Flusher); ok {
		e.Flush = f.Flush
	}
	ctype := "text/csv; charset=utf-8"
	if format == report.FormatJSON {
		ctype = "application/json"
	}
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s-%s-%s.%s"`, what, sanitizeName(orAll(t)), from.Format("20060102"), format))
	write := e.Incidents
	if what == "journal" {
		write = e.Journal
	}
	if err := write(r.Context(), w, format); err != nil {
		// The status is sent: the body ends early; the log says why.
		h.Logger.Error("export", "tenant", t, "what", what, "err", err)
	}
}

func orAll(t string) string {
	if t == "" {
		return "all"
	}
	return t
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
