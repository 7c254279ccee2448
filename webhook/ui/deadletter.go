package ui

import (
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/kizashi-dev/kizashi/webhook/publicid"
	"github.com/kizashi-dev/kizashi/webhook/store"
)

// retryDeadLetter makes one of the incident's dead letters due again (as
// POST /api/v1/deadletters/{id}/retry does) and goes back to the incident.
func (u *UI) retryDeadLetter(w http.ResponseWriter, r *http.Request, v viewer) {
	id, ok := u.reader().IncidentID(r.PathValue("id"))
	if !ok {
		http.NotFound(w, r)
		return
	}
	if !mayAct(v.Principal) {
		u.fail(w, v, errReadOnly)
		return
	}
	f, ok := u.Service.Store.(interface {
		store.Forwarding
		store.IncidentForwarding
	})
	n, err := strconv.ParseInt(r.PostFormValue("dead_letter"), 10, 64)
	var job int64
	if err == nil && ok {
		job, ok = u.IDs.Private(publicid.DeadLetter, n)
	}
	if err != nil || !ok {
		http.Error(w, u.locale(r).T("bad form"), http.StatusBadRequest)
		return
	}
	// Only a job of this incident, in the caller's scope (tenant and assignment groups).
	if _, err := u.allowed(r.Context(), v, id); err != nil {
		u.fail(w, v, err)
		return
	}
	jobs, err := f.IncidentJobs(r.Context(), v.Scope(), id)
	if err != nil {
		u.fail(w, v, err)
		return
	}
	if !slices.ContainsFunc(jobs, func(j store.ForwardJob) bool { return j.ID == job }) {
		u.fail(w, v, store.ErrNotFound)
		return
	}
	retried, err := f.RetryDeadLetters(r.Context(), v.Scope(), "", job, time.Now())
	if err != nil {
		u.fail(w, v, err)
		return
	}
	http.Redirect(w, r, "/incidents/"+r.PathValue("id")+"?retried="+strconv.Itoa(min(retried, 1)), http.StatusSeeOther)
}
