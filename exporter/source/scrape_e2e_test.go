//go:build e2e

package source

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/kizashi-dev/kizashi/exporter/queryconfig"
	"github.com/kizashi-dev/kizashi/internal/testenv"
)

// TestScrapeAnswersAsTheInstantQuery: against Debian's Prometheus, the live query of a plain
// selector read by scraping Prometheus' targets returns the series and values the instant
// query returns: the target's labels on every series, exported_ (and exported_exported_)
// before a label the target sets, honor_labels, metric_relabel_configs that drop and rename,
// label values with quotes, new lines and UTF-8, NaN. A target whose labels cannot match the
// selector is not scraped; the queries of one step share their scrapes; what is not a plain
// selector of a metric a target exposes, and a step whose target fails, is read from
// Prometheus.
func TestScrapeAnswersAsTheInstantQuery(t *testing.T) {
	node := testenv.NewTarget(t)
	node.Set("kizashi_scr", map[string]string{"k": "1", "odd": "q\"uo\\te\nd 日本"}, 1.5)
	node.Set("kizashi_scr", map[string]string{"k": "2", "job": "exposed", "instance": "x"}, math.NaN())
	node.Set("kizashi_scr", map[string]string{"k": "3", "job": "j3", "exported_job": "pre"}, 3)
	node.Set("kizashi_scr_total", map[string]string{"k": "1"}, 9) // a prefix of another name
	honored := testenv.NewTarget(t)
	honored.Set("kizashi_scr", map[string]string{"k": "1", "job": "mine"}, 4)
	honored.Set("kizashi_scr", map[string]string{"k": "2"}, 5)
	honored.Set("kizashi_scr", map[string]string{"k": "4", "zone": "a"}, 6)
	// A third job behind a switch that makes its scrapes fail.
	other := testenv.NewTarget(t)
	other.Set("kizashi_scr", map[string]string{"k": "1"}, 7)
	var fail atomic.Bool
	otherURL, err := url.Parse("http://" + other.Addr())
	require.NoError(t, err)
	proxy := httputil.NewSingleHostReverseProxy(otherURL)
	flaky := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if fail.Load() && strings.Contains(r.UserAgent(), "kizashi") {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(flaky.Close)

	prom := testenv.StartPrometheus(t, testenv.PromOptions{
		ScrapeConfigs: []testenv.ScrapeConfig{{JobName: "node", Targets: []string{node.Addr()}, Labels: map[string]string{"dc": "tokyo"}}},
		ScrapeConfigsYAML: fmt.Sprintf(`
- job_name: honored
  honor_labels: true
  static_configs: [{targets: [%q]}]
  metric_relabel_configs:
    - {source_labels: [k], regex: "2", action: drop}
    - {source_labels: [zone], regex: "(.+)", target_label: region, replacement: "r-$1"}
- job_name: other
  static_configs: [{targets: [%q]}]
`, honored.Addr(), strings.TrimPrefix(flaky.URL, "http://")),
	})
	ctx := context.Background()
	prom.WaitForQuery(t, `count(kizashi_scr) == 6 and on() count(kizashi_scr_total) == 1`, 30*time.Second)

	cfg := queryconfig.DefaultSource
	cfg.URL = prom.URL()
	st := queryconfig.DefaultScrapeTargets
	cfg.ScrapeTargets = &st
	scr, err := New(cfg)
	require.NoError(t, err)
	cfg.ScrapeTargets = nil
	inst, err := New(cfg)
	require.NoError(t, err)
	inst.noFederation()
	scrN := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "requests_total"}, []string{"api"})
	scr.CountRequests(scrN)
	requests := func() map[string]float64 {
		out := map[string]float64{}
		for _, api := range APIs {
			if n := testutil.ToFloat64(scrN.WithLabelValues(api)); n > 0 {
				out[api] = n
			}
		}
		scrN.Reset()
		return out
	}
	text := func(expr string, p *Prometheus, now time.Time) []string {
		t.Helper()
		vec, err := p.Query(ctx, expr, now)
		require.NoError(t, err, expr)
		var out []string
		for _, s := range vec {
			out = append(out, fmt.Sprintf("%s %s %d", s.Metric, s.Value, s.Timestamp))
		}
		sort.Strings(out)
		return out
	}
	step := testSteps.next
	same := func(expr string) []string {
		t.Helper()
		now := step()
		a, b := text(expr, scr, now), text(expr, inst, now)
		require.Equal(t, b, a, expr)
		require.NotEmpty(t, a, expr)
		return a
	}

	all := same(`kizashi_scr`)
	require.Len(t, all, 6)
	require.Contains(t, strings.Join(all, "\n"), `exported_exported_job="j3"`)
	require.Contains(t, strings.Join(all, "\n"), `region="r-a"`)
	require.Equal(t, map[string]float64{APITargets: 2, APIScrape: 3}, requests())
	// The other job's target cannot match: not scraped (the honored one keeps its own job).
	same(`kizashi_scr{job=~"node|mine"}`)
	require.Equal(t, map[string]float64{APIScrape: 2}, requests())
	same(`kizashi_scr{dc="tokyo", k!="3"}`)
	require.Equal(t, map[string]float64{APIScrape: 3}, requests())
	same(`kizashi_scr_total`)
	require.Equal(t, map[string]float64{APIScrape: 3}, requests())

	// Two queries of one step share the scrapes.
	now := step()
	require.Len(t, text(`kizashi_scr{k="1"}`, scr, now), 3)
	require.Len(t, text(`kizashi_scr{k!="1"}`, scr, now), 3)
	require.Equal(t, map[string]float64{APIScrape: 3}, requests())

	// Read from Prometheus: not a plain selector, Prometheus' own series, a time in the past.
	same(`sum by (job) (kizashi_scr)`)
	same(`up`)
	require.Equal(t, map[string]float64{APIFederate: 1, APIQuery: 1}, requests())
	past := time.Now().Add(-time.Minute).Truncate(time.Millisecond)
	require.Equal(t, text(`kizashi_scr`, inst, past), text(`kizashi_scr`, scr, past))
	require.Equal(t, map[string]float64{APIQuery: 1}, requests())

	// A target that fails: the step is read from Prometheus (which still has the series).
	fail.Store(true)
	same(`kizashi_scr`)
	require.Equal(t, map[string]float64{APIScrape: 3, APIFederate: 1}, requests())
	fail.Store(false)
	same(`kizashi_scr`)
	require.Equal(t, map[string]float64{APIScrape: 3}, requests())
}
