package daemon

import (
	"context"
	"errors"
	"time"

	"github.com/prometheus/common/model"

	"github.com/kizashi-dev/kizashi/exporter/seriesset"
	"github.com/kizashi-dev/kizashi/exporter/state"
)

// runner drives one query: a live loop (one query per step, aligned to the step) and a
// backfill loop for the series that join.
type runner struct {
	q      *seriesset.Query
	cancel context.CancelFunc
	done   chan struct{}
}

func (r *runner) stop() {
	r.cancel()
	<-r.done
}

func (a *App) start(ctx context.Context, q *seriesset.Query, src seriesset.Source) *runner {
	ctx, cancel := context.WithCancel(ctx)
	r := &runner{q: q, cancel: cancel, done: make(chan struct{})}
	kick := make(chan struct{}, 1)
	poke := func() {
		select {
		case kick <- struct{}{}:
		default:
		}
	}
	log := a.log.With("query", q.Name())
	liveDone := make(chan struct{})
	go func() {
		defer close(liveDone)
		step := time.Duration(q.Config().Step)
		t := time.Now().Truncate(step)
		for {
			backoff := min(time.Second, step/4)
			for {
				res, err := q.Cycle(ctx, src, t)
				if err == nil {
					if res.New > 0 || !q.Ready() || q.Backfilling() {
						poke()
					}
					log.Debug("cycle", "at", t, "updated", res.Updated, "new", res.New, "dropped", res.Dropped,
						"over_limit", res.OverLimit, "query_time", res.QueryTime, "model_time", res.ModelTime)
					break
				}
				if ctx.Err() != nil {
					return
				}
				log.Warn("query source", "err", err, "retry_in", backoff)
				if time.Now().Add(backoff).After(t.Add(step)) || !sleep(ctx, backoff) {
					break // the next step's query replaces the retries
				}
				backoff *= 2
			}
			t = t.Add(step)
			if now := time.Now(); t.Before(now.Truncate(step)) {
				t = now.Truncate(step) // skip the steps missed while the source was slow
			}
			if !sleep(ctx, time.Until(t)) {
				return
			}
		}
	}()
	go func() {
		defer close(r.done)
		defer func() { <-liveDone }()
		for {
			select {
			case <-ctx.Done():
				return
			case <-kick:
			}
			backoff := time.Second
			for {
				_, err := q.Backfill(ctx, src)
				if err == nil || ctx.Err() != nil {
					break
				}
				log.Warn("backfill", "err", err, "retry_in", backoff)
				if !sleep(ctx, backoff) {
					return
				}
				backoff = min(2*backoff, time.Minute)
			}
		}
	}()
	return r
}

// sleep waits d or until ctx is done; it reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// saveAll writes the snapshots of every query.
func (a *App) saveAll() {
	for _, q := range a.Queries() {
		a.save(q)
	}
}

// save writes the snapshot file of q, if snapshots are enabled.
func (a *App) save(q *seriesset.Query) {
	if a.opts.DataDir == "" {
		return
	}
	start := time.Now()
	n, err := a.write(q)
	if err != nil {
		a.metrics.SnapshotFailures.WithLabelValues(q.Name()).Inc()
		a.log.Error("save snapshot", "query", q.Name(), "err", err)
		return
	}
	a.metrics.SnapshotTime.WithLabelValues(q.Name()).SetToCurrentTime()
	a.log.Debug("snapshot saved", "query", q.Name(), "series", n, "took", time.Since(start))
}

// write writes the snapshot file of q and returns how many series it holds.
func (a *App) write(q *seriesset.Query) (int, error) {
	w, err := state.Create(a.opts.DataDir, q.Name())
	if err != nil {
		return 0, err
	}
	if err := q.Snapshot(w.Add); err != nil {
		return 0, errors.Join(err, w.Abort())
	}
	if err := w.Commit(); err != nil {
		return 0, err
	}
	return w.Count(), nil
}

// restore loads the snapshot file of q; damaged snapshots are logged and retrained.
func (a *App) restore(q *seriesset.Query) {
	if a.opts.DataDir == "" {
		return
	}
	failed := 0
	n, err := state.Read(a.opts.DataDir, q.Name(), func(raw model.Metric, snap []byte) {
		if err := q.Restore(raw, snap); err != nil {
			failed++
			a.log.Debug("restore series", "err", err)
		}
	})
	if err != nil {
		a.log.Warn("restore snapshots: the series not restored are retrained", "query", q.Name(), "err", err)
	}
	if n > 0 || failed > 0 {
		a.log.Info("restored snapshots", "query", q.Name(), "series", n-failed, "retrained", failed)
	}
}
