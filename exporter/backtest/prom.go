package backtest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"slices"
	"sync/atomic"
	"time"

	"github.com/prometheus/common/model"

	"github.com/kizashi-dev/kizashi/anomaly"
	"github.com/kizashi-dev/kizashi/exporter/queryconfig"
	"github.com/kizashi-dev/kizashi/exporter/seriesset"
	"github.com/kizashi-dev/kizashi/exporter/source"
	"github.com/kizashi-dev/kizashi/internal/catalog"
)

// RangeSource is what the Prometheus backtest reads: range queries (source.Prometheus, or a
// fake in tests).
type RangeSource interface {
	QueryRange(ctx context.Context, expr string, start, end time.Time, step time.Duration) (model.Matrix, error)
}

// PromOptions configure a Prometheus backtest (RunPrometheus).
type PromOptions struct {
	// Config is the exporter's configuration: its queries are replayed.
	Config *queryconfig.Config
	// Source answers the range queries (source.New(Config.Source) in the command).
	Source RangeSource
	// Range is how much of the past the report covers, ending at End. Before it, every
	// series' model first learns the query's training_window, as the exporter backfills a
	// new series; alerts and breach ETAs are reported for the range only.
	Range time.Duration
	// End is the end of the range; zero means now.
	End time.Time
	// Rule is the alerting rule emulated on the scores; zero means catalog.ShippedRule
	// (KizashiAnomaly: score > 0.65 for 2m, keep_firing_for 10m), evaluated every step.
	Rule catalog.Rule
	// ChartPoints is the number of points kept per series for its chart (0: 480); a query
	// keeps at most ChartBudget points in all (0: 1,000,000), fewer per series when it has
	// many series.
	ChartPoints, ChartBudget int
	// MaxRecords bounds the alerts and breach ETAs kept per series (0: 1,000); the rest are
	// counted.
	MaxRecords int
	// Workers is the number of series replayed at once; 0 means GOMAXPROCS.
	Workers int
	// Progress, when not nil, receives one updating status line (a terminal); otherwise
	// progress is logged per chunk at info level.
	Progress io.Writer
	Logger   *slog.Logger
}

// maxRange bounds --range: a year of one-minute steps is already 525,600 points per series.
const maxRange = 366 * 24 * time.Hour

// firstChunkPoints sizes the first range query of a query, before its number of series is known.
const firstChunkPoints = 100

// RunPrometheus replays every configured query from the source through the engine, a fresh
// model per series seeing each step once and in order (no look-ahead), emulates the
// shipped alerting rule on the scores and follows the breach ETAs of queries with
// thresholds. The range queries are chunked as the exporter's backfill chunks them
// (max_samples_per_query samples, at most 10,000 points per series; a chunk over the
// source's max_response_size or max_response_samples is halved). A query that fails stops
// the run with an error naming the query and the chunk.
func RunPrometheus(ctx context.Context, o PromOptions) (*Report, error) {
	started := time.Now()
	if o.Config == nil || len(o.Config.Queries) == 0 {
		return nil, errors.New("no queries configured")
	}
	if o.Source == nil {
		return nil, errors.New("no source")
	}
	if o.Range <= 0 {
		return nil, fmt.Errorf("range %s: must be positive", o.Range)
	}
	if o.Range > maxRange {
		return nil, fmt.Errorf("range %s: at most %s", model.Duration(o.Range), model.Duration(maxRange))
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Rule == (catalog.Rule{}) {
		o.Rule = catalog.ShippedRule
	}
	if o.ChartPoints <= 0 {
		o.ChartPoints = 480
	}
	if o.ChartBudget <= 0 {
		o.ChartBudget = 1_000_000
	}
	if o.MaxRecords <= 0 {
		o.MaxRecords = 1000
	}
	end := o.End
	if end.IsZero() {
		end = time.Now()
	}
	end = end.UTC()
	rep := &Report{End: end, Start: end.Add(-o.Range), Rule: ruleInfo(AlertAnomaly, o.Rule.Expr(), o.Rule),
		VanishedRule: ruleInfo(AlertVanished, catalog.ShippedVanishedRule.VanishedExpr(), catalog.ShippedVanishedRule)}
	for _, qc := range o.Config.Queries {
		qr, err := replayQuery(ctx, o, qc, rep.Start, end)
		if err != nil {
			return nil, err
		}
		rep.Queries = append(rep.Queries, *qr)
	}
	rep.Took = time.Since(started)
	return rep, nil
}

// seriesState is the replay of one series.
type seriesState struct {
	rep   *SeriesReport
	model *anomaly.Model
	// The two shipped rules on this series: KizashiAnomaly on its scores, and
	// KizashiSeriesVanished on what the exporter publishes while it misses steps.
	anomaly, vanished ruleTrack
	last              time.Time // last step evaluated
	seen              time.Time // last step with a sample
	dropped           bool      // missing for longer than the staleness timeout: the exporter dropped it
	etas              []*ETA    // the open breach warning per threshold (nil: none)
	chart             chartBuf
	chartMax          int // points the chart may keep: the query's ChartBudget shared by its series
}

// ruleTrack is one alerting rule evaluated on one series, and the alert it is building.
type ruleTrack struct {
	name     string // the alert's name (Alert.Rule)
	thresh   float64
	alert    *catalog.Alert
	firing   *Alert  // the alert being built (pending or firing), nil when inactive
	pendPeak float64 // peak score and its reason while pending
	pendWhy  anomaly.Reason
	pendAt   time.Time
}

// answered records the steps at which the query's answer had at least one series: only there
// can a missing series be told apart from a source that did not answer (see gap).
type answered struct {
	from time.Time
	step time.Duration
	bits []uint64
}

func newAnswered(from, end time.Time, step time.Duration) *answered {
	n := int(end.Sub(from)/step) + 2
	return &answered{from: from, step: step, bits: make([]uint64, (n+63)/64)}
}

func (a *answered) index(t time.Time) (int, bool) {
	if t.Before(a.from) {
		return 0, false
	}
	i := int(t.Sub(a.from) / a.step)
	return i, i/64 < len(a.bits)
}

func (a *answered) mark(t time.Time) {
	if i, ok := a.index(t); ok {
		a.bits[i/64] |= 1 << (i % 64)
	}
}

func (a *answered) at(t time.Time) bool {
	i, ok := a.index(t)
	return ok && a.bits[i/64]&(1<<(i%64)) != 0
}

// replayCtx is what the series of one query share while they are replayed.
type replayCtx struct {
	from       time.Time
	step       time.Duration
	staleness  time.Duration
	answered   *answered
	maxRecords int
}

func replayQuery(ctx context.Context, o PromOptions, qc queryconfig.Query, from, end time.Time) (*QueryReport, error) {
	ac, err := qc.Anomaly()
	if err != nil {
		return nil, fmt.Errorf("query %s: %w", qc.Name, err)
	}
	spec, err := anomaly.Compile(ac)
	if err != nil {
		return nil, fmt.Errorf("query %s: model config: %w", qc.Name, err)
	}
	step := time.Duration(qc.Step)
	rule := o.Rule
	if rule.Interval == 0 {
		rule.Interval = step
	}
	end = end.Truncate(step)
	from = from.Truncate(step)
	train := from.Add(-time.Duration(qc.TrainingWindow)).Truncate(step)
	qr := &QueryReport{Name: qc.Name, Expr: qc.Expr, Step: step, TrainingWindow: time.Duration(qc.TrainingWindow),
		Thresholds: qc.Thresholds, BreachWithin: qc.BreachHorizon(), Start: from, End: end, TrainFrom: train, Zone: ac.Location}
	rp := &replayCtx{from: from, step: step, staleness: qc.Staleness(), answered: newAnswered(train, end, step), maxRecords: o.MaxRecords}
	vrule := catalog.ShippedVanishedRule
	vrule.Interval = step
	states := map[model.Fingerprint]*seriesState{}
	var order []*seriesState
	within := qc.BreachHorizon()
	chartEvery := max(step, (end.Sub(from)+step)/time.Duration(o.ChartPoints))

	// The chunk's length in points: max_samples_per_query samples over the series seen
	// so far, at most maxPoints per series (Prometheus refuses 11,000).
	const maxPoints = 10_000
	points, ceiling := firstChunkPoints, maxPoints // ceiling: lowered by every refused chunk
	total := end.Sub(train)
	prog := newPromProgress(o, qc.Name)
	for cs := train; !cs.After(end); {
		ce := cs.Add(time.Duration(points-1) * step)
		if ce.After(end) {
			ce = end
		}
		mat, err := o.Source.QueryRange(ctx, qc.Expr, cs, ce, step)
		if err != nil {
			if ctx.Err() != nil {
				return nil, fmt.Errorf("backtest interrupted: %w", ctx.Err())
			}
			if n := int(ce.Sub(cs)/step) + 1; errors.Is(err, source.ErrTooLarge) && n > 1 {
				points = (n + 1) / 2
				ceiling = points
				o.Logger.Warn("backtest chunk too large, halving it", "query", qc.Name, "points", points, "err", err)
				continue
			}
			return nil, fmt.Errorf("query %s, range %s to %s: %w", qc.Name, cs.Format(time.RFC3339), ce.Format(time.RFC3339), err)
		}
		qr.Queries++
		// Series in a stable order, so that the cap keeps the same ones on every run.
		slices.SortFunc(mat, func(a, b *model.SampleStream) int { return cmp.Compare(a.Metric.Fingerprint(), b.Metric.Fingerprint()) })
		type item struct {
			st     *seriesState
			values []model.SamplePair
		}
		work := make([]item, 0, len(mat))
		for _, ss := range mat {
			for _, p := range ss.Values {
				rp.answered.mark(p.Timestamp.Time())
			}
			fp := ss.Metric.Fingerprint()
			st := states[fp]
			if st == nil {
				if len(order) >= qc.MaxSeries {
					if len(ss.Values) > 0 && !qr.overLimit(fp) {
						qr.OverLimit++
					}
					continue
				}
				st = &seriesState{rep: &SeriesReport{Labels: ss.Metric.Clone()}, model: spec.New(),
					anomaly:  ruleTrack{name: AlertAnomaly, thresh: rule.Threshold, alert: catalog.NewAlert(rule)},
					vanished: ruleTrack{name: AlertVanished, thresh: vrule.Threshold, alert: catalog.NewAlert(vrule)},
					etas:     make([]*ETA, len(qc.Thresholds))}
				states[fp] = st
				order = append(order, st)
			}
			work = append(work, item{st, ss.Values})
		}
		limit := max(2, min(o.ChartPoints, o.ChartBudget/max(1, len(order))))
		for _, it := range work {
			it.st.chartMax = limit
		}
		// Series are independent: their replays share nothing but the counter.
		var samples atomic.Int64
		forEach(ctx, len(work), o.Workers, func(i int) {
			st := work[i].st
			n := int64(0)
			for _, p := range work[i].values {
				t := p.Timestamp.Time().UTC()
				st.gap(t, rp)
				if !t.After(st.last) && !st.last.IsZero() {
					continue
				}
				st.seen, st.dropped = t, false
				v := float64(p.Value)
				res, err := st.model.Update(t, v)
				if err != nil {
					st.rep.Rejected++
					continue
				}
				n++
				st.step(t, v, res, rp, chartEvery, within, qc.Thresholds)
			}
			samples.Add(n)
		})
		qr.Samples += samples.Load()
		prog.chunk(ce.Sub(train), total, len(order), qr.Samples)
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("backtest interrupted: %w", err)
		}
		cs = ce.Add(step)
		if len(mat) > 0 {
			points = min(ceiling, max(1, o.Config.Source.MaxSamplesPerQuery/max(len(order), len(mat))))
		} else {
			points = ceiling
		}
	}
	prog.done(len(order), qr.Samples)

	perSeries := max(2, min(o.ChartPoints, o.ChartBudget/max(1, len(order))))
	for _, st := range order {
		st.finish(end, rp)
		st.rep.Chart = st.chart.points(perSeries)
		qr.Series = append(qr.Series, *st.rep)
	}
	slices.SortFunc(qr.Series, func(a, b SeriesReport) int {
		if c := cmp.Compare(b.AlertCount, a.AlertCount); c != 0 {
			return c
		}
		return cmp.Compare(a.Labels.String(), b.Labels.String())
	})
	qr.summarise()
	return qr, nil
}

// overLimit remembers the fingerprints counted over the cap.
func (q *QueryReport) overLimit(fp model.Fingerprint) bool {
	if q.over == nil {
		q.over = map[model.Fingerprint]bool{}
	}
	seen := q.over[fp]
	q.over[fp] = true
	return seen
}

// gap evaluates the rules at the steps a series missed before t. KizashiAnomaly does not hold
// there (its score is the vanished one, which the rule leaves out). KizashiSeriesVanished is
// evaluated on what the exporter publishes for a missing series (anomaly.Model.Missing) from
// its first missing step until it drops the series (the query's staleness timeout), at the
// steps where the query answered with other series; where it answered nothing the source
// may have been down, which the exporter does not score, and the rule does not hold.
func (st *seriesState) gap(t time.Time, rp *replayCtx) {
	if st.last.IsZero() {
		return
	}
	for g := st.last.Add(rp.step); g.Before(t); g = g.Add(rp.step) {
		st.last = g
		st.anomaly.eval(st.rep, g, false, 0, anomaly.ReasonNone, rp)
		var res anomaly.Result
		if g.Sub(st.seen) > rp.staleness {
			st.dropped = true // the exporter drops it in this step's cycle: no longer published
		}
		if !st.dropped && g.After(st.seen) && rp.answered.at(g) {
			res = st.model.Missing(g)
		}
		st.vanished.eval(st.rep, g, res.Ready && res.Score > st.vanished.thresh && res.Reason == anomaly.ReasonVanished,
			res.Score, res.Reason, rp)
		if st.dropped && st.anomaly.firing == nil && st.vanished.firing == nil {
			// Both inactive and the series gone: further missing steps change nothing.
			st.last = t.Add(-rp.step)
			return
		}
	}
}

// step takes the engine's verdict on one sample.
func (st *seriesState) step(t time.Time, v float64, res anomaly.Result, rp *replayCtx, chartEvery, within time.Duration,
	thresholds []float64) {
	st.last = t
	from, maxRec := rp.from, rp.maxRecords
	holds := res.Ready && res.Score > st.anomaly.thresh && res.Reason != anomaly.ReasonVanished
	st.anomaly.eval(st.rep, t, holds, res.Score, res.Reason, rp)
	st.vanished.eval(st.rep, t, false, 0, anomaly.ReasonNone, rp)
	if t.Before(from) {
		return
	}
	st.rep.Samples++
	st.rep.Days += rp.step.Hours() / 24
	if res.Score > st.rep.PeakScore {
		st.rep.PeakScore = res.Score
	}
	st.chart.add(seriesset.ChartPoint{Time: t, Value: v, Baseline: res.Baseline, Lower: res.Lower, Upper: res.Upper, Score: res.Score},
		from, chartEvery, st.chartMax)
	for i, th := range thresholds {
		if e := st.etas[i]; e != nil {
			switch {
			case v >= th && !t.After(e.Due):
				c := t
				e.Crossed = &c
				e.Outcome = OutcomeCrossed
				st.etas[i] = nil
			case t.After(e.Due):
				e.Outcome = OutcomeNotCrossed
				st.etas[i] = nil
			}
		}
		if st.etas[i] != nil || !res.Ready || v >= th {
			continue
		}
		eta, ok := st.model.BreachETA(th, within)
		if !ok || eta <= 0 {
			continue
		}
		st.rep.ETACount++
		if len(st.rep.ETAs) >= maxRec {
			continue
		}
		e := &ETA{Threshold: th, Issued: t, ETA: eta, Due: t.Add(eta), Value: v, Outcome: OutcomeOpen}
		st.rep.ETAs = append(st.rep.ETAs, e)
		st.etas[i] = e
	}
}

// eval runs the rule at t and records the alerts that fire into rep.
func (r *ruleTrack) eval(rep *SeriesReport, t time.Time, holds bool, score float64, why anomaly.Reason, rp *replayCtx) {
	before := r.alert.State()
	after := r.alert.Eval(t, holds)
	if holds && score > r.pendPeak {
		r.pendPeak, r.pendWhy = score, why
	}
	switch {
	case before == catalog.Inactive && after != catalog.Inactive:
		r.pendAt = t
		r.pendPeak, r.pendWhy = score, why
		if after == catalog.Firing {
			r.fire(t, rp.from)
		}
	case before == catalog.Pending && after == catalog.Firing:
		r.fire(t, rp.from)
	case after == catalog.Inactive:
		if r.firing != nil {
			r.close(rep, t, rp.maxRecords)
		}
		r.pendPeak, r.pendWhy = 0, anomaly.ReasonNone
	}
	if r.firing != nil && holds && score > r.firing.PeakScore {
		r.firing.PeakScore, r.firing.Reason = score, why.String()
	}
}

func (r *ruleTrack) fire(t, from time.Time) {
	r.firing = &Alert{Rule: r.name, Start: t, ActiveSince: r.pendAt, PeakScore: r.pendPeak, Reason: r.pendWhy.String(), Open: true}
	if t.Before(from) {
		r.firing.training = true
	}
}

func (r *ruleTrack) close(rep *SeriesReport, t time.Time, maxRec int) {
	a := r.firing
	r.firing = nil
	a.Open = false
	a.End = t
	a.Duration = t.Sub(a.Start)
	record(rep, a, maxRec)
}

// finishAt reports the alert still firing at the end of the range, open.
func (r *ruleTrack) finishAt(rep *SeriesReport, end time.Time, maxRec int) {
	if a := r.firing; a != nil {
		r.firing = nil
		a.End = end
		a.Duration = end.Sub(a.Start)
		record(rep, a, maxRec)
	}
}

func record(rep *SeriesReport, a *Alert, maxRec int) {
	if a.training {
		return // fired while the model was learning the training window
	}
	rep.AlertCount++
	if len(rep.Alerts) < maxRec {
		rep.Alerts = append(rep.Alerts, *a)
	}
}

// finish closes the series at the end of the range: missing steps at the end do not hold,
// an alert still firing is reported open.
func (st *seriesState) finish(end time.Time, rp *replayCtx) {
	if !st.last.IsZero() && st.last.Before(end) {
		st.gap(end.Add(rp.step), rp)
	}
	st.anomaly.finishAt(st.rep, end, rp.maxRecords)
	st.vanished.finishAt(st.rep, end, rp.maxRecords)
	slices.SortStableFunc(st.rep.Alerts, func(a, b Alert) int { return a.Start.Compare(b.Start) })
	if st.rep.Days > 0 {
		st.rep.AlertsPerDay = float64(st.rep.AlertCount) / st.rep.Days
	}
	for _, e := range st.rep.ETAs {
		e.ETASeconds = e.ETA.Seconds()
	}
}

// chartBuf keeps one point per bucket of the range (chartEvery, doubled as often as the
// series' share of the chart budget requires): the one with the highest score, so that short
// anomalies stay visible.
type chartBuf struct {
	pts   []seriesset.ChartPoint
	cur   int64 // bucket of the last point
	scale int64 // the bucket is chartEvery times scale (0: 1)
}

func (c *chartBuf) add(p seriesset.ChartPoint, from time.Time, every time.Duration, limit int) {
	if c.scale == 0 {
		c.scale = 1
	}
	b := int64(p.Time.Sub(from)/every) / c.scale
	if n := len(c.pts); n > 0 && b == c.cur {
		if p.Score > c.pts[n-1].Score {
			c.pts[n-1] = p
		}
		return
	}
	if limit > 0 && len(c.pts) >= limit {
		// Over the budget: buckets twice as wide, the points merged pairwise.
		c.scale *= 2
		k := 0
		for i := range c.pts {
			q := c.pts[i]
			if k > 0 && int64(q.Time.Sub(from)/every)/c.scale == int64(c.pts[k-1].Time.Sub(from)/every)/c.scale {
				if q.Score > c.pts[k-1].Score {
					c.pts[k-1] = q
				}
				continue
			}
			c.pts[k] = q
			k++
		}
		c.pts = c.pts[:k]
		b = int64(p.Time.Sub(from)/every) / c.scale
		if k > 0 && b == int64(c.pts[k-1].Time.Sub(from)/every)/c.scale {
			c.cur = b
			if p.Score > c.pts[k-1].Score {
				c.pts[k-1] = p
			}
			return
		}
	}
	c.cur = b
	c.pts = append(c.pts, p)
}

// points returns at most n points (every k-th bucket's highest score).
func (c *chartBuf) points(n int) []seriesset.ChartPoint {
	if len(c.pts) <= n {
		return c.pts
	}
	k := (len(c.pts) + n - 1) / n
	out := make([]seriesset.ChartPoint, 0, n)
	for i := 0; i < len(c.pts); i += k {
		best := c.pts[i]
		for _, p := range c.pts[i:min(i+k, len(c.pts))] {
			if p.Score > best.Score {
				best = p
			}
		}
		out = append(out, best)
	}
	return out
}

// promProgress reports the replay of one query.
type promProgress struct {
	o       PromOptions
	name    string
	started time.Time
	lastOut time.Time
}

func newPromProgress(o PromOptions, name string) *promProgress {
	return &promProgress{o: o, name: name, started: time.Now()}
}

func (p *promProgress) chunk(done, total time.Duration, series int, samples int64) {
	pct := 100.0
	if total > 0 {
		pct = math.Min(100, 100*float64(done)/float64(total))
	}
	if p.o.Progress != nil {
		if time.Since(p.lastOut) < 100*time.Millisecond {
			return
		}
		p.lastOut = time.Now()
		_, _ = fmt.Fprintf(p.o.Progress, "\rquery %s  %5.1f%%  series %d  samples %d  %.1fs\x1b[K", p.name, pct, series, samples,
			time.Since(p.started).Seconds()) // best effort: a status line
		return
	}
	p.o.Logger.Info("backtest chunk", "query", p.name, "done_percent", math.Round(pct*10)/10, "series", series, "samples", samples)
}

func (p *promProgress) done(series int, samples int64) {
	if p.o.Progress != nil {
		_, _ = fmt.Fprintf(p.o.Progress, "\rquery %s  100.0%%  series %d  samples %d  %.1fs\x1b[K\n", p.name, series, samples,
			time.Since(p.started).Seconds())
	}
	p.o.Logger.Info("backtest query done", "query", p.name, "series", series, "samples", samples,
		"took", time.Since(p.started).Round(time.Millisecond))
}
