// Package metricnames is the one table of the series kizashi-exporter publishes: their metric
// names, help texts and the labels it adds. The collector writes them from this table, the
// Grafana data source reads them by these names, and the dashboards' lint and README's check
// hold the dashboards and the documentation against it. Standard library only, so that any
// program may import it.
package metricnames

// The labels the exporter adds to the raw series' own.
const (
	// LabelQuery names the configured query a series belongs to.
	LabelQuery = "kizashi_query"
	// LabelMetric is the raw series' metric name (__name__).
	LabelMetric = "kizashi_metric"
	// LabelHorizon is a forecast's horizon (a Prometheus duration: 1h, 1d).
	LabelHorizon = "horizon"
	// LabelThreshold is the threshold a breach ETA is about.
	LabelThreshold = "threshold"
	// LabelReason is the kind of evidence behind an anomaly score (anomaly.Reason).
	LabelReason = "reason"
)

// The published metric names.
const (
	Value         = "kizashi_value"
	Baseline      = "kizashi_baseline"
	Lower         = "kizashi_lower"
	Upper         = "kizashi_upper"
	AnomalyScore  = "kizashi_anomaly_score"
	AnomalyReason = "kizashi_anomaly_reason"
	Deviation     = "kizashi_deviation"
	ModelReady    = "kizashi_model_ready"
	Forecast      = "kizashi_forecast"
	ForecastLower = "kizashi_forecast_lower"
	ForecastUpper = "kizashi_forecast_upper"
	BreachETA     = "kizashi_breach_eta_seconds"
)

// Family is one published metric: a gauge per modelled series, with the series' labels,
// LabelQuery, LabelMetric and, if Label is set, that label (one series per horizon or
// threshold).
type Family struct {
	Name, Help string
	// Label is LabelHorizon, LabelThreshold, LabelReason or empty.
	Label string
}

// Families are the published metrics, in the order /metrics writes them.
var Families = []Family{
	{Value, "The value of the series the model learned last (the query's result, so expressions without a metric name can be charted next to their band).", ""},
	{Baseline, "Expected value of the series at its last sample.", ""},
	{Lower, "Lower bound of the normal band at the last sample.", ""},
	{Upper, "Upper bound of the normal band at the last sample.", ""},
	{AnomalyScore, "Calibrated anomaly score in [0,1]; one threshold serves every series (0 until the model is ready).", ""},
	{AnomalyReason, "The anomaly score, with the kind of evidence behind it (reason: spike, level_shift, pattern_change, variance_change, quiet, beyond_range, vanished), while it is at least 0.5; absent below 0.5.", LabelReason},
	{Deviation, "Signed deviation of the last sample from the baseline, in robust standard deviations.", ""},
	{ModelReady, "1 if the model has learned enough to be trusted, else 0.", ""},
	{Forecast, "Point forecast of the series at the horizon after its last sample.", LabelHorizon},
	{ForecastLower, "Lower bound of the 95% prediction interval at the horizon.", LabelHorizon},
	{ForecastUpper, "Upper bound of the 95% prediction interval at the horizon.", LabelHorizon},
	{BreachETA, "Time from the last sample until the forecast crosses the threshold (absent: no crossing forecast within breach_within).", LabelThreshold},
}

// Names returns the published metric names, in Families' order.
func Names() []string {
	out := make([]string, len(Families))
	for i, f := range Families {
		out[i] = f.Name
	}
	return out
}

// Lookup returns the family named name.
func Lookup(name string) (Family, bool) {
	for _, f := range Families {
		if f.Name == name {
			return f, true
		}
	}
	return Family{}, false
}
