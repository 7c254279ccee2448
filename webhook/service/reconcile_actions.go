package service

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/kizashi-dev/kizashi/webhook/alertmsg"
	"github.com/kizashi-dev/kizashi/webhook/incident"
	"github.com/kizashi-dev/kizashi/webhook/store"
)

// ReconcileRequest is Alertmanager's view on one incident.
type ReconcileRequest struct {
	Tenant     string
	IncidentID int64
	// NotifiedBefore: a new or in-progress incident notified since then is
	// only checked for silences and inhibitions (Alertmanager spoke meanwhile:
	// an alert it no longer has may have its resolve in flight).
	NotifiedBefore time.Time
	InAlertmanager map[string]incident.AMAlert
	// IgnoreMissing: alerts Alertmanager lacks are not taken for gone (it
	// restarted recently).
	IgnoreMissing bool
	Gone          incident.AutoResolve
}

// Reconcile applies Alertmanager's view to one incident in one transaction
// (journal and outbox included) and returns the event ("" if nothing
// changed).
func (s *Service) Reconcile(ctx context.Context, r ReconcileRequest) (string, error) {
	now := s.now()
	journal, err := s.Store.Journal(ctx, r.IncidentID)
	if err != nil {
		return "", fmt.Errorf("reconcile incident %d: %w", r.IncidentID, err)
	}
	held := incident.HeldByReconciler(journal)
	var (
		event    string
		resolved *incident.Incident
	)
	err = s.Store.Update(ctx, func(ctx context.Context, tx store.Tx) error {
		event, resolved = "", nil
		in, err := tx.Incident(ctx, r.Tenant, r.IncidentID)
		if err != nil {
			return err
		}
		ignoreMissing := r.IgnoreMissing
		switch in.State {
		case incident.StateNew, incident.StateInProgress:
			// Notified recently: an alert missing from Alertmanager may have its
			// resolve in flight, so only silences and inhibitions count (they pause
			// the SLA at once, whatever the repeat interval).
			if !in.LastNotifiedAt.Before(r.NotifiedBefore) {
				ignoreMissing = true
			}
		case incident.StateOnHold:
		default:
			return nil
		}
		alerts, err := tx.Alerts(ctx, in.ID)
		if err != nil {
			return err
		}
		out := incident.Reconcile(in, s.Rules().Policy(in.Tenant), incident.ReconcileInput{
			Alerts: alerts, InAlertmanager: r.InAlertmanager, HeldByReconciler: held, IgnoreMissing: ignoreMissing, Gone: r.Gone}, now)
		if !out.Changed() {
			return nil
		}
		if err := tx.UpdateIncident(ctx, in); err != nil {
			return err
		}
		if len(out.Alerts) > 0 {
			if err := tx.UpsertAlerts(ctx, in.ID, out.Alerts); err != nil {
				return err
			}
		}
		if err := record(ctx, tx, in, out.Entries, out.Event, now); err != nil {
			return err
		}
		event = out.Event
		if event == incident.EventResolved {
			resolved = in
		}
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("reconcile incident %d: %w", r.IncidentID, err)
	}
	if resolved != nil {
		s.observeResolved(resolved)
	}
	return event, nil
}

// Watchdog describes a tenant's dead-man's switch incident.
type Watchdog struct {
	Tenant          string
	Title           string
	Impact, Urgency int
	Timeout         time.Duration
	// Last is the last heartbeat (or when the switch was armed).
	Last time.Time
}

// WatchdogDown opens (or reopens) the tenant's watchdog incident; it
// returns its id, or 0 when one was already open.
func (s *Service) WatchdogDown(ctx context.Context, w Watchdog) (int64, error) {
	now := s.now()
	var id int64
	var priority int
	err := s.Store.Update(ctx, func(ctx context.Context, tx store.Tx) error {
		id = 0
		p := s.Rules().Policy(w.Tenant)
		cur, err := tx.OpenIncident(ctx, w.Tenant, incident.WatchdogKeyPrefix+w.Tenant)
		if err != nil {
			return err
		}
		var (
			in      *incident.Incident
			entries []incident.Entry
			event   string
		)
		switch {
		case cur == nil:
			in, entries = incident.NewWatchdogIncident(now, p, w.Tenant, w.Title, w.Impact, w.Urgency, w.Last, w.Timeout)
			if err := tx.CreateIncident(ctx, in); err != nil {
				return err
			}
			for i := range entries {
				entries[i].IncidentID = in.ID
			}
			event = incident.EventCreated
		case cur.State == incident.StateResolved:
			in = cur
			entries = incident.ReopenWatchdog(in, p, now, w.Timeout)
			if err := tx.UpdateIncident(ctx, in); err != nil {
				return err
			}
			event = incident.EventReopened
		default:
			return nil
		}
		if err := record(ctx, tx, in, entries, event, now); err != nil {
			return err
		}
		id, priority = in.ID, in.Priority
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("open watchdog incident of %s: %w", w.Tenant, err)
	}
	if id != 0 && s.Metrics != nil {
		s.Metrics.IncidentsOpened.WithLabelValues(w.Tenant, prio(priority)).Inc()
	}
	return id, nil
}

// WatchdogUp resolves the tenant's open watchdog incident, if any; it
// returns its id (0 if none).
func (s *Service) WatchdogUp(ctx context.Context, tenant string, last time.Time) (int64, error) {
	now := s.now()
	var id int64
	err := s.Store.Update(ctx, func(ctx context.Context, tx store.Tx) error {
		id = 0
		cur, err := tx.OpenIncident(ctx, tenant, incident.WatchdogKeyPrefix+tenant)
		if err != nil || cur == nil || cur.State == incident.StateResolved {
			return err
		}
		entries := incident.ResolveWatchdog(cur, s.Rules().Policy(tenant), now, last)
		if err := tx.UpdateIncident(ctx, cur); err != nil {
			return err
		}
		if err := record(ctx, tx, cur, entries, incident.EventResolved, now); err != nil {
			return err
		}
		id = cur.ID
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("resolve watchdog incident of %s: %w", tenant, err)
	}
	return id, nil
}

// ErrUnsupported is returned when the store lacks a capability.
var ErrUnsupported = errors.New("not supported by this store")

// Heartbeat feeds the tenant's watchdog when the notification has a firing
// alert. It reports whether it did.
func (s *Service) Heartbeat(ctx context.Context, tenant string, m *alertmsg.Message) (bool, error) {
	rs, ok := s.Store.(store.Reconciling)
	if !ok {
		return false, fmt.Errorf("record heartbeat: %w", ErrUnsupported)
	}
	firing := false
	for _, a := range m.Alerts {
		firing = firing || a.Status == alertmsg.StatusFiring
	}
	if !firing {
		return false, nil
	}
	if err := rs.RecordHeartbeat(ctx, tenant, s.now()); err != nil {
		return false, err
	}
	return true, nil
}
