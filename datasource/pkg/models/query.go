package models

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/prometheus/common/model"

	"github.com/kizashi-dev/kizashi/anomaly"
)

// Query types, routed by the query's queryType.
const (
	QueryTypeAnomaly   = "anomaly"
	QueryTypeForecast  = "forecast"
	QueryTypeExported  = "exported"
	QueryTypeIncidents = "incidents"
)

// Field names of the frames, also the values of Query.Fields.
const (
	FieldValue         = "value"
	FieldBaseline      = "baseline"
	FieldLower         = "lower"
	FieldUpper         = "upper"
	FieldScore         = "score"
	FieldDeviation     = "deviation"
	FieldReason        = "reason"
	FieldForecast      = "forecast"
	FieldForecastLower = "forecast lower"
	FieldForecastUpper = "forecast upper"
	FieldBreachETA     = "breach eta"
)

// SeriesFields lists the fields a query can keep, in their order: a series' observed frame
// (value to deviation), its forecast frame (future rows: forecast and its interval), and the
// breach ETA table of forecast queries with a threshold.
var SeriesFields = []string{FieldValue, FieldBaseline, FieldLower, FieldUpper, FieldScore, FieldReason, FieldDeviation,
	FieldForecast, FieldForecastLower, FieldForecastUpper, FieldBreachETA}

// QueryJSON is the query model the frontend sends.
type QueryJSON struct {
	Expr         string `json:"expr,omitempty"`
	LegendFormat string `json:"legendFormat,omitempty"`
	// Step overrides Grafana's interval ("1m").
	Step string `json:"step,omitempty"`

	Sensitivity *float64 `json:"sensitivity,omitempty"`
	Daily       string   `json:"daily,omitempty"`
	Weekly      string   `json:"weekly,omitempty"`
	Trend       string   `json:"trend,omitempty"`
	Timezone    string   `json:"timezone,omitempty"`
	Holidays    []string `json:"holidays,omitempty"`
	// Min clamps band and forecast from below (e.g. 0 for rates).
	Min *float64 `json:"min,omitempty"`
	// WarmUp overrides the data source's warm-up history ("7d").
	WarmUp string `json:"warmUp,omitempty"`
	// BreachWithin is how far ahead a forecast query looks for the threshold's breach
	// (default DefaultBreachWithin), whatever the horizon drawn.
	BreachWithin string `json:"breachWithin,omitempty"`

	// Horizon and Threshold are for forecast queries. Breach says whether the threshold is an
	// upper limit the series must stay "below" (default; disk usage, latency: ETA until it is
	// reached from below) or a lower limit it must stay "above" (free space: ETA until it drops).
	Horizon   string   `json:"horizon,omitempty"`
	Threshold *float64 `json:"threshold,omitempty"`
	Breach    string   `json:"breach,omitempty"`

	// QueryName is the exporter's query name, for exported queries.
	QueryName string `json:"queryName,omitempty"`

	// Fields, if not empty, keeps only these fields (e.g. ["score"] or ["forecast"] for an alert
	// rule: one number field per series, frames Grafana's server-side expressions can reduce).
	Fields []string `json:"fields,omitempty"`
}

// Query is a validated query.
type Query struct {
	RefID        string
	Type         string
	Expr         string
	LegendFormat string
	From, To     time.Time
	Step         time.Duration
	WarmUp       time.Duration
	Engine       anomaly.Config
	// Spec is Engine compiled (anomaly and forecast queries), what the models are made from.
	Spec      *anomaly.Spec
	Horizon   time.Duration
	Threshold *float64
	// BreachWithin is how far ahead the threshold's breach is looked for.
	BreachWithin time.Duration
	// LowerLimit: the threshold is a lower limit (ETA until the forecast drops to it).
	LowerLimit bool
	QueryName  string
	Fields     []string
}

// Keep reports whether the field is wanted.
func (q *Query) Keep(field string) bool {
	return len(q.Fields) == 0 || slices.Contains(q.Fields, field)
}

// ParseQuery decodes and validates one query against the data source's settings.
func ParseQuery(dq backend.DataQuery, s *Settings) (*Query, error) {
	var qj QueryJSON
	if len(dq.JSON) > 0 {
		if err := json.Unmarshal(dq.JSON, &qj); err != nil {
			return nil, fmt.Errorf("decode query: %w", err)
		}
	}
	q := &Query{
		RefID:        dq.RefID,
		Type:         dq.QueryType,
		Expr:         qj.Expr,
		LegendFormat: qj.LegendFormat,
		From:         dq.TimeRange.From,
		To:           dq.TimeRange.To,
		Step:         dq.Interval,
		WarmUp:       s.WarmUp,
		Horizon:      s.Horizon,
		BreachWithin: DefaultBreachWithin,
		Threshold:    qj.Threshold,
		QueryName:    qj.QueryName,
		Fields:       qj.Fields,
	}
	if q.Type == "" {
		// Grafana alerting and older dashboards may keep the type in the model only.
		var withType struct {
			QueryType string `json:"queryType"`
		}
		_ = json.Unmarshal(dq.JSON, &withType)
		q.Type = withType.QueryType
	}
	if q.Type == "" {
		q.Type = QueryTypeAnomaly
	}
	if !q.From.Before(q.To) {
		return nil, fmt.Errorf("time range %s..%s: empty", q.From.Format(time.RFC3339), q.To.Format(time.RFC3339))
	}
	for _, f := range q.Fields {
		if !slices.Contains(SeriesFields, f) {
			return nil, fmt.Errorf("field %q: want one of %v", f, SeriesFields)
		}
	}
	var err error
	switch q.Type {
	case QueryTypeAnomaly, QueryTypeForecast:
		if q.Expr == "" {
			return nil, errors.New("expression is empty")
		}
	case QueryTypeExported:
		if q.QueryName == "" {
			return nil, errors.New("exporter query name is empty")
		}
	case QueryTypeIncidents:
		if s.WebhookURL == "" {
			return nil, errors.New("incidents: the data source has no webhook URL")
		}
		return q, nil
	default:
		return nil, fmt.Errorf("query type %q: want anomaly, forecast, exported or incidents", q.Type)
	}
	if qj.Step != "" {
		if q.Step, err = parseDuration("step", qj.Step, 0); err != nil {
			return nil, err
		}
	}
	q.Step = q.Step.Round(time.Second)
	if q.Step < time.Second {
		q.Step = time.Second
	}
	if q.WarmUp == 0 {
		q.WarmUp = DefaultWarmUp
		if q.Type == QueryTypeForecast {
			q.WarmUp = DefaultForecastWarmUp
		}
	}
	if q.WarmUp, err = parseDuration("warm-up", qj.WarmUp, q.WarmUp); err != nil {
		return nil, err
	}
	if q.BreachWithin, err = parseDuration("breach within", qj.BreachWithin, q.BreachWithin); err != nil {
		return nil, err
	}
	if q.BreachWithin <= 0 {
		return nil, fmt.Errorf("breach within %s: must be positive", model.Duration(q.BreachWithin))
	}
	if q.Horizon, err = parseDuration("horizon", qj.Horizon, q.Horizon); err != nil {
		return nil, err
	}
	if q.Horizon <= 0 {
		return nil, fmt.Errorf("horizon %s: must be positive", q.Horizon)
	}
	switch qj.Breach {
	case "", "below":
	case "above":
		q.LowerLimit = true
	default:
		return nil, fmt.Errorf("breach %q: want below (an upper limit) or above (a lower limit)", qj.Breach)
	}
	if q.Threshold != nil && (math.IsNaN(*q.Threshold) || math.IsInf(*q.Threshold, 0)) {
		return nil, errors.New("threshold: must be a finite number")
	}
	// Fields a query of this type cannot answer would leave it with no frame: say why.
	for _, f := range q.Fields {
		switch {
		case (f == FieldForecast || f == FieldForecastLower || f == FieldForecastUpper || f == FieldBreachETA) && q.Type != QueryTypeForecast:
			return nil, fmt.Errorf("field %q: only forecast queries have it", f)
		case f == FieldBreachETA && q.Threshold == nil:
			return nil, fmt.Errorf("field %q: set a threshold", f)
		}
	}
	eng, err := ParseEngine(s.Engine, qj.Sensitivity, qj.Daily, qj.Weekly, qj.Trend, qj.Timezone, qj.Holidays)
	if err != nil {
		return nil, err
	}
	if q.Type == QueryTypeForecast && !eng.TrendSet {
		// A forecast is asked for where the series is going: capacity, growth. Auto would
		// publish the trend only after about six days of evidence that it helps.
		eng.Trend = anomaly.On
	}
	q.Engine = anomaly.Config{
		Step:        q.Step,
		Sensitivity: anomaly.Float(eng.Sensitivity),
		Daily:       eng.Daily,
		Weekly:      eng.Weekly,
		Trend:       eng.Trend,
		Min:         qj.Min,
		Location:    eng.Location,
		Holidays:    eng.Holidays,
	}
	if q.Type == QueryTypeForecast {
		q.Engine.Horizons = forecastHorizons(q.Horizon)
	}
	if q.Spec, err = anomaly.Compile(q.Engine); err != nil {
		return nil, fmt.Errorf("engine settings: %w", err)
	}
	return q, nil
}

// forecastHorizons are the horizons whose intervals the model learns: the engine's defaults
// up to the query's horizon, and the horizon itself.
func forecastHorizons(h time.Duration) []time.Duration {
	var out []time.Duration
	for _, d := range anomaly.DefaultConfig().Horizons {
		if d < h {
			out = append(out, d)
		}
	}
	return append(out, h)
}
