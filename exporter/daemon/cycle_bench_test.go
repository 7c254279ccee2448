package daemon_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/common/model"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kizashi-dev/kizashi/exporter/daemon"
	"github.com/kizashi-dev/kizashi/exporter/internal/fakesource"
	"github.com/kizashi-dev/kizashi/exporter/queryconfig"
	"github.com/kizashi-dev/kizashi/exporter/seriesset"
	"github.com/kizashi-dev/kizashi/exporter/source"
)

// prometheusAccept is the Accept header of Prometheus 2's scrapes.
const prometheusAccept = `application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1`

// BenchmarkDaemonCycle is the exporter's whole cost per series and step as the running daemon
// pays it (issue 16's bar: <= 10 us per series): the instant query sent to a Prometheus API on
// loopback and its JSON answer decoded (package source), the models updated and their
// forecasts computed (the default query settings, no threshold: no breach ETA), the cycle's
// self-metrics, a scrape of /metrics by the daemon's own handler as Prometheus 2 asks for it
// (text 0.0.4, not compressed: the default --web.compression=none; the Go and process
// collectors gathered with it), a snapshot of every model to the data directory (fsync
// included) every 15 cycles as the default --storage.snapshot-interval of 15m does at a 1m step,
// and the garbage collection all that causes, at the daemon's default GOGC=75.
//
// The daemon runs a cycle a minute, and the machine runs other things (Prometheus) meanwhile:
// its models and buffers are no longer in the CPU's caches when a cycle starts. With
// caches=cold the benchmark writes 64 MiB between cycles (timer stopped, not counted) so that
// each cycle starts so; caches=warm runs the cycles back to back.
//
// Reported per series and cycle: ns/series, wall time; cpu-ns/series, the process' CPU time
// (user and system, every core: the garbage collector's background work included), which is
// what the side-by-side (internal/costcompare) reads for the exporter's process, but which
// here also counts the fake Prometheus writing its answer and the scraper reading /metrics,
// both in-process; gc-ns/series, the collector's share of it (the runtime's estimate);
// allocs/series and B/series, the heap allocations.
//
//	go test ./exporter/daemon -run '^$' -bench DaemonCycle -benchmem -count 6
func BenchmarkDaemonCycle(b *testing.B) {
	evict := make([]byte, 64<<20)
	for _, n := range []int{1_000, 10_000} {
		for _, cold := range []bool{false, true} {
			b.Run(fmt.Sprintf("series=%d/caches=%s", n, map[bool]string{false: "warm", true: "cold"}[cold]), func(b *testing.B) {
				benchDaemonCycle(b, n, cold, evict)
			})
		}
	}
}

func benchDaemonCycle(b *testing.B, n int, cold bool, evict []byte) {
	defer debug.SetGCPercent(debug.SetGCPercent(75)) // serve's default --runtime.gogc
	ctx := context.Background()
	now := time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)
	app := daemon.NewBenchApp(daemon.Options{DataDir: b.TempDir()})
	cfg := queryconfig.DefaultQuery
	cfg.Name, cfg.Expr = "bench", "node_load1"
	cfg.MaxSeries = n
	q, err := seriesset.New(cfg, seriesset.Options{Metrics: app.Metrics(), ChartSeries: 50,
		Now: func() time.Time { return now }})
	if err != nil {
		b.Fatal(err)
	}
	app.SetQueries(q)

	api := newPromAPI(n)
	promSrv := httptest.NewServer(api)
	defer promSrv.Close()
	sc := queryconfig.DefaultSource
	sc.URL = promSrv.URL
	prom, err := source.New(sc)
	if err != nil {
		b.Fatal(err)
	}
	// The models are restored from a snapshot of a week's training (as after a restart),
	// then learn the gap from a range query, found by the first cycle.
	for _, t := range trained(b, api, cfg, now) {
		if err := q.Restore(t.raw, t.snap); err != nil {
			b.Fatal(err)
		}
	}
	now = now.Add(time.Minute)
	if _, err := q.Cycle(ctx, prom, now); err != nil {
		b.Fatal(err)
	}
	if _, err := q.Backfill(ctx, prom); err != nil {
		b.Fatal(err)
	}
	if !q.Ready() {
		b.Fatal("not ready after the backfill")
	}

	exp := httptest.NewServer(app.MetricsHandler())
	defer exp.Close()
	req, err := http.NewRequest(http.MethodGet, exp.URL+"/metrics", nil)
	if err != nil {
		b.Fatal(err)
	}
	req.Header.Set("Accept", prometheusAccept)
	var size int64
	scrape := func() {
		resp, err := exp.Client().Do(req)
		if err != nil {
			b.Fatal(err)
		}
		size, err = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			b.Fatalf("scrape: %d %v", resp.StatusCode, err)
		}
	}
	cycle := func(i int) {
		now = now.Add(time.Minute)
		res, err := q.Cycle(ctx, prom, now)
		if err != nil {
			b.Fatal(err)
		}
		if res.Updated != n {
			b.Fatalf("updated %d series", res.Updated)
		}
		scrape()
		if i%15 == 14 {
			app.SaveAll()
		}
	}
	for i := range 5 { // the first cycles' garbage and buffers out of the figures
		cycle(i)
	}
	runtime.GC()

	var ms0, ms1 runtime.MemStats
	gc := []metrics.Sample{{Name: "/cpu/classes/gc/total:cpu-seconds"}}
	metrics.Read(gc)
	gc0 := gc[0].Value.Float64()
	var cpu time.Duration
	runtime.ReadMemStats(&ms0)
	b.ResetTimer()
	i := 0
	for b.Loop() {
		if cold {
			b.StopTimer()
			for j := 0; j < len(evict); j += 64 {
				evict[j]++
			}
			b.StartTimer()
		}
		cpu0 := cpuTime(b)
		cycle(i)
		cpu += cpuTime(b) - cpu0
		i++
	}
	b.StopTimer()
	runtime.ReadMemStats(&ms1)
	metrics.Read(gc)
	per := float64(b.N) * float64(n)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/per, "ns/series")
	b.ReportMetric(float64(cpu.Nanoseconds())/per, "cpu-ns/series")
	b.ReportMetric((gc[0].Value.Float64()-gc0)*1e9/per, "gc-ns/series")
	b.ReportMetric(float64(ms1.Mallocs-ms0.Mallocs)/per, "allocs/series")
	b.ReportMetric(float64(ms1.TotalAlloc-ms0.TotalAlloc)/per, "B/series")
	b.ReportMetric(float64(size)/float64(n), "scrape-bytes/series")
}

// snapshot is a series' model snapshot.
type snapshot struct {
	raw  model.Metric
	snap []byte
}

// trainedModels are the models of newPromAPI(n)'s series after the training window of a query
// ending at a time, by n (trained once for every benchmark that needs them).
var trainedModels = map[string][]snapshot{}

// trained returns the snapshots of api's series trained on cfg's training window up to end,
// in-process (fakesource: no JSON to decode, a week of 1-minute steps is ten million samples
// for 1,000 series).
func trained(b *testing.B, api *promAPI, cfg queryconfig.Query, end time.Time) []snapshot {
	key := fmt.Sprint(api.n, cfg.TrainingWindow, end)
	if out, ok := trainedModels[key]; ok {
		return out
	}
	series := make([]model.Metric, api.n)
	for i := range series {
		series[i] = model.Metric{model.MetricNameLabel: "node_load1", "instance": model.LabelValue(fmt.Sprintf("host-%d.example.net:9100", i)),
			"job": "node", "tenant": model.LabelValue(fmt.Sprintf("t%d", i%50)), "service": model.LabelValue(fmt.Sprintf("svc%d", i%20))}
	}
	src := fakesource.New(series, func(i int, t time.Time) float64 { return api.value(i, t.Unix()) })
	q, err := seriesset.New(cfg, seriesset.Options{Metrics: seriesset.NewMetrics(prometheus.NewRegistry()),
		Now: func() time.Time { return end }})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if _, err := q.Cycle(ctx, src, end); err != nil {
		b.Fatal(err)
	}
	if _, err := q.Backfill(ctx, src); err != nil {
		b.Fatal(err)
	}
	var out []snapshot
	if err := q.Snapshot(func(raw model.Metric, snap []byte) error {
		out = append(out, snapshot{raw, append([]byte(nil), snap...)})
		return nil
	}); err != nil {
		b.Fatal(err)
	}
	if len(out) != api.n {
		b.Fatalf("trained %d series", len(out))
	}
	trainedModels[key] = out
	return out
}

// cpuTime returns the process' CPU time (user and system) so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
