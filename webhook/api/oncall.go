package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/kizashi-dev/kizashi/webhook/apitypes"
	"github.com/kizashi-dev/kizashi/webhook/auth"
	"github.com/kizashi-dev/kizashi/webhook/config"
	"github.com/kizashi-dev/kizashi/webhook/i18n"
	"github.com/kizashi-dev/kizashi/webhook/oncall"
	"github.com/kizashi-dev/kizashi/webhook/oncallview"
	"github.com/kizashi-dev/kizashi/webhook/sanitize"
	"github.com/kizashi-dev/kizashi/webhook/store"
)

// OnCall serves who is on call (see apitypes.OnCallPath), with the API's authentication: a
// tenant's credential sees its schedules, an operator's every tenant's.
type OnCall struct {
	API *API
	// Config is the current configuration.
	Config func() *config.Config
	Now    func() time.Time
}

// Register adds the on-call routes.
func (o *OnCall) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET "+apitypes.OnCallPath, o.API.authed(o.list))
	mux.HandleFunc("GET "+apitypes.OnCallPath+"/{schedule}/shifts", o.API.authed(o.shifts))
	mux.HandleFunc("GET "+apitypes.OnCallPath+"/{schedule}/calendar.ics", o.API.authed(o.ical))
	mux.HandleFunc("GET "+apitypes.OnCallPath+"/{schedule}/overrides", o.API.authed(o.listOverrides))
	mux.HandleFunc("POST "+apitypes.OnCallPath+"/{schedule}/overrides", o.API.authed(o.addOverride))
	mux.HandleFunc("DELETE "+apitypes.OnCallPath+"/{schedule}/overrides/{id}", o.API.authed(o.deleteOverride))
}

// overrides is the store of overrides (nil: the store keeps none).
func (o *OnCall) overrides() store.OnCallOverrides {
	if o.API == nil || o.API.Service == nil {
		return nil
	}
	s, _ := o.API.Service.Store.(store.OnCallOverrides)
	return s
}

// stored reads the stored overrides of tenants ending after since (errors are logged: the
// configured schedules are still answered).
func (o *OnCall) stored(r *http.Request, tenants []string, since time.Time) map[string][]store.OnCallOverride {
	out := map[string][]store.OnCallOverride{}
	for _, t := range tenants {
		list, err := oncallview.Stored(r.Context(), o.overrides(), t, since)
		if err != nil {
			o.API.Logger.Error("on-call overrides", "tenant", t, "err", err)
			continue
		}
		out[t] = list
	}
	return out
}

func overrideOf(s store.OnCallOverride) apitypes.Override {
	return apitypes.Override{ID: s.ID, Tenant: s.Tenant, Schedule: s.Schedule, Contact: s.Contact, From: s.From.UTC(), To: s.To.UTC(),
		Reason: s.Reason, CreatedBy: s.CreatedBy, CreatedAt: s.CreatedAt.UTC()}
}

func (o *OnCall) listOverrides(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	tenant, _, s, ok := o.schedule(w, r, p)
	if !ok {
		return
	}
	resp := apitypes.OverridesResponse{Tenant: tenant, Schedule: s.Name, Overrides: []apitypes.Override{}}
	for _, so := range o.stored(r, []string{tenant}, o.now())[tenant] {
		if so.Schedule == s.Name {
			resp.Overrides = append(resp.Overrides, overrideOf(so))
		}
	}
	writeJSON(w, http.StatusOK, resp)
}

// manages checks that p may create and delete overrides (an operator or admin).
func (o *OnCall) manages(w http.ResponseWriter, r *http.Request, p auth.Principal) (store.OnCallOverrides, bool) {
	if !p.AllTenants() || p.ReadOnly() {
		writeError(w, r, http.StatusForbidden, apitypes.CodeForbidden, i18n.New("on-call overrides are made by operators and admins"))
		return nil, false
	}
	st := o.overrides()
	if st == nil {
		writeError(w, r, http.StatusNotImplemented, apitypes.CodeNotImplemented, i18n.New("this store keeps no on-call overrides"))
		return nil, false
	}
	return st, true
}

func (o *OnCall) addOverride(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	st, ok := o.manages(w, r, p)
	if !ok {
		return
	}
	tenant, tp, s, ok := o.schedule(w, r, p)
	if !ok {
		return
	}
	var req apitypes.OverrideRequest
	dec := json.NewDecoder(io.LimitReader(r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeError(w, r, http.StatusBadRequest, apitypes.CodeBadRequest, i18n.Errorf("decode override: %w", err))
		return
	}
	now := o.now()
	switch {
	case req.Contact == "":
		writeError(w, r, http.StatusBadRequest, apitypes.CodeBadRequest, i18n.New("contact is required"))
		return
	case req.From.IsZero() || req.To.IsZero() || !req.To.After(req.From):
		writeError(w, r, http.StatusBadRequest, apitypes.CodeBadRequest, i18n.New("from and to are required, to after from"))
		return
	case req.To.Sub(req.From) > 366*24*time.Hour:
		writeError(w, r, http.StatusBadRequest, apitypes.CodeBadRequest, i18n.New("an override lasts at most 366 days"))
		return
	case !req.To.After(now):
		writeError(w, r, http.StatusBadRequest, apitypes.CodeBadRequest, i18n.New("the override has already ended"))
		return
	case len(req.Reason) > 1024:
		writeError(w, r, http.StatusBadRequest, apitypes.CodeBadRequest, i18n.New("reason is longer than 1024 bytes"))
		return
	}
	if _, known := tp.Contacts[req.Contact]; !known {
		writeError(w, r, http.StatusBadRequest, apitypes.CodeBadRequest, i18n.Errorf("unknown contact %q", req.Contact))
		return
	}
	if _, clamped := sanitize.Time(req.From); clamped {
		writeError(w, r, http.StatusBadRequest, apitypes.CodeBadRequest, i18n.New("from is out of range"))
		return
	}
	if _, clamped := sanitize.Time(req.To); clamped {
		writeError(w, r, http.StatusBadRequest, apitypes.CodeBadRequest, i18n.New("to is out of range"))
		return
	}
	so := &store.OnCallOverride{Tenant: tenant, Schedule: s.Name, Contact: req.Contact, From: req.From, To: req.To,
		Reason: strings.TrimSpace(req.Reason), CreatedBy: p.Name, CreatedAt: now}
	if err := st.AddOverride(r.Context(), so); err != nil {
		o.API.storeError(w, r, err)
		return
	}
	o.API.Logger.Info("on-call override created", "tenant", tenant, "schedule", s.Name, "id", so.ID, "contact", so.Contact,
		"from", so.From, "to", so.To, "by", p.Name)
	writeJSON(w, http.StatusCreated, overrideOf(*so))
}

func (o *OnCall) deleteOverride(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	st, ok := o.manages(w, r, p)
	if !ok {
		return
	}
	tenant, _, s, ok := o.schedule(w, r, p)
	if !ok {
		return
	}
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		writeError(w, r, http.StatusBadRequest, apitypes.CodeBadRequest, i18n.New("invalid override id"))
		return
	}
	so, err := st.DeleteOverride(r.Context(), tenant, id, p.Name, o.now())
	if errors.Is(err, store.ErrNotFound) || (err == nil && so.Schedule != s.Name) {
		writeError(w, r, http.StatusNotFound, apitypes.CodeNotFound, i18n.New("no such override"))
		return
	}
	if err != nil {
		o.API.storeError(w, r, err)
		return
	}
	o.API.Logger.Info("on-call override deleted", "tenant", tenant, "schedule", s.Name, "id", id, "by", p.Name)
	writeJSON(w, http.StatusOK, overrideOf(*so))
}

func (o *OnCall) now() time.Time {
	if o.Now != nil {
		return o.Now()
	}
	return time.Now()
}

func (o *OnCall) tenants(p auth.Principal, r *http.Request) []string {
	if !p.AllTenants() {
		return []string{p.Tenant}
	}
	if t := r.URL.Query().Get(apitypes.ParamTenant); t != "" {
		return []string{t}
	}
	return o.Config().TenantNames()
}

func (o *OnCall) list(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	now := o.now()
	tenants := o.tenants(p, r)
	writeJSON(w, http.StatusOK, apitypes.OnCallResponse{At: now.UTC(), Schedules: oncallview.Now(o.Config(), tenants, now, o.stored(r, tenants, now))})
}

// schedule finds the requested schedule of the caller's tenant (or the operator's tenant=).
func (o *OnCall) schedule(w http.ResponseWriter, r *http.Request, p auth.Principal) (string, *config.TenantPeople, *oncall.Schedule, bool) {
	tenant := p.Tenant
	if p.AllTenants() {
		tenant = r.URL.Query().Get(apitypes.ParamTenant)
		if tenant == "" {
			writeError(w, r, http.StatusBadRequest, apitypes.CodeBadRequest, i18n.New("operators name the schedule's tenant with tenant="))
			return "", nil, nil, false
		}
	}
	tp := o.Config().People(tenant)
	if tp == nil || tp.Schedules[r.PathValue("schedule")] == nil {
		writeError(w, r, http.StatusNotFound, apitypes.CodeNotFound, i18n.New("no such schedule"))
		return "", nil, nil, false
	}
	// Overrides that ended a year ago still show in a year's shifts.
	tp = oncallview.People(tp, o.stored(r, []string{tenant}, o.now().Add(-366*24*time.Hour))[tenant])
	return tenant, tp, tp.Schedules[r.PathValue("schedule")], true
}

func (o *OnCall) shifts(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	tenant, tp, s, ok := o.schedule(w, r, p)
	if !ok {
		return
	}
	from, to := o.now(), o.now().Add(14*24*time.Hour)
	q := r.URL.Query()
	for _, b := range []struct {
		key string
		t   *time.Time
	}{{"from", &from}, {"to", &to}} {
		if v := q.Get(b.key); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				writeError(w, r, http.StatusBadRequest, apitypes.CodeBadRequest, i18n.Errorf("%s must be an RFC 3339 time", b.key))
				return
			}
			*b.t = t
		}
	}
	if !to.After(from) || to.Sub(from) > 366*24*time.Hour {
		writeError(w, r, http.StatusBadRequest, apitypes.CodeBadRequest, i18n.New("to must be after from, at most 366 days"))
		return
	}
	resp := apitypes.ShiftsResponse{Tenant: tenant, Schedule: s.Name, From: from.UTC(), To: to.UTC(), Shifts: []apitypes.Shift{}}
	for _, sh := range s.Shifts(from, to) {
		resp.Shifts = append(resp.Shifts, oncallview.ShiftOf(tp, sh))
	}
	writeJSON(w, http.StatusOK, resp)
}

func (o *OnCall) ical(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	_, tp, s, ok := o.schedule(w, r, p)
	if !ok {
		return
	}
	now := o.now()
	names := map[string]string{}
	for n, c := range tp.Contacts {
		names[n] = c.Label()
	}
	var b bytes.Buffer
	if err := oncall.WriteICal(&b, s, now.Add(-7*24*time.Hour), now.Add(56*24*time.Hour), now, names); err != nil {
		writeError(w, r, http.StatusInternalServerError, apitypes.CodeInternal, i18n.New("calendar"))
		return
	}
	w.Header().Set("Content-Type", "text/calendar; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="`+s.Name+`.ics"`)
	_, _ = w.Write(b.Bytes())
}
