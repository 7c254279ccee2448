package ui

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/kizashi-dev/kizashi/webhook/i18n"
	"github.com/kizashi-dev/kizashi/webhook/incident"
	"github.com/kizashi-dev/kizashi/webhook/publicid"
	"github.com/kizashi-dev/kizashi/webhook/readmodel"
)

// newData is the form of an incident opened by hand.
type newData struct {
	base
	Operator bool
	Tenants  []string
	Channels []string
}

func (u *UI) newForm(w http.ResponseWriter, code int, v viewer, b base) {
	b.Title = b.L.T("New incident")
	d := newData{base: b, Operator: v.AllTenants(), Channels: incident.Channels}
	if u.Config != nil {
		for _, t := range u.Config().Tenants {
			d.Tenants = append(d.Tenants, t.Name)
		}
	}
	u.render(w, "new.html", code, d)
}

// newIncident is GET /incidents/new: the form (not for customers).
func (u *UI) newIncident(w http.ResponseWriter, _ *http.Request, v viewer) {
	if v.ReadOnly() {
		http.Error(w, v.L.T(http.StatusText(http.StatusForbidden)), http.StatusForbidden)
		return
	}
	u.newForm(w, http.StatusOK, v, v.base())
}

// createIncident is POST /incidents/new: opens the incident and shows it.
func (u *UI) createIncident(w http.ResponseWriter, r *http.Request, v viewer) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	impact, _ := strconv.Atoi(r.PostFormValue("impact"))
	urgency, _ := strconv.Atoi(r.PostFormValue("urgency"))
	in, err := u.Service.CreateManual(r.Context(), v.Caller(), incident.Manual{Tenant: r.PostFormValue("tenant"),
		Title: r.PostFormValue("title"), Description: r.PostFormValue("description"), Channel: r.PostFormValue("channel"),
		Impact: impact, Urgency: urgency, CI: r.PostFormValue("ci")})
	if code := readmodel.Status(err); err != nil && code != http.StatusServiceUnavailable {
		b := v.base()
		b.Error = i18n.Text(v.L.Language(), err) // our own validation's words, never the store's
		u.newForm(w, code, v, b)
		return
	} else if err != nil {
		u.fail(w, v, err)
		return
	}
	http.Redirect(w, r, fmt.Sprintf("/incidents/%d", u.IDs.Public(publicid.Incident, in.ID)), http.StatusSeeOther)
}
