package registry

import (
	"fmt"
	"time"

	"github.com/prometheus/common/model"

	"github.com/kizashi-dev/kizashi/anomaly"
)

// Prefix returns the series' published labels in exposition syntax, kizashi_query last and
// without braces: `instance="a",kizashi_metric="up",kizashi_query="q"`.
func (s *Series) Prefix() string { return s.prefix }

// Published returns what is published about the series. Only valid inside Range's callback.
func (s *Series) Published() *Published { return &s.pub }

// Range calls fn for every published series (learned at least one sample, not in backfill),
// holding the read lock for batches of n series at a time, so that a slow reader never stalls
// the live cycle for long. A series seen by fn is consistent; the set may change between
// batches (series joining or leaving), never listing one series twice.
func (q *Query) Range(n int, fn func(s *Series)) {
	q.mu.RLock()
	list := q.list // never edited in place: see dropStale
	q.mu.RUnlock()
	for i := 0; i < len(list); i += n {
		q.mu.RLock()
		for _, s := range list[i:min(i+n, len(list))] {
			if s.joining || s.pub.Time.IsZero() {
				continue
			}
			fn(s)
		}
		q.mu.RUnlock()
	}
}

// SeriesView is a copy of what a page shows about one series.
type SeriesView struct {
	ID        string // stable identifier within the query (hex fingerprint of the raw labels)
	Labels    model.Metric
	Joining   bool
	Readiness anomaly.Readiness
	Published Published
	Chart     []ChartPoint       // history, oldest first; nil without chart history
	Path      []anomaly.Forecast // forecast path from the last sample
}

// ChartPoint is one point of a series' recent history.
type ChartPoint struct {
	Time                                 time.Time
	Value, Baseline, Lower, Upper, Score float64
}

// View returns copies of up to limit series (those with chart history first), with their
// charts when charts is true.
func (q *Query) View(limit int, charts bool) (views []SeriesView, total int) {
	q.mu.RLock()
	defer q.mu.RUnlock()
	var rest []*Series
	for _, s := range q.list {
		if s.hist != nil && len(views) < limit {
			views = append(views, q.view(s, charts))
		} else if len(rest) < limit {
			rest = append(rest, s)
		}
	}
	for _, s := range rest {
		if len(views) >= limit {
			break
		}
		views = append(views, q.view(s, charts))
	}
	return views, len(q.list)
}

// Lookup returns the series with the given ID, with chart and forecast path.
func (q *Query) Lookup(id string) (SeriesView, bool) {
	var fp uint64
	if _, err := fmt.Sscanf(id, "%016x", &fp); err != nil {
		return SeriesView{}, false
	}
	q.mu.RLock()
	defer q.mu.RUnlock()
	s := q.series[model.Fingerprint(fp)]
	if s == nil {
		return SeriesView{}, false
	}
	v := q.view(s, true)
	if !s.joining && !s.pub.Time.IsZero() {
		step := time.Duration(q.cfg.Step)
		horizon := q.cfg.BreachHorizon()
		n := min(int(horizon/step), 288)
		st := horizon / time.Duration(max(n, 1))
		v.Path = s.model.Path(nil, st, n)
	}
	return v, true
}

// view copies s; q.mu held. A joining series' model and history belong to the backfill.
func (q *Query) view(s *Series, charts bool) SeriesView {
	v := SeriesView{ID: fmt.Sprintf("%016x", uint64(s.fp)), Labels: s.raw, Joining: s.joining}
	if s.joining {
		v.Readiness.Reason = "backfilling"
		return v
	}
	v.Readiness = s.model.Readiness()
	v.Published = s.pub
	v.Published.Forecasts = append([]anomaly.Forecast(nil), s.pub.Forecasts...)
	v.Published.ETAs = append([]float64(nil), s.pub.ETAs...)
	if charts && s.hist != nil {
		v.Chart = s.hist.points()
	}
	return v
}
