// Package reconcile keeps incidents honest when Alertmanager goes quiet.
//
// For each tenant with an alertmanager configured, open incidents with firing
// alerts are checked against Alertmanager's API (GET /api/v2/alerts with
// active, silenced, inhibited and unprocessed alerts): alerts that are
// silenced or inhibited put the incident On Hold with a journal line at the
// next pass (and resume it when they are active again); alerts that are gone
// from an incident that had no notification for longer than the staleness
// (default twice the repeat interval: a resolve may be in flight before)
// resolve it per the tenant's policy (their resolve never came: silenced at
// the time, inhibited, lost receiver).
//
// For each tenant with a watchdog, a missing heartbeat (the always-firing
// Watchdog alert, routed to /api/v1/watchdog) opens a "monitoring pipeline
// down" incident, resolved when heartbeats come back.
package reconcile

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"path"
	"sync"
	"time"

	httptransport "github.com/go-openapi/runtime/client"
	"github.com/go-openapi/strfmt"
	amclient "github.com/prometheus/alertmanager/api/v2/client"
	"github.com/prometheus/alertmanager/api/v2/client/alert"
	"github.com/prometheus/alertmanager/api/v2/client/general"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	commoncfg "github.com/prometheus/common/config"

	"github.com/kizashi-dev/kizashi/webhook/config"
	"github.com/kizashi-dev/kizashi/webhook/incident"
	"github.com/kizashi-dev/kizashi/webhook/service"
	"github.com/kizashi-dev/kizashi/webhook/store"
)

// Options configure a Reconciler.
type Options struct {
	Service *service.Service
	Store   store.Reconciling
	Config  func() *config.Config
	Metrics *Metrics
	Logger  *slog.Logger
	Now     func() time.Time
}

// Reconciler runs reconciliation and the watchdogs.
type Reconciler struct {
	o Options

	mu      sync.Mutex
	clients map[string]amClient
}

type amClient struct {
	cfg *config.AlertmanagerConfig
	api *amclient.AlertmanagerAPI
}

// New returns a reconciler.
func New(o Options) *Reconciler {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Reconciler{o: o, clients: map[string]amClient{}}
}

func (r *Reconciler) now() time.Time { return r.o.Now().UTC() }

// Run reconciles every reconcile.interval until ctx ends.
func (r *Reconciler) Run(ctx context.Context) error {
	for {
		t := time.NewTimer(time.Duration(r.o.Config().Reconcile.Interval))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		if err := r.RunOnce(ctx); err != nil && ctx.Err() == nil {
			r.o.Logger.Error("reconcile", "err", err)
		}
	}
}

// RunOnce checks every tenant once.
func (r *Reconciler) RunOnce(ctx context.Context) error {
	cfg := r.o.Config()
	var errs []error
	for i := range cfg.Tenants {
		t := &cfg.Tenants[i]
		if t.Alertmanager != nil {
			if err := r.tenant(ctx, cfg, t); err != nil {
				errs = append(errs, err)
				if r.o.Metrics != nil {
					r.o.Metrics.Errors.WithLabelValues(t.Name).Inc()
				}
			} else if r.o.Metrics != nil {
				r.o.Metrics.LastSuccess.WithLabelValues(t.Name).Set(float64(r.now().Unix()))
			}
		}
		if t.Watchdog != nil {
			if err := r.watchdog(ctx, t); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

func (r *Reconciler) client(tenant string, c *config.AlertmanagerConfig) (*amclient.AlertmanagerAPI, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if cl, ok := r.clients[tenant]; ok && cl.cfg == c {
		return cl.api, nil
	}
	u, err := url.Parse(c.URL)
	if err != nil {
		return nil, fmt.Errorf("alertmanager url: %w", err)
	}
	hc, err := commoncfg.NewClientFromConfig(c.HTTPConfig, "kizashi_alertmanager", commoncfg.WithUserAgent("kizashi-webhook"))
	if err != nil {
		return nil, fmt.Errorf("alertmanager http client: %w", err)
	}
	hc.Timeout = 30 * time.Second
	rt := httptransport.NewWithClient(u.Host, path.Join("/", u.Path, amclient.DefaultBasePath), []string{u.Scheme}, hc)
	api := amclient.New(rt, strfmt.Default)
	r.clients[tenant] = amClient{cfg: c, api: api}
	return api, nil
}

// Alerts asks Alertmanager for every alert it has (active, silenced,
// inhibited, unprocessed) and when it started.
func Alerts(ctx context.Context, api *amclient.AlertmanagerAPI) (map[string]incident.AMAlert, time.Time, error) {
	yes := true
	res, err := api.Alert.GetAlerts(alert.NewGetAlertsParamsWithContext(ctx).
		WithActive(&yes).WithSilenced(&yes).WithInhibited(&yes).WithUnprocessed(&yes))
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("get alerts: %w", err)
	}
	out := make(map[string]incident.AMAlert, len(res.Payload))
	for _, a := range res.Payload {
		if a == nil || a.Fingerprint == nil || a.Status == nil || a.Status.State == nil {
			continue
		}
		out[*a.Fingerprint] = incident.AMAlert{Fingerprint: *a.Fingerprint, State: *a.Status.State,
			SilencedBy: a.Status.SilencedBy, InhibitedBy: a.Status.InhibitedBy}
	}
	st, err := api.General.GetStatus(general.NewGetStatusParamsWithContext(ctx))
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("get status: %w", err)
	}
	var started time.Time
	if st.Payload != nil && st.Payload.Uptime != nil {
		started = time.Time(*st.Payload.Uptime)
	}
	return out, started, nil
}

func (r *Reconciler) tenant(ctx context.Context, cfg *config.Config, t *config.TenantConfig) error {
	now := r.now()
	am := t.Alertmanager
	cutoff := now.Add(-am.EffectiveStaleness())
	// Every open incident with firing alerts: a silence pauses the SLA at the
	// next pass, not after the staleness; the staleness only guards taking
	// alerts for gone (see service.ReconcileRequest).
	cands, err := r.o.Store.ReconcileCandidates(ctx, t.Name, now.Add(time.Nanosecond), 500)
	if err != nil {
		return fmt.Errorf("tenant %s: %w", t.Name, err)
	}
	if len(cands) == 0 {
		return nil
	}
	api, err := r.client(t.Name, am)
	if err != nil {
		return fmt.Errorf("tenant %s: %w", t.Name, err)
	}
	qctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	alerts, started, err := Alerts(qctx, api)
	cancel()
	if err != nil {
		return fmt.Errorf("tenant %s: alertmanager %s: %w", t.Name, am.URL, err)
	}
	// Alertmanager keeps no alerts across restarts: until Prometheus has
	// sent them again, absence proves nothing.
	trustGone := !started.IsZero() && now.Sub(started) >= time.Duration(am.StartupGrace)
	gone := cfg.GonePolicy(t.Name)
	suppressed := false
	for _, a := range alerts {
		suppressed = suppressed || a.State == incident.AMSuppressed
	}
	var errs []error
	for _, in := range cands {
		if !suppressed && in.State != incident.StateOnHold && !in.LastNotifiedAt.Before(cutoff) {
			continue // fresh, and nothing is silenced or inhibited: nothing to do
		}
		ev, err := r.o.Service.Reconcile(ctx, service.ReconcileRequest{Tenant: t.Name, IncidentID: in.ID, NotifiedBefore: cutoff,
			InAlertmanager: alerts, IgnoreMissing: !trustGone, Gone: gone})
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if ev != "" {
			r.o.Logger.Info("reconciled incident", "tenant", t.Name, "incident", in.ID, "event", ev)
			if r.o.Metrics != nil {
				r.o.Metrics.Actions.WithLabelValues(t.Name, ev).Inc()
			}
		}
	}
	return errors.Join(errs...)
}

func (r *Reconciler) watchdog(ctx context.Context, t *config.TenantConfig) error {
	now := r.now()
	w, err := r.o.Store.Watchdog(ctx, t.Name, now)
	if err != nil {
		return fmt.Errorf("tenant %s: %w", t.Name, err)
	}
	last := w.Last()
	timeout := time.Duration(t.Watchdog.Timeout)
	down := now.Sub(last) > timeout
	if m := r.o.Metrics; m != nil {
		if !w.LastSeenAt.IsZero() {
			m.LastHeartbeat.WithLabelValues(t.Name).Set(float64(w.LastSeenAt.Unix()))
		}
		v := 0.0
		if down {
			v = 1
		}
		m.WatchdogDown.WithLabelValues(t.Name).Set(v)
	}
	if down {
		id, err := r.o.Service.WatchdogDown(ctx, service.Watchdog{Tenant: t.Name, Title: t.Watchdog.Title,
			Impact: t.Watchdog.Impact, Urgency: t.Watchdog.Urgency, Timeout: timeout, Last: last})
		if err != nil {
			return err
		}
		if id != 0 {
			r.o.Logger.Warn("watchdog heartbeat missing: monitoring pipeline down", "tenant", t.Name, "incident", id, "last", last)
		}
		return nil
	}
	id, err := r.o.Service.WatchdogUp(ctx, t.Name, last)
	if err != nil {
		return err
	}
	if id != 0 {
		r.o.Logger.Info("watchdog heartbeat back", "tenant", t.Name, "incident", id)
	}
	return nil
}

// Metrics of reconciliation.
type Metrics struct {
	Actions       *prometheus.CounterVec
	Errors        *prometheus.CounterVec
	LastSuccess   *prometheus.GaugeVec
	WatchdogDown  *prometheus.GaugeVec
	LastHeartbeat *prometheus.GaugeVec
}

// NewMetrics registers the metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	f := promauto.With(reg)
	return &Metrics{
		Actions: f.NewCounterVec(prometheus.CounterOpts{
			Name: "kizashi_webhook_reconcile_actions_total",
			Help: "Incidents changed by reconciliation with Alertmanager, by tenant and event (hold, resume, resolved, updated).",
		}, []string{"tenant", "event"}),
		Errors: f.NewCounterVec(prometheus.CounterOpts{
			Name: "kizashi_webhook_reconcile_errors_total",
			Help: "Reconciliation passes of a tenant that failed (Alertmanager or store unavailable).",
		}, []string{"tenant"}),
		LastSuccess: f.NewGaugeVec(prometheus.GaugeOpts{
			Name: "kizashi_webhook_reconcile_last_success_timestamp_seconds",
			Help: "Time of the tenant's last successful reconciliation pass.",
		}, []string{"tenant"}),
		WatchdogDown: f.NewGaugeVec(prometheus.GaugeOpts{
			Name: "kizashi_webhook_watchdog_down",
			Help: "1 while the tenant's watchdog heartbeat is missing for longer than its timeout.",
		}, []string{"tenant"}),
		LastHeartbeat: f.NewGaugeVec(prometheus.GaugeOpts{
			Name: "kizashi_webhook_watchdog_last_heartbeat_timestamp_seconds",
			Help: "Time of the tenant's last watchdog heartbeat.",
		}, []string{"tenant"}),
	}
}
