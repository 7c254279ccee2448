package daemon_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kizashi-dev/kizashi/exporter/daemon"
	"github.com/kizashi-dev/kizashi/exporter/internal/memstat"
)

// promAPI answers /api/v1/query and /api/v1/query_range as Prometheus does (JSON), for n
// series with node_exporter-like labels, each a daily wave with its own level.
type promAPI struct {
	n       int
	instant atomic.Int64 // instant queries answered

	mu     sync.Mutex
	labels [][]byte // `"metric":{...}` of each series
	body   []byte   // the instant answer, rewritten in place at each query
	at     []int    // offsets of each sample's `ts,"value"` in body
}

// valueWidth is the fixed width of a value in the instant answer, so that it is rewritten in
// place.
const valueWidth = 10

func newPromAPI(n int) *promAPI {
	p := &promAPI{n: n}
	p.body = append(p.body, `{"status":"success","data":{"resultType":"vector","result":[`...)
	for i := range n {
		l := fmt.Appendf(nil, `"metric":{"__name__":"node_load1","instance":"host-%d.example.net:9100","job":"node","tenant":"t%d","service":"svc%d"}`, i, i%50, i%20)
		p.labels = append(p.labels, l)
		if i > 0 {
			p.body = append(p.body, ',')
		}
		p.body = append(p.body, '{')
		p.body = append(p.body, l...)
		p.body = append(p.body, `,"value":[`...)
		p.at = append(p.at, len(p.body))
		p.body = append(p.body, `0000000000,"`+fmt.Sprintf("%0*d", valueWidth, 0)+`"]}`...)
	}
	p.body = append(p.body, `]}}`...)
	return p
}

func (p *promAPI) value(i int, t int64) float64 {
	day := float64(t%86400) / 86400
	return 50 + float64(i%50) + 10*math.Sin(2*math.Pi*day) + float64((t/60+int64(i))%7)/10
}

func (p *promAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	switch r.URL.Path {
	case "/api/v1/query":
		t, err := strconv.ParseFloat(r.Form.Get("time"), 64)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		ts := int64(t)
		tss := strconv.FormatInt(ts, 10)
		var v []byte
		for i, off := range p.at {
			copy(p.body[off:off+10], tss)
			// The value with 4 decimals, padded with zeros to valueWidth (cheaply: the fake's
			// work is counted in BenchmarkDaemonCycle's time).
			v = strconv.AppendFloat(v[:0], p.value(i, ts), 'f', 4, 64)
			field := p.body[off+12 : off+12+valueWidth]
			pad := valueWidth - len(v)
			for j := range pad {
				field[j] = '0'
			}
			copy(field[pad:], v)
		}
		p.instant.Add(1)
		_, _ = w.Write(p.body)
	case "/api/v1/query_range":
		start, err1 := strconv.ParseFloat(r.Form.Get("start"), 64)
		end, err2 := strconv.ParseFloat(r.Form.Get("end"), 64)
		step, err3 := strconv.ParseFloat(r.Form.Get("step"), 64)
		if err1 != nil || err2 != nil || err3 != nil || step <= 0 {
			http.Error(w, "bad range", http.StatusBadRequest)
			return
		}
		bw := bufio.NewWriterSize(w, 64<<10)
		_, _ = bw.WriteString(`{"status":"success","data":{"resultType":"matrix","result":[`)
		var b []byte
		for i, l := range p.labels {
			b = b[:0]
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, '{')
			b = append(b, l...)
			b = append(b, `,"values":[`...)
			for t := int64(start); t <= int64(end); t += int64(step) {
				if t > int64(start) {
					b = append(b, ',')
				}
				b = append(b, '[')
				b = strconv.AppendInt(b, t, 10)
				b = append(b, `,"`...)
				b = strconv.AppendFloat(b, p.value(i, t), 'f', -1, 64)
				b = append(b, `"]`...)
			}
			b = append(b, "]}"...)
			_, _ = bw.Write(b)
		}
		_, _ = bw.WriteString(`]}}`)
		_ = bw.Flush()
	default:
		http.NotFound(w, r)
	}
}

// BenchmarkMemory100k measures the exporter's memory as a user sees it: the daemon runs as
// `kizashi-exporter serve` runs it (daemon.Run: the HTTP source, snapshots, the web server)
// against a Prometheus API on loopback answering in Prometheus' JSON, 100k series with five
// labels, the default query settings except a 10 s step and a 20-minute training window (120
// points to backfill, so that the run takes a minute). Once ready (backfill done), it waits
// for three live cycles and scrapes /metrics twice (snapshots are taken every 30 s meanwhile),
// then reports:
// live-MiB, the exporter's live heap (the process' less what the fake Prometheus holds,
// measured before the daemon starts: its prebuilt answer); goal-MiB, the heap goal; MiB-RSS
// and MiB-peak-RSS, the resident set now and at its peak (backfill included), of the whole
// process; GC-CPU-s, the CPU time the collector took from the start to then (backfill
// included). GOGC and GOMEMLIMIT come from the environment: `kizashi-exporter serve` sets
// GOGC=75 by default (--runtime.gogc) and, in a container with a memory limit, GOMEMLIMIT to
// 0.9 of it (--auto-gomemlimit); the figures of BENCHMARKS.md are taken so:
//
//	GOGC=75 go test ./exporter/daemon -run '^$' -bench Memory100k -benchtime 1x -timeout 30m
//	GOGC=75 GOMEMLIMIT=922MiB go test ./exporter/daemon -run '^$' -bench Memory100k -benchtime 1x -timeout 30m
func BenchmarkMemory100k(b *testing.B) {
	const series = 100_000
	for range b.N {
		api := newPromAPI(series)
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		srv := &http.Server{Handler: api, ReadHeaderTimeout: time.Minute}
		go func() { _ = srv.Serve(l) }()
		base, err := memstat.Read()
		if err != nil {
			b.Fatal(err)
		}

		dir := b.TempDir()
		cfgPath := filepath.Join(dir, "kizashi-exporter.yml")
		cfg := fmt.Sprintf("source:\n  url: http://%s\nqueries:\n  - name: load\n    expr: node_load1\n    step: 10s\n    training_window: 20m\n    warm_up: 10m\n    max_series: %d\n", l.Addr(), series)
		if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
			b.Fatal(err)
		}
		el, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		url := "http://" + el.Addr().String()
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() {
			done <- daemon.Run(ctx, daemon.Options{ConfigFile: cfgPath, Listener: el, DataDir: filepath.Join(dir, "data"),
				SnapshotInterval: 30 * time.Second})
		}()
		deadline := time.Now().Add(20 * time.Minute)
		wait := func(what string, ok func() bool) {
			for !ok() {
				if time.Now().After(deadline) {
					b.Fatalf("timed out waiting for %s", what)
				}
				time.Sleep(100 * time.Millisecond)
			}
		}
		get := func(path string) (int, int64) {
			resp, err := http.Get(url + path)
			if err != nil {
				return 0, 0
			}
			defer func() { _ = resp.Body.Close() }()
			n, _ := io.Copy(io.Discard, resp.Body)
			return resp.StatusCode, n
		}
		start := time.Now()
		wait("ready", func() bool { code, _ := get("/-/ready"); return code == http.StatusOK })
		ready := time.Since(start)
		cycles := api.instant.Load()
		wait("three live cycles", func() bool { return api.instant.Load() >= cycles+3 })
		var size int64
		for range 2 {
			code, n := get("/metrics")
			if code != http.StatusOK {
				b.Fatalf("scrape: %d", code)
			}
			size = n
		}
		b.StopTimer()
		mem, err := memstat.Read()
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(mem.Live-base.Live, "live-MiB")
		b.ReportMetric(mem.Goal, "goal-MiB")
		b.ReportMetric(mem.RSS, "MiB-RSS")
		b.ReportMetric(mem.PeakRSS, "MiB-peak-RSS")
		b.ReportMetric((mem.Live-base.Live)*(1<<20)/series, "live-bytes/series")
		b.ReportMetric(mem.GCCPU-base.GCCPU, "GC-CPU-s")
		b.Logf("ready after %s (backfill), scrape %d bytes, fake Prometheus %.0f MiB live", ready.Round(time.Second), size, base.Live)
		cancel()
		if err := <-done; err != nil {
			b.Fatal(err)
		}
		_ = srv.Close()
		runtime.KeepAlive(api)
		b.StartTimer()
	}
}
