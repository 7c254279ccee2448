//go:build e2e

package plugin

import (
	"context"
	"fmt"
	"iter"
	"runtime"
	"runtime/metrics"
	"sort"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"

	"github.com/kizashi-dev/kizashi/internal/testenv"
)

// BenchmarkAnomalyQuery measures, side by side against one real Prometheus holding 50 series
// at 1m over 8 days, the raw range query of 7 days alone and the anomaly query of the same
// panel range (which also reads a 1-day warm-up, set in the query so that the figures compare
// with earlier ones, runs the engine on every sample and builds the frames):
//
//	raw          the plugin's Prometheus client: query_range 7d@1m, one request, decoded
//	raw-client_golang  the same query with Prometheus' Go client (api/prometheus/v1), for reference
//	raw-chunked  the same client reading what the anomaly query reads (8d, parallel chunks)
//	anomaly      QueryData in-process (what the plugin does for Grafana, before gRPC)
//	anomaly-grpc the same through the plugin gRPC protocol (Arrow encoding, as Grafana sees it)
//	interleaved  raw then anomaly in each iteration; reports anomaly/raw (the bar: <= 1.3)
//
// Each anomaly sub-benchmark also reports peak-heap-MiB: the highest live heap during one
// query above the heap before it.
//
//	go test -tags e2e -run='^$' -bench=BenchmarkAnomalyQuery -benchtime=10x ./datasource/pkg/plugin/
func BenchmarkAnomalyQuery(b *testing.B) {
	const (
		nSeries = 50
		step    = time.Minute
		panel   = 7 * 24 * time.Hour
		warmUp  = 24 * time.Hour
	)
	end := time.Now().Truncate(time.Minute).Add(-time.Minute)
	start := end.Add(-panel - warmUp - time.Hour)
	n := int(end.Sub(start)/step) + 1
	var seqs []iter.Seq[testenv.Sample]
	for i := range nSeries {
		phase := float64(i) / nSeries * 6
		seqs = append(seqs, testenv.Series("kizashi_bench", map[string]string{"instance": fmt.Sprintf("host-%02d", i)}, start, step, n,
			func(_ int, ts time.Time) float64 { return normal(ts, phase) }))
	}
	t0 := time.Now()
	prom := testenv.StartPrometheus(b, testenv.PromOptions{HistorySamples: concat(seqs...)})
	b.Logf("Prometheus with %d samples ready in %s", nSeries*n, time.Since(t0).Round(time.Millisecond))

	ctx := context.Background()
	pc := pluginContext("bench", prom.URL(), nil)
	d := newTestDatasource(b, *pc.DataSourceInstanceSettings)
	d.now = time.Now
	req := &backend.QueryDataRequest{PluginContext: pc, Queries: []backend.DataQuery{{
		RefID: "A", QueryType: "anomaly", Interval: step, MaxDataPoints: 20000,
		TimeRange: backend.TimeRange{From: end.Add(-panel), To: end}, JSON: []byte(`{"expr":"kizashi_bench","warmUp":"1d"}`),
	}}}
	raw := func() {
		r, err := d.prom.QueryRange(ctx, "kizashi_bench", end.Add(-panel), end, step, d.limits())
		require.NoError(b, err)
		require.Len(b, r.Series, nSeries)
	}
	promAPI := prom.API()
	rawClientGolang := func() {
		v, _, _, err := promAPI.QueryRange(ctx, "kizashi_bench", v1.Range{Start: end.Add(-panel), End: end, Step: step})
		require.NoError(b, err)
		require.Len(b, v.(model.Matrix), nSeries)
	}
	rawChunked := func() {
		r, err := d.prom.QueryRange(ctx, "kizashi_bench", end.Add(-panel-warmUp), end, step, d.limits())
		require.NoError(b, err)
		require.Len(b, r.Series, nSeries)
	}
	check := func(resp *backend.QueryDataResponse, err error) {
		require.NoError(b, err)
		r := resp.Responses["A"]
		require.NoError(b, r.Error)
		require.Len(b, r.Frames, nSeries)
		require.Equal(b, 10081, r.Frames[0].Rows())
	}
	anomalyQuery := func() { check(d.QueryData(ctx, req)) }
	tp := startPlugin(b)
	// Grafana's plugin client takes messages of any size; the test client stops at 16 MiB.
	grpcQuery := func() {
		pr, err := tp.Client.DataClient.QueryData(ctx, backend.ToProto().QueryDataRequest(req), grpc.MaxCallRecvMsgSize(1<<30))
		require.NoError(b, err)
		check(backend.FromProto().QueryDataResponse(pr))
	}

	raw() // warm the caches of Prometheus and of the client alike
	anomalyQuery()

	b.Run("raw", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			raw()
		}
	})
	b.Run("raw-client_golang", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			rawClientGolang()
		}
	})
	b.Run("raw-chunked", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			rawChunked()
		}
	})
	b.Run("anomaly", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			anomalyQuery()
		}
		b.ReportMetric(peakHeapMiB(anomalyQuery), "peak-heap-MiB")
	})
	b.Run("anomaly-grpc", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			grpcQuery()
		}
		b.ReportMetric(peakHeapMiB(grpcQuery), "peak-heap-MiB")
	})
	b.Run("interleaved", func(b *testing.B) {
		var rawT, anoT []time.Duration
		for b.Loop() {
			s := time.Now()
			raw()
			rawT = append(rawT, time.Since(s))
			s = time.Now()
			anomalyQuery()
			anoT = append(anoT, time.Since(s))
		}
		b.ReportMetric(float64(median(rawT).Microseconds())/1e3, "raw-ms")
		b.ReportMetric(float64(median(anoT).Microseconds())/1e3, "anomaly-ms")
		b.ReportMetric(float64(median(anoT))/float64(median(rawT)), "anomaly/raw")
	})
}

func median(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

// peakHeapMiB runs fn once and returns the highest live heap seen while it ran (sampled every
// millisecond from runtime/metrics, which does not stop the world) above the heap before it.
func peakHeapMiB(fn func()) float64 {
	const name = "/memory/classes/heap/objects:bytes"
	sample := []metrics.Sample{{Name: name}}
	read := func() uint64 {
		metrics.Read(sample)
		return sample[0].Value.Uint64()
	}
	runtime.GC()
	base := read()
	done := make(chan struct{})
	peak := make(chan uint64)
	go func() {
		var m uint64
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			m = max(m, read())
			select {
			case <-done:
				peak <- max(m, read())
				return
			case <-t.C:
			}
		}
	}()
	fn()
	close(done)
	p := <-peak
	if p < base {
		return 0
	}
	return float64(p-base) / (1 << 20)
}
