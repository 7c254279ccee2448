//go:build e2e

package daemon_test

import (
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"

	"github.com/kizashi-dev/kizashi/exporter/daemon"
	"github.com/kizashi-dev/kizashi/exporter/internal/fakesource"
	"github.com/kizashi-dev/kizashi/exporter/seriesset"
	"github.com/kizashi-dev/kizashi/internal/testenv"
)

// forged is a label name that, written as it is, would end the label set and add a series
// for another tenant.
const forged = `x="1"} 0` + "\n" + `kizashi_anomaly_score{tenant="other",kizashi_query="otel",x`

// TestPrometheus2ScrapesUTF8AndHostileNames: Debian's Prometheus 2.42, which knows no UTF-8
// names, scrapes series with OpenTelemetry's service.name, a hostile label name and an
// invalid UTF-8 value: the target stays up, names are escaped with underscores, nothing is
// forged, and the series that escapes like another (service_name) is published once.
func TestPrometheus2ScrapesUTF8AndHostileNames(t *testing.T) {
	series := []model.Metric{
		{"__name__": "otel_load", "job": "otel", "service.name": "checkout"},
		{"__name__": "otel_load", "job": "otel", model.LabelName(forged): "v"},
		{"__name__": "otel_load", "job": "otel", "service_name": "checkout"},
		{"__name__": "otel_load", "job": "otel", "instance": "bad\xffutf8"},
	}
	src := fakesource.New(series, func(i int, t time.Time) float64 { return float64(i) + float64(t.Unix()%5) })
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "kizashi.yml")
	writeConfig(t, cfgPath, `source:
  url: http://127.0.0.1:1
queries:
  - name: otel
    expr: otel_load
    step: 1s
    training_window: 1m
    daily: off
    weekly: off
    publish: [all]
`)
	addr := testenv.FreeAddr(t)
	prom := testenv.StartPrometheus(t, testenv.PromOptions{
		ScrapeConfigs: []testenv.ScrapeConfig{{JobName: "kizashi-exporter", Targets: []string{addr}, HonorLabels: true}},
	})
	ex := startAt(t, addr, daemon.Options{ConfigFile: cfgPath, Source: src})

	waitForQuery(t, prom, `count(kizashi_baseline{kizashi_query="otel"}) == 3`, patience)
	// Several scrapes in a row succeeded.
	waitForQuery(t, prom, `count_over_time(up{job="kizashi-exporter"}[1m]) >= 5 and min_over_time(up{job="kizashi-exporter"}[1m]) == 1`, patience)
	requireEmpty(t, prom, `kizashi_anomaly_score{tenant="other"}`)
	requireEmpty(t, prom, `count(kizashi_anomaly_score{kizashi_query="otel"}) != 3`)
	one := func(promql string) model.Metric {
		t.Helper()
		v := waitForQuery(t, prom, promql, patience)
		require.Len(t, v, 1, promql)
		return v[0].Metric
	}
	m := one(`kizashi_baseline{service_name="checkout"}`)
	require.Equal(t, model.Metric{"__name__": "kizashi_baseline", "instance": model.LabelValue(addr), "job": "otel",
		"kizashi_metric": "otel_load", "kizashi_query": "otel", "service_name": "checkout"}, m)
	m = one(`kizashi_baseline{x__1___0_kizashi_anomaly_score_tenant__other__kizashi_query__otel__x="v"}`)
	require.Len(t, m, 6, "%v", m)
	// PromQL cannot spell U+FFFD in a string: a regular expression finds it.
	m = one(`kizashi_baseline{instance=~"bad.utf8"}`)
	require.Equal(t, model.LabelValue("bad\uFFFDutf8"), m["instance"])
	_, metrics := get(t, ex.url+"/metrics")
	require.Contains(t, metrics, `kizashi_exporter_scrape_duplicate_series_total{escaping="underscores"} `)
	require.NotContains(t, metrics, `kizashi_exporter_scrape_duplicate_series_total{escaping="underscores"} 0`)
}

// switchable forwards to a backend until it is switched off; then it answers 503.
type switchable struct {
	off   atomic.Bool
	proxy *httputil.ReverseProxy
}

func (s *switchable) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.off.Load() {
		http.Error(w, "switched off", http.StatusServiceUnavailable)
		return
	}
	s.proxy.ServeHTTP(w, r)
}

// TestOutages: the exporter reads Debian's Prometheus through a proxy. When the proxy is cut
// for longer than the staleness timeout (Prometheus keeps scraping), no series is dropped and
// the steps missed are backfilled. When Prometheus is killed for longer than that and comes
// back answering nothing at first (a short lookback delta: its last samples are too old), no
// series is dropped and nothing is retrained.
func TestOutages(t *testing.T) {
	target := testenv.NewTarget(t)
	hosts := []string{"a", "b", "c"}
	for i, h := range hosts {
		target.Set("kizashi_outage_load", map[string]string{"host": h}, float64(10+i))
	}
	prom := testenv.StartPrometheus(t, testenv.PromOptions{
		ScrapeConfigs: []testenv.ScrapeConfig{{JobName: "node", Targets: []string{target.Addr()}}},
		ExtraFlags:    []string{"--query.lookback-delta=3s"},
	})
	backend, err := url.Parse(prom.URL())
	require.NoError(t, err)
	sw := &switchable{proxy: httputil.NewSingleHostReverseProxy(backend)}
	sw.proxy.ErrorLog = log.New(io.Discard, "", 0) // Prometheus down: 502, expected
	proxy := httptest.NewServer(sw)
	defer proxy.Close()
	waitForQuery(t, prom, `count(kizashi_outage_load) == 3`, patience)

	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "kizashi.yml")
	// Longer than Prometheus 2.42 takes to scrape again after a restart (about 5s).
	const staleness = 20 * time.Second
	require.NoError(t, os.WriteFile(cfgPath, []byte(fmt.Sprintf(`source:
  url: %s
  query_timeout: 5s
queries:
  - name: load
    expr: kizashi_outage_load
    step: 1s
    training_window: 1m
    warm_up: 10s
    daily: off
    weekly: off
    staleness_timeout: %s
    publish: [all]
`, proxy.URL, model.Duration(staleness))), 0o600))
	ex := start(t, daemon.Options{ConfigFile: cfgPath, Logger: testLogger(t)})
	waitFor(t, "exporter ready", patience, func() bool { c, _ := get(t, ex.url+"/-/ready"); return c == http.StatusOK })
	scrape := func() string { _, m := get(t, ex.url+"/metrics"); return m }
	waitFor(t, "three series", patience, func() bool { return strings.Count(scrape(), "kizashi_baseline{") == 3 })
	value := func(m, series string) float64 {
		for _, line := range strings.Split(m, "\n") {
			if v, ok := strings.CutPrefix(line, series+" "); ok {
				var f float64
				_, err := fmt.Sscan(v, &f)
				require.NoError(t, err)
				return f
			}
		}
		return 0
	}
	const samples, dropped, lastUpdate = `kizashi_exporter_backfill_samples_total{query="load"}`,
		`kizashi_exporter_series_dropped_total{query="load",reason="stale"}`, `kizashi_exporter_last_update_timestamp_seconds{query="load"}`
	// The live cycle of a plain selector reads /federate (a Prometheus without external
	// labels), the backfill query_range.
	const federated, ranges = `kizashi_exporter_source_requests_total{api="federate"}`, `kizashi_exporter_source_requests_total{api="query_range"}`
	waitFor(t, "live queries through /federate", patience, func() bool {
		m := scrape()
		return value(m, federated) > 0 && value(m, ranges) > 0
	})
	// outage waits until the exporter has not updated for longer than the staleness timeout.
	outage := func() {
		waitFor(t, "an outage longer than the staleness timeout", patience, func() bool {
			m := scrape()
			return strings.Contains(m, `kizashi_exporter_source_up{query="load"} 0`) &&
				time.Since(time.Unix(int64(value(m, lastUpdate)), 0)) > staleness+2*time.Second
		})
	}

	// The proxy is cut; Prometheus goes on scraping the target.
	before := value(scrape(), samples)
	sw.off.Store(true)
	outage()
	cut := time.Now()
	sw.off.Store(false)
	var m string
	waitFor(t, "the gap backfilled", patience, func() bool {
		m = scrape()
		return value(m, samples)-before >= 3*staleness.Seconds()
	})
	t.Logf("after a cut of %s: %g samples backfilled", time.Since(cut).Round(time.Second), value(m, samples)-before)
	require.Zero(t, value(m, dropped), "no series dropped")
	require.Equal(t, 3, strings.Count(m, "kizashi_baseline{"))

	// Prometheus dies; when it is back it answers nothing until it has scraped again.
	before = value(m, samples)
	prom.Kill(t)
	outage()
	prom.Restart(t)
	waitFor(t, "source up again", patience, func() bool {
		m = scrape()
		return strings.Contains(m, `kizashi_exporter_source_up{query="load"} 1`)
	})
	since := time.Now()
	waitFor(t, "live updates", patience, func() bool {
		m = scrape()
		return value(m, lastUpdate) > float64(since.Unix()+1) && strings.Count(m, "kizashi_baseline{") == 3
	})
	require.Zero(t, value(m, dropped), "no series dropped on the empty answers of a restarted Prometheus")
	require.Less(t, value(m, samples)-before, 3*60.0, "no model retrained over the training window")
}

// TestScrapeTargetsLiveRead: with scrape_targets, the exporter lists Debian's Prometheus'
// targets and reads every live step of a plain selector by scraping the target itself (no
// /federate, no instant query; the backfill from Prometheus), with the labels Prometheus
// gives the series, and follows the target's values.
func TestScrapeTargetsLiveRead(t *testing.T) {
	target := testenv.NewTarget(t)
	for i, h := range []string{"a", "b"} {
		target.Set("kizashi_direct_load", map[string]string{"host": h}, float64(10+i))
	}
	prom := testenv.StartPrometheus(t, testenv.PromOptions{
		ScrapeConfigs: []testenv.ScrapeConfig{{JobName: "node", Targets: []string{target.Addr()}, Labels: map[string]string{"dc": "tokyo"}}},
	})
	waitForQuery(t, prom, `count(kizashi_direct_load) == 2`, patience)
	cfgPath := filepath.Join(t.TempDir(), "kizashi.yml")
	writeConfig(t, cfgPath, fmt.Sprintf(`source:
  url: %s
  scrape_targets:
    scrape_pools: [node]
queries:
  - name: direct
    expr: kizashi_direct_load{dc="tokyo"}
    step: 1s
    training_window: 1m
    warm_up: 10s
    daily: off
    weekly: off
    publish: [all]
`, prom.URL()))
	ex := start(t, daemon.Options{ConfigFile: cfgPath, Logger: testLogger(t)})
	scrape := func() string { _, m := get(t, ex.url+"/metrics"); return m }
	want := fmt.Sprintf(`kizashi_value{dc="tokyo",host="a",instance=%q,job="node",kizashi_metric="kizashi_direct_load",kizashi_query="direct"} `, target.Addr())
	waitFor(t, "the series published with the target's labels", patience, func() bool { return strings.Contains(scrape(), want+"10\n") })
	target.Set("kizashi_direct_load", map[string]string{"host": "a"}, 12.5)
	waitFor(t, "the target's new value", patience, func() bool { return strings.Contains(scrape(), want+"12.5\n") })
	_, page := get(t, ex.url+"/")
	require.Contains(t, page, "read by scraping the targets")
	require.NotContains(t, page, "Not read by scraping")
	m := scrape()
	for api, read := range map[string]bool{"scrape": true, "targets": true, "query_range": true, "federate": false, "query": false} {
		line := `kizashi_exporter_source_requests_total{api="` + api + `"} 0` + "\n"
		require.Equal(t, read, !strings.Contains(m, line), "api %s:\n%s", api, m)
	}

	// The other shard by instance (the shard is pushed into the read): its steps list the
	// target, read nothing from Prometheus and scrape nothing.
	shard := seriesset.Shard{Count: 2, By: []model.LabelName{"instance"}}
	shard.Index = 1 - shard.Hash(model.Metric{"instance": model.LabelValue(target.Addr())})%2
	other := start(t, daemon.Options{ConfigFile: cfgPath, Logger: testLogger(t), Shard: shard})
	since := time.Now()
	waitFor(t, "the other shard's live steps", patience, func() bool {
		_, m := get(t, other.url+"/metrics")
		for _, line := range strings.Split(m, "\n") {
			if v, ok := strings.CutPrefix(line, `kizashi_exporter_last_update_timestamp_seconds{query="direct"} `); ok {
				var f float64
				_, err := fmt.Sscan(v, &f)
				return err == nil && f > float64(since.Unix()+2)
			}
		}
		return false
	})
	_, m = get(t, other.url+"/metrics")
	for api, read := range map[string]bool{"scrape": false, "targets": true, "federate": false, "query": false} {
		line := `kizashi_exporter_source_requests_total{api="` + api + `"} 0` + "\n"
		require.Equal(t, read, !strings.Contains(m, line), "other shard, api %s:\n%s", api, m)
	}
	require.NotContains(t, m, "kizashi_value{")
}
