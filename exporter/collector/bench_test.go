package collector_test

import (
	"compress/gzip"
	"context"
	"io"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"

	"github.com/kizashi-dev/kizashi/exporter/collector"
	"github.com/kizashi-dev/kizashi/exporter/internal/fakesource"
	"github.com/kizashi-dev/kizashi/exporter/queryconfig"
	"github.com/kizashi-dev/kizashi/exporter/seriesset"
)

type countingWriter struct{ n int64 }

func (w *countingWriter) Write(p []byte) (int, error) { w.n += int64(len(p)); return len(p), nil }

// BenchmarkScrape100k writes /metrics' kizashi_* families for 100k series (default 3 horizons,
// one breach threshold: 16 samples per series), plain and gzip (as Prometheus asks for it).
//
//	go test ./exporter/collector -run '^$' -bench Scrape100k -benchtime 5x
func BenchmarkScrape100k(b *testing.B) {
	const n = 100_000
	ctx := context.Background()
	now := time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)
	cfg := queryconfig.DefaultQuery
	cfg.Name, cfg.Expr = "bench", "node_load1"
	cfg.TrainingWindow = model.Duration(10 * time.Minute)
	cfg.MaxSeries = n
	cfg.Thresholds = []float64{1}
	cfg.Publish = []string{"all"} // the 16 samples per series of BENCHMARKS.md
	q, err := seriesset.New(cfg, seriesset.Options{Metrics: seriesset.NewMetrics(prometheus.NewRegistry()),
		Now: func() time.Time { return now }})
	if err != nil {
		b.Fatal(err)
	}
	src := fakesource.New(fakesource.Many("node_load1", n), func(i int, t time.Time) float64 {
		return float64(i%100) + float64(t.Unix()%3600)/100
	})
	if _, err := q.Cycle(ctx, src, now); err != nil {
		b.Fatal(err)
	}
	if _, err := q.Backfill(ctx, src); err != nil {
		b.Fatal(err)
	}
	queries := []*seriesset.Query{q}
	for _, gz := range []bool{false, true} {
		b.Run(map[bool]string{false: "plain", true: "gzip"}[gz], func(b *testing.B) {
			var size int64
			for b.Loop() {
				cw := &countingWriter{}
				var w io.Writer = cw
				var zw *gzip.Writer
				if gz {
					zw, _ = gzip.NewWriterLevel(cw, gzip.BestSpeed)
					w = zw
				}
				if _, err := collector.WriteText(w, queries, model.UnderscoreEscaping); err != nil {
					b.Fatal(err)
				}
				if zw != nil {
					if err := zw.Close(); err != nil {
						b.Fatal(err)
					}
				}
				size = cw.n
			}
			b.ReportMetric(float64(size)/(1<<20), "MiB/scrape")
		})
	}
}
