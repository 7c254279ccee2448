package api

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/kizashi-dev/kizashi/webhook/apitypes"
	"github.com/kizashi-dev/kizashi/webhook/auth"
	"github.com/kizashi-dev/kizashi/webhook/i18n"
	"github.com/kizashi-dev/kizashi/webhook/publicid"
	"github.com/kizashi-dev/kizashi/webhook/sanitize"
	"github.com/kizashi-dev/kizashi/webhook/service"
	"github.com/kizashi-dev/kizashi/webhook/store"
)

func (a *API) registerForwarding(mux *http.ServeMux) {
	mux.HandleFunc("POST /api/v1/watchdog", a.watchdog)
	mux.HandleFunc("GET "+apitypes.DeadLettersPath, a.authed(a.staffOnly(a.deadLetters)))
	mux.HandleFunc("POST "+apitypes.DeadLettersPath+"/retry", a.authed(a.retryDeadLetters))
	mux.HandleFunc("POST "+apitypes.DeadLettersPath+"/{id}/retry", a.authed(a.retryDeadLetters))
}

func forwarding(st store.Store) (store.Forwarding, bool) {
	f, ok := st.(store.Forwarding)
	return f, ok
}

// watchdog receives the tenant's always-firing Watchdog alert (an
// Alertmanager webhook notification) and feeds its dead-man's switch.
func (a *API) watchdog(w http.ResponseWriter, r *http.Request) {
	p, ok := a.alertmanager(w, r)
	if !ok {
		return
	}
	// A heartbeat is small and the next one is due soon: one too large is
	// refused for good.
	m, ok := a.decode(w, r, p.Tenant, http.StatusRequestEntityTooLarge)
	if !ok {
		return
	}
	fed, err := a.Service.Heartbeat(r.Context(), p.Tenant, m)
	if err != nil {
		a.Logger.Error("record heartbeat", "tenant", p.Tenant, "err", err)
		a.reject(w, http.StatusServiceUnavailable, service.RejectUnavailable, "store unavailable, retry")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "heartbeat": fed})
}

func (a *API) deadLetters(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	f, ok := forwarding(a.Service.Store)
	if !ok {
		writeError(w, r, http.StatusNotFound, apitypes.CodeNotFound, i18n.New("forwarding not supported by the store"))
		return
	}
	q := r.URL.Query()
	filter := store.DeadLetterFilter{Tenant: p.Scope(), Target: sanitize.Text(q.Get("target"), 0), Limit: 50}
	if p.AllTenants() {
		filter.Tenant = sanitize.Text(q.Get("tenant"), 0)
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 500 {
			writeError(w, r, http.StatusBadRequest, apitypes.CodeBadRequest, i18n.New("limit must be an integer 1-500"))
			return
		}
		filter.Limit = n
	}
	if v := q.Get("before"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		id, ok := a.IDs.Private(publicid.DeadLetter, n)
		if err != nil || !ok {
			writeError(w, r, http.StatusBadRequest, apitypes.CodeBadRequest, i18n.New("before must be a positive id"))
			return
		}
		filter.BeforeID = id
	}
	jobs, err := f.DeadLetters(r.Context(), filter)
	if err != nil {
		a.storeError(w, r, err)
		return
	}
	out := apitypes.DeadLettersResponse{DeadLetters: make([]apitypes.DeadLetter, 0, len(jobs))}
	for _, j := range jobs {
		out.DeadLetters = append(out.DeadLetters, a.reader().DeadLetter(j))
	}
	if len(jobs) == filter.Limit {
		out.Next = strconv.FormatInt(a.IDs.Public(publicid.DeadLetter, jobs[len(jobs)-1].ID), 10)
	}
	writeJSON(w, http.StatusOK, out)
}

// retryDeadLetters makes one dead letter (path id) or all of a target
// (?target=) live again; it answers {"retried": n}.
func (a *API) retryDeadLetters(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	f, ok := forwarding(a.Service.Store)
	if !ok {
		writeError(w, r, http.StatusNotFound, apitypes.CodeNotFound, i18n.New("forwarding not supported by the store"))
		return
	}
	var id int64
	if r.PathValue("id") != "" {
		n, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
		var ok bool
		if id, ok = a.IDs.Private(publicid.DeadLetter, n); err != nil || !ok {
			writeError(w, r, http.StatusBadRequest, apitypes.CodeBadRequest, i18n.New("invalid dead letter id"))
			return
		}
		if _, err := f.Job(r.Context(), p.Scope(), id); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				writeError(w, r, http.StatusNotFound, apitypes.CodeNotFound, i18n.New("dead letter not found"))
				return
			}
			a.storeError(w, r, err)
			return
		}
	}
	target := sanitize.Text(r.URL.Query().Get("target"), 0)
	if id == 0 && target == "" {
		writeError(w, r, http.StatusBadRequest, apitypes.CodeBadRequest, i18n.New("target required"))
		return
	}
	n, err := f.RetryDeadLetters(r.Context(), p.Scope(), target, id, time.Now())
	if err != nil {
		a.storeError(w, r, err)
		return
	}
	if id != 0 && n == 0 {
		writeError(w, r, http.StatusConflict, apitypes.CodeConflict, i18n.New("not a dead letter"))
		return
	}
	writeJSON(w, http.StatusOK, map[string]int{"retried": n})
}
