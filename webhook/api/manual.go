package api

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"

	"github.com/kizashi-dev/kizashi/webhook/apitypes"
	"github.com/kizashi-dev/kizashi/webhook/auth"
	"github.com/kizashi-dev/kizashi/webhook/i18n"
	"github.com/kizashi-dev/kizashi/webhook/incident"
)

// create answers POST /api/v1/incidents: an incident reported by hand.
func (a *API) create(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	var req apitypes.CreateIncidentRequest
	dec := json.NewDecoder(io.LimitReader(r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeError(w, r, http.StatusBadRequest, apitypes.CodeBadRequest, i18n.Errorf("decode incident: %w", err))
		return
	}
	in, err := a.Service.CreateManual(r.Context(), p.Caller(), incident.Manual{Tenant: req.Tenant, Title: req.Title,
		Description: req.Description, Channel: req.Channel, Impact: req.Impact, Urgency: req.Urgency, CI: req.CI,
		Category: req.Category, AssignmentGroup: req.AssignmentGroup})
	if err != nil {
		a.storeError(w, r, err)
		return
	}
	d, err := a.readerFor(p).Detail(r.Context(), p.Scope(), in.ID)
	if err != nil {
		a.storeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, d)
}

// relate answers POST /api/v1/incidents/{id}/link and .../merge (body: target_id, text).
func (a *API) relate(w http.ResponseWriter, r *http.Request, p auth.Principal, kind string, id int64) {
	var req apitypes.ActionRequest
	dec := json.NewDecoder(io.LimitReader(r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeError(w, r, http.StatusBadRequest, apitypes.CodeBadRequest, i18n.Errorf("decode action: %w", err))
		return
	}
	target, ok := a.reader().IncidentID(strconv.FormatInt(req.TargetID, 10))
	if !ok {
		writeError(w, r, http.StatusBadRequest, apitypes.CodeBadRequest, i18n.New("target_id must be an incident id"))
		return
	}
	if err := a.Service.Relate(r.Context(), p.Caller(), kind, id, target, req.Text); err != nil {
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
