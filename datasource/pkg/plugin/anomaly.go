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
		panelStart.UTC().Format(time.RFC3339), q.WarmUp, rng.Requests)

	results := make([]seriesResult, len(runners))
	d.parallel(ctx, len(runners), func(i int) { results[i] = runners[i].finish(names[i], q) })
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("run engine: %w", err)
	}
	frames := make(data.Frames, 0, len(results)+1)
	for _, r := range results {
		r.frame.Meta.ExecutedQueryString = executed
		frames = append(frames, r.frame)
	}
	if len(frames) > 0 && len(rng.Warnings) > 0 {
		for _, w := range rng.Warnings {
			frames[0].AppendNotices(data.Notice{Severity: data.NoticeSeverityWarning, Text: "Prometheus: " + w})
		}
	}
	if q.Type == models.QueryTypeForecast && q.Threshold != nil {
		frames = append(frames, etaFrame(results, *q.Threshold, q.Horizon))
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

// seriesResult is the engine's output for one series.
type seriesResult struct {
	name   string
	frame  *data.Frame
	eta    time.Duration
	etaOK  bool
	hasETA bool
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
			r.cols = newColumns(r.rows)
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
		r.cols = newColumns(0)
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
				res.eta, res.etaOK = m.DropETA(*q.Threshold, q.Horizon)
			} else {
				res.eta, res.etaOK = m.BreachETA(*q.Threshold, q.Horizon)
			}
		}
	}
	res.frame = r.cols.frame(name, seriesLabels(r.metric), q, m.LastTime(), path)
	rd := m.Readiness()
	res.frame.Meta.Custom = map[string]any{
		"ready": rd.Ready, "daily": rd.Daily, "weekly": rd.Weekly, "trend": rd.Trend,
	}
	if !rd.Ready && r.samples > 0 {
		res.frame.AppendNotices(data.Notice{Severity: data.NoticeSeverityWarning,
			Text: fmt.Sprintf("%s: model not ready (%s); a longer warm-up gives it more history", name, rd.Reason)})
	}
	return res
}

// columns accumulates the per-sample outputs, one backing array per field.
type columns struct {
	times                                           []time.Time
	value, baseline, lower, upper, score, deviation []float64
}

func newColumns(n int) *columns {
	back := make([]float64, 6*n)
	c := &columns{times: make([]time.Time, 0, n)}
	for i, dst := range []*[]float64{&c.value, &c.baseline, &c.lower, &c.upper, &c.score, &c.deviation} {
		*dst = back[i*n : i*n : (i+1)*n]
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
}

// frame builds the series' frame: time, then the wanted fields; with a forecast path, future
// rows follow the observed ones and the forecast fields are null before them.
func (c *columns) frame(name string, labels data.Labels, q *models.Query, last time.Time, path []anomaly.Forecast) *data.Frame {
	n, total := len(c.times), len(c.times)+len(path)
	times := c.times
	if len(path) > 0 {
		times = make([]time.Time, total)
		copy(times, c.times)
		for i, f := range path {
			times[n+i] = last.Add(f.Horizon)
		}
	}
	f := data.NewFrame(name, data.NewField("time", nil, times))
	f.Meta = &data.FrameMeta{}
	add := func(field string, vals []float64, offset int) {
		if !q.Keep(field) {
			return
		}
		fl := data.NewField(field, labels, column(vals, offset, total))
		fl.Config = fieldConfig(name, field, q)
		f.Fields = append(f.Fields, fl)
	}
	add(models.FieldValue, c.value, 0)
	add(models.FieldBaseline, c.baseline, 0)
	add(models.FieldLower, c.lower, 0)
	add(models.FieldUpper, c.upper, 0)
	add(models.FieldScore, c.score, 0)
	add(models.FieldDeviation, c.deviation, 0)
	if q.Type == models.QueryTypeForecast {
		fv, fl, fu := make([]float64, len(path)), make([]float64, len(path)), make([]float64, len(path))
		for i, p := range path {
			fv[i], fl[i], fu[i] = p.Value, p.Lower, p.Upper
		}
		add(models.FieldForecast, fv, n)
		add(models.FieldForecastLower, fl, n)
		add(models.FieldForecastUpper, fu, n)
	}
	return f
}

// column returns the field values: vals itself when it fills the frame with finite values
// (most series: no pointers for the garbage collector to scan), else a nullable column.
func column(vals []float64, offset, total int) any {
	if offset == 0 && len(vals) == total {
		finite := true
		for _, v := range vals {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				finite = false
				break
			}
		}
		if finite {
			return vals
		}
	}
	return nullable(vals, offset, total)
}

// nullable returns total pointers, vals at [offset, offset+len(vals)), nil elsewhere and for
// non-finite values; the pointers share vals as their backing array.
func nullable(vals []float64, offset, total int) []*float64 {
	out := make([]*float64, total)
	for i := range vals {
		if v := vals[i]; !math.IsNaN(v) && !math.IsInf(v, 0) {
			out[offset+i] = &vals[i]
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
	etaField := data.NewField("breach eta", nil, eta)
	etaField.Config = &data.FieldConfig{Unit: "s", NoValue: fmt.Sprintf("no breach within %s", within),
		Description: fmt.Sprintf("time from the last sample until the forecast crosses %g", threshold)}
	f := data.NewFrame("breach ETA", data.NewField("series", nil, series), etaField)
	f.Meta = &data.FrameMeta{PreferredVisualization: data.VisTypeTable,
		Custom: map[string]any{"threshold": threshold, "within": within.String()}}
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
