package ui

import (
	"net/http"
	"time"

	"github.com/kizashi-dev/kizashi/webhook/apitypes"
	"github.com/kizashi-dev/kizashi/webhook/oncallview"
	"github.com/kizashi-dev/kizashi/webhook/store"
)

type onCallData struct {
	base
	At        time.Time
	Schedules []apitypes.Schedule
	// Overrides are the overrides made through the API that have not ended.
	Overrides []store.OnCallOverride
}

// oncall shows who is on call now in the caller's schedules, who is next, the overrides made
// through the API, and links to each schedule's iCalendar export.
func (u *UI) oncall(w http.ResponseWriter, r *http.Request, v viewer) {
	d := onCallData{base: v.base(), At: time.Now()}
	d.Title = v.L.T("On call")
	if u.Now != nil {
		d.At = u.Now()
	}
	if u.Config != nil {
		tenants := []string{v.Tenant}
		if v.AllTenants() {
			tenants = u.Config().TenantNames()
		}
		stored := map[string][]store.OnCallOverride{}
		var st any
		if u.Service != nil {
			st = u.Service.Store
		}
		for _, t := range tenants {
			list, err := oncallview.Stored(r.Context(), st, t, d.At)
			if err != nil {
				u.Logger.Error("on-call overrides", "tenant", t, "err", err)
				continue
			}
			stored[t] = list
			d.Overrides = append(d.Overrides, list...)
		}
		d.Schedules = oncallview.Now(u.Config(), tenants, d.At, stored)
	}
	u.render(w, "oncall.html", http.StatusOK, d)
}
