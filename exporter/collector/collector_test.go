package collector_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"

	"github.com/kizashi-dev/kizashi/exporter/collector"
	"github.com/kizashi-dev/kizashi/exporter/exposition"
	"github.com/kizashi-dev/kizashi/exporter/internal/fakesource"
	"github.com/kizashi-dev/kizashi/exporter/queryconfig"
	"github.com/kizashi-dev/kizashi/exporter/seriesset"
)

var now = time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)

func newQuery(t testing.TB, name string, thresholds []float64, series []model.Metric, metrics *seriesset.Metrics) *seriesset.Query {
	t.Helper()
	c := queryconfig.DefaultQuery
	c.Name, c.Expr, c.Thresholds = name, "x", thresholds
	c.Publish = []string{"all"}
	c.TrainingWindow = model.Duration(2 * time.Hour)
	c.WarmUp = model.Duration(time.Hour)
	q, err := seriesset.New(c, seriesset.Options{Metrics: metrics, Now: func() time.Time { return now }})
	require.NoError(t, err)
	src := fakesource.New(series, func(i int, t time.Time) float64 { return float64(i) + float64(t.Unix()%600)/10 })
	_, err = q.Cycle(context.Background(), src, now)
	require.NoError(t, err)
	_, err = q.Backfill(context.Background(), src)
	require.NoError(t, err)
	return q
}

func writeText(t testing.TB, queries []*seriesset.Query, scheme model.EscapingScheme) (string, int) {
	t.Helper()
	var b bytes.Buffer
	dups, err := collector.WriteText(&b, queries, scheme)
	require.NoError(t, err)
	return b.String(), dups
}

var schemes = []model.EscapingScheme{model.NoEscaping, model.UnderscoreEscaping, model.DotsEscaping, model.ValueEncodingEscaping}

func TestWriteText(t *testing.T) {
	m := seriesset.NewMetrics(prometheus.NewRegistry())
	// Two queries with different label sets, a raw series with a reserved label name and a
	// label value that needs escaping, and one without a metric name.
	q1 := newQuery(t, "load", []float64{1000}, []model.Metric{
		{"__name__": "node_load1", "instance": "a", "job": "node"},
		{"__name__": "node_load1", "instance": `b"\` + "\n", "job": "node", "horizon": "x"},
	}, m)
	q2 := newQuery(t, "rps", nil, []model.Metric{{"service": "api"}}, m)

	// Legacy names are spelled alike for every scraper.
	text, dups := writeText(t, []*seriesset.Query{q1, q2}, model.NoEscaping)
	require.Zero(t, dups)
	for _, scheme := range schemes[1:] {
		other, _ := writeText(t, []*seriesset.Query{q1, q2}, scheme)
		require.Equal(t, text, other, scheme)
	}

	parser := expfmt.NewTextParser(model.LegacyValidation)
	mfs, err := parser.TextToMetricFamilies(strings.NewReader(text))
	require.NoError(t, err, text)
	for _, name := range []string{"kizashi_baseline", "kizashi_lower", "kizashi_upper", "kizashi_anomaly_score",
		"kizashi_deviation", "kizashi_model_ready", "kizashi_forecast", "kizashi_forecast_lower", "kizashi_forecast_upper"} {
		require.Contains(t, mfs, name)
		require.Len(t, mfs[name].Metric, map[bool]int{true: 9, false: 3}[strings.HasPrefix(name, "kizashi_forecast")], name)
	}
	require.Contains(t, text, `kizashi_baseline{instance="a",job="node",kizashi_metric="node_load1",kizashi_query="load"} `)
	require.Contains(t, text, `kizashi_baseline{exported_horizon="x",instance="b\"\\\n",job="node",kizashi_metric="node_load1",kizashi_query="load"} `)
	require.Contains(t, text, `kizashi_forecast{service="api",kizashi_query="rps",horizon="1d"} `)
	require.Contains(t, text, `kizashi_model_ready{service="api",kizashi_query="rps"} 1`)

	problems, err := promlint.New(strings.NewReader(text)).Lint()
	require.NoError(t, err)
	require.Empty(t, problems)
}

// hostile is a label name that, written as it is, would end the label set and forge a series
// of another tenant.
const hostile = `x="1"} 0` + "\n" + `kizashi_anomaly_score{tenant="other",x`

// TestLabelNamesAreWrittenSafely: names that are not legacy label names (UTF-8, hostile,
// invalid UTF-8, NUL, a colon, a leading digit) are quoted for scrapers that accept UTF-8
// names and escaped as prometheus/common's model does for the others; either way the
// exposition parses (expfmt and Prometheus' own parser), each family has exactly its one
// series, and the values come back unchanged.
func TestLabelNamesAreWrittenSafely(t *testing.T) {
	for _, tc := range []struct {
		raw  string
		want [exposition.Schemes]string // published name by scheme
	}{
		{"service.name", [...]string{"service.name", "service_name", "service_dot_name", "U__service_2e_name"}},
		{hostile, [...]string{hostile,
			"x__1___0_kizashi_anomaly_score_tenant__other__x",
			"x____1______0__kizashi__anomaly__score__tenant____other____x",
			"U__x_3d__22_1_22__7d__20_0_a_kizashi__anomaly__score_7b_tenant_3d__22_other_22__2c_x"}},
		{`a\b"c`, [...]string{`a\b"c`, "a_b_c", "a__b__c", "U__a_5c_b_22_c"}},
		{"a:b", [...]string{"a:b", "a_b", "a__b", "U__a_3a_b"}},
		{"1abc", [...]string{"1abc", "_abc", "__abc", "U___31_abc"}},
		{"\xffx", [...]string{"\uFFFDx", "_x", "__x", "U___fffd_x"}},
		{"a\x00b", [...]string{"a\uFFFDb", "a_b", "a__b", "U__a_0_b"}},
		{"サービス", [...]string{"サービス", "____", "________", "U___30b5__30fc__30d3__30b9_"}},
	} {
		m := seriesset.NewMetrics(prometheus.NewRegistry())
		values := []string{`v"}` + "\n" + `1`, "\xfe\xffbad", "a\x00b", ""}
		var series []model.Metric
		for i, v := range values {
			series = append(series, model.Metric{"__name__": "up", "i": model.LabelValue(rune('a' + i)), model.LabelName(tc.raw): model.LabelValue(v)})
		}
		q := newQuery(t, "load", []float64{1000}, series, m)
		for _, scheme := range schemes {
			t.Run(scheme.String()+"/"+tc.want[model.UnderscoreEscaping], func(t *testing.T) {
				text, dups := writeText(t, []*seriesset.Query{q}, scheme)
				require.Zero(t, dups)
				samples, err := parseBoth([]byte(text), scheme)
				require.NoError(t, err, text)
				perFamily := map[string]int{}
				for _, s := range samples {
					perFamily[s.name]++
					require.Equal(t, "load", s.labels["kizashi_query"])
					require.Equal(t, "up", s.labels["kizashi_metric"])
					i := int(s.labels["i"][0] - 'a')
					require.Equal(t, exposition.Valid(values[i]), s.labels[tc.want[scheme]], "%q in %v", tc.want[scheme], s.labels)
					wantLabels := 4
					if values[i] == "" {
						wantLabels = 3 // an empty value is no label
					}
					if strings.HasPrefix(s.name, "kizashi_forecast") || s.name == "kizashi_breach_eta_seconds" {
						wantLabels++
					}
					require.Len(t, s.labels, wantLabels, "%v", s.labels)
				}
				for _, name := range []string{"kizashi_value", "kizashi_baseline", "kizashi_anomaly_score", "kizashi_model_ready"} {
					require.Equal(t, len(values), perFamily[name], name)
				}
				require.Equal(t, 3*len(values), perFamily["kizashi_forecast"])
				require.NotContains(t, perFamily, "kizashi_breach_eta_seconds", "no breach of 1000 forecast")
			})
		}
	}
}

// TestLabelNameCollisions: names stay unique within a series (a name kept as it is wins,
// others get exported_ prefixes), and two series whose published labels are equal for a
// scraper are written once (the first), counted.
func TestLabelNameCollisions(t *testing.T) {
	m := seriesset.NewMetrics(prometheus.NewRegistry())
	q := newQuery(t, "load", nil, []model.Metric{
		{"__name__": "up", "service.name": "a", "service_name": "b", "kizashi_query": "c", "exported_kizashi_query": "d"},
	}, m)
	for _, tc := range []struct {
		scheme model.EscapingScheme
		want   map[string]string
	}{
		{model.NoEscaping, map[string]string{"service.name": "a", "service_name": "b", "exported_kizashi_query": "d",
			"exported_exported_kizashi_query": "c", "kizashi_metric": "up", "kizashi_query": "load"}},
		{model.UnderscoreEscaping, map[string]string{"exported_service_name": "a", "service_name": "b", "exported_kizashi_query": "d",
			"exported_exported_kizashi_query": "c", "kizashi_metric": "up", "kizashi_query": "load"}},
		{model.DotsEscaping, map[string]string{"service_dot_name": "a", "service_name": "b", "exported_kizashi_query": "d",
			"exported_exported_kizashi_query": "c", "kizashi_metric": "up", "kizashi_query": "load"}},
	} {
		text, _ := writeText(t, []*seriesset.Query{q}, tc.scheme)
		samples, err := parseBoth([]byte(text), tc.scheme)
		require.NoError(t, err, text)
		require.Equal(t, "kizashi_anomaly_score", samples[0].name)
		require.Equal(t, tc.want, samples[0].labels, tc.scheme.String())
	}

	// service.name and service_name are one series to a scraper that wants underscores.
	q = newQuery(t, "otel", nil, []model.Metric{
		{"__name__": "up", "service.name": "api"},
		{"__name__": "up", "service_name": "api"},
		{"__name__": "up", "service_name": "web"},
	}, m)
	for _, tc := range []struct {
		scheme       model.EscapingScheme
		series, dups int
	}{{model.NoEscaping, 3, 0}, {model.UnderscoreEscaping, 2, 1}, {model.DotsEscaping, 3, 0}} {
		text, dups := writeText(t, []*seriesset.Query{q}, tc.scheme)
		require.Equal(t, tc.dups, dups, tc.scheme.String())
		samples, err := parseBoth([]byte(text), tc.scheme)
		require.NoError(t, err, text)
		seen := map[string]bool{}
		n := 0
		for _, s := range samples {
			require.False(t, seen[s.key()], "duplicate series %v", s)
			seen[s.key()] = true
			if s.name == "kizashi_value" {
				n++
			}
		}
		require.Equal(t, tc.series, n, tc.scheme.String())
	}
}

func TestSelfMetricsLint(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := seriesset.NewMetrics(reg)
	newQuery(t, "load", []float64{1}, []model.Metric{{"a": "b"}}, m)
	problems, err := testutil.GatherAndLint(reg)
	require.NoError(t, err)
	require.Empty(t, problems)
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "kizashi_exporter_test_total", Help: "x"})
	problems, err = testutil.CollectAndLint(c)
	require.NoError(t, err)
	require.Empty(t, problems)
}

// Accept headers of real scrapers.
const (
	// Prometheus 2.42 (Debian 12).
	acceptPrometheus2 = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
	// Prometheus 3 with its default scrape_protocols and metric_name_validation_scheme utf8.
	acceptPrometheus3 = "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.3,text/plain;version=0.0.4;q=0.2,*/*;q=0.1"
)

func TestHandler(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := seriesset.NewMetrics(reg)
	q := newQuery(t, "load", nil, []model.Metric{{"a": "b", "service.name": "api"}, {"a": "b", "service_name": "api"}}, m)
	dups := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kizashi_exporter_scrape_duplicate_series_total", Help: "x"}, []string{"escaping"})
	for _, tc := range []struct {
		name, accept, contentType, series string
		acceptsGzip, compress             bool // the scraper accepts gzip; --web.compression=gzip
	}{
		{"prometheus 2", acceptPrometheus2, "text/plain; version=0.0.4; charset=utf-8; escaping=underscores", `kizashi_baseline{a="b",service_name="api",kizashi_query="load"} `, true, false},
		{"prometheus 2 gzip", acceptPrometheus2, "text/plain; version=0.0.4; charset=utf-8; escaping=underscores", `kizashi_baseline{a="b",service_name="api",kizashi_query="load"} `, true, true},
		{"prometheus 3 gzip", acceptPrometheus3, "text/plain; version=1.0.0; charset=utf-8; escaping=allow-utf-8", `kizashi_baseline{a="b","service.name"="api",kizashi_query="load"} `, true, true},
		{"prometheus 3 dots", strings.ReplaceAll(acceptPrometheus3, "allow-utf-8", "dots"), "text/plain; version=1.0.0; charset=utf-8; escaping=dots", `kizashi_baseline{a="b",service_dot_name="api",kizashi_query="load"} `, false, true},
		{"curl", "", "text/plain; version=0.0.4; charset=utf-8; escaping=underscores", `kizashi_baseline{a="b",service_name="api",kizashi_query="load"} `, false, false},
		{"values", "text/plain;version=0.0.4;escaping=values", "text/plain; version=0.0.4; charset=utf-8; escaping=values", `kizashi_baseline{U__service_2e_name="api",a="b",kizashi_query="load"} `, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := &collector.Handler{Gatherer: reg, Queries: func() []*seriesset.Query { return []*seriesset.Query{q} },
				Logger: slog.New(slog.DiscardHandler), Duplicates: dups, Gzip: tc.compress}
			req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
			req.Header.Set("Accept", tc.accept)
			if tc.acceptsGzip {
				req.Header.Set("Accept-Encoding", "gzip, deflate")
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			require.Equal(t, http.StatusOK, rec.Code)
			require.Equal(t, tc.contentType, rec.Header().Get("Content-Type"))
			var body io.Reader = rec.Body
			if !tc.acceptsGzip || !tc.compress {
				require.Empty(t, rec.Header().Get("Content-Encoding"))
			} else {
				require.Equal(t, "gzip", rec.Header().Get("Content-Encoding"))
				zr, err := gzip.NewReader(rec.Body)
				require.NoError(t, err)
				body = zr
			}
			b, err := io.ReadAll(body)
			require.NoError(t, err)
			require.Contains(t, string(b), "kizashi_exporter_series{query=\"load\"} 2\n")
			require.Contains(t, string(b), tc.series)
			_, scheme := exposition.Negotiate(req.Header)
			_, err = parseBoth(b, scheme)
			require.NoError(t, err)
		})
	}
	require.Equal(t, 3.0, testutil.ToFloat64(dups.WithLabelValues("underscores")), "prometheus 2 (twice) and curl: service.name and service_name are one series")
	require.Equal(t, 0.0, testutil.ToFloat64(dups.WithLabelValues("allow-utf-8")))
}

// stalledWriter is a scraper that stops reading: its first Write signals started and blocks
// until release is closed.
type stalledWriter struct {
	started, release chan struct{}
}

func (w *stalledWriter) Write(p []byte) (int, error) {
	select {
	case <-w.started:
	default:
		close(w.started)
	}
	<-w.release
	return len(p), nil
}

// TestStalledScraperDoesNotBlockCycle: a scraper that stops reading in the middle of
// /metrics holds no lock: the live cycle (which takes the query's write lock) completes.
func TestStalledScraperDoesNotBlockCycle(t *testing.T) {
	m := seriesset.NewMetrics(prometheus.NewRegistry())
	series := fakesource.Many("node_load1", 3*512)
	q := newQuery(t, "load", nil, series, m)
	w := &stalledWriter{started: make(chan struct{}), release: make(chan struct{})}
	written := make(chan error, 1)
	go func() {
		_, err := collector.WriteText(w, []*seriesset.Query{q}, model.UnderscoreEscaping)
		written <- err
	}()
	<-w.started // the scraper holds the writer inside its first Write

	src := fakesource.New(series, func(i int, t time.Time) float64 { return float64(i) })
	cycled := make(chan error, 1)
	go func() {
		_, err := q.Cycle(context.Background(), src, now.Add(time.Minute))
		cycled <- err
	}()
	select {
	case err := <-cycled:
		require.NoError(t, err)
	case <-time.After(time.Minute):
		t.Fatal("the live cycle is blocked by a scraper that stopped reading")
	}
	close(w.release)
	require.NoError(t, <-written)
}

// Without publish, a query publishes at most 6 series per input with one threshold: the
// score, the reason (only while the score is at least 0.5), the band, the forecast at the
// longest horizon and the breach ETA (only while a crossing is forecast); without
// thresholds, no forecast. A series that vanished is published with the reason vanished.
func TestDefaultPublishAndReason(t *testing.T) {
	ctx := context.Background()
	m := seriesset.NewMetrics(prometheus.NewRegistry())
	c := queryconfig.DefaultQuery
	c.Name, c.Expr, c.Thresholds = "disk", "x", []float64{0}
	c.TrainingWindow = model.Duration(2 * time.Hour)
	c.WarmUp = model.Duration(time.Hour)
	q, err := seriesset.New(c, seriesset.Options{Metrics: m, Now: func() time.Time { return now }})
	require.NoError(t, err)
	series := []model.Metric{{"__name__": "used", "instance": "a"}, {"__name__": "used", "instance": "b", "reason": "x"}}
	src := fakesource.New(series, func(i int, t time.Time) float64 { return float64(i) + float64(t.Unix()%600)/10 })
	_, err = q.Cycle(ctx, src, now)
	require.NoError(t, err)
	_, err = q.Backfill(ctx, src)
	require.NoError(t, err)

	count := func(text string) map[string]int {
		out := map[string]int{}
		for _, line := range strings.Split(text, "\n") {
			if line != "" && !strings.HasPrefix(line, "#") {
				name, _, _ := strings.Cut(line, "{")
				out[name]++
			}
		}
		return out
	}
	text, _ := writeText(t, []*seriesset.Query{q}, model.NoEscaping)
	got := count(text)
	want := map[string]int{"kizashi_anomaly_score": 2, "kizashi_lower": 2, "kizashi_upper": 2, "kizashi_forecast": 2}
	eta := got["kizashi_breach_eta_seconds"]
	delete(got, "kizashi_breach_eta_seconds")
	require.Equal(t, want, got, text)
	require.LessOrEqual(t, eta, 2)
	require.Contains(t, text, `kizashi_forecast{instance="a",kizashi_metric="used",kizashi_query="disk",horizon="1d"} `)
	require.NotContains(t, text, `horizon="1h"`)

	// b vanishes: within three steps it is an anomaly with the reason vanished.
	src.SetSeries(series[:1])
	t0 := now
	for i := range 3 {
		_, err = q.Cycle(ctx, src, t0.Add(time.Duration(i+1)*time.Minute))
		require.NoError(t, err)
	}
	text, _ = writeText(t, []*seriesset.Query{q}, model.NoEscaping)
	// Its value is the score (so that the shipped rules read only these series).
	_, score, ok := strings.Cut(text, `kizashi_anomaly_score{exported_reason="x",instance="b",kizashi_metric="used",kizashi_query="disk"} `)
	require.True(t, ok, text)
	score, _, _ = strings.Cut(score, "\n")
	v, err := strconv.ParseFloat(score, 64)
	require.NoError(t, err)
	require.GreaterOrEqual(t, v, 0.5)
	require.Contains(t, text, `kizashi_anomaly_reason{exported_reason="x",instance="b",kizashi_metric="used",kizashi_query="disk",reason="vanished"} `+score+"\n", text)
	require.Equal(t, 1, count(text)["kizashi_anomaly_reason"], text)

	// publish selects families, and horizons of the forecast families.
	c.Publish = []string{"model_ready", "forecast_upper:6h", "forecast_upper:1h"}
	q2, err := seriesset.New(c, seriesset.Options{Metrics: m, Now: func() time.Time { return now }})
	require.NoError(t, err)
	_, err = q2.Cycle(ctx, src, now)
	require.NoError(t, err)
	_, err = q2.Backfill(ctx, src)
	require.NoError(t, err)
	text, _ = writeText(t, []*seriesset.Query{q2}, model.NoEscaping)
	require.Equal(t, map[string]int{"kizashi_model_ready": 1, "kizashi_forecast_upper": 2}, count(text), text)
	require.Contains(t, text, `horizon="6h"`)

	// A query without thresholds publishes no forecast by default (3 series per input: the
	// score and the band), unless its publish asks for it.
	c.Thresholds, c.Publish = nil, nil
	for _, publish := range [][]string{nil, {"anomaly_score", "lower", "upper", "forecast"}} {
		c.Publish = publish
		q3, err := seriesset.New(c, seriesset.Options{Metrics: m, Now: func() time.Time { return now }})
		require.NoError(t, err)
		_, err = q3.Cycle(ctx, src, now)
		require.NoError(t, err)
		_, err = q3.Backfill(ctx, src)
		require.NoError(t, err)
		text, _ = writeText(t, []*seriesset.Query{q3}, model.NoEscaping)
		want := map[string]int{"kizashi_anomaly_score": 1, "kizashi_lower": 1, "kizashi_upper": 1}
		if publish != nil {
			want["kizashi_forecast"] = 3 // every horizon: forecast without a horizon
		}
		require.Equal(t, want, count(text), text)
	}
}
