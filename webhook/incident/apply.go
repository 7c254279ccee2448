package incident

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/kizashi-dev/kizashi/webhook/sanitize"
)

// Input is what the domain needs to apply one notification to one
// correlation key: the current non-final incident (if any) with its alerts,
// the latest final incident (for links and false-positive muting) and the
// notification's alerts for this key.
type Input struct {
	Tenant         string
	CorrelationKey string
	Receiver       string
	GroupKey       string
	// GroupLabels are the notification's group labels (for templates).
	GroupLabels map[string]string
	// Reason is Alertmanager's notification_reason, if sent.
	Reason string
	// Complete is false when Alertmanager truncated the alert list: alerts
	// absent from Alerts are then not resolved.
	Complete bool
	// Truncated counts the alerts Alertmanager left out (its max_alerts),
	// Dropped those the receiver did not keep (its limits.max_alerts); either
	// makes the notification incomplete.
	Truncated uint64
	Dropped   int
	Alerts    []Alert
	// Repeat is set when the notification repeats one already applied: its
	// alerts still fire, but the incident was resolved by a person while they
	// fired. It reopens the incident without counting a flap.
	Repeat bool

	Current       *Incident
	CurrentAlerts []Alert
	Previous      *Incident
}

// Outcome tells the caller what to write. The domain never writes.
type Outcome struct {
	// Create is a new incident to insert (ID 0). Entries with IncidentID 0
	// belong to it.
	Create *Incident
	// Update is the changed current incident (same ID and Version as read).
	Update *Incident
	// Superseded is a resolved incident closed because a re-fire came after
	// the reopen window; Create then links to it.
	Superseded *Incident
	// Alerts are the alert rows to upsert on the incident that stays open
	// (Create or Update).
	Alerts []Alert
	// Entries are journal lines.
	Entries []Entry
	// Events name what happened, for the outbox and metrics: created,
	// reopened, resolved, updated, suppressed.
	Events []string
	// Heartbeat is true when nothing but the time of the last notification
	// changed.
	Heartbeat bool
	// Breaches lists SLA breaches detected now.
	Breaches []string
}

// Events.
const (
	EventCreated    = "created"
	EventReopened   = "reopened"
	EventResolved   = "resolved"
	EventUpdated    = "updated"
	EventSuppressed = "suppressed"
	EventClosed     = "closed"
	// EventSLABreach: the sweep recorded an SLA breach (forwarded at once).
	EventSLABreach = "sla_breach"
)

// Apply decides what one notification does to one correlation key.
func Apply(now time.Time, p Policy, in Input) Outcome {
	merged, changed := mergeAlerts(now, in.CurrentAlerts, in.Alerts, in.Complete)
	firing := countFiring(merged)
	var out Outcome
	cur := in.Current
	if cur == nil {
		if firing == 0 {
			// Resolve for an incident that is gone (closed, canceled or never
			// created): the raw notification is kept, nothing else changes.
			out.Heartbeat = true
			return out
		}
		prev := in.Previous
		if prev != nil && prev.State == StateCanceled && now.Before(prev.MuteUntil) {
			out.Update = prev.Clone()
			out.Update.LastNotifiedAt = now
			why := "canceled as false positive"
			if prev.CloseCode == closeCodeMerged {
				why = "merged into another incident"
			}
			out.Entries = append(out.Entries, prev.entry(now, ActorAlertmanager, KindSuppressed,
				fmt.Sprintf("re-fire suppressed: %s, muted until %s", why, prev.MuteUntil.Format(time.RFC3339))))
			out.Events = append(out.Events, EventSuppressed)
			return out
		}
		out.create(now, p, in, merged, prev)
		return out
	}

	upd := cur.Clone()
	upd.LastNotifiedAt = now
	upd.FiringAlerts = firing
	out.Update = upd
	if changed {
		out.Alerts = changedAlerts(in.CurrentAlerts, merged)
		out.Entries = append(out.Entries, upd.entry(now, ActorAlertmanager, KindNotification, notificationLine(in)))
	}

	switch {
	case upd.State == StateResolved && firing > 0 && in.Repeat:
		upd.State = StateInProgress
		upd.ReopenCount++
		upd.ResolvedAt, upd.ResolvedBy, upd.CloseCode, upd.CloseNotes = time.Time{}, "", "", ""
		upd.setSLA(p)
		out.Entries = append(out.Entries, upd.entry(now, ActorAlertmanager, KindState, "resolved -> in_progress (resolved while its alerts still fire: Alertmanager repeated them)"))
		out.Events = append(out.Events, EventReopened)
	case upd.State == StateResolved && firing > 0:
		flapping := upd.recordFlap(now, p)
		if flapping && !cur.Flapping {
			out.Entries = append(out.Entries, upd.entry(now, ActorSystem, KindFlapping,
				fmt.Sprintf("flapping: %d resolve/re-fire cycles within %s; auto-resolve paused", len(upd.FlapTimes), p.FlapWindow)))
		}
		if p.ReopenWindow > 0 && now.Sub(upd.ResolvedAt) <= p.ReopenWindow {
			upd.State = StateInProgress
			upd.ReopenCount++
			upd.ResolvedAt, upd.ResolvedBy, upd.CloseCode, upd.CloseNotes = time.Time{}, "", "", ""
			upd.setSLA(p)
			out.Entries = append(out.Entries, upd.entry(now, ActorAlertmanager, KindState, "resolved -> in_progress (alert re-fired within reopen window)"))
			out.Events = append(out.Events, EventReopened)
			break
		}
		// Too late to reopen: close the old incident and open a linked one.
		upd.State = StateClosed
		upd.ClosedAt = now
		if upd.CloseCode == "" {
			upd.CloseCode = closeCodeSuperseded
		}
		out.Entries = append(out.Entries, upd.entry(now, ActorSystem, KindState, "resolved -> closed (alert re-fired after reopen window; superseded)"))
		out.Events = append(out.Events, EventClosed)
		out.Update = nil
		out.Superseded = upd
		out.Alerts = nil
		out.create(now, p, in, merged, upd)
		return out
	case upd.State != StateResolved && firing == 0:
		if upd.Flapping && !upd.flapQuiet(now, p) {
			out.Entries = append(out.Entries, upd.entry(now, ActorSystem, KindNote, "all alerts resolved; kept open because the incident is flapping"))
			break
		}
		upd.Flapping = false
		resolve := p.AutoResolve == AutoResolveResolve || (p.AutoResolve == AutoResolveIfUntouched && !upd.Touched)
		// An untouched incident On Hold was put there by reconciliation (a
		// silence): its resolve resolves it as resolve_if_untouched says. One a
		// person put on hold is touched.
		if !resolve {
			out.Entries = append(out.Entries, upd.entry(now, ActorAlertmanager, KindNote, "all alerts resolved; incident left open by auto-resolve policy "+string(p.AutoResolve)))
			break
		}
		from := upd.State
		upd.resume(now, p)
		upd.State = StateResolved
		upd.ResolvedAt = now
		upd.ResolvedBy = ActorAlertmanager
		upd.CloseCode = closeCodeAutoResolved
		upd.CloseNotes = "all alerts resolved"
		out.Entries = append(out.Entries, upd.entry(now, ActorAlertmanager, KindState, fmt.Sprintf("%s -> resolved (all alerts resolved)", from)))
		out.Events = append(out.Events, EventResolved)
	case firing > 0:
		out.reprioritize(now, p, upd, merged)
	}

	if len(out.Events) == 0 && changed {
		out.Events = append(out.Events, EventUpdated)
	}
	e, b := upd.CheckSLA(now)
	out.Entries = append(out.Entries, e...)
	out.Breaches = b
	out.Heartbeat = !changed && len(out.Entries) == 0
	if !out.Heartbeat {
		upd.UpdatedAt = now
	}
	return out
}

func (out *Outcome) create(now time.Time, p Policy, in Input, merged []Alert, prev *Incident) {
	labels := groupLabels(in, merged)
	td := templateData{Labels: labels, Annotations: commonAnnotations(merged)}
	n := &Incident{
		Tenant:          in.Tenant,
		CorrelationKey:  in.CorrelationKey,
		Receiver:        in.Receiver,
		GroupKey:        in.GroupKey,
		State:           StateNew,
		Labels:          labels,
		Title:           render(p.Templates.Title, td),
		Category:        render(p.Templates.Category, td),
		CI:              render(p.Templates.CI, td),
		AssignmentGroup: render(p.Templates.AssignmentGroup, td),
		CreatedAt:       now,
		UpdatedAt:       now,
		LastNotifiedAt:  now,
		FiringAlerts:    countFiring(merged),
	}
	if n.Title == "" {
		n.Title = sanitize.Text("alert group "+in.GroupKey, sanitize.MaxTitle)
	}
	n.Impact, n.Urgency, n.Priority = highestPriority(p.Priority, merged)
	n.setSLA(p)
	out.Create = n
	out.Alerts = merged
	out.Events = append(out.Events, EventCreated)
	out.Entries = append(out.Entries,
		n.entry(now, ActorAlertmanager, KindNotification, notificationLine(in)),
		n.entry(now, ActorAlertmanager, KindCreated, fmt.Sprintf("created: P%d (impact %d, urgency %d), %d firing", n.Priority, n.Impact, n.Urgency, n.FiringAlerts)))
	if prev != nil {
		n.PreviousID = prev.ID
		// A flap history carries over to the successor.
		n.FlapTimes = append([]time.Time(nil), prev.FlapTimes...)
		n.Flapping = prev.Flapping
		out.Entries = append(out.Entries, n.entry(now, ActorSystem, KindLinked, fmt.Sprintf("follows incident #%d (%s)", prev.ID, prev.State)))
	}
	if reason := majorReason(p.Major, n); reason != "" {
		n.MajorProposed = true
		out.Entries = append(out.Entries, n.entry(now, ActorSystem, KindMajor, "major incident proposed: "+reason))
	}
}

func (out *Outcome) reprioritize(now time.Time, p Policy, upd *Incident, merged []Alert) {
	impact, urgency, prio := highestPriority(p.Priority, merged)
	if prio < upd.Priority {
		out.Entries = append(out.Entries, upd.entry(now, ActorAlertmanager, KindPriority,
			fmt.Sprintf("priority raised P%d -> P%d (impact %d, urgency %d)", upd.Priority, prio, impact, urgency)))
		upd.Impact, upd.Urgency, upd.Priority = impact, urgency, prio
		upd.setSLA(p)
	}
	if !upd.MajorProposed {
		if reason := majorReason(p.Major, upd); reason != "" {
			upd.MajorProposed = true
			out.Entries = append(out.Entries, upd.entry(now, ActorSystem, KindMajor, "major incident proposed: "+reason))
		}
	}
}

func majorReason(r MajorRule, in *Incident) string {
	switch {
	case r.MaxPriority > 0 && in.Priority <= r.MaxPriority:
		return fmt.Sprintf("priority P%d", in.Priority)
	case r.MinFiringAlerts > 0 && in.FiringAlerts >= r.MinFiringAlerts:
		return fmt.Sprintf("%d alerts firing", in.FiringAlerts)
	}
	return ""
}

// recordFlap appends a re-fire to the flap history and reports flapping.
func (in *Incident) recordFlap(now time.Time, p Policy) bool {
	if p.FlapCycles <= 0 {
		return false
	}
	keep := in.FlapTimes[:0]
	for _, t := range in.FlapTimes {
		if now.Sub(t) <= p.FlapWindow {
			keep = append(keep, t)
		}
	}
	in.FlapTimes = append(keep, now)
	if len(in.FlapTimes) > p.FlapCycles {
		in.FlapTimes = in.FlapTimes[len(in.FlapTimes)-p.FlapCycles:]
	}
	if len(in.FlapTimes) >= p.FlapCycles {
		in.Flapping = true
	}
	return in.Flapping
}

// flapQuiet reports whether the last re-fire is older than the flap window.
func (in *Incident) flapQuiet(now time.Time, p Policy) bool {
	if len(in.FlapTimes) == 0 {
		return true
	}
	return now.Sub(in.FlapTimes[len(in.FlapTimes)-1]) > p.FlapWindow
}

func highestPriority(pp PriorityPolicy, alerts []Alert) (impact, urgency, prio int) {
	impact, urgency, prio = LevelLow, LevelLow, 99
	for _, a := range alerts {
		if !a.Firing() {
			continue
		}
		i, u, p := pp.Compute(a.Labels)
		if p < prio {
			impact, urgency, prio = i, u, p
		}
	}
	if prio == 99 {
		impact, urgency, prio = pp.Compute(nil)
	}
	return impact, urgency, prio
}

// mergeAlerts merges the notification's alerts into the known ones.
func mergeAlerts(now time.Time, known, batch []Alert, complete bool) ([]Alert, bool) {
	byFP := make(map[string]int, len(known))
	merged := make([]Alert, 0, len(known)+len(batch))
	for _, a := range known {
		byFP[a.Fingerprint] = len(merged)
		merged = append(merged, a)
	}
	changed := false
	seen := make(map[string]bool, len(batch))
	for _, a := range batch {
		seen[a.Fingerprint] = true
		a.LastSeenAt = now
		i, ok := byFP[a.Fingerprint]
		if !ok {
			byFP[a.Fingerprint] = len(merged)
			merged = append(merged, a)
			changed = true
			continue
		}
		old := merged[i]
		if old.Status != a.Status || !old.StartsAt.Equal(a.StartsAt) || !old.EndsAt.Equal(a.EndsAt) {
			changed = true
		}
		merged[i] = a
	}
	if complete {
		for i := range merged {
			if !seen[merged[i].Fingerprint] && merged[i].Firing() {
				merged[i].Status = "resolved"
				merged[i].EndsAt = now
				changed = true
			}
		}
	}
	return merged, changed
}

func changedAlerts(known, merged []Alert) []Alert {
	old := make(map[string]Alert, len(known))
	for _, a := range known {
		old[a.Fingerprint] = a
	}
	var out []Alert
	for _, a := range merged {
		o, ok := old[a.Fingerprint]
		if !ok || o.Status != a.Status || !o.StartsAt.Equal(a.StartsAt) || !o.EndsAt.Equal(a.EndsAt) {
			out = append(out, a)
		}
	}
	return out
}

func countFiring(as []Alert) int {
	n := 0
	for _, a := range as {
		if a.Firing() {
			n++
		}
	}
	return n
}

// groupLabels are the labels shared by all alerts, plus the group labels.
func groupLabels(in Input, alerts []Alert) map[string]string {
	common := commonPairs(alerts, func(a Alert) map[string]string { return a.Labels })
	if common == nil {
		common = map[string]string{}
	}
	maps.Copy(common, in.GroupLabels)
	return common
}

func commonAnnotations(alerts []Alert) map[string]string {
	return commonPairs(alerts, func(a Alert) map[string]string { return a.Annotations })
}

// commonPairs returns the pairs of field shared by all alerts.
func commonPairs(alerts []Alert, field func(Alert) map[string]string) map[string]string {
	var common map[string]string
	for _, a := range alerts {
		if common == nil {
			common = maps.Clone(field(a))
			continue
		}
		for k, v := range common {
			if field(a)[k] != v {
				delete(common, k)
			}
		}
	}
	return common
}

func notificationLine(in Input) string {
	f, r := 0, 0
	for _, a := range in.Alerts {
		if a.Firing() {
			f++
		} else {
			r++
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "notification: %d firing, %d resolved", f, r)
	if in.Reason != "" {
		fmt.Fprintf(&b, " (%s)", in.Reason)
	}
	switch {
	case in.Truncated > 0 && in.Dropped > 0:
		fmt.Fprintf(&b, " [truncated: %d alerts left out by Alertmanager, %d more over the receiver's max_alerts not kept]", in.Truncated, in.Dropped)
	case in.Truncated > 0:
		fmt.Fprintf(&b, " [truncated: %d alerts left out by Alertmanager]", in.Truncated)
	case in.Dropped > 0:
		fmt.Fprintf(&b, " [truncated: %d more alerts over the receiver's max_alerts not kept]", in.Dropped)
	case !in.Complete:
		b.WriteString(" [truncated]")
	}
	return b.String()
}

// SortAlerts orders alerts firing first, then by fingerprint.
func SortAlerts(as []Alert) {
	slices.SortFunc(as, func(a, b Alert) int {
		if a.Firing() != b.Firing() {
			if a.Firing() {
				return -1
			}
			return 1
		}
		return strings.Compare(a.Fingerprint, b.Fingerprint)
	})
}
