package service

import (
	"context"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/kizashi-dev/kizashi/webhook/incident"
	"github.com/kizashi-dev/kizashi/webhook/limit"
	"github.com/kizashi-dev/kizashi/webhook/store"
)

// Metrics are the webhook's own metrics. Labels are bounded: tenants and
// priorities come from the configuration, results and reasons are constants.
type Metrics struct {
	Notifications   *prometheus.CounterVec
	Rejected        *prometheus.CounterVec
	Truncated       prometheus.Counter
	IngestDuration  prometheus.Histogram
	StoreDuration   *prometheus.HistogramVec
	IncidentsOpened *prometheus.CounterVec
	MTTA            *prometheus.HistogramVec
	MTTR            *prometheus.HistogramVec
	SLABreaches     *prometheus.CounterVec
	PrunedRows      *prometheus.CounterVec
	PrunedBytes     *prometheus.CounterVec
	Held            *prometheus.CounterVec
	WaitingGauge    *prometheus.GaugeVec
}

// Notification results.
const (
	ResultAccepted  = "accepted"
	ResultDuplicate = "duplicate"
)

// Rejection reasons.
const (
	RejectMalformed    = "malformed"
	RejectTooLarge     = "too_large"
	RejectUnauthorized = "unauthorized"
	RejectForbidden    = "forbidden"
	RejectUnavailable  = "unavailable"
	// RejectTimeout: the body did not arrive within the server's read timeout (503).
	RejectTimeout = "timeout"
	// RejectAborted: the client went away while sending (503, read by nobody).
	RejectAborted = "aborted"
	// RejectHeld: a tenant's quota or share of the store held it back (503 + Retry-After).
	RejectHeld = "held"
	// RejectThrottled: the source failed to authenticate too often (503, retried).
	RejectThrottled = "throttled"
)

// NewMetrics registers the metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	f := promauto.With(reg)
	durations := []float64{60, 300, 900, 1800, 3600, 4 * 3600, 8 * 3600, 24 * 3600, 3 * 24 * 3600, 7 * 24 * 3600}
	m := &Metrics{
		Notifications: f.NewCounterVec(prometheus.CounterOpts{
			Name: "kizashi_webhook_notifications_total",
			Help: "Alertmanager notifications stored (accepted) or recognised as already stored (duplicate).",
		}, []string{"result"}),
		Rejected: f.NewCounterVec(prometheus.CounterOpts{
			Name: "kizashi_webhook_notifications_rejected_total",
			Help: "Alertmanager notifications rejected, by reason.",
		}, []string{"reason"}),
		Truncated: f.NewCounter(prometheus.CounterOpts{
			Name: "kizashi_webhook_notifications_truncated_total",
			Help: "Notifications stored without the alerts beyond limits.max_alerts.",
		}),
		IngestDuration: f.NewHistogram(prometheus.HistogramOpts{
			Name:    "kizashi_webhook_ingest_duration_seconds",
			Help:    "Time from receiving a notification to its durable commit.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}),
		StoreDuration: f.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "kizashi_webhook_store_duration_seconds",
			Help:    "Latency of store operations.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}, []string{"operation"}),
		IncidentsOpened: f.NewCounterVec(prometheus.CounterOpts{
			Name: "kizashi_webhook_incidents_created_total",
			Help: "Incidents created.",
		}, []string{"tenant", "priority"}),
		MTTA: f.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "kizashi_webhook_time_to_acknowledge_seconds",
			Help:    "Time from incident creation to first acknowledgement (MTTA).",
			Buckets: durations,
		}, []string{"tenant", "priority"}),
		MTTR: f.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "kizashi_webhook_time_to_resolve_seconds",
			Help:    "Time from incident creation to resolution (MTTR).",
			Buckets: durations,
		}, []string{"tenant", "priority"}),
		SLABreaches: f.NewCounterVec(prometheus.CounterOpts{
			Name: "kizashi_webhook_sla_breaches_total",
			Help: "SLA breaches recorded, by target (response or resolve).",
		}, []string{"tenant", "priority", "target"}),
		PrunedRows: f.NewCounterVec(prometheus.CounterOpts{
			Name: "kizashi_webhook_retention_pruned_rows_total",
			Help: "Rows deleted by retention, by table (notifications: raw notifications; journal: lines of notifications).",
		}, []string{"table"}),
		PrunedBytes: f.NewCounterVec(prometheus.CounterOpts{
			Name: "kizashi_webhook_retention_pruned_bytes_total",
			Help: "Bytes of payload deleted by retention (bodies as stored, journal text), by table.",
		}, []string{"table"}),
	}
	m.Held = f.NewCounterVec(prometheus.CounterOpts{
		Name: "kizashi_webhook_ingest_held_total",
		Help: "Notifications answered 503 because a limit of their tenant held them back, by reason (notifications_quota, bytes_quota, busy).",
	}, []string{"tenant", "reason"})
	m.WaitingGauge = f.NewGaugeVec(prometheus.GaugeOpts{
		Name: "kizashi_webhook_ingest_waiting",
		Help: "Notifications waiting for their tenant's share of the store.",
	}, []string{"tenant"})
	for _, t := range []string{TableNotifications, TableJournal} {
		m.PrunedRows.WithLabelValues(t)
		m.PrunedBytes.WithLabelValues(t)
	}
	for _, r := range []string{ResultAccepted, ResultDuplicate} {
		m.Notifications.WithLabelValues(r)
	}
	for _, r := range []string{RejectMalformed, RejectTooLarge, RejectUnauthorized, RejectForbidden, RejectUnavailable, RejectTimeout, RejectAborted, RejectHeld, RejectThrottled} {
		m.Rejected.WithLabelValues(r)
	}
	return m
}

// InitTenants creates the per-tenant series at zero for every priority (and SLA target), so
// that increase() and rate() count a tenant's first incident, acknowledgement, resolution and
// breach. Called with the configured tenants at start and after each reload.
func (m *Metrics) InitTenants(tenants []string) {
	for _, t := range tenants {
		m.WaitingGauge.WithLabelValues(t)
		for _, r := range []string{limit.ReasonNotifications, limit.ReasonBytes, limit.ReasonBusy} {
			m.Held.WithLabelValues(t, r)
		}
		for p := 1; p <= 5; p++ {
			m.IncidentsOpened.WithLabelValues(t, prio(p))
			m.MTTA.WithLabelValues(t, prio(p))
			m.MTTR.WithLabelValues(t, prio(p))
			for _, target := range []string{incident.BreachResponse, incident.BreachResolve} {
				m.SLABreaches.WithLabelValues(t, prio(p), target)
			}
		}
	}
}

// Waiting implements limit.Observer.
func (m *Metrics) Waiting(tenant string, delta int) {
	m.WaitingGauge.WithLabelValues(tenant).Add(float64(delta))
}

// ObserveStore records a store latency.
func (m *Metrics) ObserveStore(op string, seconds float64) {
	m.StoreDuration.WithLabelValues(op).Observe(seconds)
}

// OpenCollector exports open incidents by tenant, priority and state,
// computed from the store on each scrape.
type OpenCollector struct {
	Store store.Store
	desc  *prometheus.Desc
	up    *prometheus.Desc
}

// NewOpenCollector returns the collector.
func NewOpenCollector(s store.Store) *OpenCollector {
	return &OpenCollector{
		Store: s,
		desc: prometheus.NewDesc("kizashi_webhook_incidents_open",
			"Open incidents (new, in_progress, on_hold; not resolved, closed or canceled), by tenant, priority and state.", []string{"tenant", "priority", "state"}, nil),
		up: prometheus.NewDesc("kizashi_webhook_store_up",
			"1 if the store answered the last scrape.", nil, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *OpenCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.desc
	ch <- c.up
}

// Collect implements prometheus.Collector.
func (c *OpenCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	counts, err := c.Store.OpenCounts(ctx)
	if err != nil {
		ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, 1)
	for _, oc := range counts {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(oc.Count), oc.Tenant, prio(oc.Priority), string(oc.State))
	}
}

func prio(p int) string { return "P" + strconv.Itoa(p) }

// KPICollector exports the service desk's KPIs (incident.KPI) computed from
// the store on each scrape, so they are the same on every replica and
// survive restarts: sums and counts (divide them for the means) per tenant
// and priority.
type KPICollector struct {
	Store store.Store

	incidents, unacked, ttaSum, ttaCount, ttrSum, ttrCount, sla *prometheus.Desc
}

// NewKPICollector returns the collector.
func NewKPICollector(s store.Store) *KPICollector {
	l := []string{"tenant", "priority"}
	d := func(name, help string, extra ...string) *prometheus.Desc {
		return prometheus.NewDesc("kizashi_webhook_kpi_"+name, help, append(append([]string(nil), l...), extra...), nil)
	}
	return &KPICollector{
		Store:     s,
		incidents: d("incidents", "Incidents in the store."),
		unacked:   d("unacknowledged_incidents", "Open incidents nobody acknowledged yet."),
		ttaSum:    d("time_to_acknowledge_seconds_sum", "Sum of the times from creation to the first response (acknowledgement, or the end of an incident nobody acknowledged)."),
		ttaCount:  d("time_to_acknowledge_seconds_count", "Incidents with a first response (MTTA = sum / count)."),
		ttrSum:    d("time_to_resolve_seconds_sum", "Sum of the times from creation to the last resolution, less time On Hold, once per incident."),
		ttrCount:  d("time_to_resolve_seconds_count", "Resolved incidents (MTTR = sum / count)."),
		sla:       d("sla_outcomes", "SLA targets met or breached (compliance = met / (met + breached)).", "target", "outcome"),
	}
}

// Describe implements prometheus.Collector.
func (c *KPICollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.incidents, c.unacked, c.ttaSum, c.ttaCount, c.ttrSum, c.ttrCount, c.sla} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *KPICollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ins, err := c.Store.KPIIncidents(ctx, "", time.Time{}, time.Time{})
	if err != nil {
		return // kizashi_webhook_store_up says so
	}
	g := prometheus.GaugeValue
	for _, k := range GroupKPIs(ins) {
		t, p := k.Tenant, prio(k.Priority)
		ch <- prometheus.MustNewConstMetric(c.incidents, g, float64(k.Incidents), t, p)
		ch <- prometheus.MustNewConstMetric(c.unacked, g, float64(k.Unacknowledged), t, p)
		ch <- prometheus.MustNewConstMetric(c.ttaSum, g, k.TimeToAcknowledge.Seconds(), t, p)
		ch <- prometheus.MustNewConstMetric(c.ttaCount, g, float64(k.Responded), t, p)
		ch <- prometheus.MustNewConstMetric(c.ttrSum, g, k.TimeToResolve.Seconds(), t, p)
		ch <- prometheus.MustNewConstMetric(c.ttrCount, g, float64(k.Resolved), t, p)
		ch <- prometheus.MustNewConstMetric(c.sla, g, float64(k.ResponseMet), t, p, incident.BreachResponse, "met")
		ch <- prometheus.MustNewConstMetric(c.sla, g, float64(k.ResponseBreached), t, p, incident.BreachResponse, "breached")
		ch <- prometheus.MustNewConstMetric(c.sla, g, float64(k.ResolveMet), t, p, incident.BreachResolve, "met")
		ch <- prometheus.MustNewConstMetric(c.sla, g, float64(k.ResolveBreached), t, p, incident.BreachResolve, "breached")
	}
}
