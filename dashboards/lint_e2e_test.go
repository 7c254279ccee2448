//go:build e2e

package dashboards_test

import (
	"context"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/kizashi-dev/kizashi/dashboards"
	"github.com/kizashi-dev/kizashi/exporter/metricnames"
	"github.com/kizashi-dev/kizashi/exporter/queryconfig"
	"github.com/kizashi-dev/kizashi/internal/proc"
	"github.com/kizashi-dev/kizashi/internal/testenv"
)

// TestMetricNames: every metric that a dashboard or a rule names is one that kizashi-exporter,
// kizashi-webhook or Alertmanager export, checked against their actual /metrics, or one of
// Prometheus' own series (up, ALERTS).
func TestMetricNames(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: starts the exporter, the webhook and Alertmanager")
	}
	known := map[string]string{"up": "Prometheus", "ALERTS": "Prometheus"}
	for prog, names := range map[string][]string{
		"kizashi-exporter": exporterNames(t),
		"kizashi-webhook":  webhookNames(t),
		"alertmanager":     alertmanagerNames(t),
	} {
		require.NotEmpty(t, names, prog)
		for _, n := range names {
			known[n] = prog
		}
	}
	check := func(where, expr string) {
		t.Helper()
		for _, n := range dashboards.MetricNames(expr) {
			_, ok := known[n]
			require.True(t, ok, "%s: metric %s is exported by none of our programs (in %s)", where, n, expr)
		}
	}
	qs, err := dashboards.Queries()
	require.NoError(t, err)
	require.Greater(t, len(qs), 40)
	used := map[string]bool{}
	for _, q := range qs {
		check(q.Dashboard+" "+q.Where, q.Expr)
		for _, n := range dashboards.MetricNames(q.Expr) {
			used[n] = true
		}
	}
	for _, r := range rules(t) {
		check("rule "+r.Alert+r.Record, r.Expr)
		for _, n := range dashboards.MetricNames(r.Expr) {
			used[n] = true
		}
	}
	// The metrics the README names are exported too (labels kizashi_query and kizashi_metric
	// aside).
	readme, err := os.ReadFile("../README.md")
	require.NoError(t, err)
	for _, m := range regexp.MustCompile(`kizashi_[a-z0-9_]*[a-z0-9]`).FindAllString(string(readme), -1) {
		if m == metricnames.LabelQuery || m == metricnames.LabelMetric {
			continue
		}
		_, ok := known[m]
		require.True(t, ok, "README.md names %s, which none of our programs exports", m)
	}
	// The dashboards and rules use every kind of series the exporter publishes by default
	// (the others are for the data source's charts and users' own rules).
	var published []string
	for _, f := range queryconfig.DefaultPublish {
		published = append(published, "kizashi_"+f)
	}
	for _, n := range append(published, "kizashi_webhook_incidents_open",
		"kizashi_webhook_time_to_acknowledge_seconds_sum", "kizashi_webhook_time_to_resolve_seconds_sum",
		"kizashi_webhook_sla_breaches_total") {
		require.True(t, used[n], "%s is used by a dashboard or a rule", n)
	}
}

// TestQueriesParse runs every dashboard query, with sample values for its variables, against
// Debian's Prometheus: each one parses and evaluates.
func TestQueriesParse(t *testing.T) {
	prom := testenv.StartPrometheus(t, testenv.PromOptions{})
	qs, err := dashboards.Queries()
	require.NoError(t, err)
	ctx := context.Background()
	for _, q := range qs {
		expr := dashboards.Expand(q.Expr, sampleVariables)
		require.Empty(t, dashboards.Variables(expr), "%s %s: variables without a sample value", q.Dashboard, q.Where)
		var err error
		if q.Instant {
			_, err = prom.Query(ctx, expr, time.Time{})
		} else {
			_, err = prom.QueryRange(ctx, expr, time.Now().Add(-time.Hour), time.Now(), time.Minute)
		}
		require.NoError(t, err, "%s %s", q.Dashboard, q.Where)
	}
}

// TestRules: promtool check rules and promtool test rules (Debian's prometheus package).
func TestRules(t *testing.T) {
	promtool := testenv.Program(t, proc.Promtool)
	run(t, "prometheus", promtool, "check", "rules", "kizashi-alerts.yml")
	run(t, "prometheus", promtool, "test", "rules", "kizashi-alerts.test.yml")
	// The example configuration loads the rules.
	run(t, "prometheus", promtool, "check", "config", "prometheus.yml")
	// Every alert tells the webhook its urgency, and anomaly alerts keep the series' labels
	// (tenant, service) by not aggregating them away.
	for _, r := range rules(t) {
		if r.Alert == "" {
			continue
		}
		require.Contains(t, []string{"critical", "warning", "info"}, r.Labels["severity"], r.Alert)
		require.NotEmpty(t, r.Annotations["summary"], r.Alert)
		require.NotEmpty(t, r.For, "%s has a for: duration", r.Alert)
		if r.Alert == "KizashiAnomaly" {
			d, err := model.ParseDuration(r.KeepFiringFor)
			require.NoError(t, err)
			require.GreaterOrEqual(t, time.Duration(d), time.Minute,
				"the anomaly alert outlives the model's re-levelling and Alertmanager's group_wait")
		}
	}
}

// TestAlertmanagerConfig: amtool check-config (Debian's prometheus-alertmanager), and the
// routes send every tenant's alerts, resolved ones too, to the webhook with the tenant's
// credential, grouped by tenant.
func TestAlertmanagerConfig(t *testing.T) {
	amtool := testenv.Program(t, proc.Amtool)
	run(t, "alertmanager", amtool, "check-config", "alertmanager.yml")
	raw, err := dashboards.Files.ReadFile(dashboards.AlertmanagerConfigFile)
	require.NoError(t, err)
	var cfg struct {
		Route struct {
			Receiver string   `yaml:"receiver"`
			GroupBy  []string `yaml:"group_by"`
			Routes   []struct {
				Receiver string   `yaml:"receiver"`
				Matchers []string `yaml:"matchers"`
			} `yaml:"routes"`
		} `yaml:"route"`
		Receivers []struct {
			Name           string `yaml:"name"`
			WebhookConfigs []struct {
				URL          string `yaml:"url"`
				SendResolved bool   `yaml:"send_resolved"`
				HTTPConfig   struct {
					Authorization struct {
						CredentialsFile string `yaml:"credentials_file"`
					} `yaml:"authorization"`
				} `yaml:"http_config"`
			} `yaml:"webhook_configs"`
		} `yaml:"receivers"`
	}
	require.NoError(t, yaml.Unmarshal(raw, &cfg))
	require.Equal(t, "tenant", cfg.Route.GroupBy[0], "groups never mix tenants")
	require.NotEmpty(t, cfg.Route.Routes)
	for _, r := range cfg.Route.Routes {
		require.Len(t, r.Matchers, 1)
		require.Regexp(t, `^tenant="[a-z0-9-]+"$`, r.Matchers[0])
		require.Equal(t, "kizashi-"+strings.Trim(strings.TrimPrefix(r.Matchers[0], "tenant="), `"`), r.Receiver)
	}
	for _, r := range cfg.Receivers {
		require.Len(t, r.WebhookConfigs, 1, r.Name)
		wc := r.WebhookConfigs[0]
		require.Equal(t, dashboards.WebhookURLPlaceholder+"/api/v1/alerts", wc.URL, r.Name)
		require.True(t, wc.SendResolved, r.Name)
		require.Equal(t, dashboards.TokenDirPlaceholder+"/"+r.Name+".token", wc.HTTPConfig.Authorization.CredentialsFile, r.Name)
	}
}
