package seriesset

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/prometheus/common/model"

	"github.com/kizashi-dev/kizashi/exporter/source"
)

var nan = math.NaN()

// maxPointsPerSeries stays below Prometheus' limit of 11,000 points per series in a range query.
const maxPointsPerSeries = 10_000

// BackfillResult says what a backfill did.
type BackfillResult struct {
	Series, Samples, Queries int
	Start, End               time.Time
	QueryTime, ModelTime     time.Duration
}

// Backfill learns the history of the series waiting for it (new, or restored from a snapshot)
// with chunked range queries: from the end of a restored model's history, or the training
// window for a new series, up to now; it repeats until the live cycle has little left to
// catch up, then hands the series over to the live cycle. One backfill runs at a time.
// On error the series keep what they learned and wait for the next Backfill.
func (q *Query) Backfill(ctx context.Context, src Source) (BackfillResult, error) {
	q.backfillMu.Lock()
	defer q.backfillMu.Unlock()
	var res BackfillResult

	q.mu.Lock()
	job := map[model.Fingerprint]*Series{}
	for _, s := range q.list {
		if s.joining {
			job[s.fp] = s
		}
	}
	sizeHint := max(q.lastLen, len(q.series), 1)
	q.inBackfill = len(job) > 0
	q.mu.Unlock()
	defer q.endBackfill()
	if len(job) == 0 {
		q.backfilled.Store(true)
		q.updateGauges()
		return res, nil
	}
	res.Series = len(job)

	step := time.Duration(q.cfg.Step)
	now := q.opts.Now()
	start := now
	floor := now.Add(-time.Duration(q.cfg.TrainingWindow))
	for _, s := range job {
		from := floor
		if lt := s.model.LastTime(); lt.After(from) {
			from = lt
		}
		if from.Before(start) {
			start = from
		}
	}
	start = start.Truncate(step)
	res.Start = start
	q.log.Info("backfill starting", "series", len(job), "from", start, "to", now)
	for {
		end := now.Truncate(step)
		if err := q.backfillRange(ctx, src, job, start, end, sizeHint, &res); err != nil {
			q.updateGauges()
			return res, err
		}
		res.End = end
		now = q.opts.Now()
		if now.Sub(end) < 2*step {
			break
		}
		start = end // samples at end are skipped as already learned
	}

	q.mu.Lock()
	for fp, s := range job {
		if q.series[fp] != s {
			continue // dropped meanwhile
		}
		s.joining = false
		switch {
		case s.fill != nil:
			s.pub.Time, s.pub.Value, s.pub.Result = s.fill.Time, s.fill.Value, s.fill.Result
			s.fill = nil
		case s.pub.Time.IsZero():
			lt := s.model.LastTime()
			if lt.IsZero() {
				continue // no history yet: published after its first live sample
			}
			// Restored, nothing new since: publish the model's view of its last sample.
			s.pub.Time, s.pub.Value, s.pub.Result = lt, nan, s.model.Predict(lt)
		}
		q.refresh(s)
	}
	q.mu.Unlock()
	q.backfilled.Store(true)
	q.updateGauges()
	q.log.Info("backfill finished", "series", res.Series, "samples", res.Samples, "queries", res.Queries,
		"query_time", res.QueryTime, "model_time", res.ModelTime)
	return res, nil
}

// endBackfill hands the models that the backfill kept from reuse (see releaseModel) back.
func (q *Query) endBackfill() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.inBackfill = false
	for i, m := range q.retired {
		q.models.put(m)
		q.retired[i] = nil
	}
	q.retired = q.retired[:0]
}

func (q *Query) backfillRange(ctx context.Context, src Source, job map[model.Fingerprint]*Series,
	start, end time.Time, sizeHint int, res *BackfillResult) error {
	step := time.Duration(q.cfg.Step)
	points := min(maxPointsPerSeries, max(1, q.opts.MaxSamplesPerQuery/sizeHint))
	m := q.opts.Metrics
	total := end.Sub(start)
	for cs := start; !cs.After(end); {
		ce := cs.Add(time.Duration(points-1) * step)
		if ce.After(end) {
			ce = end
		}
		t0 := time.Now()
		mat, err := src.QueryRange(ctx, q.cfg.Expr, cs, ce, step)
		qt := time.Since(t0)
		res.QueryTime += qt
		res.Queries++
		m.QueryDuration.WithLabelValues(q.name, "range").Observe(qt.Seconds())
		m.BackfillQuerySeconds.WithLabelValues(q.name).Add(qt.Seconds())
		if err != nil {
			if ctx.Err() == nil {
				q.failed("range", err)
			}
			if n := int(ce.Sub(cs)/step) + 1; errors.Is(err, source.ErrTooLarge) && n > 1 && ctx.Err() == nil {
				// More series than when the chunks were sized: smaller chunks.
				points = (n + 1) / 2
				q.log.Warn("backfill chunk too large, halving it", "points", points, "err", err)
				continue
			}
			return fmt.Errorf("backfill %s from %s to %s: %w", q.name, cs.Format(time.RFC3339), ce.Format(time.RFC3339), err)
		}
		q.succeeded()

		t0 = time.Now()
		n, rejected := 0, 0
		for _, ss := range mat {
			s := job[fingerprint(ss.Metric)]
			if s == nil {
				continue
			}
			last := s.model.LastTime()
			for _, p := range ss.Values {
				t := p.Timestamp.Time().UTC()
				if !t.After(last) {
					continue
				}
				if err := q.learn(s, t, float64(p.Value)); err != nil {
					rejected++
					continue
				}
				n++
			}
		}
		mt := time.Since(t0)
		res.ModelTime += mt
		res.Samples += n
		m.BackfillModelSeconds.WithLabelValues(q.name).Add(mt.Seconds())
		m.BackfillSamples.WithLabelValues(q.name).Add(float64(n))
		if rejected > 0 {
			m.RejectedSamples.WithLabelValues(q.name).Add(float64(rejected))
		}
		progress := 1.0
		if total > 0 {
			progress = float64(ce.Sub(start)) / float64(total)
		}
		m.BackfillProgress.WithLabelValues(q.name).Set(progress)
		q.log.Debug("backfill chunk", "from", cs, "to", ce, "series", len(mat), "samples", n, "query_time", qt, "model_time", mt)
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("backfill %s: %w", q.name, err)
		}
		cs = ce.Add(step)
	}
	return nil
}
