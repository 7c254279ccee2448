package demo

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"

	"github.com/kizashi-dev/kizashi/dashboards"
)

// emptyInTheDemo are the dashboard queries that have no data yet when the incident appears,
// and why.
var emptyInTheDemo = map[string]string{
	`anomaly-overview.json panel "Value, band and forecast" target E`: "the sessions query has no thresholds: no forecast published by default",
	`capacity-forecast.json panel "Forecast vs actual" target B`:      "the exporter's first forecasts are younger than their horizon",
	`service-desk.json panel "MTTR" target A`:                         "no incident resolved yet",
	`service-desk.json panel "MTTA and MTTR by priority" target B`:    "no incident resolved yet",
	`service-desk.json panel "MTTA and MTTR" target B`:                "no incident resolved yet",
	`service-desk.json panel "Notifications" target B`:                "no notification rejected",
}

// checkDashboardQueries runs every query of the shipped dashboards against the demo's
// Prometheus, with the values Grafana would give their variables: none fails, and all but
// the few listed in emptyInTheDemo return data.
func checkDashboardQueries(ctx context.Context, t *testing.T, s *Stack) {
	// The webhook's metrics after the incident and its acknowledgement (checkPages) have been
	// scraped (its per-tenant series exist at zero from the start, so increase() sees both).
	for _, q := range []string{`kizashi_webhook_incidents_open{tenant="acme"}`,
		`sum(increase(kizashi_webhook_incidents_created_total{tenant="acme"}[10m])) > 0`,
		`sum(increase(kizashi_webhook_time_to_acknowledge_seconds_count{tenant="acme"}[10m])) > 0`} {
		require.NoError(t, s.waitQuery(ctx, q, 30*time.Second))
	}
	common := map[string]string{"horizon": "1d", "threshold": ".+", "tenant": ".*", "window": "1h",
		"__range": "10m", "__rate_interval": "20s", "__interval": "5s"}
	// Per dashboard: the query and the series a user would pick (horizon: the longest, the one published by default; the faulty series' sessions,
	// acme's storage).
	vars := map[string]map[string]string{
		"anomaly-overview.json":  seriesVariables(ctx, t, s, "sessions", SessionsMetric, `tenant="acme",service="checkout"`, common),
		"capacity-forecast.json": seriesVariables(ctx, t, s, "storage", DiskMetric, `tenant="acme"`, common),
		"service-desk.json":      common,
	}
	qs, err := dashboards.Queries()
	require.NoError(t, err)
	now := time.Now()
	var empty []string
	for _, q := range qs {
		expr := dashboards.Expand(q.Expr, vars[q.Dashboard])
		qctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		var v model.Value
		if q.Instant {
			v, _, _, err = s.prom.Query(qctx, expr, now)
		} else {
			v, _, _, err = s.prom.QueryRange(qctx, expr, v1.Range{Start: now.Add(-10 * time.Minute), End: now, Step: 15 * time.Second})
		}
		cancel()
		where := q.Dashboard + " " + q.Where
		require.NoError(t, err, "%s: %s", where, expr)
		n := 0
		switch v := v.(type) {
		case model.Vector:
			n = len(v)
		case model.Matrix:
			n = len(v)
		}
		if n == 0 {
			empty = append(empty, where)
			if _, ok := emptyInTheDemo[where]; !ok {
				t.Errorf("%s: no data in the demo: %s", where, expr)
			}
		}
	}
	for where := range emptyInTheDemo {
		require.True(t, slices.Contains(empty, where), "%s has data now: remove it from emptyInTheDemo", where)
	}
	t.Logf("%d dashboard queries run, %d without data in the demo (expected)", len(qs), len(empty))
}

// seriesVariables returns the dashboard variables for one series of a query: its label set as
// Grafana's query_result() variable with the dashboards' regex gives it.
func seriesVariables(ctx context.Context, t *testing.T, s *Stack, query, metric, matchers string, common map[string]string) map[string]string {
	vec, err := s.query(ctx, fmt.Sprintf(`kizashi_anomaly_score{kizashi_query=%q,%s}`, query, matchers))
	require.NoError(t, err)
	require.Len(t, vec, 1)
	var pairs []string
	for k, v := range vec[0].Metric {
		if k != model.MetricNameLabel {
			pairs = append(pairs, fmt.Sprintf("%s=%q", k, v))
		}
	}
	sort.Strings(pairs)
	out := map[string]string{"query": query, "metric": metric, "series": strings.Join(pairs, ",")}
	for k, v := range common {
		out[k] = v
	}
	return out
}
