// Package daemon is kizashi-exporter's daemon: it loads the configuration, restores model
// snapshots, runs one live loop and one backfill loop per query, serves /metrics, the
// landing page and the lifecycle endpoints (internal/lifecycle), and reloads on SIGHUP (caught
// by main) and POST /-/reload. Run is the whole program, so tests run it in-process.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"github.com/prometheus/common/model"
	"github.com/prometheus/exporter-toolkit/web"

	"github.com/kizashi-dev/kizashi/exporter/collector"
	"github.com/kizashi-dev/kizashi/exporter/exposition"
	"github.com/kizashi-dev/kizashi/exporter/queryconfig"
	"github.com/kizashi-dev/kizashi/exporter/seriesset"
	"github.com/kizashi-dev/kizashi/exporter/source"
	kweb "github.com/kizashi-dev/kizashi/exporter/web"
	"github.com/kizashi-dev/kizashi/internal/lifecycle"
)

// Options are the program's settings that are not in the configuration file (flags).
type Options struct {
	// ConfigFile is the YAML configuration (see package config).
	ConfigFile string
	// Web holds the listen addresses and --web.queryconfig.file (TLS, basic auth).
	Web *web.FlagConfig
	// Listener, if set, is served instead of Web's listen addresses (tests).
	Listener net.Listener
	// DataDir keeps model snapshots; empty disables them.
	DataDir string
	// SnapshotInterval between periodic snapshots (default 15m).
	SnapshotInterval time.Duration
	// Shard selects the series this replica models (zero: all).
	Shard seriesset.Shard
	// ChartSeries is how many series per query keep a day of history for the web page's
	// charts (default 50).
	ChartSeries int
	// Hangup reloads the configuration at each value (main hands SIGHUP over; nil: none).
	Hangup <-chan os.Signal
	// EnableLifecycle enables POST /-/reload (--web.enable-lifecycle).
	EnableLifecycle bool
	// Gzip compresses /metrics for scrapers that accept it (--web.compression=gzip).
	Gzip bool
	// Timeouts of the HTTP server (DefaultTimeouts for zero fields).
	Timeouts Timeouts
	// Source, if set, replaces the Prometheus client built from the configuration (tests and
	// benchmarks with an in-process source).
	Source seriesset.Source
	Logger *slog.Logger
}

// Timeouts bound what a client may take of the HTTP server: the request header, the whole
// request, the whole response (a scraper that stops reading is cut off after it; the live
// cycle does not wait for it in any case) and an idle keep-alive connection.
type Timeouts struct{ ReadHeader, Read, Write, Idle time.Duration }

// DefaultTimeouts leave a scrape of a million series on a slow link minutes to complete.
var DefaultTimeouts = Timeouts{ReadHeader: 10 * time.Second, Read: 30 * time.Second, Write: 5 * time.Minute, Idle: 2 * time.Minute}

func (t *Timeouts) setDefaults() {
	for _, f := range []struct {
		v *time.Duration
		d time.Duration
	}{
		{&t.ReadHeader, DefaultTimeouts.ReadHeader}, {&t.Read, DefaultTimeouts.Read},
		{&t.Write, DefaultTimeouts.Write}, {&t.Idle, DefaultTimeouts.Idle},
	} {
		if *f.v <= 0 {
			*f.v = f.d
		}
	}
}

// App is a running exporter.
type App struct {
	opts    Options
	log     *slog.Logger
	reg     *prometheus.Registry
	metrics *seriesset.Metrics

	config           *lifecycle.Coordinator[*queryconfig.Config]
	scrapeDuration   prometheus.Histogram
	scrapeDuplicates *prometheus.CounterVec
	sourceRequests   *prometheus.CounterVec

	mu      sync.Mutex // guards cfg, src and runners (reloads are serialised by config)
	cfg     *queryconfig.Config
	src     seriesset.Source
	runners map[string]*runner

	qmu     sync.RWMutex
	queries []*seriesset.Query // sorted by name, for readers
}

// CheckConfig loads and validates a configuration file (--queryconfig.check): queryconfig.Load validates
// every query, source.New the HTTP client settings.
func CheckConfig(path string) error {
	c, err := queryconfig.Load(path)
	if err != nil {
		return err
	}
	if _, err := source.New(c.Source); err != nil {
		return err
	}
	return nil
}

// Run runs the exporter until ctx is done, then stops the loops, writes the snapshots and
// returns. It returns early with an error if the configuration cannot be loaded or serving
// fails.
func Run(ctx context.Context, opts Options) error {
	a := newApp(opts)
	opts = a.opts

	runCtx, stopRunners := context.WithCancel(context.Background())
	defer stopRunners()
	a.config = lifecycle.NewCoordinator(a.reg, "kizashi_exporter", a.log, func() (*queryconfig.Config, error) {
		return queryconfig.Load(opts.ConfigFile)
	})
	a.config.Subscribe(func(cfg *queryconfig.Config) error { return a.apply(runCtx, cfg) })
	if err := a.config.Load(); err != nil {
		return err
	}

	bg := lifecycle.NewGroup(ctx)
	defer bg.Stop()
	bg.Go(func(ctx context.Context) { a.config.Watch(ctx, opts.Hangup) })
	if opts.DataDir != "" {
		bg.Every(func() time.Duration { return opts.SnapshotInterval }, func(context.Context) { a.saveAll() })
	}

	srv := &http.Server{Handler: a.handler(), ReadHeaderTimeout: opts.Timeouts.ReadHeader,
		ReadTimeout: opts.Timeouts.Read, WriteTimeout: opts.Timeouts.Write, IdleTimeout: opts.Timeouts.Idle}
	serveErr := make(chan error, 1)
	go func() {
		var err error
		if opts.Listener != nil {
			err = web.Serve(opts.Listener, srv, opts.Web, a.log)
		} else {
			err = web.ListenAndServe(srv, opts.Web, a.log)
		}
		serveErr <- err
	}()

	var result error
	select {
	case <-ctx.Done():
	case err := <-serveErr:
		if !errors.Is(err, http.ErrServerClosed) {
			result = fmt.Errorf("serve: %w", err)
		}
	}
	bg.Stop()
	shutCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil {
		a.log.Warn("shut down http server", "err", err)
	}
	a.mu.Lock()
	for _, r := range a.runners {
		r.stop()
	}
	a.mu.Unlock()
	a.saveAll()
	a.log.Info("stopped")
	return result
}

// newApp returns an App with opts' defaults set and its own metrics registered, running
// nothing yet (Run starts it).
func newApp(opts Options) *App {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.SnapshotInterval <= 0 {
		opts.SnapshotInterval = 15 * time.Minute
	}
	opts.Timeouts.setDefaults()
	if opts.ChartSeries == 0 {
		opts.ChartSeries = 50
	}
	if opts.Web == nil {
		empty := ""
		opts.Web = &web.FlagConfig{WebConfigFile: &empty, WebListenAddresses: &[]string{}}
	}
	a := &App{opts: opts, log: opts.Logger, reg: prometheus.NewRegistry(), runners: map[string]*runner{}}
	a.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	lifecycle.RegisterBuildInfo(a.reg, "kizashi_exporter")
	a.metrics = seriesset.NewMetrics(a.reg)
	f := promauto.With(a.reg)
	a.scrapeDuration = f.NewHistogram(prometheus.HistogramOpts{Name: "kizashi_exporter_scrape_duration_seconds",
		Help: "Time spent writing /metrics.", Buckets: []float64{.01, .05, .1, .5, 1, 2, 5, 10}})
	a.scrapeDuplicates = f.NewCounterVec(prometheus.CounterOpts{Name: "kizashi_exporter_scrape_duplicate_series_total",
		Help: "Series left out of scrapes because, with label names spelled for the scraper (escaping), their labels equal those of another series."},
		[]string{"escaping"})
	for scheme := range exposition.Schemes {
		a.scrapeDuplicates.WithLabelValues(model.EscapingScheme(scheme).String())
	}
	a.sourceRequests = f.NewCounterVec(prometheus.CounterOpts{Name: "kizashi_exporter_source_requests_total",
		Help: "Requests sent to read the inputs, answered or not, by API: query (/api/v1/query), federate (/federate: the live query of a plain selector on a Prometheus without external labels), query_range (backfill), targets (/api/v1/targets and /api/v1/status/config, with scrape_targets), scrape (a scrape of one of the source's targets, with scrape_targets)."},
		[]string{"api"})
	for _, api := range source.APIs {
		a.sourceRequests.WithLabelValues(api)
	}
	return a
}

// apply makes cfg the running configuration: unchanged queries keep running, changed ones
// restart keeping their models when the expression is the same, removed ones stop.
func (a *App) apply(ctx context.Context, cfg *queryconfig.Config) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	src := a.src
	sourceChanged := a.cfg == nil || !reflect.DeepEqual(a.cfg.Source, cfg.Source)
	if a.opts.Source != nil {
		src, sourceChanged = a.opts.Source, a.cfg == nil
	} else if sourceChanged {
		p, err := source.New(cfg.Source)
		if err != nil {
			return err
		}
		p.CountRequests(a.sourceRequests)
		p.LogScrapeFallbacks(a.log)
		if sh := a.opts.Shard; sh.Count > 1 && len(sh.By) > 0 {
			p.ShardTargets(sh.By, sh.Owns) // scrape_targets: only the targets of this shard
		}
		src = p
	}
	// Build every new query first, so that an invalid one changes nothing.
	next := map[string]*seriesset.Query{}
	for _, qc := range cfg.Queries {
		if r := a.runners[qc.Name]; r != nil && !sourceChanged && reflect.DeepEqual(r.q.Config(), qc) {
			continue
		}
		q, err := seriesset.New(qc, seriesset.Options{Shard: a.opts.Shard, ChartSeries: a.opts.ChartSeries,
			MaxSamplesPerQuery: cfg.Source.MaxSamplesPerQuery, Metrics: a.metrics, Logger: a.log})
		if err != nil {
			return err
		}
		next[qc.Name] = q
	}
	keep := map[string]bool{}
	for _, qc := range cfg.Queries {
		keep[qc.Name] = true
	}
	for name, r := range a.runners {
		if keep[name] && next[name] == nil {
			continue
		}
		r.stop()
		a.save(r.q)
		delete(a.runners, name)
		if nq := next[name]; nq != nil && nq.Config().Expr == r.q.Config().Expr {
			a.transfer(r.q, nq)
		} else {
			r.q.Forget()
		}
	}
	for name, q := range next {
		if q.Len() == 0 {
			a.restore(q)
		}
		if a.opts.DataDir != "" {
			a.metrics.SnapshotFailures.WithLabelValues(name) // exported from 0
		}
		a.runners[name] = a.start(ctx, q, src)
	}
	a.cfg, a.src = cfg, src
	a.log.Debug("configuration applied", "queries", len(cfg.Queries))

	qs := make([]*seriesset.Query, 0, len(a.runners))
	for _, r := range a.runners {
		qs = append(qs, r.q)
	}
	slices.SortFunc(qs, func(x, y *seriesset.Query) int { return strings.Compare(x.Name(), y.Name()) })
	a.qmu.Lock()
	a.queries = qs
	a.qmu.Unlock()
	return nil
}

// transfer moves the models of a query whose settings changed to its replacement.
func (a *App) transfer(from, to *seriesset.Query) {
	failed := 0
	err := from.Snapshot(func(raw model.Metric, snap []byte) error {
		if err := to.Restore(raw, snap); err != nil {
			failed++
		}
		return nil
	})
	if err != nil || failed > 0 {
		a.log.Warn("keep models across reload", "query", to.Name(), "retrained", failed, "err", err)
	}
}

// Queries returns the running queries, sorted by name.
func (a *App) Queries() []*seriesset.Query {
	a.qmu.RLock()
	defer a.qmu.RUnlock()
	return a.queries
}

// Ready reports whether the exporter is ready: every query has either finished its first
// backfill, or is failing (its last seriesset.FailingAfter queries to the source failed) and
// is reported as such, so that one broken query does not keep the others from being served.
// It also returns a line per query saying what it is doing (see readiness).
func (a *App) Ready() (bool, []string) {
	ready := true
	var lines []string
	for _, q := range a.Queries() {
		line, usable := readiness(q.Name(), q.Status())
		ready = ready && usable
		lines = append(lines, line)
	}
	return ready, lines
}

// readiness says what a query is doing, and whether it counts as ready for /-/ready.
func readiness(name string, s seriesset.Status) (string, bool) {
	state := "backfilling"
	if s.Ready {
		state = "ready"
	}
	switch {
	case s.Failing():
		return fmt.Sprintf("%s: failing (%s, %d queries to the source failed in a row): %s", name, state, s.Failures, s.LastError), s.Usable()
	case s.Failures > 0:
		return fmt.Sprintf("%s: %s, retrying after %d failed queries: %s", name, state, s.Failures, s.LastError), s.Usable()
	}
	return name + ": " + state, s.Usable()
}

// metricsHandler serves /metrics: the self-metrics and the queries' families.
func (a *App) metricsHandler() http.Handler {
	return &collector.Handler{Gatherer: a.reg, Queries: a.Queries, Logger: a.log, Gzip: a.opts.Gzip,
		Duration: a.scrapeDuration, Duplicates: a.scrapeDuplicates}
}

func (a *App) handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", a.metricsHandler())
	mux.Handle("/-/healthy", lifecycle.Healthy())
	mux.Handle("/-/ready", lifecycle.Ready(func(context.Context) lifecycle.Readiness {
		ready, lines := a.Ready()
		return lifecycle.Readiness{Ready: ready, Reason: "backfilling", Lines: lines}
	}))
	// As Prometheus: the lifecycle API is off unless --web.enable-lifecycle; it is served with
	// the rest, behind --web.config.file's TLS and basic auth. Configuration errors name a line
	// and a key, never a value (see queryconfig.Parse), so the answer shows them.
	mux.Handle("/-/reload", a.config.ReloadHandler(a.opts.EnableLifecycle, true))
	pages := kweb.New(a.Queries, a.log)
	mux.Handle("/", pages)
	return mux
}
