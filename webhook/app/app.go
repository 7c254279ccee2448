// Package app wires kizashi-webhook together: configuration, store, service,
// HTTP API, service-desk page, metrics, reload and the sweeper. Run is the
// whole program, so tests run it in-process.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/exporter-toolkit/web"

	"github.com/kizashi-dev/kizashi/internal/lifecycle"
	"github.com/kizashi-dev/kizashi/webhook/api"
	"github.com/kizashi-dev/kizashi/webhook/auth"
	"github.com/kizashi-dev/kizashi/webhook/config"
	"github.com/kizashi-dev/kizashi/webhook/limit"
	"github.com/kizashi-dev/kizashi/webhook/publicid"
	"github.com/kizashi-dev/kizashi/webhook/service"
	"github.com/kizashi-dev/kizashi/webhook/store"
	"github.com/kizashi-dev/kizashi/webhook/store/postgres"
	"github.com/kizashi-dev/kizashi/webhook/store/sqlite"
	"github.com/kizashi-dev/kizashi/webhook/ui"
)

// Options configure Run.
type Options struct {
	ConfigFile string
	// Web holds the listen addresses (ignored when Listener is set) and
	// --web.config.file (see webServer).
	Web *web.FlagConfig
	// Listener, when set, is served instead of Web's addresses (tests).
	Listener net.Listener
	Logger   *slog.Logger
	// Registry receives the metrics; a new one when nil.
	Registry *prometheus.Registry
	// Ready is called with the served address once the store is open.
	Ready func(addr string)
	Now   func() time.Time
	// EnableLifecycle enables POST /-/reload (--web.enable-lifecycle).
	EnableLifecycle bool
	// Hangup reloads the configuration at each value (main hands SIGHUP over; nil: none).
	Hangup <-chan os.Signal
}

// OpenStore opens the configured store.
func OpenStore(ctx context.Context, c config.Storage, m *service.Metrics) (store.Store, error) {
	var observe func(string, float64)
	if m != nil {
		observe = m.ObserveStore
	}
	switch c.Driver {
	case "postgres":
		dsn, err := c.ReadDSN()
		if err != nil {
			return nil, err
		}
		return postgres.Open(ctx, dsn, postgres.Options{MaxConns: c.MaxConns, Observe: observe})
	default:
		return sqlite.Open(ctx, c.Path, sqlite.Options{Synchronous: c.Synchronous, Observe: observe})
	}
}

// program is a running webhook. Its configuration is swapped whole at each reload (blackbox's
// SafeConfig): readers take p.cfg.Load() once per use.
type program struct {
	opts    Options
	logger  *slog.Logger
	cfg     atomic.Pointer[config.Config]
	config  *lifecycle.Coordinator[*config.Config]
	metrics *service.Metrics
}

// use is the coordinator's subscriber: it makes c the running configuration.
func (p *program) use(c *config.Config) error {
	if old := p.cfg.Load(); old != nil && old.Storage != c.Storage {
		p.logger.Warn("storage settings changed; they take effect after a restart")
	}
	p.cfg.Store(c)
	if p.metrics != nil {
		p.metrics.InitTenants(c.TenantNames())
	}
	return nil
}

// Run runs kizashi-webhook until ctx ends.
func Run(ctx context.Context, o Options) error {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Registry == nil {
		o.Registry = prometheus.NewRegistry()
		o.Registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	reg := o.Registry
	lifecycle.RegisterBuildInfo(reg, "kizashi_webhook")
	p := &program{opts: o, logger: o.Logger}
	p.config = lifecycle.NewCoordinator(reg, "kizashi_webhook", o.Logger, func() (*config.Config, error) { return config.Load(o.ConfigFile) })
	p.config.Subscribe(p.use)
	if err := p.config.Load(); err != nil {
		return err
	}
	cfg := p.cfg.Load()
	metrics := service.NewMetrics(reg)
	metrics.InitTenants(cfg.TenantNames())
	p.metrics = metrics
	st, err := OpenStore(ctx, cfg.Storage, metrics)
	if err != nil {
		return fmt.Errorf("open store: %w", err)
	}
	defer func() {
		if err := st.Close(); err != nil {
			o.Logger.Error("close store", "err", err)
		}
	}()
	reg.MustRegister(service.NewOpenCollector(st), service.NewKPICollector(st))
	authn, sso, sessions, ids, err := secrets(ctx, st, p.cfg.Load)
	if err != nil {
		return err
	}
	access := &auth.Access{Authenticator: authn, Sessions: sessions, Guard: auth.NewGuard(reg, o.Logger),
		Settings: func() *config.Server { return &p.cfg.Load().Server }}
	svc := &service.Service{Store: st, Rules: func() service.Rules { return p.cfg.Load() }, Metrics: metrics, Logger: o.Logger, Now: o.Now,
		Name: func(id int64) string { return ids.Name(publicid.Incident, id) }}
	a := &api.API{
		Service:      svc,
		Access:       access,
		MaxBodyBytes: func() int64 { return p.cfg.Load().Limits.MaxBodyBytes },
		MaxAlerts:    func() int { return p.cfg.Load().Limits.MaxAlerts },
		Gate:         limit.NewGate(o.Now, metrics),
		TenantLimits: func(t string) limit.Settings { return p.cfg.Load().TenantLimits(t) },
		Logger:       o.Logger,
		IDs:          ids,
	}
	ws := &webServer{logger: o.Logger}
	if o.Web != nil && o.Web.WebConfigFile != nil {
		ws.path = *o.Web.WebConfigFile
	}
	if err := CheckWebConfig(ws.path); err != nil {
		return err
	}
	mux := http.NewServeMux()
	a.Register(mux)
	(&api.OnCall{API: a, Config: p.cfg.Load, Now: o.Now}).Register(mux) // on-call schedules (api/oncall.go)
	a.RegisterDeliveries(mux)                                           // scheduled report mails and reminders (api/deliveries.go)
	page := &ui.UI{Service: svc, Access: access, IDs: ids, Logger: o.Logger, Config: p.cfg.Load, Now: o.Now}
	page.Register(mux)
	page.RegisterOIDC(mux, sso)
	mux.Handle("GET /metrics", p.operational(access, ws, promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg})))
	mux.Handle("GET /-/healthy", lifecycle.Healthy())
	mux.Handle("GET /-/ready", lifecycle.Ready(func(ctx context.Context) lifecycle.Readiness {
		if err := st.Ping(ctx); err != nil {
			return lifecycle.Readiness{Reason: "store unavailable"}
		}
		return lifecycle.Readiness{Ready: true}
	}))
	// Configuration errors may quote the file: the answer points to the log.
	mux.Handle("/-/reload", p.operational(access, ws, p.config.ReloadHandler(o.EnableLifecycle, false)))
	handler, err := ws.headers(mux)
	if err != nil {
		return err
	}

	// Background work (forwarders, reconciler, SIGHUP, sweeper, retention) is joined before
	// the store closes: this defer runs before the store's.
	bg := lifecycle.NewGroup(ctx)
	defer bg.Stop()
	ctx = bg.Context()
	page.Status = p.startForwarding(bg, st, svc, reg, ids)
	bg.Every(func() time.Duration { return time.Duration(p.cfg.Load().Retention.Interval) }, func(ctx context.Context) { p.retain(ctx, svc) })
	bg.Go(func(ctx context.Context) { p.config.Watch(ctx, o.Hangup) })
	bg.Every(func() time.Duration { return time.Duration(p.cfg.Load().Sweep.Interval) }, func(ctx context.Context) { p.sweep(ctx, svc) })
	// Problem management, major incidents, reports and exports: problems.go.
	if err := p.startProblems(bg, mux, st, a, ids); err != nil {
		return err
	}
	p.startEscalation(bg, st, ids, reg) // escalation.go
	// Reminders of customer updates and the monthly report mails: deliveries.go.
	if err := p.startDeliveries(bg, st, ids, reg); err != nil {
		return err
	}

	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Duration(cfg.Limits.ReadTimeout), IdleTimeout: 2 * time.Minute}
	ls := []net.Listener{o.Listener}
	if o.Listener == nil {
		if o.Web == nil {
			return errors.New("no listener and no web flags")
		}
		if ls, err = listen(o.Web); err != nil {
			return err
		}
	}
	if o.Ready != nil {
		o.Ready(ls[0].Addr().String())
	}
	errc := make(chan error, 1)
	go func() { errc <- ws.serve(srv, ls) }()
	o.Logger.Info("kizashi-webhook started", "store", cfg.Storage.Driver, "tenants", len(cfg.Tenants))
	select {
	case err := <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		// One listener failed: stop the others too.
		return errors.Join(fmt.Errorf("serve: %w", err), srv.Close())
	case <-ctx.Done():
	}
	shutdown, stop := context.WithTimeout(context.Background(), 10*time.Second)
	defer stop()
	if err := srv.Shutdown(shutdown); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// sweep runs one sweep of the incidents (auto-close, SLA timers).
func (p *program) sweep(ctx context.Context, svc *service.Service) {
	n, err := svc.Sweep(ctx, p.cfg.Load().MinCloseAfter())
	if err != nil && ctx.Err() == nil {
		p.logger.Error("sweep incidents", "err", err)
	} else if n > 0 {
		p.logger.Debug("swept incidents", "changed", n)
	}
}
