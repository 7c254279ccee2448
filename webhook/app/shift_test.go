//go:build e2e

package app_test

import (
	"bytes"
	"context"
	"fmt"
	"image/png"
	"iter"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/kizashi-dev/kizashi/internal/testenv"
	"github.com/kizashi-dev/kizashi/webhook/apitypes"
	"github.com/kizashi-dev/kizashi/webhook/forward/forwardtest"
	"github.com/kizashi-dev/kizashi/webhook/testkit"
)

const tokNOC2 = "noc2-token-0123456789abcdefXY"

// tab drives one browser tab in the shift.
type tab struct {
	t   *testing.T
	ctx context.Context
}

func (b tab) do(actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	require.NoError(b.t, chromedp.Do(ctx, actions...))
}

func (b tab) text(sel string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	require.NoError(b.t, err)
	return s
}

func (b tab) value(sel string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Value(chromedp.CSS(sel)))
	require.NoError(b.t, err)
	return s
}

func (b tab) eval(js string) bool {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[bool](js))
	require.NoError(b.t, err)
	return v
}

// until waits (at most a minute) for a JavaScript condition to hold in the page.
func (b tab) until(js string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, time.Minute)
	defer cancel()
	_, err := chromedp.Run(ctx, chromedp.Poll[bool](js, chromedp.WithPollingTimeout(time.Minute)))
	require.NoError(b.t, err, "waiting for %s", js)
}

// submit clicks a form's button and waits for the page it leads to (the old page marked, so
// that nothing of it is taken for the new one), then for sel on the new page.
func (b tab) submit(button, sel string) {
	b.t.Helper()
	b.eval(`document.body.dataset.before = "submit"; true`)
	b.do(chromedp.Click(chromedp.CSS(button)), chromedp.WaitNotPresent(chromedp.CSS(`body[data-before]`)), chromedp.WaitVisible(chromedp.CSS(sel)))
}

func (b tab) login(base, token string) {
	b.t.Helper()
	b.do(chromedp.Navigate(base+"/login"), chromedp.WaitVisible(chromedp.ID("token")),
		chromedp.SendKeys(chromedp.ID("token"), token), chromedp.Click(chromedp.ID("login")),
		chromedp.WaitVisible(chromedp.CSS("table.incidents")))
}

// shot saves the top w×h pixels of the page as a PNG of at most 300 KiB.
func (b tab) shot(path string, w, h int64) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	require.NoError(b.t, chromedp.Do(ctx, chromedp.EmulateViewport(w, h)))
	buf, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	require.NoError(b.t, err)
	img, err := png.Decode(bytes.NewReader(buf))
	require.NoError(b.t, err)
	var out bytes.Buffer
	require.NoError(b.t, (&png.Encoder{CompressionLevel: png.BestCompression}).Encode(&out, img))
	require.LessOrEqual(b.t, out.Len(), 300<<10, "%s: %d bytes", filepath.Base(path), out.Len())
	require.NoError(b.t, os.WriteFile(path, out.Bytes(), 0o644))
}

func seriesOf(seqs ...iter.Seq[testenv.Sample]) iter.Seq[testenv.Sample] {
	return func(yield func(testenv.Sample) bool) {
		for _, s := range seqs {
			for v := range s {
				if !yield(v) {
					return
				}
			}
		}
	}
}

// TestShift runs a shift on the service-desk page in headless Chromium, with the whole
// program, a real Prometheus holding the anomaly's series and two ticket systems (a
// ServiceNow fake that takes the incidents and a webhook receiver that refuses them):
//
//   - operator noc chooses Japanese and Tokyo time, sees the queue by SLA due, acknowledges
//     two incidents at once, keeps a half-typed filter, selection and note while the page
//     refreshes around them, acknowledges the anomaly (its chart and reason shown), notes and
//     resolves it;
//   - operator noc2, meanwhile, notes it and puts it on hold;
//   - the incident shows its forwarding: delivered to ServiceNow, a dead letter at the webhook;
//   - the customer (tenant acme's credential) sees only its incidents and exports them as CSV.
//
// With KIZASHI_SCREENSHOT_DIR set it saves desk-queue.png and desk-incident.png (README).
func TestShift(t *testing.T) {
	shots := os.Getenv("KIZASHI_SCREENSHOT_DIR")
	if shots == "" {
		shots = t.TempDir()
	}
	now := time.Now().UTC()
	alertAt := now.Add(-4 * time.Hour).Truncate(time.Minute)
	series := map[string]string{"kizashi_query": "sessions", "kizashi_metric": "demo_active_sessions", "job": "shop",
		"instance": "shop-1", "service": "checkout"}
	from, n := alertAt.Add(-90*time.Minute), 180
	spike := func(tm time.Time) bool { return !tm.Before(alertAt) && tm.Before(alertAt.Add(12*time.Minute)) }
	prom := testenv.StartPrometheus(t, testenv.PromOptions{HistorySamples: seriesOf(
		testenv.Series("kizashi_value", series, from, time.Minute, n, func(_ int, tm time.Time) float64 {
			if spike(tm) {
				return 212
			}
			return 120 + 12*math.Sin(float64(tm.Unix())/900)
		}),
		testenv.Series("kizashi_lower", series, from, time.Minute, n, func(_ int, tm time.Time) float64 { return 100 + 10*math.Sin(float64(tm.Unix())/900) }),
		testenv.Series("kizashi_upper", series, from, time.Minute, n, func(_ int, tm time.Time) float64 { return 142 + 14*math.Sin(float64(tm.Unix())/900) }),
		testenv.Series("kizashi_anomaly_score", series, from, time.Minute, n, func(_ int, tm time.Time) float64 {
			if spike(tm) {
				return 0.97
			}
			return 0.12
		}),
	)})

	sn := forwardtest.NewServiceNow(t)
	refusing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, `{"error":"unknown field priority"}`, http.StatusBadRequest)
	}))
	t.Cleanup(refusing.Close)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	w := runWebhook(t, l, fmt.Sprintf(`storage: {driver: sqlite, path: %q}
forwarding:
  poll_interval: 100ms
  timeout: 2s
page:
  prometheus_url: %s
  refresh: 1s
tenants:
  - name: acme
    tokens: [%q]
    api_tokens: [{name: acme, role: act, tokens: ["`+apiAcme+`"]}]
    forwarders:
      - name: snow
        type: servicenow
        url: %s
      - name: hook
        type: webhook
        url: %s
        webhook: {secret: "hook-secret-0123456789abcdef"}
  - name: globex
    tokens: [%q]
    api_tokens: [{name: globex, role: act, tokens: ["`+apiGlobex+`"]}]
operators:
  - name: noc
    tokens: [%q]
  - name: noc2
    tokens: [%q]
`, filepath.Join(t.TempDir(), "k.db"), prom.URL(), tokAcme, sn.URL(), refusing.URL, tokGlobex, tokNOC, tokNOC2))

	alert := func(token, group string, starts time.Time, labels, annotations map[string]string) apitypes.Incident {
		t.Helper()
		post(t, w.URL+"/api/v1/alerts", token, testkit.JSONPayload(t, "ops", group, "firing", testkit.JSONAlert{Status: "firing",
			Labels: labels, Annotations: annotations, StartsAt: starts.Format(time.RFC3339Nano)}))
		var lr apitypes.ListResponse
		require.Equal(t, 200, w.get(t, tokNOC, "/api/v1/incidents?limit=500", &lr))
		for _, in := range lr.Incidents {
			if in.Labels["alertname"] == labels["alertname"] {
				return in
			}
		}
		t.Fatalf("no incident for %v", labels)
		return apitypes.Incident{}
	}
	anomalyLabels := map[string]string{"alertname": "KizashiAnomaly", "severity": "warning", "category": "anomaly"}
	for k, v := range series {
		anomalyLabels[k] = v
	}
	anomaly := alert(tokAcme, "anomaly", alertAt, anomalyLabels, map[string]string{
		"summary": "Unusual behaviour of demo_active_sessions on checkout (acme)",
		"reason":  "level shift up: 212 against a band of 100-142 (score 0.97)"})
	disk := alert(tokAcme, "disk", now, map[string]string{"alertname": "DiskFull", "instance": "db1", "itil_impact": "1", "itil_urgency": "1"}, nil)
	latency := alert(tokAcme, "latency", now, map[string]string{"alertname": "HighLatency", "instance": "web1", "severity": "warning"}, nil)
	alert(tokGlobex, "globex", now, map[string]string{"alertname": "GlobexSecret", "instance": "g1", "severity": "critical"}, nil)

	// Operator noc: Japanese, Tokyo time.
	a := tab{t, testenv.Browser(t)}
	a.login(w.URL, tokNOC)
	a.do(chromedp.Click(chromedp.ID("preferences")), chromedp.WaitVisible(chromedp.ID("prefs")),
		chromedp.SetValue(chromedp.ID("lang"), "ja"), chromedp.SetValue(chromedp.ID("zone"), "Asia/Tokyo"),
	)
	a.submit("#save-prefs", ".notice")
	require.Equal(t, "設定を保存しました。", a.text(".notice"))
	a.do(chromedp.Navigate(w.URL+"/incidents?open=true"), chromedp.WaitVisible(chromedp.CSS("table.incidents")))
	require.Contains(t, a.text("header"), "Asia/Tokyo")
	// The queue: P1 DiskFull (respond within 15m) first; every tenant for an operator.
	require.True(t, a.eval(fmt.Sprintf(`document.querySelector("#queue tr").dataset.id === "%d"`, disk.ID)), a.text("#queue"))
	require.Contains(t, a.text("#queue"), "GlobexSecret")
	require.Contains(t, a.text("#queue"), "新規")

	// Bulk: acknowledge DiskFull and HighLatency.
	a.do(chromedp.Click(chromedp.CSS(fmt.Sprintf(`input.pick[value="%d"]`, disk.ID))),
		chromedp.Click(chromedp.CSS(fmt.Sprintf(`input.pick[value="%d"]`, latency.ID))))
	a.submit("#bulk-apply", "#bulk-summary")
	require.Equal(t, "2 件中 2 件を実行しました。", a.text("#bulk-summary"))
	a.submit("#back", "table.incidents")
	require.Equal(t, "true", a.value(`input[name="open"]`) /* the filter came back */)
	require.Contains(t, a.text(fmt.Sprintf(`#queue tr[data-id="%d"] td.state`, disk.ID)), "対応中")
	a.shot(filepath.Join(shots, "desk-queue.png"), 1280, 420)

	// The queue refreshes while the operator works: a half-typed filter, a selection and a
	// half-typed resolution note stay; a new incident appears.
	a.do(chromedp.SendKeys(chromedp.CSS(`input[name="q"]`), "Disk"),
		chromedp.Click(chromedp.CSS(fmt.Sprintf(`input.pick[value="%d"]`, anomaly.ID))),
		chromedp.SendKeys(chromedp.ID("bulk-text"), "half typed"))
	fresh := alert(tokAcme, "cpu", time.Now().UTC(), map[string]string{"alertname": "CPUHot", "instance": "app7", "severity": "critical"}, nil)
	a.until(fmt.Sprintf(`!!document.querySelector('#queue tr[data-id="%d"]')`, fresh.ID))
	require.True(t, a.eval(fmt.Sprintf(`document.querySelector('input.pick[value="%d"]').checked`, anomaly.ID)), "the selection survived")
	require.False(t, a.eval(fmt.Sprintf(`document.querySelector('input.pick[value="%d"]').checked`, disk.ID)))
	require.Equal(t, "Disk", a.value(`input[name="q"]`))
	require.Equal(t, "half typed", a.value("#bulk-text"))

	// The anomaly: its chart from Prometheus and the engine's reason.
	a.do(chromedp.Navigate(fmt.Sprintf("%s/incidents/%d", w.URL, anomaly.ID)), chromedp.WaitVisible(chromedp.ID("acknowledge")))
	require.Equal(t, "level shift up: 212 against a band of 100-142 (score 0.97)", a.text("#reason"))
	a.until(`document.getElementById("chart").complete && document.getElementById("chart").naturalWidth === 720`)
	a.submit("#acknowledge", ".notice")
	require.Equal(t, "対応中", a.text("#state"))
	a.do(chromedp.SendKeys(chromedp.ID("note-text"), "調査中: セッション急増"))

	// Operator noc2, in another browser, notes the incident and puts it on hold.
	b := tab{t, testenv.Browser(t)}
	b.login(w.URL, tokNOC2)
	b.do(chromedp.Navigate(fmt.Sprintf("%s/incidents/%d", w.URL, anomaly.ID)), chromedp.WaitVisible(chromedp.ID("note-text")),
		chromedp.SendKeys(chromedp.ID("note-text"), "vendor ticket V-42 opened"))
	b.submit("#note", ".notice")
	b.do(chromedp.SetValue(chromedp.ID("hold-reason"), "awaiting_vendor"))
	b.submit("#hold", "#resume")
	require.Contains(t, b.text("#state"), "On Hold (awaiting vendor)")

	// noc's page shows noc2's work at its next refresh, and keeps the half-typed note (the
	// actions, which changed, wait for a reload: a notice says so).
	a.until(`document.getElementById("journal").textContent.includes("vendor ticket V-42 opened") && document.getElementById("state").textContent.includes("保留")`)
	require.Equal(t, "調査中: セッション急増", a.value("#note-text"))
	a.until(`!document.getElementById("live-notice").hidden`)
	require.Contains(t, a.text("#live-notice"), "再読み込み")
	a.submit("#note", ".notice")
	journal := a.text("#journal")
	require.Contains(t, journal, "noc2")
	require.Contains(t, journal, "調査中: セッション急増")
	require.True(t, a.eval(`!document.getElementById("hold") && !!document.getElementById("resume")`), "on hold: resume, not hold")
	a.do(chromedp.SetValue(chromedp.ID("close-code"), "solved_workaround"), chromedp.SendKeys(chromedp.ID("resolve-text"), "ベンダーが設定を戻した"))
	a.submit("#resolve", ".notice")
	require.Equal(t, "解決済み", a.text("#state"))
	require.True(t, a.eval(`!document.getElementById("acknowledge") && !document.getElementById("resolve") && !!document.getElementById("reopen")`))

	// Forwarding: ServiceNow has the ticket, the webhook receiver refused it (dead letter).
	a.until(`(document.querySelector('#forwarding tr[data-target="acme/hook"] td.state')||{}).textContent === "配送不能" &&
		(document.querySelector('#forwarding tr[data-target="acme/snow"] td.state')||{}).textContent === "配送済み"`)
	require.Contains(t, a.text(`#forwarding tr[data-target="acme/hook"] td.last-error`), "400")
	require.Contains(t, a.text(`#forwarding tr[data-target="acme/snow"]`), "INC")
	a.shot(filepath.Join(shots, "desk-incident.png"), 1280, 1400)
	require.Empty(t, testenv.BrowserErrors(t, a.ctx))

	// The customer (acme's credential): its incidents only, exported as CSV.
	b.submit("#logout", "#token")
	b.login(w.URL, apiAcme)
	require.NotContains(t, b.text("#queue"), "GlobexSecret")
	require.Contains(t, b.text("#queue"), "DiskFull")
	dir := t.TempDir()
	progress := chromedp.Events(b.ctx, browser.DownloadProgress)
	b.do(chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		allow := true
		_, err := chromedp.Call(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
			Behavior: browser.SetDownloadBehaviorBehaviorAllowAndName, DownloadPath: dir, EventsEnabled: &allow})
		return err
	}), chromedp.Click(chromedp.ID("export")))
	var file string
	for ev, err := range progress {
		require.NoError(t, err)
		if ev.State == browser.DownloadProgressStateCompleted {
			file = filepath.Join(dir, ev.GUID)
			break
		}
		require.NotEqual(t, browser.DownloadProgressStateCanceled, ev.State)
	}
	raw, err := os.ReadFile(file)
	require.NoError(t, err)
	csv := string(raw)
	require.True(t, strings.HasPrefix(csv, "\uFEFF"), "a BOM for Excel")
	require.Contains(t, csv, "DiskFull on db1")
	require.Contains(t, csv, "KizashiAnomaly on shop-1")
	require.Contains(t, csv, ",Resolved,")
	require.NotContains(t, csv, "GlobexSecret")

	// The session ends elsewhere (here: a log-out from the same browser, behind the page's
	// back): the next refresh says so and refreshing stops.
	b.eval(`(function(){var f=new FormData();f.append("csrf",document.querySelector('form[action="/logout"] input[name="csrf"]').value);` +
		`fetch("/logout",{method:"POST",body:new URLSearchParams(f),credentials:"same-origin"});return true})()`)
	b.until(`!document.getElementById("live-notice").hidden`)
	require.Equal(t, "Your session ended: log in again.", b.text("#live-notice"))
	require.True(t, b.eval(`!!document.querySelector("#queue tr[data-id]")`), "the page stays as it was")
	require.Empty(t, testenv.BrowserErrors(t, b.ctx))
}
