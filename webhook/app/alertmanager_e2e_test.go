//go:build e2e

package app_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kizashi-dev/kizashi/internal/testenv"
	"github.com/kizashi-dev/kizashi/webhook/apitypes"

	"net"
	"path/filepath"
)

func TestAlertmanagerFiringResolvedRepeat(t *testing.T) {
	w := startWebhook(t, "")
	am := testenv.StartAlertmanager(t, testenv.AMOptions{Config: amConfig(w.URL, "acme.ops", tokAcme, 3*time.Second)})
	ctx := context.Background()
	alert := testenv.Alert{Labels: map[string]string{"alertname": "DiskFull", "instance": "db1", "severity": "critical"},
		Annotations: map[string]string{"summary": "disk full"}, StartsAt: time.Now().Add(-time.Minute)}
	require.NoError(t, am.PostAlerts(ctx, alert))

	var in apitypes.Incident
	require.Eventually(t, func() bool {
		ins := w.incidents(t, apiAcme)
		if len(ins) == 1 {
			in = ins[0]
		}
		return len(ins) == 1
	}, time.Minute, 100*time.Millisecond)
	require.Equal(t, "new", string(in.State))
	require.Equal(t, "acme.ops", in.Receiver, "receiver arrives regex-quoted and is unquoted")
	require.Equal(t, "DiskFull on db1", in.Title)
	require.Empty(t, w.incidents(t, apiGlobex), "another tenant sees nothing")

	// Repeat: Alertmanager re-sends the unchanged group; it is a heartbeat
	// (last notification time moves) and adds no journal line.
	var before apitypes.Detail
	require.Equal(t, 200, w.get(t, apiAcme, fmt.Sprintf("/api/v1/incidents/%d", in.ID), &before))
	require.Eventually(t, func() bool {
		var d apitypes.Detail
		w.get(t, apiAcme, fmt.Sprintf("/api/v1/incidents/%d", in.ID), &d)
		return d.Incident.LastNotifiedAt.After(*before.Incident.LastNotifiedAt)
	}, time.Minute, 200*time.Millisecond)
	var after apitypes.Detail
	require.Equal(t, 200, w.get(t, apiAcme, fmt.Sprintf("/api/v1/incidents/%d", in.ID), &after))
	require.Len(t, after.Journal, len(before.Journal), "a repeat is not a journal line")

	// Resolve: the default policy resolves the incident.
	alert.EndsAt = time.Now().Add(-time.Second)
	require.NoError(t, am.PostAlerts(ctx, alert))
	require.Eventually(t, func() bool {
		ins := w.incidents(t, apiAcme)
		return len(ins) == 1 && ins[0].State == "resolved"
	}, time.Minute, 100*time.Millisecond)
	var d apitypes.Detail
	require.Equal(t, 200, w.get(t, apiAcme, fmt.Sprintf("/api/v1/incidents/%d", in.ID), &d))
	require.Equal(t, "resolved", d.Alerts[0].Status)
	require.Equal(t, "auto_resolved", d.Incident.CloseCode)
}

func TestAlertmanagerClusterExactlyOneIncident(t *testing.T) {
	w := startWebhook(t, "")
	// A short peer timeout makes the replicas notify almost together, so the
	// webhook sees the same group from several of them.
	ams := testenv.StartAlertmanagerCluster(t, 3, testenv.AMOptions{
		Config:     amConfig(w.URL, "acme-ops", tokAcme, time.Hour),
		ExtraFlags: []string{"--cluster.peer-timeout=10ms"},
	})
	ctx := context.Background()
	alerts := []testenv.Alert{
		{Labels: map[string]string{"alertname": "Down", "instance": "a", "severity": "warning"}, StartsAt: time.Now().Add(-time.Minute)},
		{Labels: map[string]string{"alertname": "Down", "instance": "b", "severity": "warning"}, StartsAt: time.Now().Add(-time.Minute)},
	}
	// Prometheus sends every alert to every Alertmanager.
	for _, am := range ams {
		require.NoError(t, am.PostAlerts(ctx, alerts...))
	}
	// A replica may notify the group before it has the second alert; its next notification
	// (group_interval later) completes it.
	var last []apitypes.Incident
	require.Eventually(t, func() bool {
		last = w.incidents(t, apiAcme)
		return len(last) == 1 && last[0].FiringAlerts == 2
	}, time.Minute, 100*time.Millisecond, "incidents: %+v", &last)
	// Then check again once the other replicas' notifications are in: no notification made a
	// second incident. A replica that sees another's entry in the notification log first does
	// not send at all, so "every replica sent" cannot be waited for: this is an observation
	// window for something that must not happen (5 s, ending early once all three sent).
	sent := 0
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		sent = 0
		for _, am := range ams {
			if amNotifications(am.URL()) >= 1 {
				sent++
			}
		}
		if sent == len(ams) {
			break
		}
	}
	t.Logf("%d of %d Alertmanager replicas sent the group", sent, len(ams))
	ins := w.incidents(t, apiAcme)
	require.Len(t, ins, 1)
	require.Equal(t, 2, ins[0].FiringAlerts)
	var metrics string
	require.Eventually(t, func() bool {
		resp, err := http.Get(w.URL + "/metrics")
		if err != nil {
			return false
		}
		b, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		metrics = string(b)
		return strings.Contains(metrics, "kizashi_webhook_incidents_open")
	}, time.Minute, 100*time.Millisecond)
	t.Logf("notification counters:\n%s", grep(metrics, "kizashi_webhook_notifications_total"))
	require.Contains(t, metrics, `kizashi_webhook_incidents_open{priority="P3",state="new",tenant="acme"} 1`)
}

func TestPostgresStoreEndToEnd(t *testing.T) {
	dsn := testenv.PostgresDSN(t)
	w := startWebhook(t, "storage:\n  driver: postgres\n  dsn: "+fmt.Sprintf("%q", dsn)+"\n")
	am := testenv.StartAlertmanager(t, testenv.AMOptions{Config: amConfig(w.URL, "acme.per-alert", tokAcme, time.Hour)})
	require.NoError(t, am.PostAlerts(context.Background(),
		testenv.Alert{Labels: map[string]string{"alertname": "X", "instance": "a"}, StartsAt: time.Now()},
		testenv.Alert{Labels: map[string]string{"alertname": "X", "instance": "b"}, StartsAt: time.Now()}))
	// Route acme.per-alert correlates by fingerprint: one incident per alert.
	require.Eventually(t, func() bool { return len(w.incidents(t, apiAcme)) == 2 }, time.Minute, 100*time.Millisecond)
	require.Len(t, w.incidents(t, tokNOC), 2, "the operator sees all tenants")
}

// TestReconcileWithAlertmanager runs Debian's Alertmanager (API v2 through
// the v0.34 client) in front of the webhook, with send_resolved off so that
// resolves never come: a silenced alert puts its incident On Hold and
// resumes it when the silence is gone, an inhibited one holds too, an alert
// that left Alertmanager resolves its incident, and a Watchdog that stops
// opens a "monitoring pipeline down" incident, resolved when it comes back.
func TestReconcileWithAlertmanager(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	wURL := "http://" + l.Addr().String()
	auth := fmt.Sprintf("http_config: {authorization: {credentials: %q}}", tokAcme)
	am := testenv.StartAlertmanager(t, testenv.AMOptions{Config: fmt.Sprintf(`route:
  receiver: acme-ops
  group_by: [alertname]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
  routes:
    - matchers: ['alertname="Watchdog"']
      receiver: acme-watchdog
      repeat_interval: 1s
inhibit_rules:
  - source_matchers: ['severity="critical"']
    target_matchers: ['severity="warning"']
    equal: [instance]
receivers:
  - name: acme-ops
    webhook_configs:
      - url: %[1]s/api/v1/alerts
        send_resolved: false
        %[2]s
  - name: acme-watchdog
    webhook_configs:
      - url: %[1]s/api/v1/watchdog
        send_resolved: false
        %[2]s
`, wURL, auth)})
	w := runWebhook(t, l, fmt.Sprintf(`storage: {driver: sqlite, path: %q}
reconcile: {interval: 200ms}
tenants:
  - name: acme
    tokens: [%q]
    api_tokens: [{name: acme, role: act, tokens: ["`+apiAcme+`"]}]
    alertmanager: {url: %q, staleness: 2s, startup_grace: 0s}
    watchdog: {timeout: 3s, title: "Monitoring pipeline down"}
`, filepath.Join(t.TempDir(), "k.db"), tokAcme, am.URL()))

	ctx := context.Background()
	now := time.Now()
	gone := testenv.Alert{Labels: map[string]string{"alertname": "Gone", "instance": "a"}, StartsAt: now.Add(-time.Minute)}
	silenced := testenv.Alert{Labels: map[string]string{"alertname": "Silenced", "instance": "b"}, StartsAt: now.Add(-time.Minute)}
	inhibited := testenv.Alert{Labels: map[string]string{"alertname": "Inhibited", "instance": "x", "severity": "warning"}, StartsAt: now.Add(-time.Minute)}
	watchdog := testenv.Alert{Labels: map[string]string{"alertname": "Watchdog"}, StartsAt: now.Add(-time.Minute)}
	require.NoError(t, am.PostAlerts(ctx, gone, silenced, inhibited, watchdog))
	require.Eventually(t, func() bool { return len(w.incidents(t, apiAcme)) == 3 }, time.Minute, 100*time.Millisecond)
	require.NotContains(t, byTitle(w.incidents(t, apiAcme)), "Watchdog", "the watchdog is a heartbeat, not an incident")

	// Gone resolves in Alertmanager once its incident exists; its resolve is not sent.
	gone.EndsAt = time.Now()
	require.NoError(t, am.PostAlerts(ctx, gone))
	silenceID, err := am.CreateSilence(ctx, map[string]string{"alertname": "Silenced"}, time.Hour)
	require.NoError(t, err)
	critical := testenv.Alert{Labels: map[string]string{"alertname": "Critical", "instance": "x", "severity": "critical"}, StartsAt: now}
	require.NoError(t, am.PostAlerts(ctx, critical))

	require.Eventually(t, func() bool {
		ins := byTitle(w.incidents(t, apiAcme))
		return ins["Gone on a"].State == "resolved" && ins["Silenced on b"].State == "on_hold" && ins["Inhibited on x"].State == "on_hold"
	}, time.Minute, 100*time.Millisecond)
	ins := byTitle(w.incidents(t, apiAcme))
	require.Equal(t, "new", string(ins["Critical on x"].State), "active alerts stay as they are")

	g := w.detail(t, ins["Gone on a"].ID)
	require.Equal(t, "reconciler", g.Incident.ResolvedBy)
	require.Equal(t, "auto_resolved", g.Incident.CloseCode)
	require.Equal(t, "resolved", g.Alerts[0].Status)
	require.Contains(t, journalText(g), "reconciler state new -> resolved (alerts gone from Alertmanager without a resolve)")

	s := w.detail(t, ins["Silenced on b"].ID)
	require.Equal(t, "awaiting_change", s.Incident.HoldReason)
	require.True(t, s.Incident.SLAPaused)
	require.Contains(t, journalText(s), "reconciler state new -> on_hold: awaiting_change — silenced in Alertmanager (by "+silenceID+")")
	i := w.detail(t, ins["Inhibited on x"].ID)
	require.Equal(t, "awaiting_problem", i.Incident.HoldReason)
	require.Contains(t, journalText(i), "inhibited in Alertmanager")

	// The silence ends: the incident resumes.
	req, err := http.NewRequest(http.MethodDelete, am.URL()+"/api/v2/silence/"+silenceID, nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	require.Equal(t, 200, resp.StatusCode)
	require.Eventually(t, func() bool {
		return byTitle(w.incidents(t, apiAcme))["Silenced on b"].State == "in_progress"
	}, time.Minute, 100*time.Millisecond)
	require.Contains(t, journalText(w.detail(t, ins["Silenced on b"].ID)), "on_hold -> in_progress: alerts active again in Alertmanager")

	// The watchdog stops (resolved in Alertmanager; its resolve is not
	// sent), then comes back.
	watchdog.EndsAt = time.Now()
	require.NoError(t, am.PostAlerts(ctx, watchdog))
	require.Eventually(t, func() bool {
		return byTitle(w.incidents(t, apiAcme))["Monitoring pipeline down"].State == "new"
	}, time.Minute, 100*time.Millisecond)
	wd := w.detail(t, byTitle(w.incidents(t, apiAcme))["Monitoring pipeline down"].ID)
	require.Equal(t, 1, wd.Incident.Priority)
	require.Contains(t, journalText(wd), "no watchdog heartbeat for 3s")
	watchdog.StartsAt, watchdog.EndsAt = time.Now(), time.Time{}
	require.NoError(t, am.PostAlerts(ctx, watchdog))
	require.Eventually(t, func() bool {
		return byTitle(w.incidents(t, apiAcme))["Monitoring pipeline down"].State == "resolved"
	}, time.Minute, 100*time.Millisecond)

	resp, err = http.Get(w.URL + "/metrics")
	require.NoError(t, err)
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	require.Contains(t, string(b), `kizashi_webhook_reconcile_actions_total{event="hold",tenant="acme"} 2`)
	require.Contains(t, string(b), `kizashi_webhook_reconcile_actions_total{event="resolved",tenant="acme"} 1`)
	require.Contains(t, string(b), `kizashi_webhook_watchdog_down{tenant="acme"} 0`)
}

// TestSilencePausesSLAAtOnce: with Debian's Alertmanager, a silence puts an incident notified
// a moment ago On Hold at the next reconciliation (staleness 1h, repeat interval 1h: a one-hour
// maintenance window pauses the SLA for that hour), and its end resumes it.
func TestSilencePausesSLAAtOnce(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	wURL := "http://" + l.Addr().String()
	am := testenv.StartAlertmanager(t, testenv.AMOptions{Config: fmt.Sprintf(`route:
  receiver: acme-ops
  group_by: [alertname]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: acme-ops
    webhook_configs:
      - url: %s/api/v1/alerts
        http_config: {authorization: {credentials: %q}}
`, wURL, tokAcme)})
	w := runWebhook(t, l, fmt.Sprintf(`storage: {driver: sqlite, path: %q}
reconcile: {interval: 200ms}
tenants:
  - name: acme
    tokens: [%q]
    api_tokens: [{name: acme, role: act, tokens: ["`+apiAcme+`"]}]
    alertmanager: {url: %q, staleness: 1h, startup_grace: 0s}
`, filepath.Join(t.TempDir(), "k.db"), tokAcme, am.URL()))
	ctx := context.Background()
	maint := testenv.Alert{Labels: map[string]string{"alertname": "Maint", "instance": "db1"}, StartsAt: time.Now().Add(-time.Minute)}
	require.NoError(t, am.PostAlerts(ctx, maint))
	require.Eventually(t, func() bool { return len(w.incidents(t, apiAcme)) == 1 }, time.Minute, 100*time.Millisecond)
	silenceID, err := am.CreateSilence(ctx, map[string]string{"alertname": "Maint"}, time.Hour)
	require.NoError(t, err)
	require.Eventually(t, func() bool { return w.incidents(t, apiAcme)[0].State == "on_hold" }, time.Minute, 100*time.Millisecond)
	in := w.incidents(t, apiAcme)[0]
	require.True(t, in.SLAPaused)
	require.Contains(t, journalText(w.detail(t, in.ID)), "silenced in Alertmanager (by "+silenceID+")")

	req, err := http.NewRequest(http.MethodDelete, am.URL()+"/api/v2/silence/"+silenceID, nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	require.Eventually(t, func() bool { return w.incidents(t, apiAcme)[0].State == "in_progress" }, time.Minute, 100*time.Millisecond)

	// In Progress without a person: still acknowledged (and its response clock stops).
	req, err = http.NewRequest(http.MethodPost, fmt.Sprintf("%s/api/v1/incidents/%d/acknowledge", w.URL, in.ID), nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+apiAcme)
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.NotNil(t, w.detail(t, in.ID).Incident.AcknowledgedAt)
}
