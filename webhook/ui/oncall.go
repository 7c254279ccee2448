package ui

import (
	"net/http"
	"time"

	"github.com/kizashi-dev/kizashi/webhook/apitypes"
	"github.com/kizashi-dev/kizashi/webhook/oncall/oncallview"
)

type onCallData struct {
	base
	At        time.Time
	Schedules []apitypes.Schedule
}

// oncall shows who is on call now in the caller's schedules, who is next, and links to each
// schedule's iCalendar export.
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
		d.Schedules = oncallview.Now(u.Config(), tenants, d.At)
	}
	u.render(w, "oncall.html", http.StatusOK, d)
}
