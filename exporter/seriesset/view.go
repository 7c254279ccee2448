package seriesset

import (
	"fmt"
	"time"

	"github.com/prometheus/common/model"

	"github.com/kizashi-dev/kizashi/anomaly"
)

// Labels returns the series' published labels in exposition syntax for scrapers that use
// scheme, kizashi_query last and without braces: `instance="a",kizashi_metric="up",kizashi_query="q"`.
// Label names are unique within it, names and values cannot break out of it (see labelText).
func (s *Series) Labels(scheme model.EscapingScheme) string { return s.text[scheme] }

// Shadowed reports whether an earlier series has the same published labels for scheme: only
// that one is published to scrapers that use scheme. Only valid inside Range's callback.
func (s *Series) Shadowed(scheme model.EscapingScheme) bool { return s.shadowed[scheme] }

// Published returns what is published about the series. Only valid inside Range's callback.
func (s *Series) Published() *Published { return &s.pub }

// Range calls fn for every published series (one that has learned a sample; while it catches
// up in a backfill, with what it published before), holding the read lock for batches of n
// series, and after each batch calls flush with the lock released: fn formats, flush writes,
// so that a slow reader never holds the lock and never stalls the live cycle. A series seen
// by fn is consistent; the set may change between batches (series joining or leaving), never
// listing one series twice. Range stops at flush's first error and returns it.
func (q *Query) Range(n int, fn func(s *Series), flush func() error) error {
	q.mu.RLock()
	list := q.list // never edited in place: see dropStale
	q.mu.RUnlock()
	for i := 0; i < len(list); i += n {
		q.mu.RLock()
		for _, s := range list[i:min(i+n, len(list))] {
			if !s.pub.Time.IsZero() {
				fn(s)
			}
		}
		q.mu.RUnlock()
		if err := flush(); err != nil {
			return err
		}
	}
	return nil
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
// charts and a short forecast path (the longest published horizon, at most 6 hours) when
// charts is true.
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

// Lookup returns the series with the given ID, with chart and forecast path (over the
// query's breach horizon).
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
	v.Path = q.path(s, q.cfg.BreachHorizon(), 288)
	return v, true
}

// path is s's forecast path from its last sample over horizon, in at most n steps (nil for a
// series that has not learned or is backfilling); q.mu held.
func (q *Query) path(s *Series, horizon time.Duration, n int) []anomaly.Forecast {
	if s.joining || s.pub.Time.IsZero() || horizon <= 0 {
		return nil
	}
	n = max(min(int(horizon/time.Duration(q.cfg.Step)), n), 1)
	return s.model.Path(nil, horizon/time.Duration(n), n)
}

// overviewHorizon is how far the overview's charts draw the forecast: the longest published
// horizon, at most 6 hours (a quarter of the day of history the charts show).
func (q *Query) overviewHorizon() time.Duration {
	var h time.Duration
	for _, x := range q.cfg.Horizons {
		h = max(h, time.Duration(x))
	}
	return min(h, 6*time.Hour)
}

// view copies s; q.mu held. A joining series' model and history belong to the backfill.
func (q *Query) view(s *Series, charts bool) SeriesView {
	v := SeriesView{ID: fmt.Sprintf("%016x", uint64(s.fp)), Labels: unpackLabels(s.raw), Joining: s.joining}
	if s.joining {
		v.Readiness.Reason = "backfilling"
		return v
	}
	v.Readiness = s.model.Readiness()
	v.Published = s.pub
	v.Published.Forecasts = append([]anomaly.Forecast(nil), s.pub.Forecasts...)
	for i, f := range v.Published.Forecasts {
		if !q.forecastAt[i] { // not published: not computed by the cycles
			v.Published.Forecasts[i] = s.model.Forecast(f.Horizon)
		}
	}
	v.Published.ETAs = append([]float64(nil), s.pub.ETAs...)
	if charts && s.hist != nil {
		v.Chart = s.hist.points()
		v.Path = q.path(s, q.overviewHorizon(), 60)
	}
	return v
}
