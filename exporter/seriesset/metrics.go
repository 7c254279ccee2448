package seriesset

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// Metrics are the exporter's own metrics about reading and modelling (kizashi_exporter_*).
type Metrics struct {
	QueryDuration        *prometheus.HistogramVec
	QueryErrors          *prometheus.CounterVec
	SourceUp             *prometheus.GaugeVec
	QueryReady           *prometheus.GaugeVec
	Series               *prometheus.GaugeVec
	SeriesBackfilling    *prometheus.GaugeVec
	SeriesReady          *prometheus.GaugeVec
	SeriesOverLimit      *prometheus.GaugeVec
	SeriesDropped        *prometheus.CounterVec
	CycleDuration        *prometheus.HistogramVec
	LastUpdate           *prometheus.GaugeVec
	BackfillProgress     *prometheus.GaugeVec
	BackfillSamples      *prometheus.CounterVec
	BackfillQuerySeconds *prometheus.CounterVec
	BackfillModelSeconds *prometheus.CounterVec
	RejectedSamples      *prometheus.CounterVec
	RestoreFailures      *prometheus.CounterVec
	SnapshotTime         *prometheus.GaugeVec
	SnapshotFailures     *prometheus.CounterVec
}

// NewMetrics registers the metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	f := promauto.With(reg)
	const ns = "kizashi_exporter"
	return &Metrics{
		QueryDuration: f.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Name: "query_duration_seconds",
			Help:    "Duration of queries to the source, by query and kind (instant, range).",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}}, []string{"query", "kind"}),
		QueryErrors: f.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "query_errors_total",
			Help: "Queries to the source that failed, by query, kind (instant, range) and reason (too_large: over max_response_size or max_response_samples; timeout; error)."},
			[]string{"query", "kind", "reason"}),
		SourceUp: f.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Name: "source_up",
			Help: "1 if the query's last query to the source (live or backfill) succeeded, 0 if it failed."}, []string{"query"}),
		QueryReady: f.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Name: "query_ready",
			Help: "1 once the query's first backfill has finished, else 0 (see /-/ready)."}, []string{"query"}),
		Series: f.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Name: "series",
			Help: "Series modelled, by query (including those being backfilled)."}, []string{"query"}),
		SeriesBackfilling: f.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Name: "series_backfilling",
			Help: "Series waiting for or in backfill, by query."}, []string{"query"}),
		SeriesReady: f.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Name: "series_ready",
			Help: "Series whose model is ready (has learned enough to be trusted), by query."}, []string{"query"}),
		SeriesOverLimit: f.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Name: "series_over_limit",
			Help: "Series of this shard returned by the last query but not modelled because of max_series."}, []string{"query"}),
		SeriesDropped: f.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "series_dropped_total",
			Help: "Series no longer modelled, by query and reason (stale)."}, []string{"query", "reason"}),
		CycleDuration: f.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Name: "cycle_model_duration_seconds",
			Help:    "Time spent updating the models in one live cycle, excluding the query.",
			Buckets: []float64{.001, .005, .01, .05, .1, .25, .5, 1, 2, 5}}, []string{"query"}),
		LastUpdate: f.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Name: "last_update_timestamp_seconds",
			Help: "Time of the last successful live update, by query."}, []string{"query"}),
		BackfillProgress: f.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Name: "backfill_progress_ratio",
			Help: "Progress of the running (or last) backfill, 0 to 1, by query."}, []string{"query"}),
		BackfillSamples: f.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "backfill_samples_total",
			Help: "Samples learned during backfills, by query."}, []string{"query"}),
		BackfillQuerySeconds: f.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "backfill_query_seconds_total",
			Help: "Time spent waiting for backfill range queries, by query."}, []string{"query"}),
		BackfillModelSeconds: f.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "backfill_model_seconds_total",
			Help: "Time spent updating models during backfills, by query."}, []string{"query"}),
		RejectedSamples: f.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "rejected_samples_total",
			Help: "Samples the models rejected (NaN, infinite, beyond ±1e30, out of order), by query."}, []string{"query"}),
		RestoreFailures: f.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "snapshot_restore_failures_total",
			Help: "Series whose snapshot could not be restored and that are retrained, by query."}, []string{"query"}),
		SnapshotTime: f.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Name: "last_snapshot_success_timestamp_seconds",
			Help: "Time the query's model snapshot was last written successfully (--storage.path)."}, []string{"query"}),
		SnapshotFailures: f.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "snapshot_failures_total",
			Help: "Model snapshots that could not be written (a full or read-only disk), by query."}, []string{"query"}),
	}
}

// forget removes the label values of a query that is no longer configured.
func (m *Metrics) forget(query string) {
	for _, v := range []interface {
		DeletePartialMatch(prometheus.Labels) int
	}{m.QueryDuration, m.QueryErrors, m.SourceUp, m.QueryReady, m.Series, m.SeriesBackfilling, m.SeriesReady, m.SeriesOverLimit,
		m.SeriesDropped, m.CycleDuration, m.LastUpdate, m.BackfillProgress, m.BackfillSamples, m.BackfillQuerySeconds,
		m.BackfillModelSeconds, m.RejectedSamples, m.RestoreFailures, m.SnapshotTime, m.SnapshotFailures} {
		v.DeletePartialMatch(prometheus.Labels{"query": query})
	}
}
