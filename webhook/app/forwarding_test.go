package app_test

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kizashi-dev/kizashi/internal/testenv"
	"github.com/kizashi-dev/kizashi/webhook/apitypes"
	"github.com/kizashi-dev/kizashi/webhook/auth"
	"github.com/kizashi-dev/kizashi/webhook/forward/forwardtest"
	"github.com/kizashi-dev/kizashi/webhook/testkit"
)

// forwardingYAML is a configuration with tenant acme forwarding to a
// ServiceNow instance, with short timers.
func forwardingYAML(dbPath, snURL string, extra string) string {
	return fmt.Sprintf(`storage: {driver: sqlite, path: %q}
forwarding:
  poll_interval: 100ms
  timeout: 2s
  min_backoff: 200ms
  max_backoff: 2s
  circuit_breaker: {failures: 3, open_for: 200ms, max_open_for: 1s}
  external_url: https://kizashi.example
%s
tenants:
  - name: acme
    tokens: [%q]
    api_tokens: [{name: acme, role: act, tokens: ["`+apiAcme+`"]}]
    forwarders:
      - name: snow
        type: servicenow
        url: %s
operators:
  - name: noc
    tokens: [%q]
`, dbPath, extra, tokAcme, snURL, tokNOC)
}

func postTo(t *testing.T, url, token string, body []byte) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	require.NoError(t, resp.Body.Close())
	return resp.StatusCode
}

func notification(group int, status string) []byte {
	return testkit.Payload("acme-ops", fmt.Sprintf(`{}:{alertname="G%d"}`, group), status, time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC),
		map[string]string{"alertname": fmt.Sprintf("G%d", group), "instance": "db", "severity": "warning"})
}

// metric reads one sample from /metrics (-1 when absent).
func metric(t *testing.T, base, series string) float64 {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		return -1
	}
	b, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		return -1
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, series+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err == nil {
				return f
			}
		}
	}
	return -1
}

var markerRE = regexp.MustCompile(`^\[kizashi (\S+) journal (\d+)-(\d+)\]`)

// checkExactlyOnce compares the fake's records with the incidents: one
// record per incident (found by the public id its description names), in the
// incident's state, holding every journal line in exactly one work note.
func checkExactlyOnce(t *testing.T, base string, sn *forwardtest.ServiceNow, n int) {
	t.Helper()
	list := listAll(t, base)
	require.Equal(t, n, len(list))
	recs := sn.ByCorrelation()
	require.Equal(t, n, len(recs), "one record per incident")
	byLink := map[string][]forwardtest.SNRecord{}
	for _, rs := range recs {
		for _, r := range rs {
			first, _, _ := strings.Cut(r.Fields["description"], " (")
			byLink[first] = append(byLink[first], r)
		}
	}
	states := map[string]string{"new": "1", "in_progress": "2", "on_hold": "3", "resolved": "6", "closed": "7", "canceled": "8"}
	for _, in := range list {
		link := fmt.Sprintf("Kizashi incident #%d", in.ID)
		require.Len(t, byLink[link], 1, "incident %d: exactly one record", in.ID)
		rec := byLink[link][0]
		require.Len(t, recs[rec.Fields["correlation_id"]], 1, "incident %d: one record per correlation id", in.ID)
		require.Equal(t, states[string(in.State)], rec.Fields["state"], "incident %d", in.ID)
		require.Len(t, in.ExternalRefs, 1)
		require.Equal(t, rec.Fields["number"], in.ExternalRefs[0].Key)
		var d apitypes.Detail
		require.Equal(t, 200, (&webhook{URL: base}).get(t, apiAcme, fmt.Sprintf("/api/v1/incidents/%d", in.ID), &d))
		// The journal's lines as the notes write them, against the notes' lines.
		want, got := map[string]int{}, map[string]int{}
		for _, e := range d.Journal {
			want[fmt.Sprintf("%s %s %s: %s", e.At.UTC().Format(time.RFC3339), e.Actor, e.Kind, e.Message)]++
		}
		for _, note := range rec.WorkNotes {
			lines := strings.Split(note, "\n")
			require.NotNil(t, markerRE.FindStringSubmatch(lines[0]), note)
			for _, l := range lines[1:] {
				got[l]++
			}
		}
		require.Equal(t, want, got, "incident %d: every journal line delivered exactly once", in.ID)
	}
}

// listAll reads every incident of tenant acme.
func listAll(t *testing.T, base string) []apitypes.Incident {
	t.Helper()
	var out []apitypes.Incident
	for before := ""; ; {
		var page apitypes.ListResponse
		require.Equal(t, 200, (&webhook{URL: base}).get(t, apiAcme, "/api/v1/incidents?limit=500"+before, &page))
		out = append(out, page.Incidents...)
		if page.Next == "" {
			return out
		}
		before = "&before=" + page.Next
	}
}

// TestForwardEndToEnd runs the program in-process with a ServiceNow fake:
// tickets appear in the API, on the page and in the metrics.
func TestForwardEndToEnd(t *testing.T) {
	sn := forwardtest.NewServiceNow(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	w := runWebhook(t, l, forwardingYAML(filepath.Join(t.TempDir(), "k.db"), sn.URL(), ""))
	require.Equal(t, 200, postTo(t, w.URL+"/api/v1/alerts", tokAcme, notification(1, "firing")))
	require.Eventually(t, func() bool { return len(sn.Records()) == 1 }, time.Minute, 50*time.Millisecond)
	require.Eventually(t, func() bool {
		return metric(t, w.URL, `kizashi_webhook_forward_deliveries_total{target="acme/snow"}`) == 1
	}, time.Minute, 50*time.Millisecond)
	checkExactlyOnce(t, w.URL, sn, 1)
	require.Zero(t, metric(t, w.URL, `kizashi_webhook_outbox_lag_seconds{target="acme/snow"}`))
	require.Zero(t, metric(t, w.URL, `kizashi_webhook_forward_dead_letters{target="acme/snow"}`))
	require.Zero(t, metric(t, w.URL, `kizashi_webhook_forward_circuit_open{target="acme/snow"}`))

	// The page shows the ticket.
	ins := w.incidents(t, apiAcme)
	req, err := http.NewRequest(http.MethodGet, fmt.Sprintf("%s/incidents/%d", w.URL, ins[0].ID), nil)
	require.NoError(t, err)
	req.AddCookie(pageSession(t, w.URL, apiAcme))
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	page, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	rec := sn.Records()[0]
	require.Contains(t, string(page), `acme/snow: <a href="`+sn.URL()+`/incident.do?sys_id=`+rec.Fields["sys_id"])
	require.Contains(t, string(page), rec.Fields["number"]+"</a>")

	// The target goes down: the lag grows and a pending change waits.
	sn.Stop()
	require.Equal(t, 200, postTo(t, w.URL+"/api/v1/alerts", tokAcme, notification(1, "resolved")))
	require.Eventually(t, func() bool {
		return metric(t, w.URL, `kizashi_webhook_outbox_lag_seconds{target="acme/snow"}`) > 0.5 &&
			metric(t, w.URL, `kizashi_webhook_forward_pending{target="acme/snow"}`) == 1
	}, time.Minute, 50*time.Millisecond)
	require.Positive(t, metric(t, w.URL, `kizashi_webhook_forward_failures_total{reason="network",target="acme/snow"}`))
	sn.Start()
	require.Eventually(t, func() bool {
		return metric(t, w.URL, `kizashi_webhook_forward_pending{target="acme/snow"}`) == 0
	}, time.Minute, 50*time.Millisecond)
	require.Equal(t, "6", sn.Records()[0].Fields["state"])
}

// TestForwardCrashSafety kills the webhook (SIGKILL) while the target is
// down and while creates are in flight — some of them committed by the
// target whose answers never arrive — restarts it and brings the target
// back: every incident has exactly one ticket and every journal line is in
// exactly one work note (create-or-adopt, notes read back).
func TestForwardCrashSafety(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and crashes the binary")
	}
	bin := buildBinary(t)
	dir := t.TempDir()
	sn := forwardtest.NewServiceNow(t)
	cfg := filepath.Join(dir, "cfg.yml")
	require.NoError(t, os.WriteFile(cfg, []byte(forwardingYAML(filepath.Join(dir, "k.db"), sn.URL(), "")), 0o600))
	addr := testenv.FreeAddr(t)
	base := "http://" + addr
	logPath := filepath.Join(dir, "server.log")
	srv := startServer(t, bin, cfg, addr, logPath)
	t.Cleanup(func() {
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("server log:\n%s", b)
		}
	})

	const groups = 30
	// The target is down while incidents open and change.
	sn.Stop()
	for g := range groups {
		require.Equal(t, 200, postTo(t, base+"/api/v1/alerts", tokAcme, notification(g, "firing")))
	}
	ins := (&webhook{URL: base}).incidents(t, apiAcme)
	require.Len(t, ins, groups)
	for i, in := range ins[:10] {
		require.Equal(t, 200, postTo(t, fmt.Sprintf("%s/api/v1/incidents/%d/acknowledge", base, in.ID), apiAcme, nil))
		if i%2 == 0 {
			require.Equal(t, 200, postTo(t, fmt.Sprintf("%s/api/v1/incidents/%d/note", base, in.ID), apiAcme, []byte(`{"text":"on it"}`)))
		}
	}
	for g := 20; g < groups; g++ {
		require.Equal(t, 200, postTo(t, base+"/api/v1/alerts", tokAcme, notification(g, "resolved")))
	}
	require.Eventually(t, func() bool {
		return metric(t, base, `kizashi_webhook_forward_circuit_open{target="acme/snow"}`) == 1
	}, time.Minute, 50*time.Millisecond)

	// The target comes back but its answers to creates are lost: it commits
	// them and hangs. The webhook dies with those creates in flight.
	sn.Fail(forwardtest.Fault{Op: forwardtest.SNCreate, AfterCommit: true, Delay: time.Minute, Times: 1000})
	sn.Start()
	require.Eventually(t, func() bool { return len(sn.Records()) >= 3 }, time.Minute, 20*time.Millisecond)
	require.NoError(t, srv.cmd.Process.Signal(syscall.SIGKILL))
	_ = srv.cmd.Wait()
	committed := len(sn.Records())
	sn.Stop()

	// Restarted while the target is down; more changes meanwhile.
	srv = startServer(t, bin, cfg, addr, logPath)
	for _, in := range ins[10:15] {
		require.Equal(t, 200, postTo(t, fmt.Sprintf("%s/api/v1/incidents/%d/note", base, in.ID), apiAcme, []byte(`{"text":"after the crash"}`)))
	}
	// The restarted process tries the target (still down) before it comes back.
	require.Eventually(t, func() bool {
		return metric(t, base, `kizashi_webhook_forward_failures_total{reason="network",target="acme/snow"}`) >= 1
	}, time.Minute, 20*time.Millisecond)
	sn.ClearFaults()
	sn.Start()
	start := time.Now()
	require.Eventually(t, func() bool {
		return metric(t, base, `kizashi_webhook_forward_pending{target="acme/snow"}`) == 0 &&
			metric(t, base, `kizashi_webhook_outbox_lag_seconds{target="acme/snow"}`) == 0
	}, time.Minute, 50*time.Millisecond)
	t.Logf("%d creates committed but unanswered before SIGKILL; all %d incidents delivered %s after the target came back",
		committed, groups, time.Since(start).Round(time.Millisecond))
	checkExactlyOnce(t, base, sn, groups)
	require.Zero(t, metric(t, base, `kizashi_webhook_forward_dead_letters{target="acme/snow"}`))
	require.NoError(t, srv.cmd.Process.Signal(syscall.SIGTERM))
	require.NoError(t, srv.cmd.Wait())
}

// pageSession signs in to the service-desk page and returns its session cookie.
func pageSession(t *testing.T, base, token string) *http.Cookie {
	t.Helper()
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.PostForm(base+"/login", url.Values{"token": {token}})
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	for _, ck := range resp.Cookies() {
		if ck.Name == auth.SessionCookie {
			require.NotContains(t, ck.Value, token, "the cookie must not carry the token")
			return ck
		}
	}
	t.Fatal("no session cookie")
	return nil
}
