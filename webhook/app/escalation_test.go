package app_test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kizashi-dev/kizashi/webhook/apitypes"
	"github.com/kizashi-dev/kizashi/webhook/app"
	"github.com/kizashi-dev/kizashi/webhook/channel/notifytest"
	"github.com/kizashi-dev/kizashi/webhook/testkit"
)

// TestEscalationThroughTheProgram runs the whole program with a notify section: a P1 at
// night reaches the on-call person by mail (a real SMTP server, STARTTLS, AUTH, ca_file), then
// the next level on Slack; acknowledging through the API stops the escalation; the on-call API
// and the iCalendar export answer from the same schedules.
func TestEscalationThroughTheProgram(t *testing.T) {
	smtpSrv := notifytest.StartSMTP(t)
	hook := notifytest.StartSlack(t)
	dir := t.TempDir()
	ca := filepath.Join(dir, "smtp-ca.pem")
	require.NoError(t, os.WriteFile(ca, smtpSrv.CAPEM, 0o600))
	pw := filepath.Join(dir, "smtp.pw")
	require.NoError(t, os.WriteFile(pw, []byte(smtpSrv.Password), 0o600))
	tokyo, err := time.LoadLocation("Asia/Tokyo")
	require.NoError(t, err)
	clock := testkit.NewClock(time.Date(2026, 12, 5, 3, 0, 0, 0, tokyo))
	yaml := fmt.Sprintf(`storage: {driver: sqlite, path: %q}
forwarding: {external_url: "https://kizashi.example"}
notify:
  interval: 50ms
  smtp: {host: %s, port: %d, ca_file: %q, username: %q, password_file: %q, from: desk@kizashi.example}
tenants:
  - name: acme
    tokens: [%q]
    api_tokens: [{name: acme, role: act, tokens: ["`+apiAcme+`"]}]
    policy:
      priority: {services: {shop: 1}}
    notify:
      channels:
        - {name: mail, type: email}
        - {name: ops-slack, type: slack, url: %q}
      contacts:
        - {name: hanako, display_name: 山田花子, email: hanako@acme.example, lang: ja, time_zone: Asia/Tokyo, channels: [mail]}
        - {name: taro, slack: U0TARO, channels: [ops-slack]}
      schedules:
        - {name: dba, time_zone: Asia/Tokyo, members: [hanako], handoff: daily, start: 2026-12-01}
      escalation_policies:
        - name: p1
          priorities: [1]
          repeat: 1
          levels:
            - {schedules: [dba], after: 10m}
            - {contacts: [taro], after: 10m}
  - name: globex
    tokens: [%q]
    api_tokens: [{name: globex, role: act, tokens: ["`+apiGlobex+`"]}]
operators:
  - name: noc
    tokens: [%q]
`, filepath.Join(dir, "k.db"), smtpSrv.Host, smtpSrv.Port, ca, smtpSrv.Username, pw, tokAcme, hook.URL, tokGlobex, tokNOC)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	w := runWebhook(t, l, yaml, func(o *app.Options) { o.Now = clock.Now })

	body := testkit.Payload("acme-ops", `{}:{alertname="DBDown"}`, "firing", clock.Now(),
		map[string]string{"alertname": "DBDown", "severity": "critical", "service": "shop"})
	require.Equal(t, 200, postTo(t, w.URL+"/api/v1/alerts", tokAcme, body))
	ins := w.incidents(t, apiAcme)
	require.Len(t, ins, 1)
	require.Equal(t, 1, ins[0].Priority)
	id := ins[0].ID

	require.Eventually(t, func() bool { return len(smtpSrv.Mails()) == 1 }, time.Minute, 20*time.Millisecond, "level 1 mail")
	m := smtpSrv.Mails()[0]
	require.Equal(t, []string{"hanako@acme.example"}, m.To)
	require.Contains(t, m.Body, fmt.Sprintf("https://kizashi.example/incidents/%d", id), "the link names the incident's public id")
	require.Contains(t, m.Subject(), fmt.Sprintf("インシデント #%d", id))
	require.Empty(t, hook.Bodies())

	clock.Advance(10 * time.Minute)
	require.Eventually(t, func() bool { return len(hook.Bodies()) == 1 }, time.Minute, 20*time.Millisecond, "level 2 on Slack")

	req, err := http.NewRequest(http.MethodPost, fmt.Sprintf("%s/api/v1/incidents/%d/acknowledge", w.URL, id), strings.NewReader("{}"))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+apiAcme)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	_ = resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode)
	clock.Advance(10 * time.Minute)
	require.Eventually(t, func() bool {
		var d apitypes.Detail
		if w.get(t, apiAcme, fmt.Sprintf("/api/v1/incidents/%d", id), &d) != 200 {
			return false
		}
		for _, e := range d.Journal {
			if e.Kind == "escalation" && strings.Contains(e.Message, "stopped before level 1 (round 2): acknowledged") {
				return true
			}
		}
		return false
	}, time.Minute, 20*time.Millisecond, "the escalation stops on the acknowledgement")
	require.Len(t, smtpSrv.Mails(), 1)
	require.Len(t, hook.Bodies(), 1)
	require.Equal(t, 1.0, metric(t, w.URL, `kizashi_webhook_escalation_deliveries_total{channel="mail",result="sent",tenant="acme"}`))
	require.Equal(t, 1.0, metric(t, w.URL, `kizashi_webhook_escalation_deliveries_total{channel="ops-slack",result="sent",tenant="acme"}`))
	require.Equal(t, 2.0, metric(t, w.URL, `kizashi_webhook_escalation_steps_total{outcome="notified",tenant="acme"}`))
	require.Equal(t, 1.0, metric(t, w.URL, `kizashi_webhook_escalation_steps_total{outcome="stopped",tenant="acme"}`))

	// Who is on call.
	var oc apitypes.OnCallResponse
	require.Equal(t, 200, w.get(t, apiAcme, apitypes.OnCallPath, &oc))
	require.Len(t, oc.Schedules, 1)
	require.Equal(t, "dba", oc.Schedules[0].Name)
	require.Equal(t, "hanako", oc.Schedules[0].Now.Contact)
	require.Equal(t, "山田花子", oc.Schedules[0].Now.DisplayName)
	require.Equal(t, time.Date(2026, 12, 5, 9, 0, 0, 0, tokyo).UTC(), oc.Schedules[0].Now.End)
	require.Equal(t, 200, w.get(t, apiGlobex, apitypes.OnCallPath, &oc))
	require.Empty(t, oc.Schedules, "another tenant's schedules")
	var sh apitypes.ShiftsResponse
	require.Equal(t, 200, w.get(t, apiAcme, apitypes.OnCallPath+"/dba/shifts", &sh))
	require.Len(t, sh.Shifts, 15)
	require.Equal(t, 404, w.get(t, apiGlobex, apitypes.OnCallPath+"/dba/shifts", nil))
	require.Equal(t, 400, w.get(t, tokNOC, apitypes.OnCallPath+"/dba/shifts", nil))
	require.Equal(t, 200, w.get(t, tokNOC, apitypes.OnCallPath+"/dba/shifts?tenant=acme", nil))
	require.Equal(t, 400, w.get(t, apiAcme, apitypes.OnCallPath+"/dba/shifts?from=yesterday", nil))

	// The page shows the same, and links the export (which the page's session may fetch).
	session := pageSession(t, w.URL, apiAcme)
	page := send(t, http.MethodGet, w.URL+"/oncall", session, "", nil)
	require.Equal(t, 200, page.code)
	require.Contains(t, page.body, `<tr data-schedule="acme/dba">`)
	require.Contains(t, page.body, `<td class="now">山田花子</td>`)
	require.Contains(t, page.body, `href="/api/v1/oncall/dba/calendar.ics?tenant=acme"`)
	require.Equal(t, 200, send(t, http.MethodGet, w.URL+"/api/v1/oncall/dba/calendar.ics?tenant=acme", session, "", nil).code)
	other := send(t, http.MethodGet, w.URL+"/oncall", pageSession(t, w.URL, apiGlobex), "", nil)
	require.Contains(t, other.body, "No on-call schedules.")
	require.NotContains(t, other.body, "山田花子")

	req, err = http.NewRequest(http.MethodGet, w.URL+apitypes.OnCallPath+"/dba/calendar.ics", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+apiAcme)
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	ics, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	_ = resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode)
	require.Equal(t, "text/calendar; charset=utf-8", resp.Header.Get("Content-Type"))
	require.True(t, strings.HasPrefix(string(ics), "BEGIN:VCALENDAR\r\nVERSION:2.0\r\n"))
	require.Contains(t, string(ics), "SUMMARY:On call: 山田花子\r\n")
	// 63 days from 7 days back, cut at 03:20 (between hand-offs at 09:00): 64 daily pieces.
	require.Equal(t, 64, strings.Count(string(ics), "BEGIN:VEVENT"))
}
