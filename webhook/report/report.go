// Package report computes a tenant's service report for a range (a month, or any range) from
// the store — SLA compliance per priority, MTTA and MTTR, incidents by priority, service and
// category, the top recurring correlation keys, problems opened and closed, major incidents,
// and the availability of each service from its incidents — renders it as an HTML page with
// server-side SVG charts in Japanese or English, prints that page to PDF with headless
// Chromium, and exports a range's incidents and journal as CSV or JSON (the audit trail).
//
// Definitions (they are the figures a customer is shown; the tests compute them by hand):
//   - The report's incidents are the tenant's incidents created in [From, To).
//   - SLA: an incident's response is met when it was acknowledged — or resolved, when nobody
//     acknowledged it — by its response due time (which already includes time on hold) and no
//     breach was recorded; breached when that happened later, or when the due time passed
//     before To without it; pending otherwise (still running at To). Resolution likewise with
//     the resolve due time and the resolution time. Canceled incidents are left out of the
//     SLA (false positives, duplicates). Compliance = met / (met + breached).
//   - MTTA: mean of acknowledged - created over acknowledged incidents; MTTR: mean of
//     resolved - created over resolved incidents (wall-clock time, holds included).
//   - Availability of a service (an incident's CI): 1 - downtime / (To - From), downtime being
//     the union of the intervals from creation to resolution (or To, or now) of its incidents
//     of priority OutagePriority or higher (default P2), canceled ones left out, clipped to the
//     range. Services are the CIs of the incidents active in the range.
package report

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/kizashi-dev/kizashi/webhook/incident"
	"github.com/kizashi-dev/kizashi/webhook/store"
)

// Options of a report.
type Options struct {
	Tenant   string
	From, To time.Time
	// Location is the tenant's time zone: days of the daily chart and the times shown
	// (nil: UTC).
	Location *time.Location `json:"-"`
	// OutagePriority: incidents of this priority or higher (a smaller number) are downtime
	// of their service (0: 2).
	OutagePriority int
	// Now bounds open incidents' downtime (zero: To).
	Now time.Time
	// PublicID maps store ids to the ids the API shows (nil: as they are).
	PublicID func(int64) int64
	// ProblemID maps problems' store ids likewise.
	ProblemID func(int64) int64
	// TopKeys is the number of recurring keys listed (0: 10).
	TopKeys int
}

// Month returns [first day of the month 00:00, first day of the next month) in loc.
func Month(year int, month time.Month, loc *time.Location) (time.Time, time.Time) {
	if loc == nil {
		loc = time.UTC
	}
	from := time.Date(year, month, 1, 0, 0, 0, 0, loc)
	return from, from.AddDate(0, 1, 0)
}

// SLARow is the SLA compliance of one priority.
type SLARow struct {
	Priority                                          int
	Incidents                                         int
	ResponseMet, ResponseBreached, ResponsePending    int
	ResolutionMet, ResolutionBreached, ResolvePending int
}

// Ratio is met / (met + breached), and false when nothing was measured.
func Ratio(met, breached int) (float64, bool) {
	if met+breached == 0 {
		return 0, false
	}
	return float64(met) / float64(met+breached), true
}

// Count is one bar of a chart.
type Count struct {
	Label string
	N     int
}

// KeyCount is a recurring correlation key.
type KeyCount struct {
	Key   string
	Title string // of its latest incident
	N     int
}

// ProblemRow is a problem in the report.
type ProblemRow struct {
	ID         int64
	Title      string
	State      string
	KnownError bool
	CreatedAt  time.Time
	ClosedAt   time.Time
	Incidents  int
}

// MajorRow is a major incident of the range.
type MajorRow struct {
	IncidentID  int64
	Title       string
	Priority    int
	DeclaredAt  time.Time
	Coordinator string
	Updates     int
	Reviewed    bool
	ProblemID   int64
}

// Availability of one service.
type Availability struct {
	Service  string
	Downtime time.Duration
	// Ratio is the share of the range the service was up, 0..1.
	Ratio float64
}

// Report is a tenant's service report.
type Report struct {
	Tenant   string
	From, To time.Time
	Location *time.Location `json:"-"`

	Incidents int
	Canceled  int
	SLA       []SLARow // priorities 1..5

	Acknowledged, Resolved int
	MTTA, MTTR             time.Duration

	ByPriority []Count
	ByService  []Count
	ByCategory []Count
	Daily      []Count
	TopKeys    []KeyCount

	ProblemsOpened, ProblemsClosed int
	Problems                       []ProblemRow // opened or closed in the range

	Majors       []MajorRow
	Availability []Availability
	// OutagePriority is the priority counted as downtime.
	OutagePriority int
}

// Compute builds the report. ps may be nil (no problems nor major incidents).
func Compute(ctx context.Context, st store.Store, ps store.Problems, o Options) (*Report, error) {
	if o.Tenant == "" {
		return nil, fmt.Errorf("a report is about one tenant")
	}
	if !o.To.After(o.From) {
		return nil, fmt.Errorf("the range is empty: from %s to %s", o.From.Format(time.RFC3339), o.To.Format(time.RFC3339))
	}
	if o.Location == nil {
		o.Location = time.UTC
	}
	if o.OutagePriority == 0 {
		o.OutagePriority = 2
	}
	if o.Now.IsZero() || o.Now.After(o.To) {
		o.Now = o.To
	}
	if o.TopKeys == 0 {
		o.TopKeys = 10
	}
	pub := o.PublicID
	if pub == nil {
		pub = func(id int64) int64 { return id }
	}
	if o.ProblemID == nil {
		o.ProblemID = func(id int64) int64 { return id }
	}
	r := &Report{Tenant: o.Tenant, From: o.From, To: o.To, Location: o.Location, OutagePriority: o.OutagePriority}
	for p := 1; p <= 5; p++ {
		r.SLA = append(r.SLA, SLARow{Priority: p})
	}
	var (
		byPriority, byService, byCategory = map[string]int{}, map[string]int{}, map[string]int{}
		daily                             = map[string]int{}
		keys                              = map[string]*KeyCount{}
		outages                           = map[string][][2]time.Time{}
		services                          = map[string]bool{}
		titles                            = map[int64]*incident.Incident{}
		ackSum, resSum                    time.Duration
	)
	err := eachIncident(ctx, st, store.Filter{Tenant: o.Tenant, ActiveFrom: o.From, ActiveTo: o.To}, func(in *incident.Incident) {
		if in.CI != "" {
			services[in.CI] = true
		}
		if in.State != incident.StateCanceled && in.Priority <= o.OutagePriority && in.CI != "" {
			end := in.ResolvedAt
			if end.IsZero() {
				end = in.ClosedAt
			}
			if end.IsZero() || end.After(o.Now) {
				end = o.Now
			}
			start := maxTime(in.CreatedAt, o.From)
			end = minTime(end, o.To)
			if end.After(start) {
				outages[in.CI] = append(outages[in.CI], [2]time.Time{start, end})
			}
		}
		if in.CreatedAt.Before(o.From) || !in.CreatedAt.Before(o.To) {
			return
		}
		titles[in.ID] = in
		r.Incidents++
		byPriority[fmt.Sprintf("P%d", in.Priority)]++
		byService[orNone(in.CI)]++
		byCategory[orNone(in.Category)]++
		daily[in.CreatedAt.In(o.Location).Format(time.DateOnly)]++
		k := keys[in.CorrelationKey]
		if k == nil {
			k = &KeyCount{Key: in.CorrelationKey, Title: in.Title}
			keys[in.CorrelationKey] = k
		}
		k.N++
		if !in.AcknowledgedAt.IsZero() {
			r.Acknowledged++
			ackSum += in.AcknowledgedAt.Sub(in.CreatedAt)
		}
		if !in.ResolvedAt.IsZero() {
			r.Resolved++
			resSum += in.ResolvedAt.Sub(in.CreatedAt)
		}
		if in.State == incident.StateCanceled {
			r.Canceled++
			return
		}
		if in.Priority < 1 || in.Priority > 5 {
			return
		}
		row := &r.SLA[in.Priority-1]
		row.Incidents++
		responded := in.AcknowledgedAt
		if responded.IsZero() {
			responded = in.ResolvedAt
		}
		switch sla(responded, in.ResponseDue, in.ResponseBreachedAt, o.To) {
		case met:
			row.ResponseMet++
		case breached:
			row.ResponseBreached++
		case pending:
			row.ResponsePending++
		}
		switch sla(in.ResolvedAt, in.ResolveDue, in.ResolveBreachedAt, o.To) {
		case met:
			row.ResolutionMet++
		case breached:
			row.ResolutionBreached++
		case pending:
			row.ResolvePending++
		}
	})
	if err != nil {
		return nil, err
	}
	if r.Acknowledged > 0 {
		r.MTTA = ackSum / time.Duration(r.Acknowledged)
	}
	if r.Resolved > 0 {
		r.MTTR = resSum / time.Duration(r.Resolved)
	}
	for p := 1; p <= 5; p++ {
		r.ByPriority = append(r.ByPriority, Count{Label: fmt.Sprintf("P%d", p), N: byPriority[fmt.Sprintf("P%d", p)]})
	}
	r.ByService, r.ByCategory = sorted(byService), sorted(byCategory)
	for d := o.From.In(o.Location); d.Before(o.To); d = d.AddDate(0, 0, 1) {
		day := d.Format(time.DateOnly)
		r.Daily = append(r.Daily, Count{Label: day, N: daily[day]})
	}
	for _, k := range keys {
		if k.N >= 2 {
			r.TopKeys = append(r.TopKeys, *k)
		}
	}
	slices.SortFunc(r.TopKeys, func(a, b KeyCount) int { return cmp.Or(cmp.Compare(b.N, a.N), cmp.Compare(a.Key, b.Key)) })
	if len(r.TopKeys) > o.TopKeys {
		r.TopKeys = r.TopKeys[:o.TopKeys]
	}
	for svc := range services {
		down := union(outages[svc])
		r.Availability = append(r.Availability, Availability{Service: svc, Downtime: down,
			Ratio: 1 - float64(down)/float64(o.To.Sub(o.From))})
	}
	slices.SortFunc(r.Availability, func(a, b Availability) int {
		return cmp.Or(cmp.Compare(a.Ratio, b.Ratio), cmp.Compare(a.Service, b.Service))
	})
	if ps != nil {
		if err := r.problems(ctx, st, ps, o, pub); err != nil {
			return nil, err
		}
	}
	return r, nil
}

func (r *Report) problems(ctx context.Context, st store.Store, ps store.Problems, o Options, pub func(int64) int64) error {
	all, err := ps.ListProblems(ctx, store.ProblemFilter{Tenant: o.Tenant, To: o.To})
	if err != nil {
		return err
	}
	for _, p := range all {
		opened := !p.CreatedAt.Before(o.From) && p.CreatedAt.Before(o.To)
		closed := !p.ClosedAt.IsZero() && !p.ClosedAt.Before(o.From) && p.ClosedAt.Before(o.To)
		if opened {
			r.ProblemsOpened++
		}
		if closed {
			r.ProblemsClosed++
		}
		if !opened && !closed {
			continue
		}
		ids, err := ps.ProblemIncidents(ctx, p.ID)
		if err != nil {
			return err
		}
		r.Problems = append(r.Problems, ProblemRow{ID: o.ProblemID(p.ID), Title: p.Title, State: p.State, KnownError: p.KnownError,
			CreatedAt: p.CreatedAt, ClosedAt: p.ClosedAt, Incidents: len(ids)})
	}
	slices.SortFunc(r.Problems, func(a, b ProblemRow) int { return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID)) })
	majors, err := ps.ListMajors(ctx, o.Tenant, o.From, o.To, time.Time{})
	if err != nil {
		return err
	}
	for _, m := range majors {
		in, err := st.Incident(ctx, o.Tenant, m.IncidentID)
		if err != nil {
			return err
		}
		ups, err := ps.MajorUpdates(ctx, o.Tenant, m.IncidentID)
		if err != nil {
			return err
		}
		r.Majors = append(r.Majors, MajorRow{IncidentID: pub(m.IncidentID), Title: in.Title, Priority: in.Priority, DeclaredAt: m.DeclaredAt,
			Coordinator: m.Coordinator, Updates: len(ups), Reviewed: !m.ReviewAt.IsZero(), ProblemID: o.ProblemID(m.ProblemID)})
	}
	return nil
}

type outcome int

const (
	unmeasured outcome = iota
	met
	breached
	pending
)

func sla(done, due, breachedAt, end time.Time) outcome {
	switch {
	case due.IsZero():
		return unmeasured
	case !done.IsZero() && !done.After(due) && breachedAt.IsZero():
		return met
	case !done.IsZero() || !breachedAt.IsZero() || due.Before(end):
		return breached
	default:
		return pending
	}
}

// eachIncident calls fn for every incident f selects, a page at a time.
func eachIncident(ctx context.Context, st store.Store, f store.Filter, fn func(*incident.Incident)) error {
	f.Limit = 500
	for {
		ins, err := st.ListIncidents(ctx, f)
		if err != nil {
			return err
		}
		for _, in := range ins {
			fn(in)
		}
		if len(ins) < f.Limit {
			return nil
		}
		f.BeforeID = ins[len(ins)-1].ID
	}
}

func union(iv [][2]time.Time) time.Duration {
	slices.SortFunc(iv, func(a, b [2]time.Time) int { return a[0].Compare(b[0]) })
	var (
		total      time.Duration
		start, end time.Time
	)
	for i, x := range iv {
		if i == 0 || x[0].After(end) {
			total += end.Sub(start)
			start, end = x[0], x[1]
			continue
		}
		end = maxTime(end, x[1])
	}
	return total + end.Sub(start)
}

func sorted(m map[string]int) []Count {
	out := make([]Count, 0, len(m))
	for k, v := range m {
		out = append(out, Count{Label: k, N: v})
	}
	slices.SortFunc(out, func(a, b Count) int { return cmp.Or(cmp.Compare(b.N, a.N), cmp.Compare(a.Label, b.Label)) })
	return out
}

func orNone(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
