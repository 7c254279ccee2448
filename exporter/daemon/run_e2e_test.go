//go:build e2e

package daemon_test

import (
	"bytes"
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"

	"github.com/kizashi-dev/kizashi/exporter/daemon"
	"github.com/kizashi-dev/kizashi/exporter/internal/fakesource"
	"github.com/kizashi-dev/kizashi/exporter/state"
)

func TestRunInProcess(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "kizashi.yml")
	writeConfig(t, cfgPath, fmt.Sprintf(configTmpl, 0.5))
	src := fakesource.New(fakesource.Many("node_load1", 3), func(i int, t time.Time) float64 {
		return float64(10+i) + float64(t.Unix()%7)/10
	})
	opts := daemon.Options{ConfigFile: cfgPath, DataDir: filepath.Join(dir, "data"), Source: src, SnapshotInterval: time.Hour,
		EnableLifecycle: true}
	ex := start(t, opts)

	code, _ := get(t, ex.url+"/-/healthy")
	require.Equal(t, http.StatusOK, code)
	waitFor(t, "ready", patience, func() bool { c, _ := get(t, ex.url+"/-/ready"); return c == http.StatusOK })

	var metrics string
	waitFor(t, "baselines", patience, func() bool {
		_, metrics = get(t, ex.url+"/metrics")
		return strings.Count(metrics, "kizashi_baseline{") == 3
	})
	require.Contains(t, metrics, `kizashi_upper{instance="host-1",job="bench",kizashi_metric="node_load1",kizashi_query="load"} `)
	require.Contains(t, metrics, `kizashi_forecast{instance="host-1",job="bench",kizashi_metric="node_load1",kizashi_query="load",horizon="2m"} `)
	require.Contains(t, metrics, `kizashi_exporter_source_up{query="load"} 1`)
	require.Contains(t, metrics, `kizashi_exporter_query_ready{query="load"} 1`)
	require.Contains(t, metrics, "kizashi_exporter_build_info{")
	require.Contains(t, metrics, "kizashi_exporter_config_last_reload_successful 1")
	require.Contains(t, metrics, `kizashi_exporter_backfill_progress_ratio{query="load"} 1`)
	// A source given in Options (here a fake) is not counted; the series are there from the start.
	require.Contains(t, metrics, `kizashi_exporter_source_requests_total{api="federate"} 0`)
	promtoolCheckMetrics(t, metrics)

	// The landing page and a series page.
	code, page := get(t, ex.url+"/")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, page, "<svg")
	i := strings.Index(page, "/series?query=load&amp;id=")
	require.Positive(t, i)
	link := strings.ReplaceAll(page[i:i+len("/series?query=load&amp;id=")+16], "&amp;", "&")
	code, page = get(t, ex.url+link)
	require.Equal(t, http.StatusOK, code, page)
	require.Contains(t, page, `class="forecast"`)

	// A bad configuration is refused and changes nothing; a good one is applied.
	writeConfig(t, cfgPath, "source: {url: http://127.0.0.1:1}\nqueries:\n  - name: load\n    expr: up\n    stepp: 1s\n")
	code, body := post(t, ex.url+"/-/reload")
	require.Equal(t, http.StatusInternalServerError, code)
	require.Contains(t, body, `line 5: query "load": field stepp not found`)
	_, metrics = get(t, ex.url+"/metrics")
	require.Contains(t, metrics, "kizashi_exporter_config_last_reload_successful 0")
	const host0 = `{instance="host-0",job="bench",kizashi_metric="node_load1",kizashi_query="load"}`
	width := func(metrics string) float64 {
		return metricValue(t, metrics, "kizashi_upper"+host0) - metricValue(t, metrics, "kizashi_lower"+host0)
	}
	before := width(metrics)

	writeConfig(t, cfgPath, fmt.Sprintf(configTmpl, 0.9))
	code, _ = post(t, ex.url+"/-/reload")
	require.Equal(t, http.StatusOK, code)
	waitFor(t, "narrower band", patience, func() bool {
		_, metrics = get(t, ex.url+"/metrics")
		return strings.Count(metrics, "kizashi_baseline{") == 3 && width(metrics) < 0.8*before
	})
	require.Contains(t, metrics, "kizashi_exporter_config_last_reload_successful 1")
	require.Contains(t, metrics, `kizashi_model_ready{instance="host-0",job="bench",kizashi_metric="node_load1",kizashi_query="load"} 1`,
		"models kept across a reload that changes only the sensitivity")
	code, _ = get(t, ex.url+"/-/reload")
	require.Equal(t, http.StatusMethodNotAllowed, code)

	// The source goes away: last values stay, source_up says so; it comes back.
	src.SetDown(true)
	waitFor(t, "source down", patience, func() bool {
		_, metrics = get(t, ex.url+"/metrics")
		return strings.Contains(metrics, `kizashi_exporter_source_up{query="load"} 0`)
	})
	require.Equal(t, 3, strings.Count(metrics, "kizashi_baseline{"))
	src.SetDown(false)
	waitFor(t, "source up", patience, func() bool {
		_, metrics = get(t, ex.url+"/metrics")
		return strings.Contains(metrics, `kizashi_exporter_source_up{query="load"} 1`)
	})

	// Shutdown writes the snapshots; a restart restores them and backfills only the gap.
	ex.stop()
	n, err := state.Read(opts.DataDir, "load", func(model.Metric, []byte) {})
	require.NoError(t, err)
	require.Equal(t, 3, n)
	ex = start(t, opts)
	waitFor(t, "ready after restart", patience, func() bool { c, _ := get(t, ex.url+"/-/ready"); return c == http.StatusOK })
	_, metrics = get(t, ex.url+"/metrics")
	require.Contains(t, metrics, `kizashi_model_ready{instance="host-2",job="bench",kizashi_metric="node_load1",kizashi_query="load"} 1`,
		"ready at once: restored, not retrained from a 10m window")
	// The 10m window at 1s is 1,800 samples for the 3 series; the gap is seconds.
	samples := metricValue(t, metrics, `kizashi_exporter_backfill_samples_total{query="load"}`)
	require.Less(t, samples, 3*300.0, "only the gap is backfilled, not the training window (%g samples)", samples)
}

// promtoolCheckMetrics runs Debian's promtool check metrics on an exposition.
func promtoolCheckMetrics(t *testing.T, text string) {
	t.Helper()
	promtool, err := exec.LookPath("promtool")
	require.NoError(t, err, "promtool (Debian package prometheus) is required")
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(text)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	require.NoError(t, cmd.Run(), "promtool check metrics:\n%s", out.String())
}
