package ui

import (
	"net/http"
	"time"

	"github.com/kizashi-dev/kizashi/webhook/forward"
	"github.com/kizashi-dev/kizashi/webhook/service"
	"github.com/kizashi-dev/kizashi/webhook/store"
)

// targetRow is one target on the forwarding page.
type targetRow struct {
	Target, Type string
	// State: "delivering", "circuit open" (only probes run) or "paused" (the target asked
	// for it with a 429).
	State         string
	Until         *time.Time
	Pending, Dead int
	OldestPending *time.Time
}

type forwardingData struct {
	base
	Targets []targetRow
}

// forwarding shows the caller's targets: their state in this process (circuit breaker, pause)
// and their queues in the store.
func (u *UI) forwarding(w http.ResponseWriter, r *http.Request, v viewer) {
	if !v.SeesInternal() {
		u.fail(w, v, service.ErrForbidden) // the provider's delivery state is not the customer's
		return
	}
	d := forwardingData{base: v.base()}
	if u.Config == nil {
		u.render(w, "forwarding.html", http.StatusOK, d)
		return
	}
	status := map[string]forward.TargetStatus{}
	if u.Status != nil {
		for _, s := range u.Status() {
			status[s.Target] = s
		}
	}
	queues := map[string]store.TargetStats{}
	if f, ok := u.Service.Store.(store.Forwarding); ok {
		stats, err := f.ForwardStats(r.Context())
		if err != nil {
			u.fail(w, v, err)
			return
		}
		for _, s := range stats {
			queues[s.Target] = s
		}
	}
	now := time.Now()
	for _, t := range u.Config().Targets() {
		if !v.AllTenants() && t.Tenant != v.Tenant {
			continue
		}
		row := targetRow{Target: t.Key, Type: t.Type, State: "delivering"}
		s := status[t.Key]
		switch {
		case s.PausedUntil.After(now):
			row.State, row.Until = "paused", &s.PausedUntil
		case s.CircuitOpen:
			row.State, row.Until = "circuit open", &s.OpenUntil
		}
		q := queues[t.Key]
		row.Pending, row.Dead = q.Pending, q.Dead
		if !q.OldestPending.IsZero() {
			row.OldestPending = &q.OldestPending
		}
		d.Targets = append(d.Targets, row)
	}
	u.render(w, "forwarding.html", http.StatusOK, d)
}
