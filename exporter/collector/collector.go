// Package collector publishes the models' results on /metrics: kizashi_value, _baseline, _lower,
// _upper, _anomaly_score, _deviation, _model_ready, _forecast{horizon} (+ _lower/_upper) and
// _breach_eta_seconds{threshold}, each with the raw series' labels plus kizashi_query, next to
// the exporter's own kizashi_exporter_* metrics.
//
// Like node_exporter, the series are built per scrape from the current state, never kept in
// metric vectors. They are written in the text exposition format directly from the registry's
// precomputed label strings rather than through prometheus.NewDesc / MustNewConstMetric: with
// 100k series and about 15 samples each, client_golang's Gather (a dto.Metric per sample,
// sorting and consistency checks) would take most of the scrape budget and hundreds of MiB.
//
// A raw series' metric name (__name__) is published as the label kizashi_metric; raw labels
// named kizashi_query, kizashi_metric, horizon or threshold become exported_<name>.
package collector

import (
	"bufio"
	"compress/gzip"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"

	"github.com/kizashi-dev/kizashi/exporter/registry"
)

// family is one published metric: fn returns the value of a series (ok false: no sample).
type family struct {
	name, help string
	// extra is the label added to the series (horizon, threshold), empty for none.
	extra func(q *registry.Query) []string
	value func(p *registry.Published, i int) (float64, bool)
}

func one(*registry.Query) []string { return []string{""} }

func horizons(q *registry.Query) []string {
	c := q.Config()
	out := make([]string, len(c.Horizons))
	for i, h := range c.Horizons {
		out[i] = `horizon="` + h.String() + `"`
	}
	return out
}

func thresholds(q *registry.Query) []string {
	c := q.Config()
	out := make([]string, len(c.Thresholds))
	for i, th := range c.Thresholds {
		out[i] = `threshold="` + strconv.FormatFloat(th, 'g', -1, 64) + `"`
	}
	return out
}

func forecast(f func(p *registry.Published, i int) float64) func(p *registry.Published, i int) (float64, bool) {
	return func(p *registry.Published, i int) (float64, bool) {
		if i >= len(p.Forecasts) {
			return 0, false
		}
		return f(p, i), true
	}
}

func always(f func(p *registry.Published) float64) func(p *registry.Published, i int) (float64, bool) {
	return func(p *registry.Published, _ int) (float64, bool) { return f(p), true }
}

var families = []family{
	{"kizashi_value", "The value of the series the model learned last (the query's result, so expressions without a metric name can be charted next to their band).", one,
		always(func(p *registry.Published) float64 { return p.Value })},
	{"kizashi_baseline", "Expected value of the series at its last sample.", one,
		always(func(p *registry.Published) float64 { return p.Result.Baseline })},
	{"kizashi_lower", "Lower bound of the normal band at the last sample.", one,
		always(func(p *registry.Published) float64 { return p.Result.Lower })},
	{"kizashi_upper", "Upper bound of the normal band at the last sample.", one,
		always(func(p *registry.Published) float64 { return p.Result.Upper })},
	{"kizashi_anomaly_score", "Calibrated anomaly score in [0,1]; one threshold serves every series.", one,
		always(func(p *registry.Published) float64 { return p.Result.Score })},
	{"kizashi_deviation", "Signed deviation of the last sample from the baseline, in robust standard deviations.", one,
		always(func(p *registry.Published) float64 { return p.Result.Deviation })},
	{"kizashi_model_ready", "1 if the model has learned enough to be trusted, else 0.", one,
		always(func(p *registry.Published) float64 {
			if p.Result.Ready {
				return 1
			}
			return 0
		})},
	{"kizashi_forecast", "Point forecast of the series at the horizon after its last sample.", horizons,
		forecast(func(p *registry.Published, i int) float64 { return p.Forecasts[i].Value })},
	{"kizashi_forecast_lower", "Lower bound of the 95% prediction interval at the horizon.", horizons,
		forecast(func(p *registry.Published, i int) float64 { return p.Forecasts[i].Lower })},
	{"kizashi_forecast_upper", "Upper bound of the 95% prediction interval at the horizon.", horizons,
		forecast(func(p *registry.Published, i int) float64 { return p.Forecasts[i].Upper })},
	{"kizashi_breach_eta_seconds", "Time from the last sample until the forecast crosses the threshold (absent: no crossing forecast within breach_within).", thresholds,
		func(p *registry.Published, i int) (float64, bool) {
			if i >= len(p.ETAs) || math.IsNaN(p.ETAs[i]) {
				return 0, false
			}
			return p.ETAs[i], true
		}},
}

// batch is how many series are written per read lock of a query.
const batch = 512

// WriteText writes the kizashi_* families of the queries in the text exposition format.
func WriteText(w io.Writer, queries []*registry.Query) error {
	bw, ok := w.(*bufio.Writer)
	if !ok {
		bw = bufio.NewWriterSize(w, 64<<10)
	}
	var buf []byte
	for _, f := range families {
		buf = append(buf[:0], "# HELP "...)
		buf = append(buf, f.name...)
		buf = append(buf, ' ')
		buf = append(buf, f.help...)
		buf = append(buf, "\n# TYPE "...)
		buf = append(buf, f.name...)
		buf = append(buf, " gauge\n"...)
		if _, err := bw.Write(buf); err != nil {
			return fmt.Errorf("write %s: %w", f.name, err)
		}
		for _, q := range queries {
			extras := f.extra(q)
			var werr error
			q.Range(batch, func(s *registry.Series) {
				if werr != nil {
					return
				}
				p := s.Published()
				buf = buf[:0]
				for i, extra := range extras {
					v, ok := f.value(p, i)
					if !ok {
						continue
					}
					buf = append(buf, f.name...)
					buf = append(buf, '{')
					buf = append(buf, s.Prefix()...)
					if extra != "" {
						buf = append(buf, ',')
						buf = append(buf, extra...)
					}
					buf = append(buf, "} "...)
					buf = appendFloat(buf, v)
					buf = append(buf, '\n')
				}
				_, werr = bw.Write(buf)
			})
			if werr != nil {
				return fmt.Errorf("write %s: %w", f.name, werr)
			}
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write metrics: %w", err)
	}
	return nil
}

func appendFloat(b []byte, v float64) []byte {
	switch {
	case math.IsNaN(v):
		return append(b, "NaN"...)
	case math.IsInf(v, 1):
		return append(b, "+Inf"...)
	case math.IsInf(v, -1):
		return append(b, "-Inf"...)
	}
	return strconv.AppendFloat(b, v, 'g', -1, 64)
}

// Handler serves /metrics: the exporter's own metrics from Gatherer, then the kizashi_*
// families of the queries Queries returns, in the text format (gzip when accepted).
type Handler struct {
	Gatherer prometheus.Gatherer
	Queries  func() []*registry.Query
	Logger   *slog.Logger
	// Duration, if set, observes the time spent writing each scrape.
	Duration prometheus.Observer
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	mfs, err := h.Gatherer.Gather()
	if err != nil {
		// Like promhttp's ContinueOnError: log and serve what was gathered.
		h.Logger.Error("gather self-metrics", "err", err)
	}
	w.Header().Set("Content-Type", string(expfmt.NewFormat(expfmt.TypeTextPlain)))
	var out io.Writer = w
	var gz *gzip.Writer
	if acceptsGzip(r) {
		w.Header().Set("Content-Encoding", "gzip")
		gz, _ = gzip.NewWriterLevel(w, gzip.BestSpeed)
		out = gz
	}
	bw := bufio.NewWriterSize(out, 64<<10)
	if err := writeFamilies(bw, mfs); err != nil {
		h.Logger.Debug("write metrics", "err", err)
		return
	}
	if err := WriteText(bw, h.Queries()); err != nil {
		h.Logger.Debug("write metrics", "err", err)
		return
	}
	if gz != nil {
		if err := gz.Close(); err != nil {
			h.Logger.Debug("write metrics", "err", err)
			return
		}
	}
	if h.Duration != nil {
		h.Duration.Observe(time.Since(start).Seconds())
	}
}

func writeFamilies(w io.Writer, mfs []*dto.MetricFamily) error {
	enc := expfmt.NewEncoder(w, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			return fmt.Errorf("encode %s: %w", mf.GetName(), err)
		}
	}
	return nil
}

func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		enc, _, _ := strings.Cut(strings.TrimSpace(part), ";")
		if enc == "gzip" {
			return true
		}
	}
	return false
}
