package seriesset_test

import (
	"context"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"

	"github.com/kizashi-dev/kizashi/exporter/internal/fakesource"
	"github.com/kizashi-dev/kizashi/exporter/internal/memstat"
	"github.com/kizashi-dev/kizashi/exporter/queryconfig"
	"github.com/kizashi-dev/kizashi/exporter/seriesset"
)

// benchSeries is the bar of BENCHMARKS.md: 100k modelled series.
const benchSeries = 100_000

// BenchmarkCycle100k measures one live update cycle of 100k series, excluding the query (the
// vector is built in-process): fingerprints, shard and cap checks, model updates, forecasts,
// breach ETAs, staleness. It reports the memory with the 100k models in it, after the loop
// (package memstat): the live heap of the exporter's structures (live-MiB: the whole live heap
// less what the benchmark's own source and vector hold, measured before the query is built),
// the heap goal (goal-MiB) and the resident set (MiB-RSS) of the whole process, which include
// the benchmark's source, and the peak resident set (MiB-peak-RSS). BenchmarkMemory100k of
// package daemon measures the daemon as it runs.
//
//	go test ./exporter/seriesset -run '^$' -bench Cycle100k -benchtime 10x
func BenchmarkCycle100k(b *testing.B) {
	for _, th := range []int{0, 1} {
		b.Run("thresholds="+strconv.Itoa(th), func(b *testing.B) {
			ctx := context.Background()
			now := time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)
			cfg := queryconfig.DefaultQuery
			cfg.Name, cfg.Expr = "bench", "node_load1"
			cfg.TrainingWindow = model.Duration(2 * time.Hour)
			cfg.WarmUp = model.Duration(time.Hour)
			cfg.MaxSeries = benchSeries
			if th > 0 {
				cfg.Thresholds = []float64{1000}
			}
			q, err := seriesset.New(cfg, seriesset.Options{Metrics: seriesset.NewMetrics(prometheus.NewRegistry()),
				ChartSeries: 50, Now: func() time.Time { return now }})
			if err != nil {
				b.Fatal(err)
			}
			src := fakesource.New(fakesource.Many("node_load1", benchSeries), func(i int, t time.Time) float64 {
				return float64(i%100) + float64(t.Unix()%3600)/100
			})
			vec, err := src.Query(ctx, "", now)
			if err != nil {
				b.Fatal(err)
			}
			inputs, err := memstat.Read()
			if err != nil {
				b.Fatal(err)
			}
			if _, err := q.Cycle(ctx, src, now); err != nil {
				b.Fatal(err)
			}
			if _, err := q.Backfill(ctx, src); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for b.Loop() {
				now = now.Add(time.Minute)
				ts := model.TimeFromUnixNano(now.UnixNano())
				for _, s := range vec {
					s.Timestamp = ts
				}
				res := q.ApplyVector(vec, now)
				if res.Updated != benchSeries {
					b.Fatalf("updated %d series", res.Updated)
				}
			}
			b.StopTimer()
			mem, err := memstat.Read()
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(mem.Live-inputs.Live, "live-MiB")
			b.ReportMetric(mem.Goal, "goal-MiB")
			b.ReportMetric(mem.RSS, "MiB-RSS")
			b.ReportMetric(mem.PeakRSS, "MiB-peak-RSS")
			runtime.KeepAlive(q) // measured alive, with the inputs
			runtime.KeepAlive(src)
			runtime.KeepAlive(vec)
		})
	}
}
