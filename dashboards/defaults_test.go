//go:build e2e

package dashboards_test

import (
	"context"
	"encoding/json"
	"fmt"
	"iter"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"

	"github.com/kizashi-dev/kizashi/dashboards"
	"github.com/kizashi-dev/kizashi/internal/testenv"
)

// grafanaVariable is what Grafana reads of a query variable to fill in its options and pick
// the one a dashboard opens on.
type grafanaVariable struct {
	Type       string `json:"type"`
	Name       string `json:"name"`
	Definition string `json:"definition"`
	Regex      string `json:"regex"`
	Sort       int    `json:"sort"`
	IncludeAll bool   `json:"includeAll"`
	AllValue   string `json:"allValue"`
	Query      any    `json:"query"`
}

var (
	labelValuesCallRE = regexp.MustCompile(`^\s*label_values\((.*),\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\)\s*$`)
	queryResultCallRE = regexp.MustCompile(`^\s*query_result\((.*)\)\s*$`)
)

// openingValues resolves a dashboard's variables the way Grafana does when the dashboard
// opens with no saved selection: each query variable, in order, runs its query with the
// values picked before it, takes its options (label_values: the label's distinct values;
// query_result: each series as Grafana prints it, `name{k="v",...} value timestamp`, through
// the variable's regex), sorts them, and picks the first option ("All" when included).
func openingValues(ctx context.Context, t *testing.T, prom *testenv.Prometheus, vars []grafanaVariable, fixed map[string]string) map[string]string {
	t.Helper()
	values := map[string]string{}
	for k, v := range fixed {
		values[k] = v
	}
	for _, v := range vars {
		if _, ok := values[v.Name]; ok || v.Type == "datasource" {
			continue
		}
		if v.Type == "custom" {
			q, _ := v.Query.(string)
			values[v.Name] = strings.Split(q, ",")[0]
			continue
		}
		require.Equal(t, "query", v.Type, v.Name)
		var options []string
		switch {
		case labelValuesCallRE.MatchString(v.Definition):
			m := labelValuesCallRE.FindStringSubmatch(v.Definition)
			for _, s := range instant(ctx, t, prom, dashboards.Expand(m[1], values)) {
				if lv, ok := s.Metric[model.LabelName(m[2])]; ok && !slices.Contains(options, string(lv)) {
					options = append(options, string(lv))
				}
			}
		case queryResultCallRE.MatchString(v.Definition):
			m := queryResultCallRE.FindStringSubmatch(v.Definition)
			re := regexp.MustCompile(strings.TrimSuffix(strings.TrimPrefix(v.Regex, "/"), "/"))
			for _, s := range instant(ctx, t, prom, dashboards.Expand(m[1], values)) {
				var pairs []string
				for _, k := range slices.Sorted(func(yield func(string) bool) {
					for k := range s.Metric {
						if k != model.MetricNameLabel && !yield(string(k)) {
							return
						}
					}
				}) {
					pairs = append(pairs, fmt.Sprintf("%s=%q", k, s.Metric[model.LabelName(k)]))
				}
				text := fmt.Sprintf("%s{%s} %s %d", s.Metric[model.MetricNameLabel], strings.Join(pairs, ","), s.Value, s.Timestamp)
				if sub := re.FindStringSubmatch(text); sub != nil {
					options = append(options, sub[re.SubexpIndex("value")])
				}
			}
		default:
			t.Fatalf("variable %s: query %q is neither label_values nor query_result", v.Name, v.Definition)
		}
		if len(options) == 0 && v.IncludeAll { // Grafana still offers "All"
			values[v.Name] = v.AllValue
			continue
		}
		require.NotEmpty(t, options, "variable %s has no option", v.Name)
		switch v.Sort {
		case 1, 5: // alphabetical, (case-insensitive) ascending
			sort.Strings(options)
		case 3: // numerical ascending: the first number in each option
			num := regexp.MustCompile(`\d+`)
			sort.SliceStable(options, func(i, j int) bool {
				var a, b int
				_, _ = fmt.Sscan(num.FindString(options[i]), &a)
				_, _ = fmt.Sscan(num.FindString(options[j]), &b)
				return a < b
			})
		}
		switch {
		case v.IncludeAll && v.AllValue != "":
			values[v.Name] = v.AllValue
		case v.IncludeAll:
			values[v.Name] = "(" + strings.Join(options, "|") + ")"
		default:
			values[v.Name] = options[0]
		}
	}
	return values
}

func instant(ctx context.Context, t *testing.T, prom *testenv.Prometheus, expr string) model.Vector {
	t.Helper()
	require.Empty(t, dashboards.Variables(expr), "unresolved variables in %s", expr)
	v, err := prom.Query(ctx, expr, time.Time{})
	require.NoError(t, err, expr)
	return v.(model.Vector)
}

// TestCapacityDashboardOpensOnABreachForecast: opened with no selection, the capacity
// dashboard shows a series that has a breach forecast, not the first series in alphabetical
// order of every query the exporter models; when no selected series has one, it lists them all.
func TestCapacityDashboardOpensOnABreachForecast(t *testing.T) {
	end := time.Now().Truncate(time.Minute)
	start := end.Add(-30 * time.Minute)
	const n = 31
	// What the exporter publishes for the demo's shop by default: the sessions query has no
	// thresholds (no forecast), the storage query a forecast and a breach ETA for its
	// capacity; and a requests query without thresholds whose publish: asks for forecasts.
	var seqs []iter.Seq[testenv.Sample]
	add := func(metric string, labels map[string]string, v float64) {
		seqs = append(seqs, testenv.Series(metric, labels, start, time.Minute, n, func(int, time.Time) float64 { return v }))
	}
	with := func(base map[string]string, kv ...string) map[string]string {
		out := map[string]string{"instance": "shop-1", "job": "shop"}
		for k, v := range base {
			out[k] = v
		}
		for i := 0; i+1 < len(kv); i += 2 {
			out[kv[i]] = kv[i+1]
		}
		return out
	}
	for _, s := range []map[string]string{
		{"kizashi_query": "sessions", "kizashi_metric": "demo_active_sessions", "tenant": "acme", "service": "checkout"},
		{"kizashi_query": "sessions", "kizashi_metric": "demo_active_sessions", "tenant": "globex", "service": "search"},
		{"kizashi_query": "storage", "kizashi_metric": "demo_disk_used_bytes", "tenant": "acme", "volume": "orders"},
		{"kizashi_query": "storage", "kizashi_metric": "demo_disk_used_bytes", "tenant": "globex", "volume": "orders"},
		{"kizashi_query": "requests", "kizashi_metric": "demo_requests", "tenant": "acme", "service": "checkout"},
	} {
		add("kizashi_anomaly_score", with(s), 0.1)
		if s["kizashi_query"] != "sessions" {
			add("kizashi_forecast", with(s, "horizon", "1d"), 1)
		}
		if s["kizashi_query"] == "storage" {
			add("kizashi_breach_eta_seconds", with(s, "threshold", "1e+11"), 3.2e5)
		}
	}
	prom := testenv.StartPrometheus(t, testenv.PromOptions{HistorySamples: func(yield func(testenv.Sample) bool) {
		for _, s := range seqs {
			for x := range s {
				if !yield(x) {
					return
				}
			}
		}
	}})

	raw, err := dashboards.Files.ReadFile(dashboards.DashboardDir + "/capacity-forecast.json")
	require.NoError(t, err)
	var d struct {
		Templating struct {
			List []grafanaVariable `json:"list"`
		} `json:"templating"`
	}
	require.NoError(t, json.Unmarshal(raw, &d))
	ctx := t.Context()
	values := openingValues(ctx, t, prom, d.Templating.List, map[string]string{"datasource": "prometheus"})
	t.Logf("the dashboard opens on series {%s}", values["series"])
	require.NotEmpty(t, instant(ctx, t, prom, dashboards.Expand(`kizashi_breach_eta_seconds{${series:raw}, threshold=~"$threshold"}`, values)),
		"the series the dashboard opens on has a breach ETA")
	require.NotEmpty(t, instant(ctx, t, prom, dashboards.Expand(`kizashi_forecast{${series:raw}, horizon="$horizon"}`, values)),
		"the series the dashboard opens on has a forecast at the chosen horizon")

	// A query without thresholds whose publish: asks for forecasts: its series are listed all
	// the same.
	values = openingValues(ctx, t, prom, d.Templating.List, map[string]string{"datasource": "prometheus", "query": "requests"})
	require.Contains(t, values["series"], `kizashi_query="requests"`)
	require.NotEmpty(t, instant(ctx, t, prom, dashboards.Expand(`kizashi_forecast{${series:raw}, horizon="$horizon"}`, values)))

	// The anomaly overview on a query without forecasts (the default without thresholds): its
	// horizon variable still has a value, every panel query evaluates (the forecast's is
	// empty); on a query with forecasts it picks the published horizon.
	raw, err = dashboards.Files.ReadFile(dashboards.DashboardDir + "/anomaly-overview.json")
	require.NoError(t, err)
	var overview struct {
		Templating struct {
			List []grafanaVariable `json:"list"`
		} `json:"templating"`
	}
	require.NoError(t, json.Unmarshal(raw, &overview))
	qs, err := dashboards.Queries()
	require.NoError(t, err)
	for query, forecast := range map[string]bool{"sessions": false, "storage": true} {
		values = openingValues(ctx, t, prom, overview.Templating.List, map[string]string{"datasource": "prometheus", "query": query,
			"__range": "10m", "__rate_interval": "2m", "__interval": "1m"})
		require.Equal(t, "1d", values["horizon"], query)
		require.Contains(t, values["series"], `kizashi_query="`+query+`"`)
		for _, q := range qs {
			if q.Dashboard != "anomaly-overview.json" {
				continue
			}
			expr := dashboards.Expand(q.Expr, values)
			require.Empty(t, dashboards.Variables(expr), "%s: unresolved variables in %s", q.Where, expr)
			_, err := prom.Query(ctx, expr, time.Time{})
			require.NoError(t, err, "%s %s: %s", query, q.Where, expr)
		}
		got := instant(ctx, t, prom, dashboards.Expand(`kizashi_forecast{${series:raw}, horizon="$horizon"}`, values))
		require.Equal(t, forecast, len(got) > 0, query)
	}
}
