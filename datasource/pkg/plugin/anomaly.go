package plugin

import (
	"context"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/data"
	"github.com/prometheus/common/model"

	"github.com/kizashi-dev/kizashi/anomaly"
	"github.com/kizashi-dev/kizashi/datasource/pkg/models"
	"github.com/kizashi-dev/kizashi/datasource/pkg/prom"
)

// maxForecastPoints bounds the future points of one series; longer horizons use a coarser step.
const maxForecastPoints = 1000

// queryAnomaly runs an anomaly or forecast query: a range query over the panel range plus the
// warm-up history, the engine over each series, one frame per series. The range is read in
// chunks and each chunk goes through the models while the next ones are read.
func (d *Datasource) queryAnomaly(ctx context.Context, q *models.Query) (data.Frames, error) {
	panelStart, end, err := panelSteps(q)
	if err != nil {
		return nil, err
	}
	start := alignDown(q.From.Add(-q.WarmUp), q.Step)
	rows := prom.Points(panelStart, end, q.Step)
	lim := d.limits()
	var (
		runners []*runner
		byFP    = map[model.Fingerprint]*runner{}
		todo    []func()
	)
	rng, err := d.prom.QueryRangeChunks(ctx, q.Expr, start, end, q.Step, lim, func(chunk []prom.Series) error {
		todo = todo[:0]
		for _, s := range chunk {
			fp := s.Metric.Fingerprint()
			r, ok := byFP[fp]
			if !ok {
				if lim.MaxSeries > 0 && len(runners) >= lim.MaxSeries {
					return fmt.Errorf("%w: the expression returned more than %d series (max series per query); narrow it down (e.g. with topk or a label matcher)",
						prom.ErrLimit, lim.MaxSeries)
				}
				r = &runner{metric: s.Metric, m: q.Spec.New(), startMS: model.TimeFromUnixNano(panelStart.UnixNano()), rows: rows}
				byFP[fp] = r
				runners = append(runners, r)
			}
			todo = append(todo, func() { r.feed(s.Samples) })
		}
		d.parallel(ctx, len(todo), func(i int) { todo[i]() })
		return ctx.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("%s and %s of warm-up before it: %w", panelRange(q), model.Duration(q.WarmUp), err)
	}
	slices.SortFunc(runners, func(a, b *runner) int { return strings.Compare(a.key(), b.key()) })
	series := make([]prom.Series, len(runners))
	for i, r := range runners {
		series[i] = prom.Series{Metric: r.metric}
	}
	names := displayNames(series, q.LegendFormat, q.Expr)
	executed := fmt.Sprintf("%s\nstart=%s end=%s step=%s (panel from %s; warm-up %s; %d query_range requests)",
		q.Expr, start.UTC().Format(time.RFC3339), end.UTC().Format(time.RFC3339), q.Step,
		panelStart.UTC().Format(time.RFC3339), model.Duration(q.WarmUp), rng.Requests)

	results := make([]seriesResult, len(runners))
	d.parallel(ctx, len(runners), func(i int) { results[i] = runners[i].finish(names[i], q) })
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("run engine: %w", err)
	}
	frames := make(data.Frames, 0, 2*len(results)+1)
	for _, r := range results {
		for _, f := range []*data.Frame{r.frame, r.forecast} {
			if f != nil {
				f.Meta.ExecutedQueryString = executed
				frames = append(frames, f)
			}
		}
	}
	if q.Type == models.QueryTypeForecast && q.Threshold != nil && q.Keep(models.FieldBreachETA) {
		frames = append(frames, etaFrame(results, *q.Threshold, q.BreachWithin))
	}
	if len(frames) > 0 && len(rng.Warnings) > 0 {
		for _, w := range rng.Warnings {
			frames[0].AppendNotices(data.Notice{Severity: data.NoticeSeverityWarning, Text: "Prometheus: " + w})
		}
	}
	return frames, nil
}

func (d *Datasource) limits() prom.Limits {
	return prom.Limits{MaxSeries: d.settings.MaxSeries, MaxPoints: d.settings.MaxPoints}
}

// parallel runs fn(0..n-1) on the instance's workers; it stops starting work once ctx is done.
func (d *Datasource) parallel(ctx context.Context, n int, fn func(i int)) {
	if n == 0 {
		return
	}
	workers := min(max(d.workers, 1), n)
	var (
		wg   sync.WaitGroup
		next = make(chan int)
	)
	for range workers {
		wg.Go(func() {
			for i := range next {
				fn(i)
			}
		})
	}
	for i := range n {
		if ctx.Err() != nil {
			break
		}
		next <- i
	}
	close(next)
	wg.Wait()
}

// seriesResult is the engine's output for one series: its observed frame and, for forecast
// queries, its forecast frame (either nil when the query keeps none of its fields).
type seriesResult struct {
	name     string
	frame    *data.Frame
	forecast *data.Frame
	eta      time.Duration
	etaOK    bool
	hasETA   bool
}

// runner feeds one series through its model, chunk after chunk, and keeps the results from
// the panel's start on.
type runner struct {
	metric  model.Metric
	m       *anomaly.Model
	startMS model.Time
	rows    int
	cols    *columns
	samples int
	keyStr  string
}

func (r *runner) key() string {
	if r.keyStr == "" {
		r.keyStr = r.metric.String()
	}
	return r.keyStr
}

func (r *runner) feed(samples []model.SamplePair) {
	r.samples += len(samples)
	for _, p := range samples {
		t := time.UnixMilli(int64(p.Timestamp)).UTC()
		v := float64(p.Value)
		res, err := r.m.Update(t, v)
		if p.Timestamp < r.startMS {
			continue
		}
		if r.cols == nil {
			r.cols = newColumns(r.rows, true)
		}
		if err != nil {
			res.Deviation = math.NaN()
		}
		r.cols.add(t, v, res)
	}
}

// finish forecasts (for forecast queries) and builds the series' frame.
func (r *runner) finish(name string, q *models.Query) seriesResult {
	if r.cols == nil {
		r.cols = newColumns(0, true)
	}
	m := r.m
	res := seriesResult{name: name}
	var path []anomaly.Forecast
	if q.Type == models.QueryTypeForecast && r.samples > 0 {
		step := q.Step
		n := int(q.Horizon / step)
		if n > maxForecastPoints {
			step = time.Duration(math.Ceil(float64(q.Horizon)/float64(maxForecastPoints)/float64(q.Step))) * q.Step
			n = int(q.Horizon / step)
		}
		path = m.Path(make([]anomaly.Forecast, 0, n), step, n)
		if q.Threshold != nil {
			res.hasETA = true
			if q.LowerLimit {
				res.eta, res.etaOK = m.DropETA(*q.Threshold, q.BreachWithin)
			} else {
				res.eta, res.etaOK = m.BreachETA(*q.Threshold, q.BreachWithin)
			}
		}
	}
	labels := seriesLabels(r.metric)
	res.frame = r.cols.frame(name, labels, q)
	res.forecast = forecastFrame(name, labels, q, m.LastTime(), path)
	rd := m.Readiness()
	for _, f := range []*data.Frame{res.frame, res.forecast} {
		if f == nil {
			continue
		}
		f.Meta.Custom = map[string]any{"ready": rd.Ready, "daily": rd.Daily, "weekly": rd.Weekly, "trend": rd.Trend}
		if !rd.Ready && r.samples > 0 {
			f.AppendNotices(data.Notice{Severity: data.NoticeSeverityWarning,
				Text: fmt.Sprintf("%s: model not ready (%s); a longer warm-up gives it more history", name, rd.Reason)})
		}
	}
	return res
}

// columns accumulates the per-sample outputs, one backing array per field.
type columns struct {
	times                                           []time.Time
	value, baseline, lower, upper, score, deviation []float64
	reason                                          []anomaly.Reason // nil: the frame has no reason field
}

// newColumns makes room for n rows; withReason adds the reason column (the engine's frames;
// the exporter's published series have none).
func newColumns(n int, withReason bool) *columns {
	back := make([]float64, 6*n)
	c := &columns{times: make([]time.Time, 0, n)}
	for i, dst := range []*[]float64{&c.value, &c.baseline, &c.lower, &c.upper, &c.score, &c.deviation} {
		*dst = back[i*n : i*n : (i+1)*n]
	}
	if withReason {
		c.reason = make([]anomaly.Reason, 0, n)
	}
	return c
}

func (c *columns) add(t time.Time, v float64, r anomaly.Result) {
	c.times = append(c.times, t)
	c.value = append(c.value, v)
	c.baseline = append(c.baseline, r.Baseline)
	c.lower = append(c.lower, r.Lower)
	c.upper = append(c.upper, r.Upper)
	c.score = append(c.score, r.Score)
	c.deviation = append(c.deviation, r.Deviation)
	if c.reason != nil {
		c.reason = append(c.reason, r.Reason)
	}
}

// frame builds the series' frame of observed rows: time, then the wanted fields; nil when the
// query keeps none of them (e.g. only the forecast, for an alert rule).
func (c *columns) frame(name string, labels data.Labels, q *models.Query) *data.Frame {
	n := len(c.times)
	f := data.NewFrame(name, data.NewField("time", nil, c.times))
	f.Meta = &data.FrameMeta{}
	add := func(field string, fl *data.Field) {
		fl.Name, fl.Labels, fl.Config = field, labels, fieldConfig(name, field, q)
		f.Fields = append(f.Fields, fl)
	}
	for _, col := range []struct {
		field string
		vals  []float64
	}{{models.FieldValue, c.value}, {models.FieldBaseline, c.baseline}, {models.FieldLower, c.lower}, {models.FieldUpper, c.upper},
		{models.FieldScore, c.score}, {models.FieldReason, nil}, {models.FieldDeviation, c.deviation}} {
		switch {
		case !q.Keep(col.field):
		case col.field == models.FieldReason:
			if c.reason != nil {
				add(col.field, reasonField(c.reason))
			}
		default:
			add(col.field, data.NewField("", nil, column(col.vals, n)))
		}
	}
	if len(f.Fields) == 1 {
		return nil
	}
	return f
}

// reasonField names each row's reason; empty below the score the engine gives reasons from
// (anomaly.ReasonMinScore), so that tables show a reason only where there is one. The field is
// made at its size and only the rows with a reason are set (data.NewField would copy a slice).
func reasonField(rs []anomaly.Reason) *data.Field {
	fl := data.NewFieldFromFieldType(data.FieldTypeString, len(rs))
	for i, r := range rs {
		if r != anomaly.ReasonNone {
			fl.Set(i, r.String())
		}
	}
	return fl
}

// forecastFrame is the series' forecast as a frame of its own: the future rows only, every
// field set on every row, so that every reducer of an alert rule (max, mean, last...) has
// numbers to work on. nil for anomaly queries and when the query keeps no forecast field.
func forecastFrame(name string, labels data.Labels, q *models.Query, last time.Time, path []anomaly.Forecast) *data.Frame {
	if q.Type != models.QueryTypeForecast || !slices.ContainsFunc([]string{models.FieldForecast, models.FieldForecastLower, models.FieldForecastUpper}, q.Keep) {
		return nil
	}
	times := make([]time.Time, len(path))
	fv, fl, fu := make([]float64, len(path)), make([]float64, len(path)), make([]float64, len(path))
	for i, p := range path {
		times[i], fv[i], fl[i], fu[i] = last.Add(p.Horizon), p.Value, p.Lower, p.Upper
	}
	f := data.NewFrame(name+" forecast", data.NewField("time", nil, times))
	f.Meta = &data.FrameMeta{}
	for _, c := range []struct {
		field string
		vals  []float64
	}{{models.FieldForecast, fv}, {models.FieldForecastLower, fl}, {models.FieldForecastUpper, fu}} {
		if q.Keep(c.field) {
			fl := data.NewField(c.field, labels, column(c.vals, len(c.vals)))
			fl.Config = fieldConfig(name, c.field, q)
			f.Fields = append(f.Fields, fl)
		}
	}
	return f
}

// column returns the field values: vals itself when its values are all finite (most series:
// no pointers for the garbage collector to scan), else a nullable column with null for the
// non-finite ones.
func column(vals []float64, n int) any {
	vals = vals[:n]
	for _, v := range vals {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nullable(vals)
		}
	}
	return vals
}

// nullable returns a pointer per value, nil for non-finite ones; the pointers share vals as
// their backing array.
func nullable(vals []float64) []*float64 {
	out := make([]*float64, len(vals))
	for i := range vals {
		if v := vals[i]; !math.IsNaN(v) && !math.IsInf(v, 0) {
			out[i] = &vals[i]
		}
	}
	return out
}

// fieldConfig names each field after its series ("<series> baseline") so that display names
// are unique per series, draws the band as a fill from upper down to the matching lower, and
// puts the score on its own 0..1 axis.
func fieldConfig(name, field string, q *models.Query) *data.FieldConfig {
	c := &data.FieldConfig{DisplayNameFromDS: name + " " + field}
	hideLegend := map[string]any{"legend": true, "tooltip": false, "viz": false}
	switch field {
	case models.FieldValue:
		c.DisplayNameFromDS = name
	case models.FieldBaseline:
		c.Custom = map[string]any{"lineWidth": 1, "lineStyle": map[string]any{"fill": "dash", "dash": []int{10, 10}}}
		c.Description = "expected value learned by the Kizashi engine"
	case models.FieldUpper:
		c.Custom = map[string]any{"fillBelowTo": name + " " + models.FieldLower, "lineWidth": 0, "fillOpacity": 20, "hideFrom": hideLegend}
		c.Description = "upper bound of the normal band"
	case models.FieldLower:
		c.Custom = map[string]any{"lineWidth": 0, "hideFrom": hideLegend}
		c.Description = "lower bound of the normal band"
	case models.FieldScore:
		c.Unit = "percentunit"
		c.Min, c.Max = confFloat(0), confFloat(1)
		c.Custom = map[string]any{"axisPlacement": "right", "axisLabel": "anomaly score", "axisSoftMin": 0, "axisSoftMax": 1}
		c.Description = "anomaly score in [0,1], calibrated so one threshold serves every series"
	case models.FieldReason:
		c.Description = "kind of evidence behind a score of 0.5 or more: spike, level_shift, pattern_change, variance_change, quiet or beyond_range (empty below 0.5)"
	case models.FieldDeviation:
		c.Custom = map[string]any{"hideFrom": map[string]any{"legend": true, "tooltip": false, "viz": true}}
		c.Description = "signed residual in robust sigmas"
	case models.FieldForecast:
		c.Custom = map[string]any{"lineWidth": 1, "lineStyle": map[string]any{"fill": "dot"}}
		c.Description = "point forecast"
		if q.Threshold != nil {
			c.Custom["thresholdsStyle"] = map[string]any{"mode": "line+area"}
			c.Thresholds = &data.ThresholdsConfig{Mode: data.ThresholdsModeAbsolute, Steps: []data.Threshold{
				data.NewThreshold(math.Inf(-1), "transparent", ""), data.NewThreshold(*q.Threshold, "red", ""),
			}}
		}
	case models.FieldForecastUpper:
		c.Custom = map[string]any{"fillBelowTo": name + " " + models.FieldForecastLower, "lineWidth": 0, "fillOpacity": 10, "hideFrom": hideLegend}
		c.Description = "upper bound of the 95% prediction interval"
	case models.FieldForecastLower:
		c.Custom = map[string]any{"lineWidth": 0, "hideFrom": hideLegend}
		c.Description = "lower bound of the 95% prediction interval"
	}
	return c
}

func confFloat(v float64) *data.ConfFloat64 {
	f := data.ConfFloat64(v)
	return &f
}

// etaFrame is a table of the time until each series' forecast crosses the threshold.
func etaFrame(results []seriesResult, threshold float64, within time.Duration) *data.Frame {
	series := make([]string, 0, len(results))
	eta := make([]*float64, 0, len(results))
	for _, r := range results {
		if !r.hasETA {
			continue
		}
		series = append(series, r.name)
		if r.etaOK {
			s := r.eta.Seconds()
			eta = append(eta, &s)
		} else {
			eta = append(eta, nil)
		}
	}
	etaField := data.NewField(models.FieldBreachETA, nil, eta)
	etaField.Config = &data.FieldConfig{Unit: "s", NoValue: fmt.Sprintf("no breach within %s", model.Duration(within)),
		Description: fmt.Sprintf("time from the last sample until the forecast crosses %g", threshold)}
	f := data.NewFrame("breach ETA", data.NewField("series", nil, series), etaField)
	f.Meta = &data.FrameMeta{PreferredVisualization: data.VisTypeTable,
		Custom: map[string]any{"threshold": threshold, "within": model.Duration(within).String()}}
	return f
}

// seriesLabels are the series' labels without the metric name (the frame carries the name).
func seriesLabels(m model.Metric) data.Labels {
	out := make(data.Labels, len(m))
	for k, v := range m {
		if k != model.MetricNameLabel {
			out[string(k)] = string(v)
		}
	}
	return out
}

var legendRe = regexp.MustCompile(`\{\{\s*(.+?)\s*\}\}`)

// displayNames names each series from the legend format, or its labels; names are unique:
// a legend that gives two series the same name falls back to their full label sets.
func displayNames(series []prom.Series, legend, expr string) []string {
	names := make([]string, len(series))
	seen := map[string]int{}
	for i, s := range series {
		names[i] = seriesName(s.Metric, legend, expr)
		seen[names[i]]++
	}
	for i, s := range series {
		if seen[names[i]] > 1 {
			names[i] = seriesName(s.Metric, "", expr)
		}
	}
	return names
}

func seriesName(m model.Metric, legend, expr string) string {
	if legend != "" {
		return legendRe.ReplaceAllStringFunc(legend, func(s string) string {
			return string(m[model.LabelName(strings.TrimSpace(s[2:len(s)-2]))])
		})
	}
	if len(m) == 0 {
		return expr
	}
	return m.String()
}

// panelRange names the query's time range in messages, as the panel shows it.
func panelRange(q *models.Query) string {
	return fmt.Sprintf("panel range %s..%s", q.From.UTC().Format(time.RFC3339), q.To.UTC().Format(time.RFC3339))
}

// panelSteps returns the first and last multiples of the query's step within its time range.
func panelSteps(q *models.Query) (start, end time.Time, err error) {
	start, end = alignUp(q.From, q.Step), alignDown(q.To, q.Step)
	if end.Before(start) {
		return start, end, fmt.Errorf("time range %s..%s holds no step of %s", q.From.Format(time.RFC3339), q.To.Format(time.RFC3339), q.Step)
	}
	return start, end, nil
}

func alignDown(t time.Time, step time.Duration) time.Time {
	return time.Unix(0, t.UnixNano()/int64(step)*int64(step)).UTC()
}

func alignUp(t time.Time, step time.Duration) time.Time {
	a := alignDown(t, step)
	if a.Before(t) {
		a = a.Add(step)
	}
	return a
}
