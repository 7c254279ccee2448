//go:build e2e

package plugin

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"

	"github.com/kizashi-dev/kizashi/exporter/daemon"
	"github.com/kizashi-dev/kizashi/internal/testenv"
)

// consistencyTolerance is how far the data source's values may be from the exporter's: both
// run the same engine over the same samples, so they agree to rounding.
const consistencyTolerance = 1e-9

// TestIntegrationConsistentWithExporter: for the same series, each with its default history
// (the exporter's training window, the data source's warm-up) and the same engine settings,
// the data source's baseline, band, score and deviation equal what kizashi-exporter
// publishes on /metrics, and the exported query reads those published values back through
// Prometheus.
func TestIntegrationConsistentWithExporter(t *testing.T) {
	// 26 hours of history at 1m up to the last minute: the exporter discovers the series live
	// and backfills it; both start from its first sample (both default windows reach further
	// back; a data source that read less, as its one-day default did, gives other values).
	// Prometheus scrapes the exporter with honor_labels, so the published series keep the raw
	// series' job and instance.
	end := time.Now().Truncate(time.Minute).Add(-time.Minute)
	start := end.Add(-26 * time.Hour)
	n := int(end.Sub(start)/time.Minute) + 1
	exporterAddr := testenv.FreeAddr(t)
	prom := testenv.StartPrometheus(t, testenv.PromOptions{
		HistorySamples: testenv.Series("kizashi_cons", map[string]string{"instance": "a", "job": "node"}, start, time.Minute, n,
			func(_ int, ts time.Time) float64 { return normal(ts, 0.5) }),
		ScrapeConfigs: []testenv.ScrapeConfig{{JobName: "kizashi", Targets: []string{exporterAddr}, HonorLabels: true}},
	})

	dir := t.TempDir()
	cfg := filepath.Join(dir, "kizashi.yml")
	require.NoError(t, os.WriteFile(cfg, []byte(fmt.Sprintf(`source:
  url: %s
  query_timeout: 10s
queries:
  - name: cons
    expr: kizashi_cons
    step: 1m
    sensitivity: 0.6
    staleness_timeout: 1h
    publish: [all]
`, prom.URL())), 0o600))
	l, err := net.Listen("tcp", exporterAddr)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		done <- daemon.Run(ctx, daemon.Options{ConfigFile: cfg, Listener: l, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	}()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
	exporterURL := "http://" + exporterAddr
	published := func() map[string]float64 {
		resp, err := http.Get(exporterURL + "/metrics")
		if err != nil {
			return nil
		}
		defer resp.Body.Close() // read-only
		p := expfmt.NewTextParser(model.UTF8Validation)
		fams, err := p.TextToMetricFamilies(resp.Body)
		if err != nil {
			return nil
		}
		out := map[string]float64{}
		for name, f := range fams {
			if !strings.HasPrefix(name, "kizashi_") || strings.HasPrefix(name, "kizashi_exporter_") {
				continue
			}
			for _, m := range f.Metric {
				if m.GetGauge() != nil {
					out[name] = m.GetGauge().GetValue()
				}
			}
		}
		return out
	}
	var pub map[string]float64
	require.Eventually(t, func() bool {
		pub = published()
		return pub["kizashi_model_ready"] == 1
	}, 60*time.Second, 100*time.Millisecond, "exporter publishes a ready model")

	d := newTestDatasource(t, settingsFor(prom.URL(), map[string]any{"sensitivity": 0.6}, nil))
	d.now = time.Now
	resp, err := d.QueryData(t.Context(), &backend.QueryDataRequest{Queries: []backend.DataQuery{{
		RefID: "A", QueryType: "anomaly", Interval: time.Minute,
		TimeRange: backend.TimeRange{From: end.Add(-time.Hour), To: time.Now()}, JSON: []byte(`{"expr":"kizashi_cons"}`),
	}}})
	require.NoError(t, err)
	r := resp.Responses["A"]
	require.NoError(t, r.Error)
	require.Len(t, r.Frames, 1)
	f := r.Frames[0]

	// The exporter publishes its model's view of its last sample: find that sample's row.
	want := map[string]float64{"baseline": pub["kizashi_baseline"], "lower": pub["kizashi_lower"], "upper": pub["kizashi_upper"],
		"score": pub["kizashi_anomaly_score"], "deviation": pub["kizashi_deviation"]}
	match := -1
	for i := f.Rows() - 1; i >= 0 && match < 0; i-- {
		ok := true
		for name, w := range want {
			got, _ := floatAt(field(t, f, name), i)
			ok = ok && math.Abs(got-w) <= consistencyTolerance*math.Max(1, math.Abs(w))
		}
		if ok {
			match = i
		}
	}
	require.GreaterOrEqual(t, match, 0, "no row of the data source's frame equals the exporter's published %v", want)
	at := field(t, f, "time").At(match).(time.Time)
	require.WithinDuration(t, end, at, 6*time.Minute, "the matching row is the exporter's last sample")
	t.Logf("exporter's published values equal the data source's row at %s: %v", at.Format(time.RFC3339), want)

	// The exported query reads the published values back from Prometheus once it scraped them;
	// its latest baseline is the baseline of one of the data source's rows.
	var exported float64
	require.Eventually(t, func() bool {
		resp, err := d.QueryData(t.Context(), &backend.QueryDataRequest{Queries: []backend.DataQuery{{
			RefID: "E", QueryType: "exported", Interval: 10 * time.Second,
			TimeRange: backend.TimeRange{From: time.Now().Add(-5 * time.Minute), To: time.Now()},
			JSON:      []byte(`{"queryName":"cons","expr":"kizashi_cons"}`),
		}}})
		if err != nil || resp.Responses["E"].Error != nil || len(resp.Responses["E"].Frames) != 1 {
			return false
		}
		ef := resp.Responses["E"].Frames[0]
		require.Equal(t, `kizashi_cons{instance="a", job="node"}`, ef.Name, "exported and raw series joined under the raw series' name")
		for i := ef.Rows() - 1; i >= 0; i-- {
			if v, ok := floatAt(field(t, ef, "baseline"), i); ok {
				exported = v
				return true
			}
		}
		return false
	}, 30*time.Second, 500*time.Millisecond, "Prometheus scrapes the exporter")
	resp, err = d.QueryData(t.Context(), &backend.QueryDataRequest{Queries: []backend.DataQuery{{
		RefID: "A", QueryType: "anomaly", Interval: time.Minute,
		TimeRange: backend.TimeRange{From: end.Add(-time.Hour), To: time.Now()}, JSON: []byte(`{"expr":"kizashi_cons"}`),
	}}})
	require.NoError(t, err)
	f = resp.Responses["A"].Frames[0]
	found := false
	for i := range f.Rows() {
		b, _ := floatAt(field(t, f, "baseline"), i)
		found = found || math.Abs(b-exported) <= consistencyTolerance*math.Max(1, math.Abs(exported))
	}
	require.True(t, found, "exported baseline %g is none of the data source's baselines", exported)
}
