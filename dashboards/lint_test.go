package dashboards_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/kizashi-dev/kizashi/dashboards"
	"github.com/kizashi-dev/kizashi/exporter/daemon"
	"github.com/kizashi-dev/kizashi/exporter/queryconfig"
	"github.com/kizashi-dev/kizashi/internal/proc"
	"github.com/kizashi-dev/kizashi/internal/testenv"
	"github.com/kizashi-dev/kizashi/webhook/app"
	"github.com/kizashi-dev/kizashi/webhook/testkit"
)

// pluginID is the Kizashi data source plugin's id, read from its plugin.json.
func pluginID(t *testing.T) string {
	t.Helper()
	raw, err := os.ReadFile("../datasource/src/plugin.json")
	require.NoError(t, err)
	var p struct {
		ID string `json:"id"`
	}
	require.NoError(t, json.Unmarshal(raw, &p))
	require.NotEmpty(t, p.ID)
	return p.ID
}

// grafanaVariables are Grafana's own variables.
var grafanaVariables = []string{"__range", "__rate_interval", "__interval", "__range_s", "__range_ms", "__interval_ms"}

// sampleVariables are values for the dashboards' variables, to run their queries.
var sampleVariables = map[string]string{
	"query":     "sessions",
	"metric":    "demo_active_sessions",
	"series":    `instance="shop-1",job="shop",kizashi_metric="demo_active_sessions",kizashi_query="sessions",service="checkout",tenant="acme"`,
	"horizon":   "1h",
	"threshold": ".+",
	"tenant":    ".*",
	"window":    "1d",
	"__range":   "1h", "__rate_interval": "1m", "__interval": "15s",
}

// TestDashboards checks the dashboards' structure: they parse, have a uid, a title and a data
// source variable; every panel has a description and a unit and reads from a templated data
// source of the right type; every variable they use exists; fillBelowTo and the other
// overrides name series that the panel's queries produce; panels do not overlap.
func TestDashboards(t *testing.T) {
	ds, err := dashboards.Dashboards()
	require.NoError(t, err)
	require.Len(t, ds, 3, "anomaly overview, capacity forecast, service desk")
	plugin := pluginID(t)
	uids, titles := map[string]bool{}, map[string]bool{}
	for name, d := range ds {
		t.Run(name, func(t *testing.T) {
			require.GreaterOrEqual(t, d.SchemaVersion, 39)
			require.NotEmpty(t, d.UID)
			require.LessOrEqual(t, len(d.UID), 40, "Grafana's uid limit")
			require.NotEmpty(t, d.Title)
			require.NotEmpty(t, d.Description)
			require.False(t, uids[d.UID], "uid %s used twice", d.UID)
			require.False(t, titles[d.Title], "title %s used twice", d.Title)
			uids[d.UID], titles[d.Title] = true, true

			// Data source variables: ${datasource} for Prometheus, ${kizashi} for the plugin.
			dsVars := map[string]string{} // variable name -> data source type
			vars := slices.Clone(grafanaVariables)
			for _, v := range d.Templating.List {
				require.NotEmpty(t, v.Description, "variable %s has a description", v.Name)
				vars = append(vars, v.Name)
				if v.Type == "datasource" {
					var q string
					require.NoError(t, json.Unmarshal(v.Query, &q))
					dsVars[v.Name] = q
				}
			}
			require.Equal(t, "prometheus", dsVars["datasource"], "a Prometheus data source variable named datasource")
			if typ, ok := dsVars["kizashi"]; ok {
				require.Equal(t, plugin, typ)
			}
			templated := func(where string, ref *dashboards.DataSource) {
				t.Helper()
				require.NotNil(t, ref, "%s: no data source", where)
				m := regexp.MustCompile(`^\$\{([a-z]+)\}$`).FindStringSubmatch(ref.UID)
				require.NotNil(t, m, "%s: data source uid %q is not a variable", where, ref.UID)
				require.Equal(t, dsVars[m[1]], ref.Type, "%s: data source type of ${%s}", where, m[1])
			}
			for _, v := range d.Templating.List {
				if v.Type == "query" {
					templated("variable "+v.Name, v.Datasource)
				}
			}
			for _, a := range d.Annotations.List {
				if a.BuiltIn == 0 {
					templated("annotation "+a.Name, a.Datasource)
				}
			}

			ids := map[int]bool{}
			var boxes []dashboards.Panel
			for _, p := range d.AllPanels() {
				require.False(t, ids[p.ID], "panel id %d used twice", p.ID)
				ids[p.ID] = true
				g := p.GridPos
				require.True(t, g.W > 0 && g.H > 0 && g.X >= 0 && g.X+g.W <= 24, "panel %q: gridPos %+v", p.Title, g)
				for _, b := range boxes {
					o := b.GridPos
					overlap := g.X < o.X+o.W && o.X < g.X+g.W && g.Y < o.Y+o.H && o.Y < g.Y+g.H
					require.False(t, overlap, "panels %q and %q overlap", p.Title, b.Title)
				}
				boxes = append(boxes, p)
				if p.Type == "row" {
					if p.Repeat != "" {
						require.Contains(t, vars, p.Repeat)
					}
					continue
				}
				where := fmt.Sprintf("panel %q", p.Title)
				require.NotEmpty(t, p.Title, "panel %d has a title", p.ID)
				require.NotEmpty(t, p.Description, "%s has a description", where)
				require.NotEmpty(t, p.FieldConfig.Defaults.Unit, "%s has a unit", where)
				templated(where, p.Datasource)
				require.NotEmpty(t, p.Targets, "%s has queries", where)
				legends := map[string]bool{}
				for _, tg := range p.Targets {
					templated(where+" target "+tg.RefID, tg.Datasource)
					require.Equal(t, p.Datasource.UID, tg.Datasource.UID, "%s: target %s reads the panel's data source", where, tg.RefID)
					if tg.Datasource.Type == "prometheus" {
						require.NotEmpty(t, tg.Expr, "%s target %s", where, tg.RefID)
					} else {
						require.NotEmpty(t, tg.QueryType, "%s target %s", where, tg.RefID)
					}
					for _, v := range dashboards.Variables(tg.Expr) {
						require.Contains(t, vars, v, "%s target %s uses an unknown variable", where, tg.RefID)
					}
					legends[tg.LegendFormat] = true
				}
				// Overrides by name and fillBelowTo must name a series of the panel: a fixed
				// legend of one of its Prometheus queries, or a field of a plugin frame.
				for _, o := range p.FieldConfig.Overrides {
					if o.Matcher.ID != "byName" {
						continue
					}
					name, _ := o.Matcher.Options.(string)
					if p.Datasource.Type == "prometheus" && p.Type == "timeseries" {
						require.True(t, legends[name], "%s: override for %q, which no query's legend is", where, name)
					}
					for _, pr := range o.Properties {
						if pr.ID == "custom.fillBelowTo" {
							target, _ := pr.Value.(string)
							require.True(t, legends[target], "%s: %q fills below %q, which no query's legend is", where, name, target)
						}
					}
				}
			}
		})
	}
}

// TestDefaultPublished: the dashboards and the rules read only the kizashi_* series the
// exporter publishes by default (queryconfig.DefaultPublish), so that they work without publish:.
func TestDefaultPublished(t *testing.T) {
	qs, err := dashboards.Queries()
	require.NoError(t, err)
	exprs := map[string]string{}
	for _, q := range qs {
		exprs[q.Dashboard+" "+q.Where] = q.Expr
	}
	for _, r := range rules(t) {
		exprs["rule "+r.Alert+r.Record] = r.Expr
	}
	families := 0
	for where, expr := range exprs {
		for _, n := range dashboards.MetricNames(expr) {
			f, ok := strings.CutPrefix(n, "kizashi_")
			if !ok || !slices.Contains(queryconfig.Families, f) {
				continue
			}
			families++
			require.Contains(t, queryconfig.DefaultPublish, f, "%s reads %s, which the exporter does not publish by default", where, n)
		}
	}
	require.Greater(t, families, 10)
}

// TestMetricNamesParser pins the metric-name extraction the checks rely on.
func TestMetricNamesParser(t *testing.T) {
	for expr, want := range map[string][]string{
		`sum by (tenant, priority) (kizashi_webhook_incidents_open{tenant=~"$tenant"})`:                                                                {"kizashi_webhook_incidents_open"},
		`kizashi_anomaly_score > 0.65 and kizashi_model_ready == 1`:                                                                                    {"kizashi_anomaly_score", "kizashi_model_ready"},
		`kizashi_anomaly_score > 0.65 unless ignoring(reason) kizashi_anomaly_reason{reason="vanished"}`:                                               {"kizashi_anomaly_score", "kizashi_anomaly_reason"},
		`topk(10, max_over_time(x[$__range])) or vector(0)`:                                                                                            {"x"},
		`{__name__!="", __name__=~"${metric:regex}", kizashi_query=""} and ignoring(kizashi_metric, kizashi_query) kizashi_model_ready{${series:raw}}`: {"kizashi_model_ready"},
		`{__name__="a:b:rate5m", job="x"} offset $horizon`:                                                                                             {"a:b:rate5m"},
		`label_replace(vector(0), "target", "response", "", "") / scalar(y) * 1e+11 - 4 * 3600`:                                                        {"y"},
		`histogram_quantile(0.99, sum by (le) (rate(h_bucket[5m])))`:                                                                                   {"h_bucket"},
		`count(a < 86400 >= 4 * 3600) or on() b unless ignoring(x) group_left(y) c`:                                                                    {"a", "b", "c"},
	} {
		require.Equal(t, want, dashboards.MetricNames(expr), expr)
	}
}

// TestProvisioning: the provisioning files parse and name the plugin's id; the dashboards
// provider serves a directory.
func TestProvisioning(t *testing.T) {
	var dsf struct {
		APIVersion  int `yaml:"apiVersion"`
		Datasources []struct {
			Name, UID, Type, URL string
			JSONData             map[string]any `yaml:"jsonData"`
			SecureJSONData       map[string]any `yaml:"secureJsonData"`
		} `yaml:"datasources"`
	}
	readYAML(t, "grafana/provisioning/datasources/kizashi.yml", &dsf)
	require.Equal(t, 1, dsf.APIVersion)
	plugin := pluginID(t)
	types := map[string]bool{}
	for _, d := range dsf.Datasources {
		types[d.Type] = true
		require.NotEmpty(t, d.URL, d.Name)
		if d.Type == plugin {
			require.Contains(t, d.JSONData, "webhookUrl")
			require.Contains(t, d.SecureJSONData, "webhookToken", "the token is a secret")
			require.NotContains(t, d.JSONData, "webhookToken")
		}
	}
	require.True(t, types["prometheus"])
	require.True(t, types[plugin])

	var dbf struct {
		APIVersion int `yaml:"apiVersion"`
		Providers  []struct {
			Name, Type string
			Options    struct {
				Path string `yaml:"path"`
			} `yaml:"options"`
		} `yaml:"providers"`
	}
	readYAML(t, "grafana/provisioning/dashboards/kizashi.yml", &dbf)
	require.Len(t, dbf.Providers, 1)
	require.Equal(t, "file", dbf.Providers[0].Type)
	require.True(t, filepath.IsAbs(dbf.Providers[0].Options.Path))
}

func readYAML(t *testing.T, path string, out any) {
	t.Helper()
	raw, err := dashboards.Files.ReadFile(path)
	require.NoError(t, err)
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(false)
	require.NoError(t, dec.Decode(out), path)
}

// rule is one rule of the shipped rule file.
type rule struct {
	Alert, Record, Expr, For string
	KeepFiringFor            string `yaml:"keep_firing_for"`
	Labels, Annotations      map[string]string
}

func rules(t *testing.T) []rule {
	t.Helper()
	var f struct {
		Groups []struct {
			Name  string
			Rules []rule
		}
	}
	readYAML(t, dashboards.AlertRulesFile, &f)
	var out []rule
	for _, g := range f.Groups {
		out = append(out, g.Rules...)
	}
	require.NotEmpty(t, out)
	return out
}

// run runs a program in a directory of dashboards/ and fails the test with its output.
func run(t *testing.T, dir, prog string, args ...string) {
	t.Helper()
	cmd := exec.Command(prog, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s %s:\n%s", filepath.Base(prog), strings.Join(args, " "), out)
}

// names returns the metric names of an exposition, with a histogram's or summary's _bucket,
// _sum and _count series.
func names(t *testing.T, body io.Reader) []string {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(body)
	require.NoError(t, err)
	var out []string
	for n, f := range fams {
		out = append(out, n)
		switch f.GetType().String() {
		case "HISTOGRAM":
			out = append(out, n+"_bucket", n+"_sum", n+"_count")
		case "SUMMARY":
			out = append(out, n+"_sum", n+"_count")
		}
	}
	slices.Sort(out)
	return out
}

func scrape(t *testing.T, url string, header http.Header) []string {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	require.NoError(t, err)
	req.Header = header
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode, url)
	return names(t, resp.Body)
}

// lintSource is an in-process Prometheus API for the exporter: two series around 10 (above
// the threshold 1, so the breach ETA is published as 0); the first instant query fails, the
// third answers NaN for one series, and from the sixth on series b is gone (stale, dropped),
// so that the error, rejection and drop counters are exported too.
type lintSource struct{ instant atomic.Int64 }

func (s *lintSource) metrics() []model.Metric {
	return []model.Metric{{"__name__": "lint_load", "instance": "a"}, {"__name__": "lint_load", "instance": "b"}}
}

func (s *lintSource) Query(_ context.Context, _ string, ts time.Time) (model.Vector, error) {
	n := s.instant.Add(1)
	if n == 1 {
		return nil, fmt.Errorf("lint: first instant query fails")
	}
	var v model.Vector
	for i, m := range s.metrics() {
		if i == 1 && n >= 6 {
			break
		}
		val := model.SampleValue(10 + i)
		if i == 0 && n == 3 {
			val = model.SampleValue(math.NaN())
		}
		v = append(v, &model.Sample{Metric: m, Timestamp: model.TimeFromUnixNano(ts.UnixNano()), Value: val})
	}
	return v, nil
}

func (s *lintSource) QueryRange(_ context.Context, _ string, start, end time.Time, step time.Duration) (model.Matrix, error) {
	var m model.Matrix
	for i, met := range s.metrics() {
		ss := &model.SampleStream{Metric: met}
		for ts := start; !ts.After(end); ts = ts.Add(step) {
			ss.Values = append(ss.Values, model.SamplePair{Timestamp: model.TimeFromUnixNano(ts.UnixNano()),
				Value: model.SampleValue(10 + float64(i) + float64(ts.Unix()%7)/10)})
		}
		m = append(m, ss)
	}
	return m, nil
}

// runInProcess runs a program (its app.Run) on a listener of 127.0.0.1 and returns its base URL
// and a stop that cancels it and requires a clean exit.
func runInProcess(t *testing.T, run func(ctx context.Context, l net.Listener) error) (string, func()) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, l) }()
	return "http://" + l.Addr().String(), func() {
		cancel()
		require.NoError(t, <-done)
	}
}

// exporterNames runs kizashi-exporter in-process and returns the names it exports.
func exporterNames(t *testing.T) []string {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "kizashi-exporter.yml")
	require.NoError(t, os.WriteFile(cfg, []byte(`source:
  url: http://127.0.0.1:1
queries:
  - name: lint
    expr: lint_load
    step: 1s
    training_window: 10m
    warm_up: 1m
    daily: "off"
    weekly: "off"
    horizons: [1m, 5m]
    thresholds: [1]
    staleness_timeout: 3s
    publish: [all]
`), 0o600))
	base, stop := runInProcess(t, func(ctx context.Context, l net.Listener) error {
		return daemon.Run(ctx, daemon.Options{ConfigFile: cfg, Listener: l, Source: &lintSource{},
			DataDir: filepath.Join(dir, "data"), SnapshotInterval: 100 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
	})
	defer stop()
	url := base + "/metrics"
	var got []string
	require.Eventually(t, func() bool {
		// The union of the scrapes: kizashi_anomaly_reason is there while instance b, gone
		// from the answers, is scored as vanished, until it is dropped.
		for _, n := range scrape(t, url, nil) {
			if !slices.Contains(got, n) {
				got = append(got, n)
			}
		}
		for _, n := range []string{"kizashi_breach_eta_seconds", "kizashi_anomaly_reason", "kizashi_exporter_query_errors_total",
			"kizashi_exporter_cycle_model_duration_seconds", "kizashi_exporter_rejected_samples_total",
			"kizashi_exporter_series_dropped_total", "kizashi_exporter_last_snapshot_success_timestamp_seconds"} {
			if !slices.Contains(got, n) {
				return false
			}
		}
		return true
	}, 30*time.Second, 100*time.Millisecond, "the exporter publishes its series: %v", got)
	return got
}

// webhookNames runs kizashi-webhook in-process, takes an incident through acknowledgement,
// an SLA breach and resolution, and returns the names it exports.
func webhookNames(t *testing.T) []string {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "kizashi-webhook.yml")
	const tenant, operator = "lint-tenant-token-0123456789", "lint-operator-token-0123456789"
	require.NoError(t, os.WriteFile(cfg, []byte(fmt.Sprintf(`storage:
  driver: sqlite
  path: %s
sweep:
  interval: 1s
tenants:
  - name: acme
    tokens: [%q]
operators:
  - name: noc
    tokens: [%q]
`, filepath.Join(dir, "db.sqlite"), tenant, operator)), 0o600))
	var skew atomicDuration
	base, stop := runInProcess(t, func(ctx context.Context, l net.Listener) error {
		return app.Run(ctx, app.Options{ConfigFile: cfg, Listener: l, Registry: prometheus.NewRegistry(),
			Logger: slog.New(slog.DiscardHandler), Now: func() time.Time { return time.Now().Add(skew.load()) }})
	})
	defer stop()
	ready := proc.HTTPReady(base + "/-/ready")
	require.Eventually(t, func() bool { return ready(context.Background()) == nil }, 10*time.Second, 20*time.Millisecond)
	call := func(method, path, token string, body []byte) []byte {
		t.Helper()
		req, err := http.NewRequest(method, base+path, bytes.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		require.Equal(t, 200, resp.StatusCode, "%s %s: %s", method, path, out)
		return out
	}
	call("POST", "/api/v1/alerts", tenant, testkit.Payload("kizashi-acme", "g1", "firing", time.Now(),
		map[string]string{"alertname": "KizashiAnomaly", "severity": "warning", "tenant": "acme"}))
	var list struct {
		Incidents []struct {
			ID int64 `json:"id"`
		} `json:"incidents"`
	}
	require.NoError(t, json.Unmarshal(call("GET", "/api/v1/incidents", operator, nil), &list))
	require.Len(t, list.Incidents, 1)
	id := list.Incidents[0].ID
	skew.store(time.Hour) // acknowledged an hour later: MTTA
	call("POST", fmt.Sprintf("/api/v1/incidents/%d/acknowledge", id), operator, []byte(`{}`))
	skew.store(30 * 24 * time.Hour) // far past every resolve target: the sweeper records a breach
	var got []string
	require.Eventually(t, func() bool {
		got = scrape(t, base+"/metrics", nil)
		return slices.Contains(got, "kizashi_webhook_sla_breaches_total")
	}, 20*time.Second, 100*time.Millisecond, "an SLA breach is recorded")
	call("POST", fmt.Sprintf("/api/v1/incidents/%d/resolve", id), operator, []byte(`{"close_code":"solved_permanently","text":"lint"}`))
	// The union of the scrapes: kizashi_webhook_incidents_open has series only while an
	// incident is open (it is computed from the store), the time to resolve only once one is.
	for _, n := range scrape(t, base+"/metrics", nil) {
		if !slices.Contains(got, n) {
			got = append(got, n)
		}
	}
	return got
}

// alertmanagerNames starts Debian's Alertmanager and returns the names it exports.
func alertmanagerNames(t *testing.T) []string {
	am := testenv.StartAlertmanager(t, testenv.AMOptions{})
	return scrape(t, am.URL()+"/metrics", nil)
}

type atomicDuration struct{ v atomic.Int64 }

func (a *atomicDuration) load() time.Duration   { return time.Duration(a.v.Load()) }
func (a *atomicDuration) store(d time.Duration) { a.v.Store(int64(d)) }
