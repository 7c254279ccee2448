// Package collector publishes the models' results on /metrics: the families of
// metricnames.Families a query selects (queryconfig.Query.Publish; by default kizashi_anomaly_score,
// _anomaly_reason{reason} while the score is at least 0.5, _lower, _upper, _forecast{horizon}
// at the longest horizon and _breach_eta_seconds{threshold}), each with the raw series' labels
// plus kizashi_query, next to the exporter's own kizashi_exporter_* metrics.
//
// Like node_exporter, the series are built per scrape from the current state, never kept in
// metric vectors. They are written in the text exposition format directly from the series set's
// precomputed label strings rather than through prometheus.NewDesc / MustNewConstMetric: with
// 100k series and about 15 samples each, client_golang's Gather (a dto.Metric per sample,
// sorting and consistency checks) would take most of the scrape budget and hundreds of MiB.
// This writer is fuzzed against expfmt's and Prometheus' own text parsers (FuzzExposition).
//
// The format is negotiated as client_golang's promhttp does (package exposition): label names
// that are not legacy names (service.name) are quoted for scrapers that accept UTF-8 names
// (escaping=allow-utf-8, Prometheus 3) and escaped for the others (Prometheus 2).
//
// A raw series' metric name (__name__) is published as the label kizashi_metric; raw labels
// named kizashi_query, kizashi_metric, horizon or threshold become exported_<name>; label names
// stay unique (see seriesset.Series.Labels). Two series whose published labels are equal (raw
// label sets that differ only in names that escape alike, such as service.name and
// service_name for a scraper that wants underscores) would be one series to Prometheus: the
// first modelled is written, the others are left out (seriesset.Series.Shadowed) and counted.
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
	"github.com/prometheus/common/model"

	"github.com/kizashi-dev/kizashi/anomaly"
	"github.com/kizashi-dev/kizashi/exporter/exposition"
	"github.com/kizashi-dev/kizashi/exporter/metricnames"
	"github.com/kizashi-dev/kizashi/exporter/seriesset"
)

// family is one published metric: value returns the value of a series for its i-th extra
// label (ok false: no sample).
type family struct {
	metricnames.Family
	// extra returns the labels added to the series (horizon, threshold, reason), with the
	// index value receives for each; nil: one sample without an extra label.
	extra func(q *seriesset.Query, horizons []int) []extra
	value func(p *seriesset.Published, i int) (float64, bool)
}

// extra is a label added to a family's series and the index its value is read with.
type extra struct {
	label string
	i     int
}

func horizonLabels(q *seriesset.Query, sel []int) []extra {
	c := q.Config()
	out := make([]extra, 0, len(sel))
	for _, i := range sel {
		out = append(out, extra{metricnames.LabelHorizon + `="` + c.Horizons[i].String() + `"`, i})
	}
	return out
}

func thresholdLabels(q *seriesset.Query, _ []int) []extra {
	c := q.Config()
	out := make([]extra, len(c.Thresholds))
	for i, th := range c.Thresholds {
		out[i] = extra{metricnames.LabelThreshold + `="` + strconv.FormatFloat(th, 'g', -1, 64) + `"`, i}
	}
	return out
}

// reasonLabels are the reasons other than none: kizashi_anomaly_reason{reason} is written
// for the series' reason only, and not at all while it is none.
var reasonLabels = func() []extra {
	var out []extra
	for _, r := range anomaly.Reasons()[1:] {
		out = append(out, extra{metricnames.LabelReason + `="` + r.String() + `"`, int(r)})
	}
	return out
}()

func reasons(*seriesset.Query, []int) []extra { return reasonLabels }

func forecast(f func(p *seriesset.Published, i int) float64) func(p *seriesset.Published, i int) (float64, bool) {
	return func(p *seriesset.Published, i int) (float64, bool) {
		if i >= len(p.Forecasts) {
			return 0, false
		}
		return f(p, i), true
	}
}

func always(f func(p *seriesset.Published) float64) func(p *seriesset.Published, i int) (float64, bool) {
	return func(p *seriesset.Published, _ int) (float64, bool) { return f(p), true }
}

// values are how each published family is computed, by name.
var values = map[string]func(p *seriesset.Published, i int) (float64, bool){
	metricnames.Value:         always(func(p *seriesset.Published) float64 { return p.Value }),
	metricnames.Baseline:      always(func(p *seriesset.Published) float64 { return p.Result.Baseline }),
	metricnames.Lower:         always(func(p *seriesset.Published) float64 { return p.Result.Lower }),
	metricnames.Upper:         always(func(p *seriesset.Published) float64 { return p.Result.Upper }),
	metricnames.AnomalyScore:  always(func(p *seriesset.Published) float64 { return p.Result.Score }),
	metricnames.AnomalyReason: func(p *seriesset.Published, i int) (float64, bool) { return p.Result.Score, int(p.Result.Reason) == i },
	metricnames.Deviation:     always(func(p *seriesset.Published) float64 { return p.Result.Deviation }),
	metricnames.ModelReady: always(func(p *seriesset.Published) float64 {
		if p.Result.Ready {
			return 1
		}
		return 0
	}),
	metricnames.Forecast:      forecast(func(p *seriesset.Published, i int) float64 { return p.Forecasts[i].Value }),
	metricnames.ForecastLower: forecast(func(p *seriesset.Published, i int) float64 { return p.Forecasts[i].Lower }),
	metricnames.ForecastUpper: forecast(func(p *seriesset.Published, i int) float64 { return p.Forecasts[i].Upper }),
	metricnames.BreachETA: func(p *seriesset.Published, i int) (float64, bool) {
		if i >= len(p.ETAs) || math.IsNaN(p.ETAs[i]) {
			return 0, false
		}
		return p.ETAs[i], true
	},
}

// families are metricnames.Families with their values and extra labels; a family without a
// value panics at start (a name added to the table and not here).
var families = func() []family {
	out := make([]family, len(metricnames.Families))
	for i, f := range metricnames.Families {
		v, ok := values[f.Name]
		if !ok {
			panic("collector: no value for " + f.Name)
		}
		var extra func(q *seriesset.Query, horizons []int) []extra
		switch f.Label {
		case metricnames.LabelHorizon:
			extra = horizonLabels
		case metricnames.LabelThreshold:
			extra = thresholdLabels
		case metricnames.LabelReason:
			extra = reasons
		}
		out[i] = family{Family: f, extra: extra, value: v}
	}
	return out
}()

var noExtra = []extra{{}}

// plan returns the extra labels of family f for query q, nil if q does not publish f.
func plan(f *family, q *seriesset.Query) []extra {
	c := q.Config()
	ok, horizons := c.Publishes(strings.TrimPrefix(f.Name, "kizashi_"))
	if !ok {
		return nil
	}
	if f.extra == nil {
		return noExtra
	}
	return f.extra(q, horizons)
}

// batch is how many series are formatted per read lock of a query; the text is written to the
// scraper after the lock is released, so memory is bounded by a batch (about 100 KiB).
const batch = 512

// WriteText writes the kizashi_* families of the queries in the text exposition format, with
// label names spelled for scheme (see package exposition). It returns how many series were
// left out because their published labels equal those of an earlier series
// (seriesset.Series.Shadowed). Nothing is written to w while a query's lock is held.
func WriteText(w io.Writer, queries []*seriesset.Query, scheme model.EscapingScheme) (duplicates int, err error) {
	buf := make([]byte, 0, 64<<10)
	counted := make([]bool, len(queries))
	flush := func() error {
		_, err := w.Write(buf)
		buf = buf[:0]
		return err
	}
	for fi, f := range families {
		buf = append(buf, "# HELP "...)
		buf = append(buf, f.Name...)
		buf = append(buf, ' ')
		buf = append(buf, f.Help...)
		buf = append(buf, "\n# TYPE "...)
		buf = append(buf, f.Name...)
		buf = append(buf, " gauge\n"...)
		for qi, q := range queries {
			extras := plan(&families[fi], q)
			if len(extras) == 0 {
				continue
			}
			first := !counted[qi] // duplicates are counted in the query's first family
			counted[qi] = true
			err := q.Range(batch, func(s *seriesset.Series) {
				if s.Shadowed(scheme) {
					if first {
						duplicates++
					}
					return
				}
				labels := s.Labels(scheme)
				p := s.Published()
				for _, x := range extras {
					v, ok := f.value(p, x.i)
					if !ok {
						continue
					}
					buf = append(buf, f.Name...)
					buf = append(buf, '{')
					buf = append(buf, labels...)
					if x.label != "" {
						buf = append(buf, ',')
						buf = append(buf, x.label...)
					}
					buf = append(buf, "} "...)
					buf = exposition.AppendFloat(buf, v)
					buf = append(buf, '\n')
				}
			}, flush)
			if err != nil {
				return duplicates, fmt.Errorf("write %s: %w", f.Name, err)
			}
		}
	}
	if err := flush(); err != nil {
		return duplicates, fmt.Errorf("write metrics: %w", err)
	}
	return duplicates, nil
}

// Handler serves /metrics: the exporter's own metrics from Gatherer, then the kizashi_*
// families of the queries Queries returns, in the text format negotiated with the scraper
// (gzip when Gzip is set and the scraper accepts it).
type Handler struct {
	Gatherer prometheus.Gatherer
	// Gzip compresses the answer for scrapers that accept gzip (every Prometheus does). It
	// costs the exporter about 3 us per input series and Prometheus about as much to
	// decompress, for a tenth of the bytes: worth it over a slow link (--web.compression=gzip;
	// off by default).
	Gzip    bool
	Queries func() []*seriesset.Query
	Logger  *slog.Logger
	// Duration, if set, observes the time spent writing each scrape.
	Duration prometheus.Observer
	// Duplicates, if set, counts the series left out of a scrape because their published
	// labels equal those of another series, by escaping scheme (label escaping).
	Duplicates *prometheus.CounterVec
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	format, scheme := exposition.Negotiate(r.Header)
	mfs, err := h.Gatherer.Gather()
	if err != nil {
		// Like promhttp's ContinueOnError: log and serve what was gathered.
		h.Logger.Error("gather self-metrics", "err", err)
	}
	w.Header().Set("Content-Type", string(format))
	var out io.Writer = w
	var gz *gzip.Writer
	if h.Gzip && acceptsGzip(r) {
		w.Header().Set("Content-Encoding", "gzip")
		gz, _ = gzip.NewWriterLevel(w, gzip.BestSpeed)
		out = gz
	}
	bw := bufio.NewWriterSize(out, 64<<10)
	if err := writeFamilies(bw, mfs, scheme); err != nil {
		h.Logger.Debug("write metrics", "err", err)
		return
	}
	dups, err := WriteText(bw, h.Queries(), scheme)
	if dups > 0 && h.Duplicates != nil {
		h.Duplicates.WithLabelValues(scheme.String()).Add(float64(dups))
	}
	if err == nil {
		err = bw.Flush()
	}
	if err == nil && gz != nil {
		err = gz.Close()
	}
	if err != nil {
		h.Logger.Debug("write metrics", "err", err)
		return
	}
	if h.Duration != nil {
		h.Duration.Observe(time.Since(start).Seconds())
	}
}

// writeFamilies writes the self-metrics with expfmt's encoder (text 0.0.4, the names escaped
// for scheme; they are all legacy names anyway).
func writeFamilies(w io.Writer, mfs []*dto.MetricFamily, scheme model.EscapingScheme) error {
	enc := expfmt.NewEncoder(w, expfmt.FmtText.WithEscapingScheme(scheme))
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
