//go:build e2e

package costcompare

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/kizashi-dev/kizashi/exporter/queryconfig"
	"github.com/kizashi-dev/kizashi/internal/proc"
	"github.com/kizashi-dev/kizashi/internal/testenv"
)

var (
	window   = flag.Duration("costcompare.window", 10*time.Minute, "measurement window per setup")
	warmUp   = flag.Duration("costcompare.warmup", 3*time.Minute, "time after the start (and the exporter's backfill) before measuring")
	series   = flag.Int("costcompare.series", 1000, "raw series")
	history  = flag.Duration("costcompare.history", 8*24*time.Hour, "history at 60s loaded before Prometheus starts (the rules look a week back)")
	setups   = flag.String("costcompare.setups", "baseline,rules,kizashi", "the setups to run, comma-separated (the ratio needs baseline, rules and kizashi; remotewrite: Prometheus sending every input by remote write to a receiver in this process, no exporter; kizashi-offread: the exporter reading its inputs from a second, unmeasured Prometheus; kizashi-scrape: the exporter scraping Prometheus' targets itself, scrape_targets)")
	publish  = flag.String("costcompare.publish", "", "if set, the exporter's publish selection (comma-separated families, as the query's `publish:`) instead of its default")
	windowAt = flag.String("costcompare.start", "", "if set, a time (RFC 3339) at which the window starts, after the warm-up: setups run as separate processes then measure the same minutes (the run fails if a setup is not warm by then)")
	profile  = flag.String("costcompare.pprof", "", "if set, a directory where a CPU profile of Prometheus over each setup's window is written (it costs CPU: not for the figures)")
)

// adaptiveRules are the adaptive strategy of Grafana's promql-anomaly-detection as a user
// installs it: the input-selection rule its README asks for (a recording rule tagging the
// input with anomaly_name and anomaly_type, as its rules/examples do) and rules/adaptive.yml
// (as of upstream commit 7ed6390af3c2). The strategy's rules are re-typed here with the same
// record names, expressions, windows, offsets, labels and group intervals (constants recorded
// as series and joined with on() group_left, the five-way input selection with its sparse
// filter for requests, short-term bands every evaluation interval, long-term bands a day and
// a week back every 5 minutes, the alert), not copied with their comments: nothing is left
// out or added. Per input they record up to 10 series: the tagged input, select, avg_1h,
// stddev_1h:filtered and stddev_st (only while the 1-hour spread is above half the mean, never
// on this benchmark's series), level, both bands, both long-term bands: 8 here, as the
// benchmark counts (rules-series/input).
const adaptiveRules = `groups:
  - name: anomaly-input
    rules:
      - record: anomaly:resource:cost_load
        expr: cost_load
        labels: {anomaly_name: cost_load, anomaly_type: resource}
  - name: AnomalyAdaptiveShortTerm
    rules:
      - record: anomaly:adaptive:threshold_by_covar
        expr: "0.5"
      - record: anomaly:adaptive:sparse_threshold
        expr: 5/60
      - record: anomaly:adaptive:stddev_multiplier
        expr: "2"
      - record: anomaly:adaptive:margin_multiplier
        expr: "0.5"
      - record: anomaly:adaptive:select
        expr: |-
          ({anomaly_name!="", anomaly_type="requests", anomaly_select="", anomaly_strategy=~"^$|adaptive"} > 0
            unless avg_over_time({anomaly_name!="", anomaly_type="requests", anomaly_select="", anomaly_strategy=~"^$|adaptive"}[1h])
              < on() group_left anomaly:adaptive:sparse_threshold)
          or {anomaly_name!="", anomaly_type="latency", anomaly_select="", anomaly_strategy=~"^$|adaptive"} > 0
          or {anomaly_name!="", anomaly_type="errors", anomaly_select="", anomaly_strategy=~"^$|adaptive"} > 0
          or {anomaly_name!="", anomaly_type="resource", anomaly_select="", anomaly_strategy=~"^$|adaptive"} > 0
          or {anomaly_name!="", anomaly_select="", anomaly_strategy=~"^$|adaptive"} > 0
        labels: {anomaly_select: "1", anomaly_strategy: adaptive}
      - record: anomaly:adaptive:avg_1h
        expr: avg_over_time(anomaly:adaptive:select[1h])
      - record: anomaly:adaptive:stddev_1h:filtered
        expr: stddev_over_time(anomaly:adaptive:select[1h]) > anomaly:adaptive:avg_1h * on() group_left anomaly:adaptive:threshold_by_covar
      - record: anomaly:adaptive:stddev_st
        expr: avg_over_time(anomaly:adaptive:stddev_1h:filtered[26h])
      - record: anomaly:level
        expr: anomaly:adaptive:select
      - record: anomaly:lower_band
        expr: |-
          clamp_min(min without(prediction_type) (
              label_replace(last_over_time(anomaly:adaptive:avg_1h[2m]) - last_over_time(anomaly:adaptive:stddev_st[2m]) * on() group_left anomaly:adaptive:stddev_multiplier,
                "prediction_type", "short_term", "", "")
            or label_replace(last_over_time(anomaly:adaptive:avg_1h[2m]) - last_over_time(anomaly:adaptive:avg_1h[2m]) * on() group_left anomaly:adaptive:margin_multiplier,
                "prediction_type", "margin", "", "")
            or last_over_time(anomaly:adaptive:lower_band_lt[10m])
          ), 0)
      - record: anomaly:upper_band
        expr: |-
          max without(prediction_type) (
              label_replace(last_over_time(anomaly:adaptive:avg_1h[2m]) + last_over_time(anomaly:adaptive:stddev_st[2m]) * on() group_left anomaly:adaptive:stddev_multiplier,
                "prediction_type", "short_term", "", "")
            or label_replace(last_over_time(anomaly:adaptive:avg_1h[2m]) + last_over_time(anomaly:adaptive:avg_1h[2m]) * on() group_left anomaly:adaptive:margin_multiplier,
                "prediction_type", "margin", "", "")
            or last_over_time(anomaly:adaptive:upper_band_lt[10m])
          )
  - name: AnomalyAdaptiveLongTerm
    interval: 5m
    rules:
      - record: anomaly:adaptive:upper_band_lt
        expr: |-
          max without(look_back) (
              label_replace(avg_over_time(anomaly:adaptive:select[1h] offset 167h30m)
                + stddev_over_time(anomaly:adaptive:select[1h] offset 167h30m) * on() group_left anomaly:adaptive:stddev_multiplier,
                "look_back", "1w", "", "")
            or label_replace(avg_over_time(anomaly:adaptive:select[1h] offset 23h30m)
                + stddev_over_time(anomaly:adaptive:select[1h] offset 23h30m) * on() group_left anomaly:adaptive:stddev_multiplier,
                "look_back", "1d", "", "")
          )
      - record: anomaly:adaptive:lower_band_lt
        expr: |-
          min without(look_back) (
              label_replace(avg_over_time(anomaly:adaptive:select[1h] offset 167h30m)
                - stddev_over_time(anomaly:adaptive:select[1h] offset 167h30m) * on() group_left anomaly:adaptive:stddev_multiplier,
                "look_back", "1w", "", "")
            or label_replace(avg_over_time(anomaly:adaptive:select[1h] offset 23h30m)
                - stddev_over_time(anomaly:adaptive:select[1h] offset 23h30m) * on() group_left anomaly:adaptive:stddev_multiplier,
                "look_back", "1d", "", "")
          )
  - name: AnomalyAdaptiveAlerts
    rules:
      - alert: AnomalyDetected
        for: 5m
        expr: |-
          last_over_time(anomaly:level[2m]) < last_over_time(anomaly:lower_band{anomaly_strategy="adaptive"}[2m])
          or last_over_time(anomaly:level[2m]) > last_over_time(anomaly:upper_band{anomaly_strategy="adaptive"}[2m])
        labels: {severity: warning, anomaly_strategy: adaptive}
`

// promMetric reads one sample of Prometheus' own /metrics (0 if absent).
func promMetric(b *testing.B, prom *testenv.Prometheus, name string) float64 {
	resp, err := http.Get(prom.URL() + "/metrics")
	if err != nil {
		b.Fatalf("prometheus metrics: %v", err)
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.LegacyValidation)
	mfs, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		b.Fatalf("prometheus metrics: %v", err)
	}
	mf, ok := mfs[name]
	if !ok || len(mf.GetMetric()) == 0 {
		return 0
	}
	m := mf.GetMetric()[0]
	switch {
	case m.GetCounter() != nil:
		return m.GetCounter().GetValue()
	case m.GetGauge() != nil:
		return m.GetGauge().GetValue()
	}
	return m.GetUntyped().GetValue()
}

// countLines counts the lines of url's answer that start with prefix.
func countLines(url, prefix string) (int, error) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	n := 0
	for line := range strings.Lines(string(body)) {
		if strings.HasPrefix(line, prefix) {
			n++
		}
	}
	return n, nil
}

// writeProfile writes a CPU profile of Prometheus over the window (its /debug/pprof).
func writeProfile(b *testing.B, prom *testenv.Prometheus, path string) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		b.Fatal(err)
	}
	resp, err := http.Get(fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", prom.URL(), int(window.Seconds())))
	if err != nil {
		b.Fatalf("profile: %v", err)
	}
	defer resp.Body.Close()
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	if _, err := io.Copy(f, resp.Body); err != nil {
		b.Fatalf("profile: %v", err)
	}
}

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
	series               int     // series with a sample in the last 5 minutes at the window's end
	created              float64 // series created in Prometheus' head per minute of the window (churn)
}

func BenchmarkSideBySide(b *testing.B) {
	if !flag.Parsed() {
		flag.Parse()
	}
	var at time.Time // the window's start, if given
	if *windowAt != "" {
		var err error
		if at, err = time.Parse(time.RFC3339, *windowAt); err != nil {
			b.Fatalf("-costcompare.start: %v", err)
		}
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
		for _, setup := range strings.Split(*setups, ",") {
			results[setup] = run(b, setup, exporterBin, string(shipped), at)
			b.Logf("%s: Prometheus %.3f CPU-s/min, %.0f MiB; exporter %.3f CPU-s/min; %d series, %.1f created/min", setup,
				results[setup].promCPU, results[setup].promRSS, results[setup].exporterCPU, results[setup].series, results[setup].created)
		}
	}
	base, rules, kz := results["baseline"], results["rules"], results["kizashi"]
	if len(results) < 3 {
		return
	}
	rulesAdd := rules.promCPU - base.promCPU
	kzAdd := kz.promCPU - base.promCPU + kz.exporterCPU
	b.ReportMetric(base.promCPU, "base-cpu-s/min")
	b.ReportMetric(rulesAdd, "rules-added-cpu-s/min")
	b.ReportMetric(kzAdd, "kizashi-added-cpu-s/min")
	b.ReportMetric(kz.exporterCPU, "exporter-cpu-s/min")
	b.ReportMetric(rulesAdd/kzAdd, "x-cheaper")
	b.ReportMetric(rules.promRSS-base.promRSS, "rules-added-MiB")
	b.ReportMetric(kz.promRSS-base.promRSS, "kizashi-added-MiB")
	b.ReportMetric(float64(rules.series-base.series)/float64(*series), "rules-series/input")
	b.ReportMetric(float64(kz.series-base.series)/float64(*series), "kizashi-series/input")
	if sc, ok := results["kizashi-scrape"]; ok {
		b.ReportMetric(rulesAdd/(sc.promCPU-base.promCPU+sc.exporterCPU), "x-cheaper-scrape")
	}
}

// run starts one setup, waits for the warm-up and measures over the window, from at if it is
// set.
func run(b *testing.B, setup, exporterBin, shippedRules string, at time.Time) measured {
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

	// History at 60s, ending 10 minutes ago (promtool's blocks must not overlap the head), of
	// the series as Prometheus scrapes them (with the target's job and instance: the same
	// series, so that the exporter's models and the rules' windows are warm, as after a week
	// of running) and, for the rules, of the input selection they recorded meanwhile (the
	// long-term bands read it a day and a week back).
	end := now.Add(-10 * time.Minute).Truncate(time.Minute)
	points := int(*history / time.Minute)
	start := end.Add(-time.Duration(points-1) * time.Minute)
	histSeries := []func(i int) (string, map[string]string){func(i int) (string, map[string]string) {
		l := labels(i)
		l["job"], l["instance"] = "node", target.Addr()
		return "cost_load", l
	}}
	if setup == "rules" {
		histSeries = append(histSeries, func(i int) (string, map[string]string) {
			l := labels(i)
			l["job"], l["instance"] = "node", target.Addr()
			l["anomaly_name"], l["anomaly_type"], l["anomaly_select"], l["anomaly_strategy"] = "cost_load", "resource", "1", "adaptive"
			return "anomaly:adaptive:select", l
		})
	}
	hist := func(yield func(testenv.Sample) bool) {
		for _, h := range histSeries {
			for i := range n {
				name, l := h(i)
				for s := range testenv.Series(name, l, start, time.Minute, points, func(_ int, t time.Time) float64 { return value(i, t) }) {
					if !yield(s) {
						return
					}
				}
			}
		}
	}
	opts := testenv.PromOptions{ScrapeInterval: time.Minute, EvaluationInterval: time.Minute, HistorySamples: hist,
		ScrapeConfigs: []testenv.ScrapeConfig{{JobName: "node", Targets: []string{target.Addr()}}}}
	var exporterAddr string
	var sink *writeSink
	switch setup {
	case "rules":
		opts.Rules = map[string]string{"adaptive.yml": adaptiveRules}
	case "remotewrite":
		// Prometheus sends every input, as it scrapes it, to a receiver in this process
		// (which decodes and counts them): what a read of the inputs by remote write would
		// cost Prometheus, without an exporter.
		sink = newWriteSink(b)
		opts.RemoteWrite = []map[string]any{{"url": sink.url, "write_relabel_configs": []any{map[string]any{
			"source_labels": []string{"__name__"}, "regex": "cost_load", "action": "keep"}}}}
	case "kizashi", "kizashi-offread", "kizashi-scrape":
		exporterAddr = testenv.FreeAddr(b)
		opts.Rules = map[string]string{"kizashi-alerts.yml": shippedRules}
		opts.ScrapeConfigs = append(opts.ScrapeConfigs, testenv.ScrapeConfig{JobName: "kizashi-exporter", Targets: []string{exporterAddr}, HonorLabels: true})
	}
	isKizashi := strings.HasPrefix(setup, "kizashi")
	sourceURL := ""
	if setup == "kizashi-offread" {
		// The exporter reads the inputs from a second Prometheus (same history, same target),
		// not measured: what Kizashi would cost the measured one if reading the inputs cost it
		// nothing (by remote write, or the exporter scraping the targets itself). The floor
		// of any read path: scraping the exporter, the shipped rules, the exporter itself.
		reader := testenv.StartPrometheus(b, testenv.PromOptions{ScrapeInterval: time.Minute, EvaluationInterval: time.Minute,
			HistorySamples: hist, ScrapeConfigs: []testenv.ScrapeConfig{{JobName: "node", Targets: []string{target.Addr()}}}})
		defer reader.Stop(b)
		sourceURL = reader.URL()
	}
	prom := testenv.StartPrometheus(b, opts)
	defer prom.Stop(b) // not running on during the next setups' windows
	if sourceURL == "" {
		sourceURL = prom.URL()
	}

	var exporter *proc.Process
	publishesScoreOrBand := false // the exporter publishes a score or band for every input (checked below)
	if isKizashi {
		dir := b.TempDir()
		cfg := filepath.Join(dir, "kizashi-exporter.yml")
		conf := fmt.Sprintf("source:\n  url: %s\n", sourceURL)
		if setup == "kizashi-scrape" {
			// The live read scrapes the node job's target (Prometheus lists it), not Prometheus.
			conf += "  scrape_targets:\n    scrape_pools: [node]\n"
		}
		conf += "queries:\n  - name: load\n    expr: cost_load\n    step: 1m\n    training_window: 7d\n"
		if *publish != "" {
			conf += fmt.Sprintf("    publish: [%s]\n", *publish)
		}
		qc, err := queryconfig.Parse([]byte(conf))
		if err != nil {
			b.Fatalf("exporter configuration: %v", err)
		}
		// A selection of the reason alone has no series to count while every score is low.
		scoreOrBand, _ := qc.Queries[0].Publishes("anomaly_score")
		upper, _ := qc.Queries[0].Publishes("upper")
		publishesScoreOrBand = scoreOrBand || upper
		if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
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
	if exporter != nil {
		// The history ends before Prometheus starts (blocks are built first): the exporter's
		// backfill sees the last value held through the gap by Prometheus' lookback, which
		// its models score as a quiet (stuck) series for a few minutes. A week-long run has
		// no such gap: wait until the scores are back below 0.5 (no kizashi_anomaly_reason
		// on more than 1% of the series) before the warm-up.
		// Read from the exporter itself: Prometheus scrapes the reasons a minute late. The
		// first live cycle after the backfill publishes them.
		settled := time.Now()
		for cycles := 0; ; {
			// /-/ready answers before the backfill is over: wait for the models too.
			ready, _ := countLines("http://"+exporterAddr+"/metrics", fmt.Sprintf("kizashi_exporter_series_ready{query=\"load\"} %d\n", n))
			reasons, err := countLines("http://"+exporterAddr+"/metrics", "kizashi_anomaly_reason{")
			if err == nil && ready == 1 && reasons <= n/100 && cycles >= 2 {
				break
			}
			if time.Since(settled) > 30*time.Minute {
				b.Fatalf("kizashi: the scores did not settle after the gap: %d reasons (%v)", reasons, err)
			}
			time.Sleep(30 * time.Second) // a 60s step: two looks per cycle
			cycles++
		}
		b.Logf("kizashi: scores settled %s after the exporter was ready", time.Since(settled).Round(time.Second))
	}
	time.Sleep(*warmUp) // the measurement: steady state after the start and the backfill
	if !at.IsZero() {
		if time.Now().After(at) {
			b.Fatalf("%s: warm at %s, after the window's start %s: start the setups earlier", setup, time.Now().Format(time.RFC3339), *windowAt)
		}
		b.Logf("%s: warm; the window starts at %s", setup, *windowAt)
		time.Sleep(time.Until(at)) // a wall-clock appointment with the other processes, not a synchronisation
	}
	pids := map[string]int{"prometheus": prom.Pid()}
	if exporter != nil {
		pids["exporter"] = exporter.Pid()
	}
	before := map[string]float64{}
	for k, pid := range pids {
		before[k] = cpuSeconds(b, pid)
	}
	createdBefore := promMetric(b, prom, "prometheus_tsdb_head_series_created_total")
	var sentBefore int64
	if sink != nil {
		sentBefore = sink.samples.Load()
	}
	t0 := time.Now()
	if *profile != "" {
		writeProfile(b, prom, filepath.Join(*profile, setup+".pprof"))
	}
	time.Sleep(time.Until(t0.Add(*window)))
	minutes := time.Since(t0).Minutes()
	m := measured{promCPU: (cpuSeconds(b, pids["prometheus"]) - before["prometheus"]) / minutes, promRSS: rssMiB(b, pids["prometheus"])}
	if exporter != nil {
		m.exporterCPU = (cpuSeconds(b, pids["exporter"]) - before["exporter"]) / minutes
	}
	m.created = (promMetric(b, prom, "prometheus_tsdb_head_series_created_total") - createdBefore) / minutes
	if sink != nil {
		// Every input arrived about once a minute (the scrape interval) during the window.
		got := float64(sink.samples.Load()-sentBefore) / minutes
		b.Logf("remotewrite: %.0f samples a minute received (%d requests in all, %d refused)", got, sink.requests.Load(), sink.bad.Load())
		if got < 0.9*float64(n) || sink.bad.Load() > 0 {
			b.Fatalf("remotewrite: %.0f samples a minute received, %d requests refused; want %d a minute", got, sink.bad.Load(), n)
		}
	}
	if v, err := prom.Query(context.Background(), `count({__name__!=""})`, time.Time{}); err == nil {
		if vec, ok := v.(model.Vector); ok && len(vec) == 1 {
			m.series = int(vec[0].Value)
		}
	}
	if v, err := prom.Query(context.Background(), `sort_desc(count by (__name__) ({__name__!=""}))`, time.Time{}); err == nil {
		b.Logf("%s: series by name:\n%v", setup, v)
	}
	if isKizashi {
		// Which API the exporter's live queries used in the window (/federate for the plain
		// selector of this setup, unless Prometheus refused it).
		q := fmt.Sprintf(`sum by (api) (increase(kizashi_exporter_source_requests_total[%s]))`, model.Duration(*window))
		v, err := prom.Query(context.Background(), q, time.Time{})
		b.Logf("kizashi: source requests in the window by API: %v (%v)", v, err)
		if setup == "kizashi-scrape" {
			// Every step of the window read by scraping the target, none from Prometheus.
			vec, ok := v.(model.Vector)
			byAPI := map[string]float64{}
			for _, s := range vec {
				byAPI[string(s.Metric["api"])] = float64(s.Value)
			}
			if !ok || byAPI["scrape"] < 0.8*window.Minutes() || byAPI["federate"]+byAPI["query"] > 0 {
				b.Fatalf("kizashi-scrape: requests in the window by API %v, want a scrape a minute and nothing else", byAPI)
			}
		}
	}
	// Check that the setup did its work: the rules recorded bands, the exporter was scraped.
	// Check that the setup did its work on warm state: the rules recorded bands, with the
	// long-term ones; the exporter's models are ready (they learned the history).
	checks := map[string][]string{"rules": {"count(anomaly:upper_band)", "count(anomaly:adaptive:upper_band_lt)"},
		"kizashi": {"sum(kizashi_exporter_series_ready)"}, "kizashi-offread": {"sum(kizashi_exporter_series_ready)"}, "kizashi-scrape": {"sum(kizashi_exporter_series_ready)"}, "baseline": {"count(cost_load)"}, "remotewrite": {"count(cost_load)"}}[setup]
	if publishesScoreOrBand {
		checks = append(checks, "count(kizashi_anomaly_score or kizashi_upper)")
	}
	for _, check := range checks {
		v, err := prom.Query(context.Background(), check, time.Time{})
		if vec, ok := v.(model.Vector); err != nil || !ok || len(vec) != 1 || int(vec[0].Value) != n {
			b.Fatalf("%s: %s = %v (%v), want %d", setup, check, v, err, n)
		}
	}
	return m
}

// writeSink receives Prometheus' remote write (protobuf, snappy) and counts the samples.
type writeSink struct {
	url                    string
	samples, requests, bad atomic.Int64
}

func newWriteSink(b *testing.B) *writeSink {
	s := &writeSink{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.requests.Add(1)
		req, err := testenv.DecodeWriteRequest(r)
		if err != nil {
			s.bad.Add(1)
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		for _, ts := range req.Timeseries {
			s.samples.Add(int64(len(ts.Samples)))
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	b.Cleanup(srv.Close)
	s.url = srv.URL + "/api/v1/write"
	return s
}
