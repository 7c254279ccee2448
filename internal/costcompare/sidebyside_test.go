//go:build e2e

package costcompare

import (
	"context"
	"flag"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/common/model"

	"github.com/kizashi-dev/kizashi/internal/proc"
	"github.com/kizashi-dev/kizashi/internal/testenv"
)

var (
	window  = flag.Duration("costcompare.window", 10*time.Minute, "measurement window per setup")
	warmUp  = flag.Duration("costcompare.warmup", 3*time.Minute, "time after the start (and the exporter's backfill) before measuring")
	series  = flag.Int("costcompare.series", 1000, "raw series")
	history = flag.Duration("costcompare.history", 8*24*time.Hour, "history at 60s loaded before Prometheus starts (the rules look a week back)")
)

// adaptiveRules are recording rules in the style of promql-anomaly-detection's adaptive.yml
// (github.com/grafana/promql-anomaly-detection, rules/adaptive.yml), written for this
// comparison with the same windows, offsets and evaluation intervals: the input tagged with
// an anomaly name, a 1-hour mean, a 1-hour standard deviation kept where it is large against
// the mean, smoothed over 26 hours, short-term bands with a minimum margin, long-term bands
// from the same hour a day and a week back (every 5 minutes), and the alert.
const adaptiveRules = `groups:
  - name: adaptive-input
    rules:
      - record: anomaly:resource:cost_load
        expr: cost_load
        labels: {anomaly_name: cost_load, anomaly_type: resource}
  - name: adaptive-short-term
    rules:
      - record: adaptive:select
        expr: '{anomaly_name!="", anomaly_select=""} > 0'
        labels: {anomaly_select: "1"}
      - record: adaptive:avg_1h
        expr: avg_over_time(adaptive:select[1h])
      - record: adaptive:stddev_1h:filtered
        expr: stddev_over_time(adaptive:select[1h]) > adaptive:avg_1h * 0.5
      - record: adaptive:stddev_st
        expr: avg_over_time(adaptive:stddev_1h:filtered[26h])
      - record: adaptive:level
        expr: adaptive:select
      - record: adaptive:lower_band
        expr: |-
          clamp_min(min without(band) (
              label_replace(last_over_time(adaptive:avg_1h[2m]) - 2 * last_over_time(adaptive:stddev_st[2m]), "band", "short_term", "", "")
            or label_replace(last_over_time(adaptive:avg_1h[2m]) * 0.5, "band", "margin", "", "")
            or last_over_time(adaptive:lower_band_lt[10m])
          ), 0)
      - record: adaptive:upper_band
        expr: |-
          max without(band) (
              label_replace(last_over_time(adaptive:avg_1h[2m]) + 2 * last_over_time(adaptive:stddev_st[2m]), "band", "short_term", "", "")
            or label_replace(last_over_time(adaptive:avg_1h[2m]) * 1.5, "band", "margin", "", "")
            or last_over_time(adaptive:upper_band_lt[10m])
          )
  - name: adaptive-long-term
    interval: 5m
    rules:
      - record: adaptive:upper_band_lt
        expr: |-
          max without(look_back) (
              label_replace(avg_over_time(adaptive:select[1h] offset 167h30m) + 2 * stddev_over_time(adaptive:select[1h] offset 167h30m), "look_back", "1w", "", "")
            or label_replace(avg_over_time(adaptive:select[1h] offset 23h30m) + 2 * stddev_over_time(adaptive:select[1h] offset 23h30m), "look_back", "1d", "", "")
          )
      - record: adaptive:lower_band_lt
        expr: |-
          min without(look_back) (
              label_replace(avg_over_time(adaptive:select[1h] offset 167h30m) - 2 * stddev_over_time(adaptive:select[1h] offset 167h30m), "look_back", "1w", "", "")
            or label_replace(avg_over_time(adaptive:select[1h] offset 23h30m) - 2 * stddev_over_time(adaptive:select[1h] offset 23h30m), "look_back", "1d", "", "")
          )
  - name: adaptive-alerts
    rules:
      - alert: AdaptiveAnomaly
        for: 5m
        expr: |-
          last_over_time(adaptive:level[2m]) < last_over_time(adaptive:lower_band[2m])
          or last_over_time(adaptive:level[2m]) > last_over_time(adaptive:upper_band[2m])
`

// value is the raw series: a daily rhythm with some wobble, per series.
func value(i int, t time.Time) float64 {
	s := float64(t.Unix())
	return 50 + 20*math.Sin(2*math.Pi*s/86400+float64(i)) + 3*math.Sin(s/97+float64(i)*1.7)
}

func labels(i int) map[string]string {
	return map[string]string{"host": "host-" + strconv.Itoa(i), "tenant": "t" + strconv.Itoa(i%10)}
}

// cpuSeconds returns the CPU time (user + system) of a process from /proc/PID/stat, in
// clock ticks of 1/100 s (Linux' USER_HZ).
func cpuSeconds(b *testing.B, pid int) float64 {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatalf("read stat: %v", err)
	}
	// The command name, in parentheses, may hold spaces: the fields start after its ')'.
	f := strings.Fields(string(raw[strings.LastIndexByte(string(raw), ')')+2:]))
	utime, _ := strconv.ParseFloat(f[11], 64)
	stime, _ := strconv.ParseFloat(f[12], 64)
	return (utime + stime) / 100
}

// rssMiB returns a process' resident memory (VmRSS) in MiB.
func rssMiB(b *testing.B, pid int) float64 {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatalf("read status: %v", err)
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			return kb / 1024
		}
	}
	b.Fatal("no VmRSS")
	return 0
}

type measured struct {
	promCPU, exporterCPU float64 // CPU-seconds per minute
	promRSS              float64 // MiB
}

func BenchmarkSideBySide(b *testing.B) {
	if !flag.Parsed() {
		flag.Parse()
	}
	exporterBin := filepath.Join(b.TempDir(), "kizashi-exporter")
	build := exec.Command("go", "build", "-o", exporterBin, "github.com/kizashi-dev/kizashi/exporter/cmd/kizashi-exporter")
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("build the exporter: %v\n%s", err, out)
	}
	shipped, err := os.ReadFile(filepath.Join("..", "..", "dashboards", "prometheus", "kizashi-alerts.yml"))
	if err != nil {
		b.Fatal(err)
	}
	results := map[string]measured{}
	for b.Loop() {
		for _, setup := range []string{"baseline", "rules", "kizashi"} {
			results[setup] = run(b, setup, exporterBin, string(shipped))
			b.Logf("%s: Prometheus %.3f CPU-s/min, %.0f MiB; exporter %.3f CPU-s/min", setup,
				results[setup].promCPU, results[setup].promRSS, results[setup].exporterCPU)
		}
	}
	base, rules, kz := results["baseline"], results["rules"], results["kizashi"]
	rulesAdd := rules.promCPU - base.promCPU
	kzAdd := kz.promCPU - base.promCPU + kz.exporterCPU
	b.ReportMetric(base.promCPU, "base-cpu-s/min")
	b.ReportMetric(rulesAdd, "rules-added-cpu-s/min")
	b.ReportMetric(kzAdd, "kizashi-added-cpu-s/min")
	b.ReportMetric(kz.exporterCPU, "exporter-cpu-s/min")
	b.ReportMetric(rulesAdd/kzAdd, "x-cheaper")
	b.ReportMetric(rules.promRSS-base.promRSS, "rules-added-MiB")
	b.ReportMetric(kz.promRSS-base.promRSS, "kizashi-added-MiB")
}

// run starts one setup, waits for the warm-up and measures over the window.
func run(b *testing.B, setup, exporterBin, shippedRules string) measured {
	n := *series
	target := testenv.NewTarget(b)
	now := time.Now()
	update := func(t time.Time) {
		for i := range n {
			target.Set("cost_load", labels(i), value(i, t))
		}
	}
	update(now)
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer wg.Wait() // after stop: deferred calls run last first
	defer stop()
	wg.Go(func() {
		tick := time.NewTicker(10 * time.Second)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case t := <-tick.C:
				update(t)
			}
		}
	})

	// History at 60s, ending 10 minutes ago (promtool's blocks must not overlap the head).
	end := now.Add(-10 * time.Minute).Truncate(time.Minute)
	points := int(*history / time.Minute)
	start := end.Add(-time.Duration(points-1) * time.Minute)
	hist := func(yield func(testenv.Sample) bool) {
		for i := range n {
			for s := range testenv.Series("cost_load", labels(i), start, time.Minute, points, func(_ int, t time.Time) float64 { return value(i, t) }) {
				if !yield(s) {
					return
				}
			}
		}
	}
	opts := testenv.PromOptions{ScrapeInterval: time.Minute, EvaluationInterval: time.Minute, HistorySamples: hist,
		ScrapeConfigs: []testenv.ScrapeConfig{{JobName: "node", Targets: []string{target.Addr()}}}}
	var exporterAddr string
	switch setup {
	case "rules":
		opts.Rules = map[string]string{"adaptive.yml": adaptiveRules}
	case "kizashi":
		exporterAddr = testenv.FreeAddr(b)
		opts.Rules = map[string]string{"kizashi-alerts.yml": shippedRules}
		opts.ScrapeConfigs = append(opts.ScrapeConfigs, testenv.ScrapeConfig{JobName: "kizashi-exporter", Targets: []string{exporterAddr}, HonorLabels: true})
	}
	prom := testenv.StartPrometheus(b, opts)

	var exporter *proc.Process
	if setup == "kizashi" {
		dir := b.TempDir()
		cfg := filepath.Join(dir, "kizashi-exporter.yml")
		if err := os.WriteFile(cfg, []byte(fmt.Sprintf("source:\n  url: %s\nqueries:\n  - name: load\n    expr: cost_load\n    step: 1m\n    training_window: 7d\n", prom.URL())), 0o600); err != nil {
			b.Fatal(err)
		}
		exporter = proc.New("kizashi-exporter", exporterBin, "--config.file="+cfg, "--storage.path="+filepath.Join(dir, "data"),
			"--web.listen-address="+exporterAddr, "--log.level=warn")
		if err := exporter.Start(); err != nil {
			b.Fatal(err)
		}
		defer func() { _ = exporter.Stop(syscall.SIGTERM, 15*time.Second) }()
		if err := exporter.WaitReady(context.Background(), 30*time.Minute, proc.HTTPReady("http://"+exporterAddr+"/-/ready")); err != nil {
			b.Fatalf("exporter: %v\n%s", err, exporter.Log.Tail(20))
		}
	}
	time.Sleep(*warmUp) // the measurement: steady state after the start and the backfill
	pids := map[string]int{"prometheus": prom.Pid()}
	if exporter != nil {
		pids["exporter"] = exporter.Pid()
	}
	before := map[string]float64{}
	for k, pid := range pids {
		before[k] = cpuSeconds(b, pid)
	}
	t0 := time.Now()
	time.Sleep(*window)
	minutes := time.Since(t0).Minutes()
	m := measured{promCPU: (cpuSeconds(b, pids["prometheus"]) - before["prometheus"]) / minutes, promRSS: rssMiB(b, pids["prometheus"])}
	if exporter != nil {
		m.exporterCPU = (cpuSeconds(b, pids["exporter"]) - before["exporter"]) / minutes
	}
	// Check that the setup did its work: the rules recorded bands, the exporter was scraped.
	check := map[string]string{"rules": "count(adaptive:upper_band)", "kizashi": "count(kizashi_upper)", "baseline": "count(cost_load)"}[setup]
	v, err := prom.Query(context.Background(), check, time.Time{})
	if vec, ok := v.(model.Vector); err != nil || !ok || len(vec) != 1 || int(vec[0].Value) != n {
		b.Fatalf("%s: %s = %v (%v), want %d", setup, check, v, err, n)
	}
	return m
}
