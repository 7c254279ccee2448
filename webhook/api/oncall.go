package api

import (
	"bytes"
	"net/http"
	"time"

	"github.com/kizashi-dev/kizashi/webhook/apitypes"
	"github.com/kizashi-dev/kizashi/webhook/auth"
	"github.com/kizashi-dev/kizashi/webhook/config"
	"github.com/kizashi-dev/kizashi/webhook/oncall"
	"github.com/kizashi-dev/kizashi/webhook/oncall/oncallview"
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
	writeJSON(w, http.StatusOK, apitypes.OnCallResponse{At: now.UTC(), Schedules: oncallview.Now(o.Config(), o.tenants(p, r), now)})
}

// schedule finds the requested schedule of the caller's tenant (or the operator's tenant=).
func (o *OnCall) schedule(w http.ResponseWriter, r *http.Request, p auth.Principal) (string, *config.TenantPeople, *oncall.Schedule, bool) {
	tenant := p.Tenant
	if p.AllTenants() {
		tenant = r.URL.Query().Get(apitypes.ParamTenant)
		if tenant == "" {
			writeError(w, http.StatusBadRequest, "operators name the schedule's tenant with tenant=")
			return "", nil, nil, false
		}
	}
	tp := o.Config().People(tenant)
	if tp == nil || tp.Schedules[r.PathValue("schedule")] == nil {
		writeError(w, http.StatusNotFound, "no such schedule")
		return "", nil, nil, false
	}
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
				writeError(w, http.StatusBadRequest, b.key+" must be an RFC 3339 time")
				return
			}
			*b.t = t
		}
	}
	if !to.After(from) || to.Sub(from) > 366*24*time.Hour {
		writeError(w, http.StatusBadRequest, "to must be after from, at most 366 days")
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
		writeError(w, http.StatusInternalServerError, "calendar")
		return
	}
	w.Header().Set("Content-Type", "text/calendar; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="`+s.Name+`.ics"`)
	_, _ = w.Write(b.Bytes())
}
