package app

import (
	"context"
	"time"

	"github.com/kizashi-dev/kizashi/webhook/service"
)

// retentionBatches bounds the batches of one retention pass per table: a
// backlog is worked off over several passes.
const retentionBatches = 100

// retain prunes raw notifications and notification journal lines once (every
// retention.interval: see Run).
func (p *program) retain(ctx context.Context, svc *service.Service) {
	r := p.cfg.Load().Retention
	got, err := svc.Retain(ctx, service.Retention{Notifications: time.Duration(r.Notifications),
		JournalNotifications: time.Duration(r.JournalNotifications), Batch: r.Batch, MaxBatches: retentionBatches})
	if err != nil {
		if ctx.Err() == nil {
			p.logger.Error("apply retention", "err", err)
		}
		return
	}
	for table, n := range got {
		if n.Rows > 0 {
			p.logger.Debug("retention pruned", "table", table, "rows", n.Rows, "bytes", n.Bytes)
		}
	}
}
