package forward

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/kizashi-dev/kizashi/webhook/config"
	"github.com/kizashi-dev/kizashi/webhook/store"
)

// Metrics are the forwarders' own metrics. The target label is
// "tenant/name" from the configuration; reasons are constants.
type Metrics struct {
	Deliveries  *prometheus.CounterVec
	Failures    *prometheus.CounterVec
	DeadLetters *prometheus.CounterVec
	Duration    *prometheus.HistogramVec
	CircuitOpen *prometheus.GaugeVec
	PausedUntil *prometheus.GaugeVec
}

// NewMetrics registers the metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	f := promauto.With(reg)
	return &Metrics{
		Deliveries: f.NewCounterVec(prometheus.CounterOpts{
			Name: "kizashi_webhook_forward_deliveries_total",
			Help: "Incident deliveries that brought a ticket up to date, by target.",
		}, []string{"target"}),
		Failures: f.NewCounterVec(prometheus.CounterOpts{
			Name: "kizashi_webhook_forward_failures_total",
			Help: "Failed deliveries by target and reason (timeout, network, server_error, rate_limited, rejected, bad_response).",
		}, []string{"target", "reason"}),
		DeadLetters: f.NewCounterVec(prometheus.CounterOpts{
			Name: "kizashi_webhook_forward_dead_letters_total",
			Help: "Deliveries given up (dead letters), by target.",
		}, []string{"target"}),
		Duration: f.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "kizashi_webhook_forward_delivery_duration_seconds",
			Help:    "Time of one delivery (all its requests), by target.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 12),
		}, []string{"target"}),
		CircuitOpen: f.NewGaugeVec(prometheus.GaugeOpts{
			Name: "kizashi_webhook_forward_circuit_open",
			Help: "1 while the target's circuit breaker is open.",
		}, []string{"target"}),
		PausedUntil: f.NewGaugeVec(prometheus.GaugeOpts{
			Name: "kizashi_webhook_forward_paused_until_timestamp_seconds",
			Help: "End of the target's last pause asked for by a 429 answer (Retry-After, capped by max_retry_after); 0 if never paused. Paused while it is in the future.",
		}, []string{"target"}),
	}
}

func (m *Metrics) init(target string) {
	m.Deliveries.WithLabelValues(target)
	m.DeadLetters.WithLabelValues(target)
	m.CircuitOpen.WithLabelValues(target)
	m.PausedUntil.WithLabelValues(target)
	for _, r := range []string{ReasonTimeout, ReasonNetwork, ReasonServer, ReasonRateLimited, ReasonRejected, ReasonBadResponse} {
		m.Failures.WithLabelValues(target, r)
	}
}

// QueueCollector exports each configured target's queue from the store on
// each scrape: pending jobs, dead letters and the outbox lag (age of the
// oldest change not delivered, counting changes not yet dispatched).
type QueueCollector struct {
	Store  store.Forwarding
	Config func() *config.Config
	Now    func() time.Time

	lag, pending, dead, up *prometheus.Desc
}

// NewQueueCollector returns the collector.
func NewQueueCollector(st store.Forwarding, cfg func() *config.Config, now func() time.Time) *QueueCollector {
	if now == nil {
		now = time.Now
	}
	return &QueueCollector{
		Store: st, Config: cfg, Now: now,
		lag: prometheus.NewDesc("kizashi_webhook_outbox_lag_seconds",
			"Age of the oldest incident change not yet delivered to the target (0 when none).", []string{"target"}, nil),
		pending: prometheus.NewDesc("kizashi_webhook_forward_pending",
			"Incidents with changes not yet delivered to the target (dead letters excluded).", []string{"target"}, nil),
		dead: prometheus.NewDesc("kizashi_webhook_forward_dead_letters",
			"Dead letters of the target waiting for a retry.", []string{"target"}, nil),
		up: prometheus.NewDesc("kizashi_webhook_forward_stats_up",
			"1 if the store answered the last scrape of the forwarders' queues.", nil, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *QueueCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.lag
	ch <- c.pending
	ch <- c.dead
	ch <- c.up
}

// Collect implements prometheus.Collector.
func (c *QueueCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	stats, err := c.Store.ForwardStats(ctx)
	if err != nil {
		ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, 1)
	by := map[string]store.TargetStats{}
	for _, s := range stats {
		by[s.Target] = s
	}
	now := c.Now()
	for _, t := range c.Config().Targets() {
		s := by[t.Key]
		oldest := s.OldestPending
		if u := by[t.Tenant+"/"]; !u.OldestPending.IsZero() && (oldest.IsZero() || u.OldestPending.Before(oldest)) {
			oldest = u.OldestPending
		}
		lag := 0.0
		if !oldest.IsZero() {
			lag = max(0, now.Sub(oldest).Seconds())
		}
		ch <- prometheus.MustNewConstMetric(c.lag, prometheus.GaugeValue, lag, t.Key)
		ch <- prometheus.MustNewConstMetric(c.pending, prometheus.GaugeValue, float64(s.Pending), t.Key)
		ch <- prometheus.MustNewConstMetric(c.dead, prometheus.GaugeValue, float64(s.Dead), t.Key)
	}
}
