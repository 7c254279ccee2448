package incident

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// ActorReconciler is the journal's actor for reconciliation with
// Alertmanager and the watchdog.
const ActorReconciler = "reconciler"

// Alert states in Alertmanager's API.
const (
	AMActive      = "active"
	AMSuppressed  = "suppressed"
	AMUnprocessed = "unprocessed"
)

// AMAlert is what Alertmanager's API says about one alert.
type AMAlert struct {
	Fingerprint string
	State       string
	SilencedBy  []string
	InhibitedBy []string
}

// ReconcileInput is what reconciliation knows about one incident.
type ReconcileInput struct {
	// Alerts are the incident's alerts.
	Alerts []Alert
	// InAlertmanager are the alerts Alertmanager still has, by fingerprint.
	InAlertmanager map[string]AMAlert
	// HeldByReconciler is set when the incident is on hold because
	// reconciliation put it there.
	HeldByReconciler bool
	// IgnoreMissing makes alerts Alertmanager does not have count for
	// nothing rather than gone (Alertmanager restarted recently and may not
	// have them back yet).
	IgnoreMissing bool
	// Gone is the policy for incidents whose alerts all left Alertmanager
	// without a resolve.
	Gone AutoResolve
}

// ReconcileOutcome tells the caller what to write.
type ReconcileOutcome struct {
	// Alerts are the alert rows to upsert (gone alerts, now resolved).
	Alerts  []Alert
	Entries []Entry
	// Event names the change for the outbox: hold, resume, resolved, updated
	// ("" when nothing changed).
	Event string
}

// Events of reconciliation.
const (
	EventHold   = "hold"
	EventResume = "resume"
)

// Changed reports whether the incident must be written.
func (o ReconcileOutcome) Changed() bool { return o.Event != "" }

// Reconcile decides what Alertmanager's view changes on an open incident
// that has not been notified for a while (mutating in):
//
//   - alerts Alertmanager no longer has are resolved (their resolve was
//     never sent); when that was the last firing alert, the Gone policy
//     applies as auto_resolve would (resolve, note, resolve_if_untouched;
//     flapping incidents stay open);
//   - when every remaining firing alert is silenced or inhibited, a new or
//     in-progress incident goes On Hold (SLA clock paused): awaiting_change
//     for a silence (maintenance), awaiting_problem for an inhibition;
//   - an incident reconciliation put on hold resumes when an alert is active
//     again.
func Reconcile(in *Incident, p Policy, r ReconcileInput, now time.Time) ReconcileOutcome {
	var out ReconcileOutcome
	add := func(kind, msg string) { out.Entries = append(out.Entries, in.entry(now, ActorReconciler, kind, msg)) }
	var (
		gone, active       []string
		silences, inhibits []string
		firing             int
	)
	for _, a := range r.Alerts {
		if !a.Firing() {
			continue
		}
		am, ok := r.InAlertmanager[a.Fingerprint]
		if !ok && r.IgnoreMissing {
			continue
		}
		if !ok {
			gone = append(gone, a.Fingerprint)
			a.Status, a.EndsAt = "resolved", now
			out.Alerts = append(out.Alerts, a)
			continue
		}
		firing++
		if am.State == AMSuppressed {
			silences = appendNew(silences, am.SilencedBy...)
			inhibits = appendNew(inhibits, am.InhibitedBy...)
		} else {
			active = append(active, a.Fingerprint)
		}
	}
	if len(gone) > 0 {
		in.FiringAlerts = firing
		add(KindNotification, fmt.Sprintf("%d alert(s) gone from Alertmanager without a resolve, marked resolved: %s",
			len(gone), strings.Join(gone, ", ")))
		out.Event = EventUpdated
	}
	switch {
	case firing == 0 && len(gone) > 0:
		if in.Flapping && !in.flapQuiet(now, p) {
			add(KindNote, "all alerts gone from Alertmanager; kept open because the incident is flapping")
			break
		}
		untouched := !in.Touched
		resolve := r.Gone == AutoResolveResolve || r.Gone == AutoResolveIfUntouched && untouched
		if in.State == StateOnHold && !r.HeldByReconciler && r.Gone != AutoResolveResolve {
			resolve = false
		}
		if !resolve {
			add(KindNote, "all alerts gone from Alertmanager without a resolve; incident left open by policy "+string(r.Gone))
			break
		}
		from := in.State
		in.resume(now, p)
		in.Flapping = false
		in.State = StateResolved
		in.ResolvedAt, in.ResolvedBy = now, ActorReconciler
		in.CloseCode, in.CloseNotes = closeCodeAutoResolved, "alerts gone from Alertmanager without a resolve"
		add(KindState, fmt.Sprintf("%s -> resolved (alerts gone from Alertmanager without a resolve)", from))
		out.Event = EventResolved
	case firing > 0 && len(active) == 0 && (in.State == StateNew || in.State == StateInProgress):
		reason, why := "awaiting_problem", "inhibited in Alertmanager"
		if len(silences) > 0 {
			reason, why = "awaiting_change", "silenced in Alertmanager"
		}
		ids := append(append([]string(nil), silences...), inhibits...)
		from := in.State
		in.State, in.HoldReason, in.HoldSince = StateOnHold, reason, now
		add(KindState, fmt.Sprintf("%s -> on_hold: %s — %s (by %s)", from, reason, why, strings.Join(ids, ", ")))
		out.Event = EventHold
	case len(active) > 0 && in.State == StateOnHold && r.HeldByReconciler:
		paused := in.resume(now, p)
		in.State = StateInProgress
		add(KindState, fmt.Sprintf("on_hold -> in_progress: alerts active again in Alertmanager (SLA clock paused %s)", paused.Round(time.Second)))
		out.Event = EventResume
	}
	if out.Event != "" {
		in.UpdatedAt = now
	}
	return out
}

// HeldByReconciler reports whether the last hold in a journal was put by
// reconciliation.
func HeldByReconciler(journal []Entry) bool {
	for i := len(journal) - 1; i >= 0; i-- {
		e := journal[i]
		if e.Kind == KindState && strings.Contains(e.Message, "-> on_hold") {
			return e.Actor == ActorReconciler
		}
	}
	return false
}

func appendNew(s []string, vs ...string) []string {
	for _, v := range vs {
		if !slices.Contains(s, v) {
			s = append(s, v)
		}
	}
	return s
}

// Watchdog incidents.
const (
	// WatchdogKeyPrefix starts the correlation key of a tenant's watchdog
	// incident (one open at a time, like any key).
	WatchdogKeyPrefix = "watchdog:"
	closeCodeWatchdog = "auto_resolved"
)

// NewWatchdogIncident is the incident opened when a tenant's watchdog
// heartbeat stopped: the monitoring pipeline (Prometheus, Alertmanager or
// the route to us) is down.
func NewWatchdogIncident(now time.Time, p Policy, tenant, title string, impact, urgency int, last time.Time, timeout time.Duration) (*Incident, []Entry) {
	n := &Incident{
		Tenant:         tenant,
		CorrelationKey: WatchdogKeyPrefix + tenant,
		Receiver:       "watchdog",
		GroupKey:       "watchdog",
		Title:          title,
		State:          StateNew,
		Impact:         impact,
		Urgency:        urgency,
		Priority:       p.Priority.Matrix[impact-1][urgency-1],
		Category:       "monitoring",
		CI:             "monitoring-pipeline",
		Labels:         map[string]string{"alertname": "Watchdog", "kizashi": "watchdog"},
		CreatedAt:      now,
		UpdatedAt:      now,
		LastNotifiedAt: now,
	}
	n.setSLA(p)
	since := "never (armed " + last.UTC().Format(time.RFC3339) + ")"
	if !last.IsZero() {
		since = last.UTC().Format(time.RFC3339)
	}
	entries := []Entry{n.entry(now, ActorReconciler, KindCreated, fmt.Sprintf(
		"created: P%d (impact %d, urgency %d): no watchdog heartbeat for %s; last heartbeat %s",
		n.Priority, impact, urgency, timeout, since))}
	return n, entries
}

// ResolveWatchdog resolves a watchdog incident whose heartbeat came back.
func ResolveWatchdog(in *Incident, p Policy, now, last time.Time) []Entry {
	from := in.State
	in.resume(now, p)
	in.State = StateResolved
	in.ResolvedAt, in.ResolvedBy = now, ActorReconciler
	in.CloseCode, in.CloseNotes = closeCodeWatchdog, "watchdog heartbeat resumed"
	in.UpdatedAt = now
	return []Entry{in.entry(now, ActorReconciler, KindState,
		fmt.Sprintf("%s -> resolved (watchdog heartbeat resumed at %s)", from, last.UTC().Format(time.RFC3339)))}
}

// ReopenWatchdog reopens a resolved watchdog incident whose heartbeat
// stopped again.
func ReopenWatchdog(in *Incident, p Policy, now time.Time, timeout time.Duration) []Entry {
	in.State = StateInProgress
	in.ReopenCount++
	in.ResolvedAt, in.ResolvedBy, in.CloseCode, in.CloseNotes = time.Time{}, "", "", ""
	in.setSLA(p)
	in.UpdatedAt = now
	return []Entry{in.entry(now, ActorReconciler, KindState,
		fmt.Sprintf("resolved -> in_progress (no watchdog heartbeat for %s again)", timeout))}
}
