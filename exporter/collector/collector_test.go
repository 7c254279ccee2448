package collector_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
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
	"github.com/kizashi-dev/kizashi/exporter/config"
	"github.com/kizashi-dev/kizashi/exporter/internal/fakesource"
	"github.com/kizashi-dev/kizashi/exporter/registry"
)

func newQuery(t *testing.T, name string, thresholds []float64, series []model.Metric, metrics *registry.Metrics) *registry.Query {
	t.Helper()
	now := time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)
	c := config.DefaultQuery
	c.Name, c.Expr, c.Thresholds = name, "x", thresholds
	c.TrainingWindow = model.Duration(2 * time.Hour)
	c.WarmUp = model.Duration(time.Hour)
	q, err := registry.New(c, registry.Options{Metrics: metrics, Now: func() time.Time { return now }})
	require.NoError(t, err)
	src := fakesource.New(series, func(i int, t time.Time) float64 { return float64(i) + float64(t.Unix()%600)/10 })
	_, err = q.Cycle(context.Background(), src, now)
	require.NoError(t, err)
	_, err = q.Backfill(context.Background(), src)
	require.NoError(t, err)
	return q
}

func TestWriteText(t *testing.T) {
	m := registry.NewMetrics(prometheus.NewRegistry())
	// Two queries with different label sets, a raw series with a reserved label name and a
	// label value that needs escaping, and one without a metric name.
	q1 := newQuery(t, "load", []float64{1000}, []model.Metric{
		{"__name__": "node_load1", "instance": "a", "job": "node"},
		{"__name__": "node_load1", "instance": `b"\` + "\n", "job": "node", "horizon": "x"},
	}, m)
	q2 := newQuery(t, "rps", nil, []model.Metric{{"service": "api"}}, m)

	var b bytes.Buffer
	require.NoError(t, collector.WriteText(&b, []*registry.Query{q1, q2}))
	text := b.String()

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

func TestSelfMetricsLint(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := registry.NewMetrics(reg)
	newQuery(t, "load", []float64{1}, []model.Metric{{"a": "b"}}, m)
	problems, err := testutil.GatherAndLint(reg)
	require.NoError(t, err)
	require.Empty(t, problems)
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "kizashi_exporter_test_total", Help: "x"})
	problems, err = testutil.CollectAndLint(c)
	require.NoError(t, err)
	require.Empty(t, problems)
}

func TestHandler(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := registry.NewMetrics(reg)
	q := newQuery(t, "load", nil, []model.Metric{{"a": "b"}}, m)
	h := &collector.Handler{Gatherer: reg, Queries: func() []*registry.Query { return []*registry.Query{q} },
		Logger: slog.New(slog.DiscardHandler)}
	for _, gz := range []bool{false, true} {
		t.Run(map[bool]string{false: "plain", true: "gzip"}[gz], func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
			if gz {
				req.Header.Set("Accept-Encoding", "gzip, deflate")
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			require.Equal(t, http.StatusOK, rec.Code)
			require.Equal(t, "text/plain; version=0.0.4; charset=utf-8", rec.Header().Get("Content-Type"))
			var body io.Reader = rec.Body
			if gz {
				require.Equal(t, "gzip", rec.Header().Get("Content-Encoding"))
				zr, err := gzip.NewReader(rec.Body)
				require.NoError(t, err)
				body = zr
			}
			b, err := io.ReadAll(body)
			require.NoError(t, err)
			require.Contains(t, string(b), "kizashi_exporter_series{query=\"load\"} 1\n")
			require.Contains(t, string(b), `kizashi_baseline{a="b",kizashi_query="load"} `)
			problems, err := promlint.New(bytes.NewReader(b)).Lint()
			require.NoError(t, err)
			require.Empty(t, problems)
		})
	}
}
