package app

import (
	"context"
	"sync"
	"time"

	"github.com/kizashi-dev/kizashi/webhook/service"
)

// retentionBatches bounds the batches of one retention pass per table: a
// backlog is worked off over several passes.
const retentionBatches = 100

// startRetention prunes raw notifications and notification journal lines
// every retention.interval until ctx ends (bg joins it).
func (p *program) startRetention(ctx context.Context, bg *sync.WaitGroup, svc *service.Service) {
	bg.Add(1)
	go func() {
		defer bg.Done()
		for {
			r := p.cfg.Load().Retention
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Duration(r.Interval)):
			}
			got, err := svc.Retain(ctx, service.Retention{Notifications: time.Duration(r.Notifications),
				JournalNotifications: time.Duration(r.JournalNotifications), Batch: r.Batch, MaxBatches: retentionBatches})
			if err != nil {
				if ctx.Err() == nil {
					p.logger.Error("apply retention", "err", err)
				}
				continue
			}
			for table, n := range got {
				if n.Rows > 0 {
					p.logger.Debug("retention pruned", "table", table, "rows", n.Rows, "bytes", n.Bytes)
				}
			}
		}
	}()
}
