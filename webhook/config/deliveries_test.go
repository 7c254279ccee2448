package config

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const deliveriesYAML = `
      update_reminders:
        schedules: [dba]
        contacts: [taro]
      service_report:
        recipients: [cio@acme.example, ops@acme.example]
        lang: ja
        time_zone: Asia/Tokyo
        day: 2
        time: "07:30"
        format: pdf
  - name: globex
`

func withDeliveries(y string) string {
	return strings.Replace(notifyYAML, "  - name: globex\n", y, 1)
}

func TestDeliveriesSection(t *testing.T) {
	dir := t.TempDir()
	writeNotifyFiles(t, dir)
	c, err := Parse([]byte(withDeliveries(deliveriesYAML)), dir)
	require.NoError(t, err)
	p := c.People("acme")
	require.Equal(t, &UpdateReminders{Coordinator: true, Schedules: []string{"dba"}, Contacts: []string{"taro"}}, p.UpdateReminders)
	sr := p.ServiceReport
	require.NotNil(t, sr)
	require.Equal(t, []string{"cio@acme.example", "ops@acme.example"}, sr.Recipients)
	require.Equal(t, "ja", sr.Lang)
	require.Equal(t, "Asia/Tokyo", sr.Location.String())
	require.Equal(t, 2, sr.Day)
	require.Equal(t, 7*time.Hour+30*time.Minute, sr.At)
	require.Equal(t, ReportPDF, sr.Format)
	require.Nil(t, c.People("globex").ServiceReport)

	// Defaults.
	c, err = Parse([]byte(withDeliveries("      service_report: {recipients: [cio@acme.example]}\n      update_reminders: {}\n  - name: globex\n")), dir)
	require.NoError(t, err)
	sr = c.People("acme").ServiceReport
	require.Equal(t, &ServiceReport{Recipients: []string{"cio@acme.example"}, Lang: "en", Location: time.UTC, Day: 1, At: 8 * time.Hour, Format: ReportPDF}, sr)
	require.True(t, c.People("acme").UpdateReminders.Coordinator)
}

func TestDeliveriesErrors(t *testing.T) {
	dir := t.TempDir()
	writeNotifyFiles(t, dir)
	base := withDeliveries(deliveriesYAML)
	for _, tc := range []struct{ old, new, err string }{
		{"schedules: [dba]\n        contacts: [taro]", "schedules: [nope]\n        contacts: [taro]", `tenants[0].notify.update_reminders.schedules: unknown schedule "nope"`},
		{"contacts: [taro]\n      service", "contacts: [ghost]\n      service", `tenants[0].notify.update_reminders.contacts: unknown contact "ghost"`},
		{"recipients: [cio@acme.example, ops@acme.example]", "recipients: [cio]", `tenants[0].notify.service_report.recipients: "cio" is not an email address`},
		{"recipients: [cio@acme.example, ops@acme.example]", "recipients: []", `tenants[0].notify.service_report.recipients: at least one address`},
		{"lang: ja\n        time_zone", "lang: de\n        time_zone", `service_report.lang: must be en or ja`},
		{"day: 2", "day: 31", `service_report.day: must be 1-28`},
		{`time: "07:30"`, `time: "7.30"`, `service_report.time: must be HH:MM`},
		{"time_zone: Asia/Tokyo\n        day", "time_zone: Mars/Base\n        day", `service_report.time_zone:`},
		{"format: pdf", "format: docx", `service_report.format: must be pdf or html`},
		{"schedules: [dba]\n        contacts: [taro]", "coordinator: false", `update_reminders: reminds nobody`},
	} {
		y := strings.Replace(base, tc.old, tc.new, 1)
		require.NotEqual(t, base, y, tc.old)
		_, err := Parse([]byte(y), dir)
		require.Error(t, err, tc.new)
		require.Contains(t, err.Error(), tc.err)
		require.Regexp(t, `^line \d+: `, err.Error())
	}
	noSMTP := strings.Replace(base, "  smtp: {host: smtp.example.net, port: 587, username: desk, password_file: smtp.pw, from: desk@kizashi.example}\n", "", 1)
	noSMTP = strings.Replace(noSMTP, "        - {name: mail, type: email}\n", "", 1)
	noSMTP = strings.Replace(noSMTP, "channels: [mail]}", "channels: [ops-slack]}", 1)
	_, err := Parse([]byte(noSMTP), dir)
	require.ErrorContains(t, err, "service_report: mails the report: notify.smtp is required")
}
