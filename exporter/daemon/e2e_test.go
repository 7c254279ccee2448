//go:build e2e

package daemon_test

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"

	"github.com/kizashi-dev/kizashi/exporter/daemon"
	"github.com/kizashi-dev/kizashi/internal/testenv"
)

// shippedRules returns the shipped alerting rules (dashboards/prometheus/kizashi-alerts.yml)
// with the for: of the anomaly rules scaled to the test's 2s step.
func shippedRules(t *testing.T) string {
	b, err := os.ReadFile(filepath.Join("..", "..", "dashboards", "prometheus", "kizashi-alerts.yml"))
	require.NoError(t, err)
	s := string(b)
	for _, r := range [][2]string{{"for: 2m\n        keep_firing_for: 10m", "for: 4s\n        keep_firing_for: 10m"},
		{"for: 1m\n        keep_firing_for: 10m", "for: 2s\n        keep_firing_for: 10m"}} {
		require.Contains(t, s, r[0])
		s = strings.ReplaceAll(s, r[0], r[1])
	}
	return s
}

// noise is a deterministic wobble of a few percent.
func noise(host int, t time.Time) float64 {
	s := float64(t.Unix())
	return 0.3*math.Sin(s/7+float64(host)) + 0.2*math.Sin(s/3.1)
}

func value(host int, t time.Time) float64 { return 10 + 5*float64(host) + noise(host, t) }

// TestEndToEnd runs the exporter against Debian's Prometheus: history loaded with promtool,
// live data scraped from a target, the exporter scraped back, PromQL and an alerting rule on
// the published series, Prometheus killed and restarted, the exporter restarted from snapshots.
func TestEndToEnd(t *testing.T) {
	ctx := context.Background()
	hosts := []string{"a", "b", "c"}
	target := testenv.NewTarget(t)
	labels := func(h string) map[string]string {
		return map[string]string{"host": h, "instance": target.Addr(), "job": "node"}
	}

	// Live data: the target's gauges follow value() until an anomaly is injected.
	var mu sync.Mutex
	spike := map[string]float64{}
	update := func() {
		now := time.Now()
		mu.Lock()
		defer mu.Unlock()
		for i, h := range hosts {
			v := value(i, now)
			if f := spike[h]; f != 0 {
				v *= f
			}
			target.Set("kizashi_e2e_load", map[string]string{"host": h}, v)
		}
	}
	update()
	liveCtx, stopLive := context.WithCancel(ctx)
	defer stopLive()
	go func() {
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-liveCtx.Done():
				return
			case <-tick.C:
				update()
			}
		}
	}()

	// Two hours of history at 15s, ending 20 minutes ago (promtool blocks must not overlap
	// Prometheus' head).
	end := time.Now().Add(-20 * time.Minute).Truncate(time.Minute)
	start := end.Add(-2 * time.Hour)
	var history []testenv.Sample
	for i, h := range hosts {
		for s := range testenv.Series("kizashi_e2e_load", labels(h), start, 15*time.Second, 8*60,
			func(_ int, ts time.Time) float64 { return value(i, ts) }) {
			history = append(history, s)
		}
	}
	exporterAddr := testenv.FreeAddr(t)
	prom := testenv.StartPrometheus(t, testenv.PromOptions{
		HistorySamples: func(yield func(testenv.Sample) bool) {
			for _, s := range history {
				if !yield(s) {
					return
				}
			}
		},
		ScrapeConfigs: []testenv.ScrapeConfig{
			{JobName: "node", Targets: []string{target.Addr()}},
			{JobName: "kizashi", Targets: []string{exporterAddr}, HonorLabels: true},
		},
		Rules: map[string]string{"kizashi.yml": shippedRules(t)},
	})

	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "kizashi.yml")
	require.NoError(t, os.WriteFile(cfgPath, []byte(fmt.Sprintf(`source:
  url: %s
  query_timeout: 5s
queries:
  - name: load
    expr: kizashi_e2e_load
    step: 2s
    training_window: 3h
    warm_up: 30m
    daily: off
    weekly: off
    horizons: [1m, 10m]
    thresholds: [100]
    min: 0
`, prom.URL())), 0o600))
	opts := daemon.Options{ConfigFile: cfgPath, DataDir: filepath.Join(dir, "data"), SnapshotInterval: time.Hour,
		Logger: testLogger(t)}
	ex := startAt(t, exporterAddr, opts)
	waitFor(t, "exporter ready", patience, func() bool { c, _ := get(t, ex.url+"/-/ready"); return c == 200 })

	// Bands exist for every raw series, with the same labels (honor_labels keeps them); what
	// is published by default: score, band, the forecast at the longest horizon.
	waitForQuery(t, prom, `count(kizashi_upper{kizashi_query="load"}) == 3`, patience)
	requireEmpty(t, prom, `kizashi_e2e_load unless on(host, instance, job) kizashi_lower`)
	requireEmpty(t, prom, `kizashi_lower unless ignoring(kizashi_metric, kizashi_query) kizashi_e2e_load`)
	waitForQuery(t, prom, `kizashi_exporter_series_ready{query="load"} == 3`, patience)
	waitForQuery(t, prom, `count(kizashi_forecast{horizon="10m"}) == 3`, patience)
	requireEmpty(t, prom, `kizashi_forecast{horizon="1m"} or kizashi_baseline or kizashi_model_ready or kizashi_deviation`)
	waitForQuery(t, prom, `kizashi_exporter_backfill_progress_ratio{query="load"} == 1`, patience)

	// An anomaly in the live data: the score passes the alert threshold within a few steps,
	// the raw-vs-band join shows it and the alerting rule fires.
	mu.Lock()
	spike["a"] = 3
	mu.Unlock()
	injected := time.Now()
	waitForQuery(t, prom, `kizashi_anomaly_score{host="a"} > 0.65`, patience) // the documented alert threshold
	t.Logf("score over the threshold %s after the anomaly", time.Since(injected).Round(time.Second))
	vec := waitForQuery(t, prom, `kizashi_e2e_load{host="a"} > on(host, instance, job) kizashi_upper`, patience)
	require.Len(t, vec, 1)
	require.Equal(t, model.LabelValue("a"), vec[0].Metric["host"])
	waitForQuery(t, prom, `ALERTS{alertname="KizashiAnomaly",alertstate="firing",host="a",kizashi_query="load"}`, patience)
	// The alert says why, from kizashi_anomaly_reason.
	reason := alertAnnotation(t, prom, "KizashiAnomaly", "a", "reason")
	require.NotContains(t, []string{"", "none", "vanished"}, reason)
	mu.Lock()
	delete(spike, "a")
	mu.Unlock()

	// Host c vanishes (its series is gone from the target): an anomaly of its own, reason
	// vanished, KizashiSeriesVanished and not KizashiAnomaly.
	mu.Lock()
	hosts = hosts[:2]
	target.Delete("kizashi_e2e_load", map[string]string{"host": "c"})
	mu.Unlock()
	waitForQuery(t, prom, `kizashi_anomaly_reason{host="c",reason="vanished"} >= 0.5`, patience)
	waitForQuery(t, prom, `ALERTS{alertname="KizashiSeriesVanished",alertstate="firing",host="c",kizashi_query="load"}`, patience)
	require.Equal(t, "vanished", alertAnnotation(t, prom, "KizashiSeriesVanished", "c", "reason"))
	requireEmpty(t, prom, `ALERTS{alertname="KizashiAnomaly",host="c"}`)
	mu.Lock()
	hosts = append(hosts, "c")
	mu.Unlock()

	// Prometheus dies: the exporter keeps serving the last values and says the source is down.
	prom.Kill(t)
	var metrics string
	waitFor(t, "source down", patience, func() bool {
		_, metrics = get(t, ex.url+"/metrics")
		return strings.Contains(metrics, `kizashi_exporter_source_up{query="load"} 0`)
	})
	require.Equal(t, 3, strings.Count(metrics, "kizashi_lower{"))
	code, _ := get(t, ex.url+"/-/healthy")
	require.Equal(t, 200, code)
	prom.Restart(t)
	waitFor(t, "source up again", patience, func() bool {
		_, metrics = get(t, ex.url+"/metrics")
		return strings.Contains(metrics, `kizashi_exporter_source_up{query="load"} 1`)
	})
	since := time.Now()
	waitForQuery(t, prom, fmt.Sprintf(`kizashi_exporter_last_update_timestamp_seconds{query="load"} > %d`, since.Unix()), patience)

	// The exporter restarts: models come back from the snapshots and only the gap is backfilled.
	ex.stop()
	stopped := time.Now()
	// A gap to backfill: Prometheus scrapes a few more steps of the target meanwhile.
	waitForQuery(t, prom, fmt.Sprintf(`timestamp(kizashi_e2e_load) > %d`, stopped.Unix()+4), patience)
	ex = startAt(t, exporterAddr, opts)
	waitFor(t, "exporter ready after restart", patience, func() bool { c, _ := get(t, ex.url+"/-/ready"); return c == 200 })
	_, metrics = get(t, ex.url+"/metrics")
	require.Equal(t, 3, strings.Count(metrics, "kizashi_lower{"), metrics)
	require.Equal(t, 3.0, metricValue(t, metrics, `kizashi_exporter_series_ready{query="load"}`), "ready at once: restored, not retrained")
	samples := metricValue(t, metrics, `kizashi_exporter_backfill_samples_total{query="load"}`)
	require.Less(t, samples, 3*60.0, "a gap of a few seconds, not the 3h training window (%g samples)", samples)
	waitForQuery(t, prom, `kizashi_exporter_series_ready{query="load"} == 3`, patience)
}

// alertAnnotation returns an annotation of the active alert of the rule for host h.
func alertAnnotation(t *testing.T, prom *testenv.Prometheus, rule, h, name string) string {
	t.Helper()
	res, err := prom.API().Alerts(context.Background())
	require.NoError(t, err)
	for _, a := range res.Alerts {
		if string(a.Labels["alertname"]) == rule && string(a.Labels["host"]) == h {
			return string(a.Annotations[model.LabelName(name)])
		}
	}
	t.Fatalf("no %s alert for host %s: %+v", rule, h, res.Alerts)
	return ""
}

func metricValue(t *testing.T, metrics, series string) float64 {
	t.Helper()
	for _, line := range strings.Split(metrics, "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			var f float64
			_, err := fmt.Sscan(v, &f)
			require.NoError(t, err)
			return f
		}
	}
	t.Fatalf("no %s in the metrics", series)
	return 0
}

func waitForQuery(t *testing.T, prom *testenv.Prometheus, promql string, timeout time.Duration) model.Vector {
	t.Helper()
	return prom.WaitForQuery(t, promql, timeout)
}

func requireEmpty(t *testing.T, prom *testenv.Prometheus, promql string) {
	t.Helper()
	v, err := prom.Query(context.Background(), promql, time.Time{})
	require.NoError(t, err)
	require.Empty(t, v.(model.Vector), promql)
}

// testLogger logs to the test's output (shown on failure or with -v).
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}
