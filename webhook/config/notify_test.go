package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const notifyYAML = `
notify:
  smtp: {host: smtp.example.net, port: 587, username: desk, password_file: smtp.pw, from: desk@kizashi.example}
  calendars:
    - name: jp-office
      time_zone: Asia/Tokyo
      hours: ["mon-fri 09:00-18:00"]
      holidays_file: jp-holidays.txt
tenants:
  - name: acme
    tokens: [Acme-token-0123456789]
    policy:
      sla_calendars: {P3: jp-office, P4: jp-office}
    notify:
      channels:
        - {name: mail, type: email}
        - {name: ops-slack, type: slack, url_file: slack.url}
      contacts:
        - {name: hanako, display_name: 山田花子, email: hanako@acme.example, lang: ja, time_zone: Asia/Tokyo, channels: [mail]}
        - {name: taro, slack: U0TARO, channels: [ops-slack]}
      schedules:
        - name: dba
          time_zone: Asia/Tokyo
          members: [hanako, taro]
          handoff: weekly
          handoff_time: "10:00"
          start: 2026-12-07
          overrides:
            - {contact: taro, from: 2026-12-24T18:00:00+09:00, to: 2026-12-26T09:00:00+09:00}
      escalation_policies:
        - name: p1
          priorities: [1, 2]
          repeat: 2
          levels:
            - {schedules: [dba], after: 10m}
            - {contacts: [taro], after: 15m}
  - name: globex
    tokens: [Globex-token-0123456789]
`

func writeNotifyFiles(t *testing.T, dir string) {
	for name, body := range map[string]string{"smtp.pw": "Smtp-password-123\n", "slack.url": "https://hooks.slack.example/services/T/B/X\n",
		"jp-holidays.txt": "# 2027\n2027-01-01 元日\n"} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600))
	}
}

func TestNotifySection(t *testing.T) {
	dir := t.TempDir()
	writeNotifyFiles(t, dir)
	c, err := Parse([]byte(notifyYAML), dir)
	require.NoError(t, err)
	p := c.People("acme")
	require.NotNil(t, p)
	require.Equal(t, "ja", p.Contacts["hanako"].Lang)
	require.Equal(t, "Asia/Tokyo", p.Contacts["hanako"].Location.String())
	require.Equal(t, "en", p.Contacts["taro"].Lang)
	require.Equal(t, filepath.Join(dir, "slack.url"), p.Channels[1].URLFile)
	require.Equal(t, filepath.Join(dir, "smtp.pw"), c.Notify.SMTP.PasswordFile)
	pw, err := c.Notify.SMTP.ReadPassword()
	require.NoError(t, err)
	require.Equal(t, "Smtp-password-123", pw)
	tokyo, _ := time.LoadLocation("Asia/Tokyo")
	require.Equal(t, "taro", p.Schedules["dba"].At(time.Date(2026, 12, 25, 3, 0, 0, 0, tokyo)).Contact)
	require.Equal(t, "hanako", p.Schedules["dba"].At(time.Date(2026, 12, 8, 3, 0, 0, 0, tokyo)).Contact)
	require.Len(t, p.Policies, 1)

	// SLA clocks: P3 counts office hours of acme's calendar (holidays from the file), P1 is 24x7.
	pol := c.Policy("acme")
	require.Nil(t, pol.SLAClocks[1])
	require.NotNil(t, pol.SLAClocks[3])
	fri := time.Date(2026, 12, 31, 17, 0, 0, 0, tokyo) // thursday 17:00; 2027-01-01 is a holiday
	require.True(t, pol.SLAClocks[3].Add(fri, 2*time.Hour).Equal(time.Date(2027, 1, 4, 10, 0, 0, 0, tokyo)))
	require.Nil(t, c.Policy("globex").SLAClocks)
	require.Nil(t, c.People("globex").Policies)
}

func TestNotifyErrors(t *testing.T) {
	dir := t.TempDir()
	writeNotifyFiles(t, dir)
	for _, tc := range []struct{ old, new, err string }{
		{"P3: jp-office", "P3: nowhere", `tenants[0].policy.sla_calendars.P3: unknown calendar "nowhere"`},
		{"members: [hanako, taro]", "members: [hanako, ghost]", `tenants[0].notify.schedules[0].members: unknown contact "ghost"`},
		{"channels: [ops-slack]", "channels: [pager]", `tenants[0].notify.contacts[1].channels: unknown channel "pager"`},
		{"lang: ja", "lang: fr", `tenants[0].notify.contacts[0].lang: must be en or ja, not "fr"`},
		{"handoff: weekly", "handoff: monthly", `hand-off must be daily or weekly`},
		{"start: 2026-12-07", "start: 7.12.2026", `tenants[0].notify.schedules[0].start: bad date`},
		{"{contacts: [taro], after: 15m}", "{contacts: [taro], after: 10s}", `levels[1].after: must be at least 1m`},
		{"priorities: [1, 2]", "priorities: [1, 9]", `priority 9 is not 1-5`},
		{`hours: ["mon-fri 09:00-18:00"]`, `hours: ["weekdays 9-6"]`, `notify.calendars[0].hours`},
		{"holidays_file: jp-holidays.txt", "holidays_file: missing.txt", `notify.calendars[0].holidays_file`},
		{"{name: ops-slack, type: slack, url_file: slack.url}", "{name: ops-slack, type: sms}", `must be email, slack, teams, webhook or pagerduty, not "sms"`},
		{"email: hanako@acme.example", "email: hanako at acme", `tenants[0].notify.contacts[0].email: "hanako at acme" is not an email address`},
		{"from: desk@kizashi.example", "from: desk", `notify.smtp.from: "desk" is not an email address`},
		{"url_file: slack.url", "url_file: gone.url", `tenants[0].notify.channels[1].url_file: open`},
		{"port: 587, username: desk,", "port: 587, tls: none, username: desk,", "notify.smtp.username: SMTP AUTH needs tls"},
	} {
		y := strings.Replace(notifyYAML, tc.old, tc.new, 1)
		require.NotEqual(t, notifyYAML, y, tc.old)
		_, err := Parse([]byte(y), dir)
		require.Error(t, err, tc.new)
		require.Contains(t, err.Error(), tc.err)
		require.Regexp(t, `^line \d+: `, err.Error())
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "jp-holidays.txt"), []byte("2027-01-01\nnot a date\n"), 0o600))
	_, err := Parse([]byte(notifyYAML), dir)
	require.ErrorContains(t, err, "jp-holidays.txt: line 2: bad date")
}
