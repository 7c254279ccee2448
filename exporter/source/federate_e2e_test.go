//go:build e2e

package source

import (
	"context"
	"fmt"
	"math"
	"sort"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"

	"github.com/kizashi-dev/kizashi/exporter/queryconfig"
	"github.com/kizashi-dev/kizashi/internal/testenv"
)

// TestFederateAnswersAsTheInstantQuery: against Debian's Prometheus, the live query of a plain
// selector read from /federate returns the series and values the instant query returns (label
// values with quotes, backslashes, new lines and UTF-8; NaN and infinities; a series without
// an instance label; a series gone stale); a source with external labels is asked with the
// instant query.
func TestFederateAnswersAsTheInstantQuery(t *testing.T) {
	target := testenv.NewTarget(t)
	values := map[string]float64{"1": 1.5, "2": math.NaN(), "3": math.Inf(1), "4": -2, "5": 0}
	for k, v := range values {
		target.Set("kizashi_fed", map[string]string{"k": k, "odd": "q\"uo\\te\nd 日本"}, v)
	}
	target.Set("kizashi_other", map[string]string{"k": "1"}, 7)
	prom := testenv.StartPrometheus(t, testenv.PromOptions{
		ScrapeConfigs: []testenv.ScrapeConfig{{JobName: "node", Targets: []string{target.Addr()}}},
		// A recording rule's series has no instance label.
		Rules: map[string]string{"r.yml": "groups:\n  - name: r\n    rules:\n      - record: kizashi_fed:sum\n        expr: sum by (job) (kizashi_fed{k=\"1\"})\n"},
	})
	ctx := context.Background()
	prom.WaitForQuery(t, `count(kizashi_fed) == 5 and on() count(kizashi_fed:sum) == 1 and on() count(kizashi_other offset 1s) == 1`, 30*time.Second)

	cfg := queryconfig.DefaultSource
	cfg.URL = prom.URL()
	fed, err := New(cfg)
	require.NoError(t, err)
	inst, err := New(cfg)
	require.NoError(t, err)
	inst.noFederation()
	// Which API answered, as kizashi_exporter_source_requests_total{api} counts it.
	counter := func(p *Prometheus) *prometheus.CounterVec {
		c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "requests_total"}, []string{"api"})
		p.CountRequests(c)
		return c
	}
	requests := func(c *prometheus.CounterVec) map[string]float64 {
		out := map[string]float64{}
		for _, api := range APIs {
			if n := testutil.ToFloat64(c.WithLabelValues(api)); n > 0 {
				out[api] = n
			}
		}
		return out
	}
	fedN, instN := counter(fed), counter(inst)

	text := func(vec model.Vector) []string {
		var out []string
		for _, s := range vec {
			out = append(out, fmt.Sprintf("%s %s %d", s.Metric, s.Value, s.Timestamp))
		}
		sort.Strings(out)
		return out
	}
	same := func(expr string, federated bool) {
		t.Helper()
		now := time.Now().Truncate(time.Millisecond) // no half millisecond to round
		require.Equal(t, federated, fed.federated(ctx, expr, now) != "", expr)
		a, err := fed.Query(ctx, expr, now)
		require.NoError(t, err)
		b, err := inst.Query(ctx, expr, now)
		require.NoError(t, err)
		require.Equal(t, text(b), text(a), expr)
		require.NotEmpty(t, a, expr)
	}
	for expr, federated := range map[string]bool{
		`kizashi_fed`:                 true,
		`kizashi_fed{k=~"[12]"}`:      true,
		`{__name__=~"kizashi_fed.*"}`: true,
		`kizashi_fed:sum`:             true,
		`kizashi_other offset 1s`:     false,
		`sum by (k) (kizashi_fed)`:    false,
		`kizashi_fed{k="1"} + 1`:      false,
	} {
		same(expr, federated)
	}
	require.Equal(t, 1, fed.federation.state)
	require.Equal(t, map[string]float64{APIFederate: 4, APIQuery: 3}, requests(fedN))
	require.Equal(t, map[string]float64{APIQuery: 7}, requests(instN))

	// A series that went away: stale in Prometheus, absent from both answers.
	target.Delete("kizashi_fed", map[string]string{"k": "5", "odd": "q\"uo\\te\nd 日本"})
	prom.WaitForQuery(t, `count(kizashi_fed) == 4`, 30*time.Second)
	same(`kizashi_fed`, true)
	// A time in the past (a retry): the instant query.
	require.Empty(t, fed.federated(ctx, `kizashi_fed`, time.Now().Add(-time.Minute)))

	// External labels: /federate would add them, the instant query does not.
	withExt := testenv.StartPrometheus(t, testenv.PromOptions{Config: fmt.Sprintf(
		"global:\n  scrape_interval: 1s\n  external_labels: {replica: a}\nscrape_configs:\n  - job_name: node\n    static_configs: [{targets: [%q]}]\n", target.Addr())})
	withExt.WaitForQuery(t, `count(kizashi_fed) == 4`, 30*time.Second)
	cfg.URL = withExt.URL()
	ext, err := New(cfg)
	require.NoError(t, err)
	extN := counter(ext)
	require.Empty(t, ext.federated(ctx, `kizashi_fed`, time.Now()))
	require.Equal(t, -1, ext.federation.state)
	vec, err := ext.Query(ctx, `kizashi_fed`, time.Now())
	require.NoError(t, err)
	require.Len(t, vec, 4)
	require.NotContains(t, vec[0].Metric, model.LabelName("replica"))
	require.Equal(t, map[string]float64{APIQuery: 1}, requests(extN))
	// The range query of a backfill.
	_, err = ext.QueryRange(ctx, `kizashi_fed`, time.Now().Add(-time.Minute), time.Now(), 10*time.Second)
	require.NoError(t, err)
	require.Equal(t, map[string]float64{APIQuery: 1, APIQueryRange: 1}, requests(extN))
}
