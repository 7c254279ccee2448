package app_test

import (
	"fmt"
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

// TestOverridesRemindersAndReportThroughTheProgram runs the whole program: an operator puts
// someone else on call through the API (shown by the on-call API, the page and the
// calendar, deleted again); a major incident's due customer update reminds its coordinator
// once by mail (a real SMTP server); the monthly report is mailed once at its time.
func TestOverridesRemindersAndReportThroughTheProgram(t *testing.T) {
	smtpSrv := notifytest.StartSMTP(t)
	dir := t.TempDir()
	ca := filepath.Join(dir, "smtp-ca.pem")
	require.NoError(t, os.WriteFile(ca, smtpSrv.CAPEM, 0o600))
	tokyo, err := time.LoadLocation("Asia/Tokyo")
	require.NoError(t, err)
	clock := testkit.NewClock(time.Date(2026, 12, 5, 3, 0, 0, 0, tokyo))
	yaml := fmt.Sprintf(`storage: {driver: sqlite, path: %q}
forwarding: {external_url: "https://kizashi.example"}
notify:
  interval: 50ms
  smtp: {host: %s, port: %d, ca_file: %q, username: %q, password: %q, from: desk@kizashi.example}
tenants:
  - name: acme
    tokens: [%q]
    api_tokens: [{name: acme, role: act, tokens: ["`+apiAcme+`"]}]
    notify:
      channels:
        - {name: mail, type: email}
      contacts:
        - {name: hanako, display_name: 山田花子, email: hanako@acme.example, lang: ja, time_zone: Asia/Tokyo, channels: [mail]}
        - {name: taro, email: taro@acme.example, channels: [mail]}
      schedules:
        - {name: dba, time_zone: Asia/Tokyo, members: [hanako], handoff: daily, start: 2026-12-01}
      update_reminders: {schedules: [dba]}
      service_report: {recipients: [cio@acme.example], time_zone: Asia/Tokyo, day: 5, time: "04:00", format: html}
  - name: globex
    tokens: [%q]
    api_tokens: [{name: globex, role: act, tokens: ["`+apiGlobex+`"]}]
operators:
  - name: noc
    tokens: [%q]
`, filepath.Join(dir, "k.db"), smtpSrv.Host, smtpSrv.Port, ca, smtpSrv.Username, smtpSrv.Password, tokAcme, tokGlobex, tokNOC)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	w := runWebhook(t, l, yaml, func(o *app.Options) { o.Now = clock.Now })

	// Overrides: operators and admins only.
	path := apitypes.OnCallPath + "/dba/overrides"
	now := clock.Now()
	req := apitypes.OverrideRequest{Contact: "taro", From: now.Add(-time.Minute), To: now.Add(2 * time.Hour), Reason: "hanako is sick"}
	code, body := call(t, "POST", w.URL+path, apiAcme, req, nil)
	require.Equal(t, 403, code, "%s", body)
	code, _ = call(t, "POST", w.URL+path, tokNOC, req, nil)
	require.Equal(t, 400, code, "no tenant named")
	bad := req
	bad.Contact = "ghost"
	code, body = call(t, "POST", w.URL+path+"?tenant=acme", tokNOC, bad, nil)
	require.Equal(t, 400, code)
	require.Contains(t, string(body), "unknown contact")
	bad = req
	bad.To = req.From
	code, _ = call(t, "POST", w.URL+path+"?tenant=acme", tokNOC, bad, nil)
	require.Equal(t, 400, code)
	code, _ = call(t, "POST", w.URL+apitypes.OnCallPath+"/nope/overrides?tenant=acme", tokNOC, req, nil)
	require.Equal(t, 404, code)
	var o apitypes.Override
	code, body = call(t, "POST", w.URL+path+"?tenant=acme", tokNOC, req, &o)
	require.Equal(t, 201, code, "%s", body)
	require.Equal(t, "taro", o.Contact)
	require.Equal(t, "noc", o.CreatedBy)

	var oc apitypes.OnCallResponse
	require.Equal(t, 200, w.get(t, apiAcme, apitypes.OnCallPath, &oc))
	require.Len(t, oc.Schedules, 1)
	require.Equal(t, "taro", oc.Schedules[0].Now.Contact)
	require.True(t, oc.Schedules[0].Now.Override)
	require.Equal(t, req.To.UTC(), oc.Schedules[0].Now.End)
	var ol apitypes.OverridesResponse
	require.Equal(t, 200, w.get(t, apiAcme, path, &ol))
	require.Len(t, ol.Overrides, 1)
	require.Equal(t, 404, w.get(t, apiGlobex, path, nil), "another tenant's schedule")
	ics := send(t, http.MethodGet, w.URL+apitypes.OnCallPath+"/dba/calendar.ics", nil, "", map[string]string{"Authorization": "Bearer " + apiAcme})
	require.Equal(t, 200, ics.code)
	require.Contains(t, ics.body, "SUMMARY:On call: taro")
	page := send(t, http.MethodGet, w.URL+"/oncall", pageSession(t, w.URL, apiAcme), "", nil)
	require.Contains(t, page.body, `<td class="now">taro <small>(override)</small></td>`)
	require.Contains(t, page.body, fmt.Sprintf(`<tr data-override="%d">`, o.ID))
	require.Contains(t, page.body, "hanako is sick")
	other := send(t, http.MethodGet, w.URL+"/oncall", pageSession(t, w.URL, apiGlobex), "", nil)
	require.NotContains(t, other.body, "hanako is sick")

	del := fmt.Sprintf("%s%s/%d?tenant=acme", w.URL, path, o.ID)
	code, _ = call(t, "DELETE", fmt.Sprintf("%s%s/%d", w.URL, path, o.ID), apiAcme, nil, nil)
	require.Equal(t, 403, code)
	code, _ = call(t, "DELETE", del, tokNOC, nil, nil)
	require.Equal(t, 200, code)
	code, _ = call(t, "DELETE", del, tokNOC, nil, nil)
	require.Equal(t, 404, code)
	require.Equal(t, 200, w.get(t, apiAcme, apitypes.OnCallPath, &oc))
	require.Equal(t, "hanako", oc.Schedules[0].Now.Contact)

	// A major incident whose customer update is due reminds the coordinator (and the on-call of
	// dba, the same person) once.
	alert := testkit.Payload("acme-ops", `{}:{alertname="DBDown"}`, "firing", clock.Now(),
		map[string]string{"alertname": "DBDown", "severity": "critical", "service": "shop"})
	require.Equal(t, 200, postTo(t, w.URL+"/api/v1/alerts", tokAcme, alert))
	ins := w.incidents(t, apiAcme)
	require.Len(t, ins, 1)
	id := ins[0].ID
	code, body = call(t, "POST", fmt.Sprintf("%s%s/%d", w.URL, apitypes.MajorIncidentsPath, id), apiAcme,
		apitypes.MajorDeclare{Coordinator: "hanako", UpdateEvery: "10m"}, nil)
	require.Equal(t, 201, code, "%s", body)
	clock.Advance(10 * time.Minute)
	require.Eventually(t, func() bool { return len(smtpSrv.Mails()) == 1 }, time.Minute, 20*time.Millisecond, "the reminder")
	m := smtpSrv.Mails()[0]
	require.Equal(t, []string{"hanako@acme.example"}, m.To)
	require.Contains(t, m.Subject(), fmt.Sprintf("顧客への状況報告の期限: 重大インシデント #%d", id))
	require.Eventually(t, func() bool {
		var d apitypes.Detail
		if w.get(t, apiAcme, fmt.Sprintf("/api/v1/incidents/%d", id), &d) != 200 {
			return false
		}
		for _, e := range d.Journal {
			if e.Kind == "reminder" && strings.Contains(e.Message, "reminded hanako/mail") {
				return true
			}
		}
		return false
	}, time.Minute, 20*time.Millisecond, "the reminder's journal line")

	// 04:00: November's report, once.
	clock.Advance(50 * time.Minute)
	require.Eventually(t, func() bool { return len(smtpSrv.Mails()) == 2 }, time.Minute, 20*time.Millisecond, "the report")
	m = smtpSrv.Mails()[1]
	require.Equal(t, []string{"cio@acme.example"}, m.To)
	require.Equal(t, "Service report acme 2026-11", m.Subject())
	require.Contains(t, m.Body, "<svg")
	require.Eventually(t, func() bool {
		return metric(t, w.URL, `kizashi_webhook_scheduled_deliveries_total{kind="service_report",result="sent",tenant="acme"}`) == 1
	}, time.Minute, 20*time.Millisecond)
	require.Equal(t, 1.0, metric(t, w.URL, `kizashi_webhook_scheduled_deliveries_total{kind="update_reminder",result="sent",tenant="acme"}`))
	require.Len(t, smtpSrv.Mails(), 2, "a reminder or a report twice")

	// The record of both.
	var ds apitypes.DeliveriesResponse
	require.Equal(t, 200, w.get(t, apiAcme, apitypes.DeliveriesPath+"?kind=service_report", &ds))
	require.Len(t, ds.Deliveries, 1)
	require.Equal(t, "2026-11", ds.Deliveries[0].Period)
	require.Equal(t, "sent", ds.Deliveries[0].Outcome)
	require.Equal(t, "html to cio@acme.example", ds.Deliveries[0].Note)
	require.Equal(t, 200, w.get(t, apiAcme, apitypes.DeliveriesPath+"?kind=update_reminder", &ds))
	require.Len(t, ds.Deliveries, 1)
	require.Equal(t, fmt.Sprint(id), ds.Deliveries[0].Subject, "the incident's public id")
	require.Equal(t, []string{"hanako/mail"}, ds.Deliveries[0].Delivered)
	require.Equal(t, 200, w.get(t, apiGlobex, apitypes.DeliveriesPath+"?kind=service_report", &ds))
	require.Empty(t, ds.Deliveries, "another tenant's")
	require.Equal(t, 200, w.get(t, tokNOC, apitypes.DeliveriesPath+"?kind=service_report&tenant=acme", &ds))
	require.Len(t, ds.Deliveries, 1)
	require.Equal(t, 400, w.get(t, apiAcme, apitypes.DeliveriesPath, nil))
}
