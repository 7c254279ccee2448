package app

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/kizashi-dev/kizashi/internal/lifecycle"
	"github.com/kizashi-dev/kizashi/webhook/api"
	"github.com/kizashi-dev/kizashi/webhook/config"
	"github.com/kizashi-dev/kizashi/webhook/problem"
	"github.com/kizashi-dev/kizashi/webhook/problemapi"
	"github.com/kizashi-dev/kizashi/webhook/publicid"
	"github.com/kizashi-dev/kizashi/webhook/report"
	"github.com/kizashi-dev/kizashi/webhook/store"
)

// problemSettings are the detector's settings of the configuration (every tenant alike).
func problemSettings(c *config.Config) problem.Settings {
	return problem.Settings{Recurrences: c.Problems.Recurrences, Window: time.Duration(c.Problems.Window), ByCI: c.Problems.ByCI,
		Flapping: c.Problems.Flapping}
}

// startProblems registers problem management, major incidents, the service report and the
// audit-trail export (issue 15, package problemapi) on mux and starts the problem detector.
// Scheduled e-mail delivery of the report and reminders of customer updates run in
// deliveries.go (package deliver).
func (p *program) startProblems(bg *lifecycle.Group, mux *http.ServeMux, st store.Store, a *api.API, ids *publicid.Codec) error {
	now := p.opts.Now
	if now == nil {
		now = time.Now
	}
	desk, err := problem.New(st, func(string) problem.Settings { return problemSettings(p.cfg.Load()) }, now)
	if err != nil {
		return fmt.Errorf("problem management: %w", err)
	}
	h := &problemapi.Handlers{Desk: desk, Authed: a.Authed, IDs: ids, Printer: &report.Printer{}, Logger: p.logger, Now: now}
	h.Register(mux)
	bg.Every(func() time.Duration { return time.Duration(p.cfg.Load().Problems.Interval) }, func(ctx context.Context) {
		if _, err := desk.Sweep(ctx); err != nil && ctx.Err() == nil {
			p.logger.Error("problem detector", "err", err)
		}
	})
	return nil
}
