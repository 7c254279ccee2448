package incident

import "time"

// KPI aggregates the service desk's key performance indicators over a set of
// incidents (one tenant and priority, or any grouping the caller chooses).
// Every figure is computed from the incidents as stored, so it is the same on
// every replica and across restarts. Definitions (README "KPIs"):
//
//   - Open: New, In Progress or On Hold (Resolved is not open: the service is
//     restored; Closed and Canceled are final).
//   - Time to acknowledge (MTTA's terms): from creation to the first response,
//     which is the acknowledgement or, for an incident nobody acknowledged,
//     its end (resolution, or cancelation/closure): an incident that was never
//     acknowledged is not left out (as PagerDuty counts it). Incidents still
//     open and unacknowledged have no time yet; they are counted in
//     Unacknowledged.
//   - Time to resolve (MTTR's terms): from creation to the (last) resolution,
//     less the time spent On Hold (ServiceNow's "business elapsed" with the
//     clock paused), once per incident however often it was resolved;
//     canceled incidents are not resolutions.
//   - Breaches: an SLA target missed — recorded by the sweep, or the response
//     or resolution came after its due time (due times move by the time on
//     hold). Met: the response or resolution came in time.
//   - Compliance %: met / (met + breached) for each target: incidents whose
//     outcome is not known yet (still running clocks) are not counted
//     (ServiceNow's "SLA achievement" over completed task SLAs).
type KPI struct {
	Tenant   string
	Priority int

	Incidents      int
	Open           int
	Unacknowledged int

	Responded         int
	TimeToAcknowledge time.Duration // sum over Responded
	Resolved          int
	TimeToResolve     time.Duration // sum over Resolved

	ResponseMet, ResponseBreached int
	ResolveMet, ResolveBreached   int
}

// Add counts one incident.
func (k *KPI) Add(in *Incident) {
	k.Incidents++
	open := in.Open() && in.State != StateResolved
	if open {
		k.Open++
	}
	responded := in.FirstResponse()
	if responded.IsZero() {
		if open {
			k.Unacknowledged++
		}
	} else {
		k.Responded++
		k.TimeToAcknowledge += nonNegative(responded.Sub(in.CreatedAt))
	}
	if !in.ResolvedAt.IsZero() {
		k.Resolved++
		k.TimeToResolve += nonNegative(in.ResolvedAt.Sub(in.CreatedAt) - in.PausedTotal)
	}
	switch {
	case !in.ResponseBreachedAt.IsZero(), !in.ResponseDue.IsZero() && responded.After(in.ResponseDue):
		k.ResponseBreached++
	case !in.ResponseDue.IsZero() && !responded.IsZero():
		k.ResponseMet++
	}
	switch {
	case !in.ResolveBreachedAt.IsZero(), !in.ResolveDue.IsZero() && in.ResolvedAt.After(in.ResolveDue):
		k.ResolveBreached++
	case !in.ResolveDue.IsZero() && !in.ResolvedAt.IsZero():
		k.ResolveMet++
	}
}

// Merge adds the counts of o.
func (k *KPI) Merge(o KPI) {
	k.Incidents += o.Incidents
	k.Open += o.Open
	k.Unacknowledged += o.Unacknowledged
	k.Responded += o.Responded
	k.TimeToAcknowledge += o.TimeToAcknowledge
	k.Resolved += o.Resolved
	k.TimeToResolve += o.TimeToResolve
	k.ResponseMet += o.ResponseMet
	k.ResponseBreached += o.ResponseBreached
	k.ResolveMet += o.ResolveMet
	k.ResolveBreached += o.ResolveBreached
}

// MTTA is the mean time to acknowledge; ok is false without any response.
func (k KPI) MTTA() (time.Duration, bool) { return mean(k.TimeToAcknowledge, k.Responded) }

// MTTR is the mean time to resolve; ok is false without any resolution.
func (k KPI) MTTR() (time.Duration, bool) { return mean(k.TimeToResolve, k.Resolved) }

// ResponseCompliance is the percentage of response targets met.
func (k KPI) ResponseCompliance() (float64, bool) { return percent(k.ResponseMet, k.ResponseBreached) }

// ResolveCompliance is the percentage of resolution targets met.
func (k KPI) ResolveCompliance() (float64, bool) { return percent(k.ResolveMet, k.ResolveBreached) }

// FirstResponse is when the incident was first acknowledged or, never
// acknowledged, when it ended (resolved, canceled or closed); zero while
// neither happened.
func (in *Incident) FirstResponse() time.Time {
	t := in.AcknowledgedAt
	for _, end := range []time.Time{in.ResolvedAt, in.ClosedAt} {
		if !end.IsZero() && (t.IsZero() || end.Before(t)) {
			t = end
		}
	}
	return t
}

func mean(sum time.Duration, n int) (time.Duration, bool) {
	if n == 0 {
		return 0, false
	}
	return sum / time.Duration(n), true
}

func percent(met, breached int) (float64, bool) {
	if met+breached == 0 {
		return 0, false
	}
	return 100 * float64(met) / float64(met+breached), true
}

func nonNegative(d time.Duration) time.Duration { return max(d, 0) }
