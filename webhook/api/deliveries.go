package api

import (
	"net/http"
	"strconv"

	"github.com/kizashi-dev/kizashi/webhook/apitypes"
	"github.com/kizashi-dev/kizashi/webhook/auth"
	"github.com/kizashi-dev/kizashi/webhook/i18n"
	"github.com/kizashi-dev/kizashi/webhook/publicid"
	"github.com/kizashi-dev/kizashi/webhook/store"
)

// Delivery kinds of apitypes.DeliveriesPath (package deliver's).
const (
	deliveryReport   = "service_report"
	deliveryReminder = "update_reminder"
)

// RegisterDeliveries adds GET apitypes.DeliveriesPath: the record of the scheduled report
// mails and reminders, a tenant's own to its credentials, every tenant's (or tenant=) to
// operators.
func (a *API) RegisterDeliveries(mux *http.ServeMux) {
	mux.HandleFunc("GET "+apitypes.DeliveriesPath, a.authed(a.deliveries))
}

func (a *API) deliveries(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	ds, ok := a.Service.Store.(store.Delivering)
	if !ok {
		writeError(w, r, http.StatusNotImplemented, apitypes.CodeNotImplemented, i18n.New("this store keeps no deliveries"))
		return
	}
	kind := r.URL.Query().Get("kind")
	if kind != deliveryReport && kind != deliveryReminder {
		writeError(w, r, http.StatusBadRequest, apitypes.CodeBadRequest, i18n.New("kind must be service_report or update_reminder"))
		return
	}
	if kind == deliveryReminder && !p.SeesInternal() {
		writeError(w, r, http.StatusForbidden, apitypes.CodeForbidden, i18n.New("reminders name the desk's people: not shown to customers"))
		return
	}
	tenant := p.Tenant
	if p.AllTenants() {
		tenant = r.URL.Query().Get(apitypes.ParamTenant)
	}
	list, err := ds.Deliveries(r.Context(), kind, tenant, 500)
	if err != nil {
		a.storeError(w, r, err)
		return
	}
	resp := apitypes.DeliveriesResponse{Deliveries: []apitypes.Delivery{}}
	for _, d := range list {
		subject := d.Subject
		if kind == deliveryReminder {
			if id, err := strconv.ParseInt(d.Subject, 10, 64); err == nil {
				subject = strconv.FormatInt(a.IDs.Public(publicid.Incident, id), 10)
			}
		}
		delivered := d.Delivered
		if delivered == nil {
			delivered = []string{}
		}
		resp.Deliveries = append(resp.Deliveries, apitypes.Delivery{Kind: d.Kind, Tenant: d.Tenant, Subject: subject, Period: d.Period,
			Outcome: d.Outcome, DueAt: d.DueAt.UTC(), DoneAt: d.DoneAt.UTC(), Attempts: d.Attempts, Delivered: delivered,
			Note: d.Note, LastError: d.LastError})
	}
	writeJSON(w, http.StatusOK, resp)
}
