package demo

import (
	"bytes"
	"context"
	"image/png"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/kizashi-dev/kizashi/internal/testenv"
)

// ScreenshotDirEnv names the directory the demo's test saves its screenshots in (the README's,
// `go tool mage screenshots`); a temporary directory when unset.
const ScreenshotDirEnv = "KIZASHI_SCREENSHOT_DIR"

// maxScreenshotBytes keeps the committed screenshots small.
const maxScreenshotBytes = 300 << 10

// checkPages looks at the running demo as a newcomer does, in headless Chromium: the
// exporter's page lists acme's checkout sessions first (the highest score) with their charts;
// the service desk shows the incident after logging in with the operator token, and the
// incident can be acknowledged, with its anomaly chart from Prometheus. It saves the README's screenshots: exporter.png,
// service-desk.png and incident.png.
func checkPages(ctx context.Context, t *testing.T, s *Stack) {
	dir := os.Getenv(ScreenshotDirEnv)
	if dir == "" {
		dir = t.TempDir()
	}
	b := testenv.Browser(t)
	do := func(actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		tctx, cancel := context.WithTimeout(b, 30*time.Second)
		defer cancel()
		require.NoError(t, chromedp.Do(tctx, actions...))
	}
	text := func(sel string) string {
		t.Helper()
		tctx, cancel := context.WithTimeout(b, 30*time.Second)
		defer cancel()
		s, err := chromedp.Run(tctx, chromedp.Text(chromedp.CSS(sel)))
		require.NoError(t, err)
		return s
	}

	// The exporter's landing page: the series with the highest score comes first.
	do(chromedp.Navigate(s.ExporterURL+"/"), chromedp.WaitVisible(chromedp.CSS("tr.series")))
	first := text("#q-sessions tr.series")
	require.Contains(t, first, `tenant="acme"`)
	require.Contains(t, first, `service="checkout"`)
	screenshot(t, b, filepath.Join(dir, "exporter.png"), 1280, 900)

	// Its series page.
	do(chromedp.Click(chromedp.CSS("#q-sessions tr.series a")), chromedp.WaitVisible(chromedp.CSS("svg")))
	require.Contains(t, text("body"), "demo_active_sessions")

	// The service desk: log in with the operator token, the incident is listed.
	do(chromedp.Navigate(s.WebhookURL+"/login"),
		chromedp.WaitVisible(chromedp.ID("token")),
		chromedp.SendKeys(chromedp.ID("token"), s.OperatorToken),
		chromedp.Click(chromedp.ID("login")),
		chromedp.WaitVisible(chromedp.CSS("table.incidents")))
	list := text("table.incidents")
	require.Contains(t, list, "Unusual behaviour of demo_active_sessions on checkout (acme)")
	require.Contains(t, list, "P2")
	screenshot(t, b, filepath.Join(dir, "service-desk.png"), 1280, 500)

	// Open it and acknowledge it, as the README tells.
	do(chromedp.Click(chromedp.CSS("table.incidents tr[data-id] a")), chromedp.WaitVisible(chromedp.ID("acknowledge")))
	do(chromedp.Click(chromedp.ID("acknowledge")), chromedp.WaitVisible(chromedp.CSS(".notice")))
	require.Contains(t, text("#state"), "In Progress")
	require.Contains(t, text("#journal"), "acknowledged")
	// The anomaly's chart, from the demo's Prometheus.
	tctx, cancel := context.WithTimeout(b, time.Minute)
	defer cancel()
	_, err := chromedp.Run(tctx, chromedp.Poll[bool](`(function(){var c=document.getElementById("chart");return !!c && c.complete && c.naturalWidth===720})()`,
		chromedp.WithPollingTimeout(time.Minute)))
	require.NoError(t, err, "the anomaly chart loads")
	screenshot(t, b, filepath.Join(dir, "incident.png"), 1280, 1000)
	require.Empty(t, testenv.BrowserErrors(t, b))
}

// screenshot saves the top w×h pixels of the page as a PNG, at most maxScreenshotBytes.
func screenshot(t *testing.T, b context.Context, path string, w, h int64) {
	t.Helper()
	tctx, cancel := context.WithTimeout(b, 30*time.Second)
	defer cancel()
	require.NoError(t, chromedp.Do(tctx, chromedp.EmulateViewport(w, h), chromedp.Sleep(300*time.Millisecond)))
	buf, err := chromedp.Run(tctx, chromedp.CaptureScreenshot())
	require.NoError(t, err)
	// Re-encoded with the best compression.
	img, err := png.Decode(bytes.NewReader(buf))
	require.NoError(t, err)
	var out bytes.Buffer
	require.NoError(t, (&png.Encoder{CompressionLevel: png.BestCompression}).Encode(&out, img))
	require.LessOrEqual(t, out.Len(), maxScreenshotBytes, "%s: %d bytes", filepath.Base(path), out.Len())
	require.NoError(t, os.WriteFile(path, out.Bytes(), 0o644))
	t.Logf("screenshot %s: %dx%d, %d KiB", path, img.Bounds().Dx(), img.Bounds().Dy(), out.Len()>>10)
}
