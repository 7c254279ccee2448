package seriesset

import (
	"fmt"

	"github.com/prometheus/common/model"
)

// Snapshot calls fn with the raw labels and the model snapshot of every series, holding the
// read lock for batches of series. Series in a running backfill are left out (their model
// belongs to it); stop the backfill first (cancel its context) to include them.
func (q *Query) Snapshot(fn func(raw model.Metric, snap []byte) error) error {
	withJoining := q.backfillMu.TryLock()
	if withJoining {
		defer q.backfillMu.Unlock()
	}
	q.mu.RLock()
	list := q.list
	q.mu.RUnlock()
	var buf []byte
	const batch = 1024
	for i := 0; i < len(list); i += batch {
		q.mu.RLock()
		for _, s := range list[i:min(i+batch, len(list))] {
			if q.series[s.fp] != s { // left since list was copied: its model is reused
				continue
			}
			if (s.joining && !withJoining) || s.model.Stats().Samples == 0 {
				continue
			}
			var err error
			buf, err = s.model.AppendBinary(buf[:0])
			if err == nil {
				err = fn(unpackLabels(s.raw), buf)
			}
			if err != nil {
				q.mu.RUnlock()
				return fmt.Errorf("snapshot %s: %w", q.name, err)
			}
		}
		q.mu.RUnlock()
	}
	return nil
}

// Restore adds a series from its snapshot. It waits for a backfill of the gap since its last
// sample, like a new series. A snapshot that cannot be restored (corrupt, or taken under an
// incompatible configuration) returns an error and adds nothing: the series is then trained
// from scratch when the live cycle finds it.
func (q *Query) Restore(raw model.Metric, snap []byte) error {
	fp := fingerprint(raw)
	if !q.opts.Shard.Owns(raw) {
		return nil
	}
	m, err := q.spec.Restore(snap)
	if err != nil {
		q.opts.Metrics.RestoreFailures.WithLabelValues(q.name).Inc()
		return fmt.Errorf("restore %s %s: %w", q.name, raw, err)
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.series[fp] != nil || len(q.series) >= q.cfg.MaxSeries {
		return nil
	}
	s := q.newSeries(fp, raw, m)
	s.seen = q.opts.Now()
	q.add(s)
	return nil
}
