// Package lifecycle is what Kizashi's two daemons (kizashi-exporter and kizashi-webhook) share
// of how they run, as Prometheus and Alertmanager do it:
//
//   - a Coordinator that loads the configuration and hands it to its subscribers, the reload
//     gauges <namespace>_config_last_reload_successful and
//     <namespace>_config_last_reload_success_timestamp_seconds, reloads on SIGHUP (the signal is
//     caught in main and handed over as a channel, as Alertmanager does) and on POST /-/reload
//     (off unless --web.enable-lifecycle);
//   - /-/healthy and /-/ready with Prometheus' answers ("Healthy.", "Ready.", "Not ready: …");
//   - <namespace>_build_info (client_golang's version collector);
//   - a Group of background goroutines that is stopped and joined before the daemon closes
//     what they use (the store, the snapshots).
//
// Authentication is the daemons' own: the exporter serves everything behind exporter-toolkit's
// web config, the webhook guards its operational endpoints itself.
package lifecycle

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	versioncollector "github.com/prometheus/client_golang/prometheus/collectors/version"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"golang.org/x/sync/errgroup"
)

// RegisterBuildInfo registers <namespace>_build_info (version, revision, branch, Go version)
// on reg.
func RegisterBuildInfo(reg prometheus.Registerer, namespace string) {
	reg.MustRegister(versioncollector.NewCollector(namespace))
}

// Coordinator loads a daemon's configuration and hands it to its subscribers, one reload at a
// time (Alertmanager's config.Coordinator). A configuration that fails to load, or that a
// subscriber refuses, leaves the reload gauge at 0; the subscribers before the one that
// refused have seen it, so a subscriber that may refuse goes first (and keeps what it had).
type Coordinator[C any] struct {
	load func() (C, error)
	log  *slog.Logger

	mu   sync.Mutex // serialises reloads
	subs []func(C) error

	ok, time prometheus.Gauge
}

// NewCoordinator returns a coordinator that loads the configuration with load and exports
// its reload gauges under namespace on reg.
func NewCoordinator[C any](reg prometheus.Registerer, namespace string, log *slog.Logger, load func() (C, error)) *Coordinator[C] {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	f := promauto.With(reg)
	return &Coordinator[C]{load: load, log: log,
		ok: f.NewGauge(prometheus.GaugeOpts{Name: namespace + "_config_last_reload_successful",
			Help: "1 if the last configuration reload succeeded."}),
		time: f.NewGauge(prometheus.GaugeOpts{Name: namespace + "_config_last_reload_success_timestamp_seconds",
			Help: "Time of the last successful configuration reload."}),
	}
}

// Subscribe adds fns, called in order with each configuration loaded.
func (c *Coordinator[C]) Subscribe(fns ...func(C) error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.subs = append(c.subs, fns...)
}

// Load loads the configuration and hands it to the subscribers.
func (c *Coordinator[C]) Load() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	cfg, err := c.load()
	for _, fn := range c.subs {
		if err != nil {
			break
		}
		err = fn(cfg)
	}
	if err != nil {
		c.ok.Set(0)
		return err
	}
	c.ok.Set(1)
	c.time.SetToCurrentTime()
	return nil
}

// Reload is Load, logged.
func (c *Coordinator[C]) Reload() error {
	if err := c.Load(); err != nil {
		c.log.Error("reload configuration", "err", err)
		return err
	}
	c.log.Info("configuration reloaded")
	return nil
}

// Watch reloads at each value of hangup (SIGHUP, from main) until ctx is done. A nil hangup
// waits for ctx only. Run it in the daemon's Group, so that a reload in progress is joined.
func (c *Coordinator[C]) Watch(ctx context.Context, hangup <-chan os.Signal) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-hangup:
			_ = c.Reload()
		}
	}
}

// ReloadHandler serves /-/reload as Prometheus does: POST or PUT reloads, other methods are
// refused with 405; it is off (403) unless enabled (--web.enable-lifecycle). Requests a
// browser sends from another site (Sec-Fetch-Site, else Origin against Host) are refused, so
// that a page cannot make an operator's browser reload the daemon. showErrors puts the
// reload's error in the answer (for configurations whose errors name a line and a key, never a
// value); otherwise the answer points to the log.
func (c *Coordinator[C]) ReloadHandler(enabled, showErrors bool) http.Handler {
	reload := http.NewCrossOriginProtection().Handler(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if err := c.Reload(); err != nil {
			msg := "failed to reload config: see the log"
			if showErrors {
				msg = fmt.Sprintf("failed to reload config: %s", err)
			}
			http.Error(w, msg, http.StatusInternalServerError)
			return
		}
		_, _ = fmt.Fprintln(w, "Reloaded.")
	}))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method != http.MethodPost && r.Method != http.MethodPut:
			w.Header().Set("Allow", "POST, PUT")
			http.Error(w, "Only POST or PUT requests allowed.", http.StatusMethodNotAllowed)
		case !enabled:
			http.Error(w, "Lifecycle API is not enabled.", http.StatusForbidden)
		default:
			reload.ServeHTTP(w, r)
		}
	})
}

// Healthy serves /-/healthy: the process answers.
func Healthy() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		plain(w)
		_, _ = fmt.Fprintln(w, "Healthy.")
	})
}

// Readiness is what a daemon says on /-/ready: whether it is ready, else why not (a few
// words), and a line per part (say, per query) in either case.
type Readiness struct {
	Ready  bool
	Reason string
	Lines  []string
}

// Ready serves /-/ready: 200 "Ready." or 503 "Not ready: <reason>.", then the lines.
func Ready(check func(context.Context) Readiness) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := check(r.Context())
		plain(w)
		if s.Ready {
			_, _ = fmt.Fprintln(w, "Ready.")
		} else {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = fmt.Fprintf(w, "Not ready: %s.\n", s.Reason)
		}
		for _, l := range s.Lines {
			_, _ = fmt.Fprintln(w, l)
		}
	})
}

func plain(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
}

// Group runs a daemon's background goroutines under one context. Stop cancels it and waits
// for every goroutine: call it before closing what they use.
type Group struct {
	ctx    context.Context
	cancel context.CancelFunc
	g      errgroup.Group
}

// NewGroup returns a group whose goroutines stop when parent is done or at Stop.
func NewGroup(parent context.Context) *Group {
	ctx, cancel := context.WithCancel(parent)
	return &Group{ctx: ctx, cancel: cancel}
}

// Context is the goroutines' context.
func (g *Group) Context() context.Context { return g.ctx }

// Go runs fn with the group's context.
func (g *Group) Go(fn func(ctx context.Context)) {
	g.g.Go(func() error { fn(g.ctx); return nil })
}

// Every runs fn every interval() (read again after each run, so a reload applies) until the
// group stops.
func (g *Group) Every(interval func() time.Duration, fn func(ctx context.Context)) {
	g.Go(func(ctx context.Context) {
		for {
			t := time.NewTimer(interval())
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			fn(ctx)
		}
	})
}

// Stop cancels the goroutines' context and waits until every one has returned.
func (g *Group) Stop() {
	g.cancel()
	_ = g.g.Wait()
}
