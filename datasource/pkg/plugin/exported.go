package plugin

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/data"
	"github.com/prometheus/common/model"

	"github.com/kizashi-dev/kizashi/anomaly"
	"github.com/kizashi-dev/kizashi/datasource/pkg/models"
	"github.com/kizashi-dev/kizashi/datasource/pkg/prom"
	"github.com/kizashi-dev/kizashi/exporter/metricnames"
)

// Labels the exporter adds to every series it publishes: the query name, and the raw
// series' metric name.
const (
	exportedQueryLabel  = metricnames.LabelQuery
	exportedMetricLabel = metricnames.LabelMetric
)

// exportedFields maps the exporter's metric names the exported query reads to the frame
// fields they fill.
var exportedFields = map[string]string{
	metricnames.Baseline:     models.FieldBaseline,
	metricnames.Lower:        models.FieldLower,
	metricnames.Upper:        models.FieldUpper,
	metricnames.AnomalyScore: models.FieldScore,
	metricnames.Deviation:    models.FieldDeviation,
}

// exportedMetrics are the exporter's metric names the exported query reads, as a regexp.
var exportedMetrics = strings.Join([]string{metricnames.Baseline, metricnames.Lower, metricnames.Upper,
	metricnames.AnomalyScore, metricnames.Deviation}, "|")

// exportedField maps one of the exporter's metric names to the frame field it fills.
func exportedField(metric string) (string, bool) {
	f, ok := exportedFields[metric]
	return f, ok
}

// rawIdentity returns the labels of the raw series an exported series was computed from: the
// exporter publishes the raw metric name as the label kizashi_metric, and adds kizashi_query.
func rawIdentity(m model.Metric) model.Metric {
	out := m.Clone()
	delete(out, model.MetricNameLabel)
	delete(out, exportedQueryLabel)
	if name, ok := out[exportedMetricLabel]; ok {
		out[model.MetricNameLabel] = name
		delete(out, exportedMetricLabel)
	}
	return out
}

// exportedAny selects every series the exporter publishes with a query name.
const exportedAny = `{__name__=~"kizashi_.+",` + exportedQueryLabel + `!=""}`

// exportedSelector selects the exporter's series of one query name.
func exportedSelector(queryName string) string {
	return fmt.Sprintf(`{__name__=~%q,%s=%s}`, exportedMetrics, exportedQueryLabel, strconv.Quote(queryName))
}

// queryExported reads what the exporter published for a query name (and, if the query has an
// expression, the raw series too) and returns frames shaped like an anomaly query's. Nothing
// is computed.
func (d *Datasource) queryExported(ctx context.Context, q *models.Query) (data.Frames, error) {
	start, end, err := panelSteps(q)
	if err != nil {
		return nil, err
	}
	lim := d.limits()
	lim.MaxSeries *= 5 // one series per exported metric
	sel := exportedSelector(q.QueryName)
	rng, err := d.prom.QueryRange(ctx, sel, start, end, q.Step, lim)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", panelRange(q), err)
	}
	if len(rng.Series) == 0 {
		if err := d.checkExportedName(ctx, q); err != nil {
			return nil, err
		}
	}
	series := rng.Series
	if q.Expr != "" {
		raw, err := d.prom.QueryRange(ctx, q.Expr, start, end, q.Step, d.limits())
		if err != nil {
			return nil, fmt.Errorf("raw series: %s: %w", panelRange(q), err)
		}
		series = append(series, raw.Series...)
	}

	// Group by the raw series' identity: its own labels, as the exporter published them.
	n := prom.Points(start, end, q.Step)
	type group struct {
		metric model.Metric
		cols   map[string][]float64
	}
	groups := map[model.Fingerprint]*group{}
	var order []*group
	for _, s := range series {
		field := models.FieldValue
		if s.Metric[exportedQueryLabel] == model.LabelValue(q.QueryName) {
			f, ok := exportedField(string(s.Metric[model.MetricNameLabel]))
			if !ok {
				continue
			}
			field = f
		}
		key := s.Metric
		if field != models.FieldValue {
			key = rawIdentity(s.Metric)
		}
		g, ok := groups[key.Fingerprint()]
		if !ok {
			g = &group{metric: key, cols: map[string][]float64{}}
			groups[key.Fingerprint()] = g
			order = append(order, g)
		}
		col := make([]float64, n)
		for i := range col {
			col[i] = math.NaN()
		}
		for _, p := range s.Samples {
			if i := int(p.Timestamp.Time().Sub(start) / q.Step); i >= 0 && i < n {
				col[i] = float64(p.Value)
			}
		}
		g.cols[field] = col
	}
	slices.SortFunc(order, func(a, b *group) int { return strings.Compare(a.metric.String(), b.metric.String()) })
	grouped := make([]prom.Series, len(order))
	for i, g := range order {
		grouped[i] = prom.Series{Metric: g.metric}
	}
	names := displayNames(grouped, q.LegendFormat, q.QueryName)

	frames := make(data.Frames, 0, len(order))
	for gi, g := range order {
		cols := newColumns(n, false)
		get := func(field string, i int) float64 {
			if c, ok := g.cols[field]; ok {
				return c[i]
			}
			return math.NaN()
		}
		for i := range n {
			r := anomaly.Result{Baseline: get(models.FieldBaseline, i), Lower: get(models.FieldLower, i), Upper: get(models.FieldUpper, i),
				Score: get(models.FieldScore, i), Deviation: get(models.FieldDeviation, i)}
			v := get(models.FieldValue, i)
			if allNaN(v, r.Baseline, r.Lower, r.Upper, r.Score, r.Deviation) {
				continue
			}
			cols.add(start.Add(time.Duration(i)*q.Step), v, r)
		}
		if f := cols.frame(names[gi], seriesLabels(g.metric), q); f != nil {
			f.Meta.ExecutedQueryString = sel
			frames = append(frames, f)
		}
	}
	return frames, nil
}

// maxNamesShown bounds the query names an error lists.
const maxNamesShown = 20

// unknownNameError: the exporter publishes no series under the query's name (the user's
// mistake: a bad request).
type unknownNameError struct{ msg string }

func (e *unknownNameError) Error() string { return e.msg }

// checkExportedName returns an error, listing the names the exporter publishes in the
// panel's range, when the query's name is not one of them: a typo must not look like "no data".
func (d *Datasource) checkExportedName(ctx context.Context, q *models.Query) error {
	known, err := d.prom.LabelValues(ctx, exportedQueryLabel, []string{exportedAny}, q.From, q.To)
	if err != nil {
		return fmt.Errorf("list the exporter's query names: %w", err)
	}
	if slices.Contains(known, q.QueryName) {
		return nil
	}
	slices.Sort(known)
	list := "nothing (is kizashi-exporter scraped by this Prometheus, with honor_labels: true?)"
	if len(known) > 0 {
		list = strings.Join(known[:min(len(known), maxNamesShown)], ", ")
		if len(known) > maxNamesShown {
			list += fmt.Sprintf(" and %d more", len(known)-maxNamesShown)
		}
	}
	return &unknownNameError{fmt.Sprintf("the exporter publishes no query %q in the %s; it publishes: %s", q.QueryName, panelRange(q), list)}
}

func allNaN(vs ...float64) bool {
	for _, v := range vs {
		if !math.IsNaN(v) {
			return false
		}
	}
	return true
}
