package api

import (
	"net/http"
	"time"

	"github.com/kizashi-dev/kizashi/webhook/apitypes"
	"github.com/kizashi-dev/kizashi/webhook/auth"
	"github.com/kizashi-dev/kizashi/webhook/incident"
)

// kpis answers GET /api/v1/kpis: computed from the store, the same on every replica.
func (a *API) kpis(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	f, err := a.reader().ParseFilter(r.URL.Query(), p.Scope())
	if err != nil {
		writeError(w, r, http.StatusBadRequest, apitypes.CodeBadRequest, err)
		return
	}
	ks, err := a.Service.KPIs(r.Context(), f.Tenant, f.ActiveFrom, f.ActiveTo)
	if err != nil {
		a.storeError(w, r, err)
		return
	}
	out := apitypes.KPIsResponse{KPIs: make([]apitypes.KPI, 0, len(ks))}
	var total incident.KPI
	for _, k := range ks {
		out.KPIs = append(out.KPIs, KPIWire(k))
		total.Merge(k)
	}
	out.Total = KPIWire(total)
	writeJSON(w, http.StatusOK, out)
}

// KPIWire is k on the wire.
func KPIWire(k incident.KPI) apitypes.KPI {
	seconds := func(d time.Duration, ok bool) *float64 {
		if !ok {
			return nil
		}
		s := d.Seconds()
		return &s
	}
	pct := func(v float64, ok bool) *float64 {
		if !ok {
			return nil
		}
		return &v
	}
	return apitypes.KPI{
		Tenant: k.Tenant, Priority: k.Priority, Incidents: k.Incidents, Open: k.Open, Unacknowledged: k.Unacknowledged,
		Responded: k.Responded, MTTA: seconds(k.MTTA()), Resolved: k.Resolved, MTTR: seconds(k.MTTR()),
		ResponseMet: k.ResponseMet, ResponseBreached: k.ResponseBreached, ResponseCompliancePercent: pct(k.ResponseCompliance()),
		ResolveMet: k.ResolveMet, ResolveBreached: k.ResolveBreached, ResolveCompliancePercent: pct(k.ResolveCompliance()),
	}
}
