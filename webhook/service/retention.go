package service

import (
	"context"
	"time"

	"github.com/kizashi-dev/kizashi/webhook/store"
)

// Tables retention prunes, as the metrics name them.
const (
	TableNotifications = "notifications"
	TableJournal       = "journal"
)

// Retention says what Retain deletes: raw notifications last delivered
// longer ago than Notifications, journal lines of notifications older than
// JournalNotifications (0 keeps either), Batch rows per transaction and at
// most MaxBatches transactions per table and call.
type Retention struct {
	Notifications        time.Duration
	JournalNotifications time.Duration
	Batch                int
	MaxBatches           int
}

// Retain runs one retention pass and returns what it deleted per table.
// Each batch is its own short transaction, so ingest waits for one batch at
// most; a pass stops at MaxBatches and the next pass goes on.
func (s *Service) Retain(ctx context.Context, r Retention) (map[string]store.Pruned, error) {
	st, ok := s.Store.(store.Retention)
	if !ok {
		return nil, nil
	}
	now := s.now()
	out := map[string]store.Pruned{}
	for _, job := range []struct {
		table string
		keep  time.Duration
		prune func(context.Context, time.Time, int) (store.Pruned, error)
	}{
		{TableNotifications, r.Notifications, st.PruneNotifications},
		{TableJournal, r.JournalNotifications, st.PruneJournalNotifications},
	} {
		if job.keep <= 0 {
			continue
		}
		for range max(r.MaxBatches, 1) {
			p, err := job.prune(ctx, now.Add(-job.keep), r.Batch)
			if err != nil {
				return out, err
			}
			sum := out[job.table]
			sum.Rows, sum.Bytes = sum.Rows+p.Rows, sum.Bytes+p.Bytes
			out[job.table] = sum
			if s.Metrics != nil {
				s.Metrics.PrunedRows.WithLabelValues(job.table).Add(float64(p.Rows))
				s.Metrics.PrunedBytes.WithLabelValues(job.table).Add(float64(p.Bytes))
			}
			if p.Rows < int64(r.Batch) {
				break
			}
		}
	}
	return out, nil
}
