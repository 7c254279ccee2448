package testenv

import (
	"context"
	"fmt"
	"iter"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
	"go.yaml.in/yaml/v3"

	"github.com/kizashi-dev/kizashi/internal/proc"
)

// PromOptions configures StartPrometheus. The zero value starts an empty
// Prometheus that scrapes nothing.
type PromOptions struct {
	// ScrapeInterval and EvaluationInterval are the global intervals; 1s by default.
	ScrapeInterval     time.Duration
	EvaluationInterval time.Duration

	// ScrapeConfigs become scrape_configs entries.
	ScrapeConfigs []ScrapeConfig
	// ScrapeConfigsYAML is a YAML list of further scrape_configs entries,
	// appended as they are (for what ScrapeConfig does not cover).
	ScrapeConfigsYAML string

	// Rules are rule files to write next to the configuration, by file name
	// (e.g. "kizashi.yml") to content; they are loaded as rule_files.
	Rules map[string]string
	// RuleFiles are paths (or globs) of existing rule files to load.
	RuleFiles []string

	// Alertmanagers are the "host:port" addresses (see Alertmanager.Addr)
	// Prometheus sends alerts to, with API v2.
	Alertmanagers []string

	// RemoteWrite becomes remote_write entries, each a YAML mapping as Prometheus reads it
	// (url, write_relabel_configs, queue_config...).
	RemoteWrite []map[string]any

	// Config, if not empty, is the complete prometheus.yml and replaces what
	// the fields above would generate (Rules are still written, in the
	// "rules" directory next to the configuration: refer to them as "rules/*.yml").
	Config string

	// History is OpenMetrics text loaded into the TSDB before Prometheus
	// starts, with `promtool tsdb create-blocks-from openmetrics`:
	// timestamps in SECONDS (not milliseconds), the samples of a series in
	// time order. "# EOF" is appended when missing.
	History string
	// HistorySamples, if not nil, is loaded like History (after it). Each
	// series' samples must come in increasing time order; see Series.
	HistorySamples iter.Seq[Sample]

	// Retention is --storage.tsdb.retention.time; "365d" by default, so that
	// History is never deleted (Prometheus measures retention from its newest
	// block, not from now). The data lives in t.TempDir() either way.
	Retention string

	// ExtraFlags are added to the command line. A flag whose name is one of
	// the defaults (e.g. "--query.lookback-delta=1m") replaces the default.
	ExtraFlags []string
}

// ScrapeConfig is one scrape_configs entry with static targets.
type ScrapeConfig struct {
	JobName        string            // required, unique
	Targets        []string          // "host:port", e.g. Target.Addr()
	Labels         map[string]string // added to every series of these targets
	ScrapeInterval time.Duration     // 0: the global interval
	MetricsPath    string            // "" : /metrics
	HonorLabels    bool
}

// Prometheus is a running (or stopped) Prometheus server on 127.0.0.1.
type Prometheus struct {
	addr    string
	dir     string // configuration directory
	dataDir string
	proc    *proc.Process
	api     v1.API
}

// StartPrometheus starts Prometheus on a free port of 127.0.0.1 with its
// data in t.TempDir(), waits until /-/ready answers 200 and stops it at the
// end of the test. Lifecycle, admin and remote-write-receiver endpoints are enabled.
//
// Prometheus 2.42 hands targets (scrape and Alertmanager) over from service
// discovery only every 5s: expect the first scrape and the first alert sent
// about 5s after start or Reload. Alerts are resent every second
// (--rules.alert.resend-delay=1s), so they reach Alertmanager soon after.
func StartPrometheus(t testing.TB, opts PromOptions) *Prometheus {
	t.Helper()
	skipShort(t, "prometheus")
	bin := Program(t, proc.Prometheus)
	dir := t.TempDir()
	p := &Prometheus{addr: FreeAddr(t), dir: dir, dataDir: filepath.Join(dir, "data")}
	if err := os.MkdirAll(p.dataDir, 0o755); err != nil {
		t.Fatalf("testenv: start prometheus: %v", err)
	}
	if err := p.writeConfig(opts); err != nil {
		t.Fatalf("testenv: start prometheus: %v", err)
	}
	p.proc = proc.New("prometheus", bin)
	if opts.History != "" || opts.HistorySamples != nil {
		if err := p.loadHistory(t, opts); err != nil {
			t.Fatalf("testenv: start prometheus: %v", err)
		}
	}
	retention := opts.Retention
	if retention == "" {
		retention = "365d"
	}
	p.proc.Args = mergeFlags([]string{
		"--config.file=" + filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path=" + p.dataDir,
		"--storage.tsdb.retention.time=" + retention,
		"--web.listen-address=" + p.addr,
		"--web.enable-lifecycle",
		"--web.enable-admin-api",
		"--web.enable-remote-write-receiver",
		// Alerts fired before notifier discovery has found the Alertmanagers
		// (about 5s) are dropped and only resent after this delay (1m by default).
		"--rules.alert.resend-delay=1s",
		"--log.level=info",
	}, opts.ExtraFlags)
	client, err := api.NewClient(api.Config{Address: p.URL()})
	if err != nil {
		t.Fatalf("testenv: start prometheus: %v", err)
	}
	p.api = v1.NewAPI(client)
	cleanup(t, p.proc)
	p.start(t)
	return p
}

func (p *Prometheus) start(t testing.TB) {
	t.Helper()
	if err := p.proc.Start(); err != nil {
		t.Fatalf("testenv: %v", err)
	}
	if err := p.proc.WaitReady(context.Background(), startTimeout, proc.HTTPReady(p.URL()+"/-/ready")); err != nil {
		t.Fatalf("testenv: start prometheus: %v", err)
	}
}

// Pid returns the Prometheus server's process id (0 when it is not running): for measuring
// its CPU time and memory in /proc.
func (p *Prometheus) Pid() int { return p.proc.Pid() }

// URL returns the base URL, "http://127.0.0.1:<port>".
func (p *Prometheus) URL() string { return "http://" + p.addr }

// Addr returns "127.0.0.1:<port>".
func (p *Prometheus) Addr() string { return p.addr }

// DataDir returns the TSDB directory (--storage.tsdb.path).
func (p *Prometheus) DataDir() string { return p.dataDir }

// ConfigFile returns the path of prometheus.yml; rewrite it and call Reload.
func (p *Prometheus) ConfigFile() string { return filepath.Join(p.dir, "prometheus.yml") }

// API returns a client_golang v1 API client for this server.
func (p *Prometheus) API() v1.API { return p.api }

// Query runs an instant PromQL query at ts (now if zero).
func (p *Prometheus) Query(ctx context.Context, promql string, ts time.Time) (model.Value, error) {
	if ts.IsZero() {
		ts = time.Now()
	}
	v, _, _, err := p.api.Query(ctx, promql, ts)
	if err != nil {
		return nil, fmt.Errorf("query %q: %w", promql, err)
	}
	return v, nil
}

// QueryRange runs a PromQL range query.
func (p *Prometheus) QueryRange(ctx context.Context, promql string, start, end time.Time, step time.Duration) (model.Matrix, error) {
	v, _, _, err := p.api.QueryRange(ctx, promql, v1.Range{Start: start, End: end, Step: step})
	if err != nil {
		return nil, fmt.Errorf("query range %q: %w", promql, err)
	}
	m, ok := v.(model.Matrix)
	if !ok {
		return nil, fmt.Errorf("query range %q: got %s, want matrix", promql, v.Type())
	}
	return m, nil
}

// WaitForQuery polls the instant query promql until it returns a non-empty
// vector, and returns it; it fails the test after timeout.
func (p *Prometheus) WaitForQuery(t testing.TB, promql string, timeout time.Duration) model.Vector {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last error
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		v, err := p.Query(ctx, promql, time.Time{})
		cancel()
		if err == nil {
			if vec, ok := v.(model.Vector); ok && len(vec) > 0 {
				return vec
			}
			err = fmt.Errorf("empty result %v", v)
		}
		last = err
		if time.Now().After(deadline) {
			t.Fatalf("testenv: wait for %q: %v after %s", promql, last, timeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Reconfigure rewrites the configuration from opts (History, Retention and
// ExtraFlags are ignored) and reloads it.
func (p *Prometheus) Reconfigure(t testing.TB, opts PromOptions) {
	t.Helper()
	if err := p.writeConfig(opts); err != nil {
		t.Fatalf("testenv: reconfigure prometheus: %v", err)
	}
	p.Reload(t)
}

// Reload asks Prometheus to reload its configuration (POST /-/reload).
func (p *Prometheus) Reload(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := doJSON(ctx, "POST", p.URL()+"/-/reload", nil, nil); err != nil {
		t.Fatalf("testenv: reload prometheus: %v", err)
	}
}

// Stop stops Prometheus gracefully (SIGTERM); Restart starts it again.
func (p *Prometheus) Stop(t testing.TB) {
	t.Helper()
	if err := p.proc.Stop(syscall.SIGTERM, 30*time.Second); err != nil {
		t.Fatalf("testenv: %v", err)
	}
}

// Kill kills Prometheus (SIGKILL), as a crash would; Restart starts it again.
func (p *Prometheus) Kill(t testing.TB) {
	t.Helper()
	if err := p.proc.Stop(syscall.SIGKILL, 30*time.Second); err != nil {
		t.Fatalf("testenv: %v", err)
	}
}

// Restart stops Prometheus if it runs, then starts it again with the same
// data directory, port and flags, and waits until it is ready.
func (p *Prometheus) Restart(t testing.TB) {
	t.Helper()
	p.Stop(t)
	p.start(t)
}

// writeConfig writes prometheus.yml and the rule files.
func (p *Prometheus) writeConfig(opts PromOptions) error {
	rulesDir := filepath.Join(p.dir, "rules")
	if err := os.MkdirAll(rulesDir, 0o755); err != nil {
		return fmt.Errorf("write rules: %w", err)
	}
	var ruleFiles []string
	for name, content := range opts.Rules {
		if strings.ContainsRune(name, os.PathSeparator) {
			return fmt.Errorf("write rules: file name %q has a path separator", name)
		}
		path := filepath.Join(rulesDir, name)
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			return fmt.Errorf("write rules: %w", err)
		}
		ruleFiles = append(ruleFiles, path)
	}
	for _, f := range opts.RuleFiles {
		abs, err := filepath.Abs(f)
		if err != nil {
			return fmt.Errorf("rule file %s: %w", f, err)
		}
		ruleFiles = append(ruleFiles, abs)
	}
	cfg := []byte(opts.Config)
	if opts.Config == "" {
		var err error
		if cfg, err = promConfigYAML(opts, ruleFiles); err != nil {
			return err
		}
	}
	if err := os.WriteFile(p.ConfigFile(), cfg, 0o644); err != nil {
		return fmt.Errorf("write config: %w", err)
	}
	return nil
}

func promConfigYAML(opts PromOptions, ruleFiles []string) ([]byte, error) {
	orDefault := func(d time.Duration) string {
		if d <= 0 {
			d = time.Second
		}
		return model.Duration(d).String()
	}
	cfg := map[string]any{
		"global": map[string]any{
			"scrape_interval":     orDefault(opts.ScrapeInterval),
			"evaluation_interval": orDefault(opts.EvaluationInterval),
		},
	}
	if len(ruleFiles) > 0 {
		cfg["rule_files"] = ruleFiles
	}
	if len(opts.Alertmanagers) > 0 {
		cfg["alerting"] = map[string]any{
			"alertmanagers": []any{map[string]any{
				"api_version":    "v2",
				"timeout":        "5s",
				"static_configs": []any{map[string]any{"targets": opts.Alertmanagers}},
			}},
		}
	}
	if len(opts.RemoteWrite) > 0 {
		cfg["remote_write"] = opts.RemoteWrite
	}
	var scrapes []any
	for i, sc := range opts.ScrapeConfigs {
		if sc.JobName == "" {
			return nil, fmt.Errorf("scrape config %d: JobName is empty", i)
		}
		static := map[string]any{"targets": sc.Targets}
		if len(sc.Labels) > 0 {
			static["labels"] = sc.Labels
		}
		m := map[string]any{"job_name": sc.JobName, "static_configs": []any{static}}
		if sc.ScrapeInterval > 0 {
			m["scrape_interval"] = model.Duration(sc.ScrapeInterval).String()
			m["scrape_timeout"] = model.Duration(sc.ScrapeInterval).String()
		}
		if sc.MetricsPath != "" {
			m["metrics_path"] = sc.MetricsPath
		}
		if sc.HonorLabels {
			m["honor_labels"] = true
		}
		scrapes = append(scrapes, m)
	}
	if opts.ScrapeConfigsYAML != "" {
		var more []any
		if err := yaml.Unmarshal([]byte(opts.ScrapeConfigsYAML), &more); err != nil {
			return nil, fmt.Errorf("ScrapeConfigsYAML: %w", err)
		}
		scrapes = append(scrapes, more...)
	}
	if len(scrapes) > 0 {
		cfg["scrape_configs"] = scrapes
	}
	b, err := yaml.Marshal(cfg)
	if err != nil {
		return nil, fmt.Errorf("encode config: %w", err)
	}
	return b, nil
}

// loadHistory writes opts' history as OpenMetrics and turns it into TSDB
// blocks in the data directory.
func (p *Prometheus) loadHistory(t testing.TB, opts PromOptions) error {
	promtool := Program(t, proc.Promtool)
	path := filepath.Join(p.dir, "history.om")
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("load history: %w", err)
	}
	text := strings.TrimRight(opts.History, "\n")
	text = strings.TrimSuffix(text, "# EOF")
	if _, err := f.WriteString(text); err != nil {
		f.Close()
		return fmt.Errorf("load history: %w", err)
	}
	if text != "" && !strings.HasSuffix(text, "\n") {
		f.WriteString("\n")
	}
	samples := opts.HistorySamples
	if samples == nil {
		samples = func(func(Sample) bool) {}
	}
	if err := WriteOpenMetrics(f, samples); err != nil {
		f.Close()
		return fmt.Errorf("load history: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("load history: %w", err)
	}
	// 24h blocks instead of promtool's 2h default: fewer blocks for Prometheus
	// to open and compact when weeks of history are loaded.
	cmd := exec.Command(promtool, "tsdb", "create-blocks-from", "openmetrics", "--quiet",
		"--max-block-duration=24h", path, p.dataDir)
	out, err := cmd.CombinedOutput()
	fmt.Fprintf(p.proc.Log, "testenv: %s\n%s", strings.Join(cmd.Args, " "), out)
	if err != nil {
		return fmt.Errorf("load history: %s: %w: %s", strings.Join(cmd.Args, " "), err, out)
	}
	return nil
}

// mergeFlags appends extra to defaults; an extra flag with the name of a
// default flag replaces it.
func mergeFlags(defaults, extra []string) []string {
	name := func(f string) string { n, _, _ := strings.Cut(f, "="); return n }
	override := map[string]bool{}
	for _, f := range extra {
		override[name(f)] = true
	}
	var out []string
	for _, f := range defaults {
		if !override[name(f)] {
			out = append(out, f)
		}
	}
	return append(out, extra...)
}
