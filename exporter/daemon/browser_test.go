//go:build e2e

package daemon_test

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/kizashi-dev/kizashi/exporter/daemon"
	"github.com/kizashi-dev/kizashi/exporter/internal/fakesource"
	"github.com/kizashi-dev/kizashi/internal/testenv"
)

// TestPagesInChromium renders the landing page and a series page in headless Chromium: the
// pages load without console errors and carry the SVG charts (raw, band, forecast, score).
func TestPagesInChromium(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "kizashi.yml")
	require.NoError(t, os.WriteFile(cfgPath, []byte(`source:
  url: http://127.0.0.1:1
queries:
  - name: requests
    expr: sum by (service) (rate(http_requests_total[5m]))
    step: 1m
    training_window: 2d
    horizons: [1h, 6h]
    thresholds: [150]
    min: 0
  - name: load
    expr: node_load1
    step: 30s
    training_window: 1d
`), 0o600))
	src := fakesource.New(fakesource.Many("node_load1", 4), func(i int, t time.Time) float64 {
		day := float64(t.Unix()%86400) / 86400
		v := 50 + 10*float64(i) + 30*math.Sin(2*math.Pi*day) + 2*math.Sin(float64(t.Unix())/300)
		if i == 0 && time.Since(t) < 20*time.Minute {
			v += 80 // a recent anomaly on the first series
		}
		return v
	})
	ex := start(t, daemon.Options{ConfigFile: cfgPath, Source: src})
	waitFor(t, "ready", 30*time.Second, func() bool { c, _ := get(t, ex.url+"/-/ready"); return c == 200 })

	ctx := testenv.Browser(t)
	tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	require.NoError(t, chromedp.Do(tctx, chromedp.Navigate(ex.url+"/"), chromedp.WaitVisible("section.query")))
	count := func(sel string) int {
		n, err := chromedp.Run(tctx, chromedp.Evaluate[int](fmt.Sprintf("document.querySelectorAll(%q).length", sel)))
		require.NoError(t, err)
		return n
	}
	require.Equal(t, 2, count("section.query"))
	require.Equal(t, 8, count("tr.series"), "4 series in each query")
	require.Equal(t, 8, count("svg.chart"))
	require.Equal(t, 8, count("svg.chart path.raw"))
	require.Equal(t, 8, count("svg.chart path.band"))
	require.Equal(t, 8, count("svg.chart path.score"))
	require.Empty(t, testenv.BrowserErrors(t, ctx))
	require.NoError(t, testenv.Screenshot(tctx, filepath.Join(shotDir(t), "index.png")))

	// The series page of the first (most anomalous) series.
	href, err := chromedp.Run(tctx, chromedp.Evaluate[string](`document.querySelector("section#q-load tr.series a").href`))
	require.NoError(t, err)
	require.NoError(t, chromedp.Do(tctx, chromedp.Navigate(href), chromedp.WaitReady("svg.chart")))
	for _, sel := range []string{"svg.chart path.raw", "svg.chart path.band", "svg.chart path.baseline",
		"svg.chart path.forecast", "svg.chart path.forecast-band", "svg.chart path.score"} {
		require.Equal(t, 1, count(sel), sel)
	}
	require.Equal(t, 4, count("table.forecasts tr"), "header and 3 default horizons")
	title, err := chromedp.Run(tctx, chromedp.Text("h1"))
	require.NoError(t, err)
	require.Contains(t, title, `instance="host-0"`)
	require.Empty(t, testenv.BrowserErrors(t, ctx))
	require.NoError(t, testenv.Screenshot(tctx, filepath.Join(shotDir(t), "series.png")))
}

// shotDir is where screenshots go: $KIZASHI_SCREENSHOTS if set (to look at them), else a
// temporary directory.
func shotDir(t *testing.T) string {
	if d := os.Getenv("KIZASHI_SCREENSHOTS"); d != "" {
		return d
	}
	return t.TempDir()
}
