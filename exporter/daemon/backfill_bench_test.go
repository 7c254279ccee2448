//go:build e2e

package daemon_test

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"

	"github.com/kizashi-dev/kizashi/exporter/queryconfig"
	"github.com/kizashi-dev/kizashi/exporter/seriesset"
	"github.com/kizashi-dev/kizashi/exporter/source"
	"github.com/kizashi-dev/kizashi/internal/testenv"
)

// BenchmarkBackfill10k7d backfills 10k series over 7 days at a 1m step from Debian's
// Prometheus (history loaded with promtool at a 5m resolution to keep loading time sane; the
// range queries still evaluate every minute), and reports the time split between waiting for
// the range queries and updating the models.
//
//	go test -tags e2e ./exporter/daemon -run '^$' -bench Backfill10k7d -benchtime 1x -timeout 60m
func BenchmarkBackfill10k7d(b *testing.B) {
	const (
		series = 10_000
		window = 7 * 24 * time.Hour
		res    = 5 * time.Minute
	)
	end := time.Now().Add(-30 * time.Minute).Truncate(time.Hour)
	start := end.Add(-window - time.Hour)
	points := int(end.Sub(start)/res) + 1
	t0 := time.Now()
	prom := testenv.StartPrometheus(b, testenv.PromOptions{
		HistorySamples: func(yield func(testenv.Sample) bool) {
			for i := range series {
				labels := map[string]string{"instance": "host-" + strconv.Itoa(i), "job": "bench"}
				for s := range testenv.Series("kizashi_bench_load", labels, start, res, points, func(_ int, t time.Time) float64 {
					day := float64(t.Unix()%86400) / 86400
					return 50 + float64(i%50) + 20*math.Sin(2*math.Pi*day)
				}) {
					if !yield(s) {
						return
					}
				}
			}
		},
		ExtraFlags: []string{"--query.max-samples=100000000"},
	})
	b.Logf("loaded %d series x %d points into Prometheus in %s", series, points, time.Since(t0).Round(time.Second))

	cfg := queryconfig.DefaultQuery
	cfg.Name, cfg.Expr = "bench", "kizashi_bench_load"
	cfg.Step = model.Duration(time.Minute)
	cfg.TrainingWindow = model.Duration(window)
	cfg.MaxSeries = series
	srcCfg := queryconfig.DefaultSource
	srcCfg.URL = prom.URL()
	srcCfg.QueryTimeout = model.Duration(5 * time.Minute)
	src, err := source.New(srcCfg)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		q, err := seriesset.New(cfg, seriesset.Options{Metrics: seriesset.NewMetrics(prometheus.NewRegistry()),
			MaxSamplesPerQuery: srcCfg.MaxSamplesPerQuery, Now: func() time.Time { return end }})
		if err != nil {
			b.Fatal(err)
		}
		ctx := context.Background()
		res, err := q.Cycle(ctx, src, end)
		if err != nil {
			b.Fatal(err)
		}
		if res.New != series {
			b.Fatalf("found %d series", res.New)
		}
		t1 := time.Now()
		bf, err := q.Backfill(ctx, src)
		if err != nil {
			b.Fatal(err)
		}
		total := time.Since(t1)
		b.ReportMetric(total.Seconds(), "s-backfill")
		b.ReportMetric(bf.QueryTime.Seconds(), "s-query")
		b.ReportMetric(bf.ModelTime.Seconds(), "s-model")
		b.ReportMetric(float64(bf.Samples), "samples")
		b.ReportMetric(float64(bf.Queries), "range-queries")
		fmt.Printf("backfill 10k x 7d @1m: %s total, query %s, model %s, %d samples, %d range queries\n",
			total.Round(time.Millisecond), bf.QueryTime.Round(time.Millisecond), bf.ModelTime.Round(time.Millisecond), bf.Samples, bf.Queries)
	}
}
