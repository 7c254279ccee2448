//go:build e2e

package backtest

import (
	"context"
	"fmt"
	"iter"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kizashi-dev/kizashi/exporter/queryconfig"
	"github.com/kizashi-dev/kizashi/exporter/source"
	"github.com/kizashi-dev/kizashi/internal/testenv"
)

// TestPrometheusBacktestRealPrometheus: ten days of three sharply daily series in a real
// Prometheus: one drops to 30% for an hour, one is stuck at one value for two hours, one is
// left alone. The backtest over the last three days (the seven before learned as the training
// window) names both faults with an alert starting inside them and a reason, and the control
// series has no alert.
func TestPrometheusBacktestRealPrometheus(t *testing.T) {
	const step = time.Minute
	end := testEnd // fixed: the same verdicts on every run
	start := end.Add(-10 * 24 * time.Hour)
	day := end.Add(-24 * time.Hour).Truncate(24 * time.Hour)
	drop := [2]time.Time{day.Add(-24*time.Hour + 15*time.Hour), day.Add(-24*time.Hour + 16*time.Hour)}
	stuck := [2]time.Time{day.Add(10 * time.Hour), day.Add(12 * time.Hour)}
	in := func(w [2]time.Time, t time.Time) bool { return !t.Before(w[0]) && t.Before(w[1]) }
	n := int(end.Sub(start) / step)
	prom := testenv.StartPrometheus(t, testenv.PromOptions{HistorySamples: concat(
		testenv.Series("shop_sessions", map[string]string{"case": "drop"}, start, step, n, func(_ int, t time.Time) float64 {
			if in(drop, t) {
				return 0.3 * daily(0, t)
			}
			return daily(0, t)
		}),
		testenv.Series("shop_sessions", map[string]string{"case": "stuck"}, start, step, n, func(_ int, t time.Time) float64 {
			if in(stuck, t) {
				return daily(1, stuck[0])
			}
			return daily(1, t)
		}),
		testenv.Series("shop_sessions", map[string]string{"case": "control"}, start, step, n, func(_ int, t time.Time) float64 {
			return daily(2, t)
		}),
	)})
	cfg, err := queryconfig.Parse([]byte(fmt.Sprintf(`
source: {url: %q}
queries:
  - {name: sessions, expr: shop_sessions, step: 1m, training_window: 7d, min: 0}
`, prom.URL())))
	require.NoError(t, err)
	src, err := source.New(cfg.Source)
	require.NoError(t, err)
	rep, err := RunPrometheus(context.Background(), PromOptions{Config: cfg, Source: src, Range: 3 * 24 * time.Hour, End: end})
	require.NoError(t, err)
	q := rep.Queries[0]
	require.Len(t, q.Series, 3)
	require.Greater(t, q.Queries, 1, "the range is read in chunks")
	for _, s := range q.Series {
		for _, a := range s.Alerts {
			t.Logf("%s: alert %s for %s, peak %.2f, %s", s.Labels["case"], a.Start, a.Duration, a.PeakScore, a.Reason)
		}
		switch s.Labels["case"] {
		case "control":
			require.Empty(t, s.Alerts)
		case "drop", "stuck":
			w := drop
			if s.Labels["case"] == "stuck" {
				w = stuck
			}
			require.NotEmpty(t, s.Alerts, s.Labels["case"])
			a := s.Alerts[0]
			require.True(t, in(w, a.Start), "%s: first alert at %s, outside %v", s.Labels["case"], a.Start, w)
			require.NotEmpty(t, a.Reason)
			require.NotEqual(t, "none", a.Reason)
			for _, a := range s.Alerts {
				require.False(t, a.Start.Before(w[0]), "%s: alert %s before the fault", s.Labels["case"], a.Start)
				require.False(t, a.Start.After(w[1].Add(10*time.Minute)), "%s: alert %s after the fault", s.Labels["case"], a.Start)
			}
		default:
			t.Fatalf("series %s", s.Labels)
		}
	}
	dir := t.TempDir()
	require.NoError(t, rep.Write(dir))
	page, err := os.ReadFile(filepath.Join(dir, "index.html"))
	require.NoError(t, err)
	require.Equal(t, 3, strings.Count(string(page), `<svg class="chart"`))
}

// TestPrometheusBacktestRealErrors: a query Prometheus refuses at evaluation and an
// unreachable source are errors naming the query and the range.
func TestPrometheusBacktestRealErrors(t *testing.T) {
	end := time.Now().UTC().Truncate(time.Hour)
	prom := testenv.StartPrometheus(t, testenv.PromOptions{HistorySamples: concat(
		testenv.Series("x", map[string]string{"i": "1"}, end.Add(-time.Hour), time.Minute, 60, daily),
		testenv.Series("x", map[string]string{"i": "2"}, end.Add(-time.Hour), time.Minute, 60, daily),
	)})
	for _, tc := range []struct{ name, url, expr, want string }{
		{"refused", prom.URL(), "x + on() x", "many-to-many matching not allowed"},
		{"unreachable", "http://127.0.0.1:1", "x", "connection refused"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := queryconfig.Parse([]byte(fmt.Sprintf("source: {url: %q}\nqueries:\n  - {name: q, expr: %q, training_window: 1h}\n", tc.url, tc.expr)))
			require.NoError(t, err)
			src, err := source.New(cfg.Source)
			require.NoError(t, err)
			_, err = RunPrometheus(context.Background(), PromOptions{Config: cfg, Source: src, Range: time.Hour, End: end})
			require.ErrorContains(t, err, "query q, range "+end.Add(-2*time.Hour).Format(time.RFC3339))
			require.ErrorContains(t, err, tc.want)
		})
	}
}

func concat(seqs ...iter.Seq[testenv.Sample]) iter.Seq[testenv.Sample] {
	return func(yield func(testenv.Sample) bool) {
		for _, s := range seqs {
			for v := range s {
				if !yield(v) {
					return
				}
			}
		}
	}
}
