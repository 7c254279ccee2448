package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kizashi-dev/kizashi/exporter/backtest"
)

// TestBacktestPrometheus runs `backtest --config.file` against a server answering
// Prometheus' query_range API (one daily series, dropping for an hour), and checks the
// report's files and the alert in the fault's hour.
func TestBacktestPrometheus(t *testing.T) {
	end := time.Date(2026, 3, 12, 0, 0, 0, 0, time.UTC)
	fault := end.Add(-30 * time.Hour)
	value := func(ts time.Time) float64 {
		h := float64(ts.Hour()) + float64(ts.Minute())/60
		v := 100 + 80*math.Exp(-(h-14)*(h-14)/18)
		v *= 1 + 0.02*math.Sin(float64(ts.Unix()/60)*1.7)
		if !ts.Before(fault) && ts.Before(fault.Add(time.Hour)) {
			v *= 0.3
		}
		return v
	}
	var queries atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v1/query_range" || r.FormValue("query") != "shop_sessions" {
			http.Error(w, "unexpected "+r.URL.Path, http.StatusBadRequest)
			return
		}
		queries.Add(1)
		start, _ := strconv.ParseFloat(r.FormValue("start"), 64)
		stop, _ := strconv.ParseFloat(r.FormValue("end"), 64)
		step, _ := strconv.ParseFloat(r.FormValue("step"), 64)
		var vals [][2]any
		for s := start; s <= stop; s += step {
			ts := time.Unix(int64(s), 0).UTC()
			vals = append(vals, [2]any{s, strconv.FormatFloat(value(ts), 'f', -1, 64)})
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"status": "success", "data": map[string]any{"resultType": "matrix",
			"result": []any{map[string]any{"metric": map[string]string{"__name__": "shop_sessions", "tenant": "acme"}, "values": vals}}}})
	}))
	defer srv.Close()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "kizashi-exporter.yml")
	require.NoError(t, os.WriteFile(cfg, fmt.Appendf(nil, "source:\n  url: %s\nqueries:\n  - {name: sessions, expr: shop_sessions, step: 5m, training_window: 7d}\n", srv.URL), 0o644))
	out := filepath.Join(dir, "report")
	var stdout, stderr strings.Builder
	code := run(context.Background(), []string{"backtest", "--config.file", cfg, "--range", "2d", "--end", end.Format(time.RFC3339), "--out", out},
		environment{stdout: &stdout, stderr: &stderr})
	require.Equal(t, 0, code, stderr.String())
	require.Contains(t, stderr.String(), "backtest chunk")
	require.Contains(t, stderr.String(), "backtest report written")
	require.Greater(t, queries.Load(), int64(1))
	for _, f := range []string{"index.html", "series.csv", "alerts.csv", "breach_etas.csv"} {
		require.FileExists(t, filepath.Join(out, f))
	}
	b, err := os.ReadFile(filepath.Join(out, "report.json"))
	require.NoError(t, err)
	var rep backtest.Report
	require.NoError(t, json.Unmarshal(b, &rep))
	require.Equal(t, end, rep.End)
	s := rep.Queries[0].Series[0]
	require.Equal(t, "acme", string(s.Labels["tenant"]))
	require.Len(t, s.Alerts, 1)
	require.False(t, s.Alerts[0].Start.Before(fault))
	require.True(t, s.Alerts[0].Start.Before(fault.Add(time.Hour)))
	require.NotEmpty(t, s.Alerts[0].Reason)
}
