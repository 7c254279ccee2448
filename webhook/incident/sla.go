package incident

import (
	"fmt"
	"time"
)

// setSLA sets the due times from the creation time, the priority's targets
// and the time spent on hold.
func (in *Incident) setSLA(p Policy) {
	t, ok := p.SLA[in.Priority]
	if !ok {
		in.ResponseDue, in.ResolveDue = time.Time{}, time.Time{}
		return
	}
	if c := p.SLAClocks[in.Priority]; c != nil {
		// A business-hours clock (slaclock.go): the targets count open hours only.
		in.ResponseDue = c.Add(in.CreatedAt, t.Response+in.PausedTotal)
		in.ResolveDue = c.Add(in.CreatedAt, t.Resolve+in.PausedTotal)
		return
	}
	in.ResponseDue = in.CreatedAt.Add(t.Response + in.PausedTotal)
	in.ResolveDue = in.CreatedAt.Add(t.Resolve + in.PausedTotal)
}

// SLAPaused reports whether the SLA clock is stopped.
func (in *Incident) SLAPaused() bool { return in.State == StateOnHold }

// ResponseRemaining is the time left to acknowledge; ok is false when there is
// no running response clock.
func (in *Incident) ResponseRemaining(now time.Time) (time.Duration, bool) {
	if in.ResponseDue.IsZero() || !in.AcknowledgedAt.IsZero() || in.State.Final() || in.State == StateResolved {
		return 0, false
	}
	return in.ResponseDue.Sub(in.effectiveNow(now)), true
}

// ResolveRemaining is the time left to resolve.
func (in *Incident) ResolveRemaining(now time.Time) (time.Duration, bool) {
	if in.ResolveDue.IsZero() || in.State.Final() || in.State == StateResolved {
		return 0, false
	}
	return in.ResolveDue.Sub(in.effectiveNow(now)), true
}

// effectiveNow freezes the clock while on hold.
func (in *Incident) effectiveNow(now time.Time) time.Time {
	if in.State == StateOnHold && !in.HoldSince.IsZero() {
		return in.HoldSince
	}
	return now
}

// Breach kinds.
const (
	BreachResponse = "response"
	BreachResolve  = "resolve"
)

// CheckSLA records breaches that happened by now and returns their journal
// entries and kinds.
func (in *Incident) CheckSLA(now time.Time) ([]Entry, []string) {
	var (
		entries []Entry
		kinds   []string
	)
	if d, ok := in.ResponseRemaining(now); ok && d < 0 && in.ResponseBreachedAt.IsZero() {
		in.ResponseBreachedAt = in.ResponseDue
		entries = append(entries, in.entry(now, ActorSystem, KindSLABreach, fmt.Sprintf("response SLA breached (due %s)", in.ResponseDue.Format(time.RFC3339))))
		kinds = append(kinds, BreachResponse)
	}
	if d, ok := in.ResolveRemaining(now); ok && d < 0 && in.ResolveBreachedAt.IsZero() {
		in.ResolveBreachedAt = in.ResolveDue
		entries = append(entries, in.entry(now, ActorSystem, KindSLABreach, fmt.Sprintf("resolve SLA breached (due %s)", in.ResolveDue.Format(time.RFC3339))))
		kinds = append(kinds, BreachResolve)
	}
	return entries, kinds
}

// Sweep applies the time-driven rules: SLA breaches and closing resolved
// incidents after the policy's CloseAfter. It returns the journal entries and
// the breaches (for metrics).
func Sweep(in *Incident, p Policy, now time.Time) ([]Entry, []string) {
	entries, breaches := in.CheckSLA(now)
	entries = append(entries, in.quietFlapping(p, now)...)
	if in.State == StateResolved && p.CloseAfter > 0 && now.Sub(in.ResolvedAt) >= p.CloseAfter {
		in.State = StateClosed
		in.ClosedAt = now
		if in.CloseCode == "" {
			in.CloseCode = closeCodeAutoClosed
		}
		entries = append(entries, in.entry(now, ActorSystem, KindState, fmt.Sprintf("resolved -> closed (no re-fire for %s)", p.CloseAfter)))
	}
	if len(entries) > 0 {
		in.UpdatedAt = now
	}
	return entries, breaches
}

func (in *Incident) entry(now time.Time, actor, kind, msg string) Entry {
	return Entry{Tenant: in.Tenant, IncidentID: in.ID, At: now, Actor: actor, Kind: kind, Message: msg}
}

// quietFlapping applies auto-resolve to a flapping incident kept open after
// its alerts resolved, once no re-fire came for the flap window: no
// notification will come to do it (its alerts are resolved).
func (in *Incident) quietFlapping(p Policy, now time.Time) []Entry {
	if !in.Flapping || in.FiringAlerts > 0 || !in.Open() || in.State == StateResolved || !in.flapQuiet(now, p) {
		return nil
	}
	in.Flapping = false
	resolve := p.AutoResolve == AutoResolveResolve || (p.AutoResolve == AutoResolveIfUntouched && !in.Touched)
	if !resolve || in.State == StateOnHold && p.AutoResolve != AutoResolveResolve {
		return []Entry{in.entry(now, ActorSystem, KindNote, fmt.Sprintf("no re-fire for %s: no longer flapping; incident left open by auto-resolve policy %s", p.FlapWindow, p.AutoResolve))}
	}
	from := in.State
	in.resume(now, p)
	in.State = StateResolved
	in.ResolvedAt = now
	in.ResolvedBy = ActorSystem
	in.CloseCode = closeCodeAutoResolved
	in.CloseNotes = "all alerts resolved; no re-fire within the flap window"
	return []Entry{in.entry(now, ActorSystem, KindState, fmt.Sprintf("%s -> resolved (all alerts resolved, no re-fire for %s)", from, p.FlapWindow))}
}
