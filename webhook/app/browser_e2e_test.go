//go:build e2e

package app_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/kizashi-dev/kizashi/internal/testenv"
	"github.com/kizashi-dev/kizashi/webhook/testkit"
)

// TestServiceDeskPage logs in with a tenant token in headless Chromium, sees
// the incident, acknowledges it and sees the journal line; another tenant's
// token cannot open it.
func TestServiceDeskPage(t *testing.T) {
	w := startWebhook(t, "")
	now := time.Now().UTC()
	post(t, w.URL+"/api/v1/alerts", tokAcme, testkit.Payload("acme-ops", "g1", "firing", now,
		map[string]string{"alertname": "HighLatency", "instance": "web1", "severity": "critical"}))
	post(t, w.URL+"/api/v1/alerts", tokGlobex, testkit.Payload("globex-ops", "g1", "firing", now,
		map[string]string{"alertname": "GlobexSecret", "instance": "g1", "severity": "warning"}))
	acme := w.incidents(t, apiAcme)
	require.Len(t, acme, 1)
	id := acme[0].ID

	ctx := testenv.Browser(t)
	run := func(actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		tctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		require.NoError(t, chromedp.Do(tctx, actions...))
	}
	text := func(sel string) string {
		t.Helper()
		tctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		s, err := chromedp.Run(tctx, chromedp.Text(chromedp.CSS(sel)))
		require.NoError(t, err)
		return s
	}
	login := func(token string) {
		run(chromedp.Navigate(w.URL+"/login"),
			chromedp.WaitVisible(chromedp.ID("token")),
			chromedp.SendKeys(chromedp.ID("token"), token),
			chromedp.Click(chromedp.ID("login")),
			chromedp.WaitVisible(chromedp.CSS("table.incidents")))
	}

	login(apiAcme)
	list := text("table.incidents")
	require.Contains(t, list, "HighLatency on web1")
	require.NotContains(t, list, "GlobexSecret", "tenant isolation on the page")
	require.Contains(t, text(".countdown"), "m", "an SLA countdown is shown")

	run(chromedp.Click(chromedp.CSS(fmt.Sprintf(`tr[data-id="%d"] a`, id))),
		chromedp.WaitVisible(chromedp.ID("acknowledge")))
	require.Equal(t, "New", strings.TrimSpace(text("#state")))
	run(chromedp.Click(chromedp.ID("acknowledge")), chromedp.WaitVisible(chromedp.CSS(".notice")))
	require.Contains(t, text("#state"), "In Progress")
	journal := text("#journal")
	require.Contains(t, journal, "new -> in_progress: acknowledged")
	require.Contains(t, journal, "acme")
	shots := os.Getenv("KIZASHI_SCREENSHOT_DIR") // keep the screenshot to look at it
	if shots == "" {
		shots = t.TempDir()
	}
	require.NoError(t, testenv.Screenshot(ctx, filepath.Join(shots, "webhook-incident.png")))
	require.Empty(t, testenv.BrowserErrors(t, ctx))

	// The forwarding page opens from the header; logging out (a form with the CSRF token)
	// brings the log-in page back.
	run(chromedp.Click(chromedp.CSS(`header a[href="/forwarding"]`)), chromedp.WaitVisible(chromedp.CSS("table.targets")))
	run(chromedp.Click(chromedp.ID("logout")), chromedp.WaitVisible(chromedp.ID("token")))
	run(chromedp.Navigate(w.URL+"/incidents"), chromedp.WaitVisible(chromedp.ID("token")))

	// Tenant globex cannot open or act on acme's incident through the page.
	login(apiGlobex)
	require.NotContains(t, text("table.incidents"), "HighLatency")
	run(chromedp.Navigate(fmt.Sprintf("%s/incidents/%d", w.URL, id)), chromedp.WaitVisible(chromedp.CSS("p.error")))
	require.Equal(t, "Not Found", text("p.error"))

	// A cross-site form post is refused, even with the cookie.
	req, err := http.NewRequest(http.MethodPost, fmt.Sprintf("%s/incidents/%d/act", w.URL, id), strings.NewReader("action=note&text=x"))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "http://evil.example")
	req.AddCookie(pageSession(t, w.URL, apiAcme))
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
}
