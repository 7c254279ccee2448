package collector_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"

	"github.com/kizashi-dev/kizashi/exporter/collector"
	"github.com/kizashi-dev/kizashi/exporter/internal/fakesource"
	"github.com/kizashi-dev/kizashi/exporter/queryconfig"
	"github.com/kizashi-dev/kizashi/exporter/seriesset"
	"github.com/kizashi-dev/kizashi/exporter/source"
)

// instantAnswer is a Prometheus /api/v1/query answer for n series of node_exporter-like labels
// at a time written in place (tsAt: the offsets of the 10-digit Unix seconds).
type instantAnswer struct {
	body []byte
	tsAt []int
}

func newInstantAnswer(n int, value func(i int) float64) *instantAnswer {
	a := &instantAnswer{}
	var b bytes.Buffer
	b.WriteString(`{"status":"success","data":{"resultType":"vector","result":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"metric":{"__name__":"node_load1","instance":"host-%d.example.net:9100","job":"node","tenant":"t%d","service":"svc%d"},"value":[`, i, i%50, i%20)
		a.tsAt = append(a.tsAt, b.Len())
		fmt.Fprintf(&b, `0000000000,"%s"]}`, strconv.FormatFloat(value(i), 'g', -1, 64))
	}
	b.WriteString(`]}}`)
	a.body = b.Bytes()
	return a
}

// at returns the answer with its samples at t.
func (a *instantAnswer) at(t time.Time) []byte {
	ts := strconv.FormatInt(t.Unix(), 10)
	for _, off := range a.tsAt {
		copy(a.body[off:off+10], ts)
	}
	return a.body
}

// BenchmarkExporterCycle is the exporter's whole cost per series and step, as issue 16 bounds
// it (<= 10 us per series): Prometheus' JSON answer read over HTTP on loopback and decoded by
// the source (client_golang), the models updated with forecasts and a breach ETA, and the
// default publication (score, band, forecast at the longest horizon, the reason, the ETA)
// written as a scrape reads it. Reported per series (ns/series).
//
//	go test ./exporter/collector -run '^$' -bench ExporterCycle -benchmem -count 6
func BenchmarkExporterCycle(b *testing.B) {
	for _, n := range []int{1_000, 10_000} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			ctx := context.Background()
			now := time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)
			value := func(i int, t time.Time) float64 { return float64(i%100) + float64(t.Unix()%3600)/100 }
			cfg := queryconfig.DefaultQuery
			cfg.Name, cfg.Expr = "bench", "node_load1"
			cfg.TrainingWindow = model.Duration(2 * time.Hour)
			cfg.WarmUp = model.Duration(time.Hour)
			cfg.MaxSeries = n
			cfg.Thresholds = []float64{1000}
			q, err := seriesset.New(cfg, seriesset.Options{Metrics: seriesset.NewMetrics(prometheus.NewRegistry()),
				ChartSeries: 50, Now: func() time.Time { return now }})
			if err != nil {
				b.Fatal(err)
			}
			// The models learn two hours from an in-process source with the same labels.
			ans := newInstantAnswer(n, func(i int) float64 { return value(i, now) })
			fake, err := decodeOnce(ans.at(now))
			if err != nil {
				b.Fatal(err)
			}
			var metrics []model.Metric
			for _, s := range fake {
				metrics = append(metrics, s.Metric)
			}
			src := fakesource.New(metrics, value)
			if _, err := q.Cycle(ctx, src, now); err != nil {
				b.Fatal(err)
			}
			if _, err := q.Backfill(ctx, src); err != nil {
				b.Fatal(err)
			}

			var cur time.Time
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write(ans.at(cur))
			}))
			defer srv.Close()
			sc := queryconfig.DefaultSource
			sc.URL = srv.URL
			prom, err := source.New(sc)
			if err != nil {
				b.Fatal(err)
			}
			queries := []*seriesset.Query{q}
			var size int64
			b.ResetTimer()
			for b.Loop() {
				now = now.Add(time.Minute)
				cur = now
				res, err := q.Cycle(ctx, prom, now)
				if err != nil {
					b.Fatal(err)
				}
				if res.Updated != n {
					b.Fatalf("updated %d series", res.Updated)
				}
				cw := &countingWriter{}
				if _, err := collector.WriteText(cw, queries, model.UnderscoreEscaping); err != nil {
					b.Fatal(err)
				}
				size = cw.n
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/series")
			b.ReportMetric(float64(size)/float64(n), "bytes/series")
		})
	}
}

// decodeOnce decodes an answer with the source's client, from a one-off server.
func decodeOnce(body []byte) (model.Vector, error) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.Copy(w, bytes.NewReader(body))
	}))
	defer srv.Close()
	sc := queryconfig.DefaultSource
	sc.URL = srv.URL
	p, err := source.New(sc)
	if err != nil {
		return nil, err
	}
	return p.Query(context.Background(), "x", time.Now())
}
