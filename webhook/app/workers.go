package app

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kizashi-dev/kizashi/internal/lifecycle"
	"github.com/kizashi-dev/kizashi/webhook/forward"
	"github.com/kizashi-dev/kizashi/webhook/forward/integrations"
	"github.com/kizashi-dev/kizashi/webhook/publicid"
	"github.com/kizashi-dev/kizashi/webhook/reconcile"
	"github.com/kizashi-dev/kizashi/webhook/service"
	"github.com/kizashi-dev/kizashi/webhook/store"
)

// startForwarding starts the outbox forwarders and the reconciler (when the
// store supports them) in bg; they stop with it. It returns the forwarders'
// status (nil without forwarders).
func (p *program) startForwarding(bg *lifecycle.Group, st store.Store, svc *service.Service, reg prometheus.Registerer,
	ids *publicid.Codec) func() []forward.TargetStatus {
	var status func() []forward.TargetStatus
	if fs, ok := st.(store.Forwarding); ok {
		f := forward.New(forward.Options{
			Store: fs, Reads: st, Config: p.cfg.Load, Metrics: forward.NewMetrics(reg),
			Logger: p.logger.With("component", "forward"), Now: p.opts.Now,
			// SQLite belongs to this process: leases left by a crash are stale.
			SingleProcess: p.cfg.Load().Storage.Driver == "sqlite",
			IDs:           ids,
			Build:         integrations.Build,
		})
		status = f.Status
		reg.MustRegister(forward.NewQueueCollector(fs, p.cfg.Load, p.opts.Now))
		bg.Go(func(ctx context.Context) {
			if err := f.Run(ctx); err != nil {
				p.logger.Error("forwarder stopped", "err", err)
			}
		})
	}
	if rs, ok := st.(store.Reconciling); ok {
		r := reconcile.New(reconcile.Options{Service: svc, Store: rs, Config: p.cfg.Load, Metrics: reconcile.NewMetrics(reg),
			Logger: p.logger.With("component", "reconcile"), Now: p.opts.Now})
		bg.Go(func(ctx context.Context) {
			if err := r.Run(ctx); err != nil {
				p.logger.Error("reconciler stopped", "err", err)
			}
		})
	}
	return status
}
