package escalation_test

import (
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kizashi-dev/kizashi/internal/testenv"
	"github.com/kizashi-dev/kizashi/webhook/alertmsg"
	"github.com/kizashi-dev/kizashi/webhook/channel/email"
	"github.com/kizashi-dev/kizashi/webhook/channel/notifytest"
	"github.com/kizashi-dev/kizashi/webhook/channel/slack"
	"github.com/kizashi-dev/kizashi/webhook/escalation"
	"github.com/kizashi-dev/kizashi/webhook/incident"
	"github.com/kizashi-dev/kizashi/webhook/notify"
	"github.com/kizashi-dev/kizashi/webhook/oncall"
	"github.com/kizashi-dev/kizashi/webhook/service"
	"github.com/kizashi-dev/kizashi/webhook/store"
	"github.com/kizashi-dev/kizashi/webhook/store/sqlite"
	"github.com/kizashi-dev/kizashi/webhook/testkit"
)

func TestMain(m *testing.M) { testenv.Main(m) }

type escStore interface {
	store.Store
	store.Escalating
}

// opener opens the same database again each call (a restart or another replica).
type opener func(t *testing.T) escStore

func sqliteOpener(t *testing.T) opener {
	path := filepath.Join(t.TempDir(), "k.db")
	return func(t *testing.T) escStore {
		s, err := sqlite.Open(context.Background(), path, sqlite.Options{})
		require.NoError(t, err)
		return s
	}
}

// TestNightP1EscalatesTwiceAndStopsOnAck on SQLite; on PostgreSQL in escalation_e2e_test.go.
func TestNightP1EscalatesTwiceAndStopsOnAck(t *testing.T) { nightP1(t, sqliteOpener(t)) }

func nightP1(t *testing.T, open opener) {
	ctx := context.Background()
	tokyo, err := time.LoadLocation("Asia/Tokyo")
	require.NoError(t, err)
	// 03:00 in Tokyo.
	clock := testkit.NewClock(time.Date(2026, 12, 5, 3, 0, 0, 0, tokyo))
	smtpSrv := notifytest.StartSMTP(t)
	hook := notifytest.StartSlack(t)
	mail, err := email.New(email.Config{Host: smtpSrv.Host, Port: smtpSrv.Port, TLSConfig: smtpSrv.ClientTLS,
		Username: smtpSrv.Username, Password: smtpSrv.Password, From: "desk@kizashi.example"})
	require.NoError(t, err)
	tenant := &escalation.Tenant{
		Channels: map[string]notify.Channel{"mail": mail, "ops-slack": slack.New(http.DefaultClient, hook.URL, "")},
		Contacts: map[string]notify.Contact{
			"hanako": {Name: "hanako", DisplayName: "山田花子", Email: "hanako@acme.example", Lang: notify.LangJA, Location: tokyo, Channels: []string{"mail"}},
			"jiro":   {Name: "jiro", Email: "jiro@acme.example", Lang: notify.LangJA, Location: tokyo, Channels: []string{"mail"}},
			"taro":   {Name: "taro", Slack: "U0TARO", Lang: notify.LangEN, Channels: []string{"ops-slack"}},
			"boss":   {Name: "boss", Email: "boss@acme.example", Slack: "U0BOSS", Lang: notify.LangEN, Channels: []string{"mail", "ops-slack"}},
		},
		Schedules: map[string]*oncall.Schedule{
			// hanako's shift runs from 09:00 on the 4th to 09:00 on the 5th.
			"dba-primary":   {Name: "dba-primary", Location: tokyo, Members: []string{"jiro", "hanako"}, Period: oncall.Daily, Handoff: 9 * time.Hour, Start: time.Date(2026, 12, 3, 0, 0, 0, 0, tokyo)},
			"dba-secondary": {Name: "dba-secondary", Location: tokyo, Members: []string{"taro"}, Period: oncall.Weekly, Handoff: 9 * time.Hour, Start: time.Date(2026, 11, 30, 0, 0, 0, 0, tokyo)},
		},
		Policies: []escalation.Policy{{Name: "p1-night", Priorities: []int{1}, Repeat: 1, Levels: []escalation.Level{
			{Schedules: []string{"dba-primary"}, After: 10 * time.Minute},
			{Schedules: []string{"dba-secondary"}, After: 10 * time.Minute},
			{Contacts: []string{"boss"}, After: 15 * time.Minute},
		}}},
	}
	cfg := &escalation.Config{Tenants: map[string]*escalation.Tenant{"acme": tenant}, ExternalURL: "https://desk.example", MaxAge: 24 * time.Hour}

	st := open(t)
	t.Cleanup(func() { _ = st.Close() })
	rules := testkit.StaticRules{P: incident.DefaultPolicy()}
	rules.P.Priority.Services = map[string]int{"shop": 1}
	svc := &service.Service{Store: st, Rules: func() service.Rules { return rules }, Now: clock.Now}
	body := testkit.Payload("acme-ops", `{}:{alertname="DBDown"}`, "firing", clock.Now(), map[string]string{"alertname": "DBDown", "severity": "critical", "service": "shop", "instance": "db1"})
	m, err := alertmsg.Parse(body)
	require.NoError(t, err)
	_, err = svc.Ingest(ctx, "acme", m, body)
	require.NoError(t, err)
	ins, err := st.ListIncidents(ctx, store.Filter{Tenant: "acme"})
	require.NoError(t, err)
	require.Len(t, ins, 1)
	in := ins[0]
	require.Equal(t, 1, in.Priority)

	// Two replicas (engines on their own store connections) tick together every time.
	replica := func(st escStore, owner string) *escalation.Engine {
		return &escalation.Engine{Store: st, Config: func() *escalation.Config { return cfg }, Now: clock.Now, Owner: owner}
	}
	st2 := open(t)
	engines := []*escalation.Engine{replica(st, "a"), replica(st2, "b")}
	tick := func() {
		t.Helper()
		var wg sync.WaitGroup
		for _, e := range engines {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := e.Tick(ctx)
				require.NoError(t, err)
			}()
		}
		wg.Wait()
	}

	tick()
	mails := smtpSrv.Mails()
	require.Len(t, mails, 1, "level 1 mails")
	require.Equal(t, []string{"hanako@acme.example"}, mails[0].To)
	require.Contains(t, mails[0].Subject(), "[P1] インシデント #")
	require.Contains(t, mails[0].Body, "山田花子 さん")
	require.Contains(t, mails[0].Body, "https://desk.example/incidents/")
	require.Empty(t, hook.Bodies())

	clock.Advance(9 * time.Minute)
	tick()
	require.Len(t, smtpSrv.Mails(), 1, "escalated before the wait")
	require.Empty(t, hook.Bodies())

	clock.Advance(time.Minute)
	tick()
	require.Len(t, smtpSrv.Mails(), 1)
	slackBodies := hook.Bodies()
	require.Len(t, slackBodies, 1, "first escalation (level 2)")
	require.Contains(t, slackBodies[0]["text"], "<@U0TARO> [P1] Incident #")

	// A restart: both replicas stop, one comes back on a new connection.
	require.NoError(t, st2.Close())
	st3 := open(t)
	t.Cleanup(func() { _ = st3.Close() })
	engines = []*escalation.Engine{replica(st3, "c"), replica(st, "a")}

	clock.Advance(10 * time.Minute)
	tick()
	mails = smtpSrv.Mails()
	require.Len(t, mails, 2, "second escalation (level 3) by mail")
	require.Equal(t, []string{"boss@acme.example"}, mails[1].To)
	require.Contains(t, mails[1].Body, "Escalation: level 3 (round 1)")
	require.Len(t, hook.Bodies(), 2, "second escalation (level 3) on Slack")
	require.Contains(t, hook.Bodies()[1]["text"], "<@U0BOSS>")

	_, err = svc.Act(ctx, service.Caller{Name: "boss", Tenant: "acme"}, in.ID, incident.Action{Kind: incident.ActAcknowledge})
	require.NoError(t, err)
	clock.Advance(15 * time.Minute)
	tick()
	clock.Advance(2 * time.Hour)
	tick()
	require.Len(t, smtpSrv.Mails(), 2, "mail after the acknowledgement")
	require.Len(t, hook.Bodies(), 2, "Slack after the acknowledgement")

	steps, err := st.EscalationSteps(ctx, in.ID)
	require.NoError(t, err)
	require.Len(t, steps, 4)
	for i, want := range []string{store.StepNotified, store.StepNotified, store.StepNotified, store.StepStopped} {
		require.Equal(t, want, steps[i].Outcome, "step %d", i)
	}
	j, err := st.Journal(ctx, in.ID)
	require.NoError(t, err)
	var lines []string
	for _, l := range j {
		if l.Kind == escalation.KindEscalation {
			require.Equal(t, escalation.Actor, l.Actor)
			lines = append(lines, l.Message)
		}
	}
	require.Len(t, lines, 4, "journal: %q", lines)
	require.True(t, strings.HasPrefix(lines[0], "escalation p1-night level 1 (round 1): notified hanako/mail; level 2 (round 1) at "), lines[0])
	require.Contains(t, lines[1], "level 2 (round 1): notified taro/ops-slack")
	require.Contains(t, lines[2], "level 3 (round 1): notified boss/mail, boss/ops-slack; level 1 (round 2) at ")
	require.Contains(t, lines[3], "stopped before level 1 (round 2): acknowledged at ")
}

func TestFailedDeliveriesAreRetriedAlone(t *testing.T) {
	ctx := context.Background()
	clock := testkit.NewClock(time.Date(2026, 12, 5, 18, 0, 0, 0, time.UTC))
	smtpSrv := notifytest.StartSMTP(t)
	hook := notifytest.StartSlack(t)
	mail, err := email.New(email.Config{Host: smtpSrv.Host, Port: smtpSrv.Port, TLSConfig: smtpSrv.ClientTLS,
		Username: smtpSrv.Username, Password: smtpSrv.Password, From: "desk@kizashi.example"})
	require.NoError(t, err)
	cfg := &escalation.Config{Tenants: map[string]*escalation.Tenant{"acme": {
		Channels: map[string]notify.Channel{"mail": mail, "slack": slack.New(http.DefaultClient, hook.URL, "")},
		Contacts: map[string]notify.Contact{"boss": {Name: "boss", Email: "boss@acme.example", Channels: []string{"mail", "slack"}}},
		Policies: []escalation.Policy{{Name: "p1", Priorities: []int{1}, Levels: []escalation.Level{{Contacts: []string{"boss", "ghost"}, After: time.Hour}}}},
	}}}
	st := sqliteOpener(t)(t)
	t.Cleanup(func() { _ = st.Close() })
	rules := testkit.StaticRules{P: incident.DefaultPolicy()}
	rules.P.Priority.Services = map[string]int{"shop": 1}
	svc := &service.Service{Store: st, Rules: func() service.Rules { return rules }, Now: clock.Now}
	body := testkit.Payload("r", `{}:{alertname="X"}`, "firing", clock.Now(), map[string]string{"alertname": "X", "severity": "critical", "service": "shop"})
	m, err := alertmsg.Parse(body)
	require.NoError(t, err)
	_, err = svc.Ingest(ctx, "acme", m, body)
	require.NoError(t, err)
	e := &escalation.Engine{Store: st, Config: func() *escalation.Config { return cfg }, Now: clock.Now, Owner: "a", MaxAttempts: 2}

	smtpSrv.FailNext(1)
	_, err = e.Tick(ctx)
	require.NoError(t, err)
	require.Empty(t, smtpSrv.Mails())
	require.Len(t, hook.Bodies(), 1)
	clock.Advance(30 * time.Second)
	_, err = e.Tick(ctx)
	require.NoError(t, err)
	require.Len(t, smtpSrv.Mails(), 1, "the failed mail is sent again")
	require.Len(t, hook.Bodies(), 1, "the delivered Slack message is not repeated")
	ins, err := st.ListIncidents(ctx, store.Filter{})
	require.NoError(t, err)
	j, err := st.Journal(ctx, ins[0].ID)
	require.NoError(t, err)
	last := j[len(j)-1].Message
	require.Contains(t, last, "notified boss/mail, boss/slack")
	require.Contains(t, last, "failed: unknown contact ghost")
	require.Contains(t, last, "last level of the last round")
}

func TestOnCallOfTheAssignmentGroup(t *testing.T) {
	ctx := context.Background()
	clock := testkit.NewClock(time.Date(2026, 12, 5, 18, 0, 0, 0, time.UTC))
	hook := notifytest.StartSlack(t)
	cfg := &escalation.Config{Tenants: map[string]*escalation.Tenant{"acme": {
		Channels: map[string]notify.Channel{"slack": slack.New(http.DefaultClient, hook.URL, "")},
		Contacts: map[string]notify.Contact{
			"ann": {Name: "ann", Slack: "U0ANN", Channels: []string{"slack"}},
			"ben": {Name: "ben", Slack: "U0BEN", Channels: []string{"slack"}},
		},
		Schedules: map[string]*oncall.Schedule{
			"dba": {Name: "dba", Location: time.UTC, Members: []string{"ann"}, Period: oncall.Daily, Start: time.Unix(0, 0)},
			"net": {Name: "net", Location: time.UTC, Members: []string{"ben"}, Period: oncall.Daily, Start: time.Unix(0, 0)},
		},
		Policies: []escalation.Policy{{Name: "p1", Priorities: []int{1}, Levels: []escalation.Level{{AssignmentGroup: true, After: time.Hour}}}},
	}}}
	st := sqliteOpener(t)(t)
	t.Cleanup(func() { _ = st.Close() })
	rules := testkit.StaticRules{P: incident.DefaultPolicy()}
	rules.P.Priority.Services = map[string]int{"shop": 1}
	svc := &service.Service{Store: st, Rules: func() service.Rules { return rules }, Now: clock.Now}
	for _, a := range []map[string]string{
		{"alertname": "A", "severity": "critical", "service": "shop", "team": "dba"},
		{"alertname": "B", "severity": "critical", "service": "shop"},
	} {
		body := testkit.Payload("r", `{}:{alertname="`+a["alertname"]+`"}`, "firing", clock.Now(), a)
		m, err := alertmsg.Parse(body)
		require.NoError(t, err)
		_, err = svc.Ingest(ctx, "acme", m, body)
		require.NoError(t, err)
	}
	e := &escalation.Engine{Store: st, Config: func() *escalation.Config { return cfg }, Now: clock.Now, Owner: "a"}
	_, err := e.Tick(ctx)
	require.NoError(t, err)
	bodies := hook.Bodies()
	require.Len(t, bodies, 1)
	require.Contains(t, bodies[0]["text"], "<@U0ANN>", "the on-call of the incident's group (dba)")
	ins, err := st.ListIncidents(ctx, store.Filter{Search: "B"})
	require.NoError(t, err)
	require.Len(t, ins, 1)
	j, err := st.Journal(ctx, ins[0].ID)
	require.NoError(t, err)
	require.Contains(t, j[len(j)-1].Message, "nobody notified; failed: no assignment group")
}

// TestStoredOverrideTakesTheLevel: an on-call override made through the API (kept in the
// store) puts its contact in the rotation's place while it lasts.
func TestStoredOverrideTakesTheLevel(t *testing.T) {
	ctx := context.Background()
	clock := testkit.NewClock(time.Date(2026, 12, 5, 18, 0, 0, 0, time.UTC))
	hook := notifytest.StartSlack(t)
	cfg := &escalation.Config{Tenants: map[string]*escalation.Tenant{"acme": {
		Channels: map[string]notify.Channel{"slack": slack.New(http.DefaultClient, hook.URL, "")},
		Contacts: map[string]notify.Contact{
			"ann": {Name: "ann", Slack: "U0ANN", Channels: []string{"slack"}},
			"ben": {Name: "ben", Slack: "U0BEN", Channels: []string{"slack"}},
		},
		Schedules: map[string]*oncall.Schedule{"ops": {Name: "ops", Location: time.UTC, Members: []string{"ann"}, Period: oncall.Daily,
			Start: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)}},
		Policies: []escalation.Policy{{Name: "p1", Priorities: []int{1}, Levels: []escalation.Level{
			{Schedules: []string{"ops"}, After: 10 * time.Minute}, {Schedules: []string{"ops"}, After: 10 * time.Minute}}}},
	}}}
	st := sqliteOpener(t)(t)
	t.Cleanup(func() { _ = st.Close() })
	overrides, ok := st.(store.OnCallOverrides)
	require.True(t, ok)
	require.NoError(t, overrides.AddOverride(ctx, &store.OnCallOverride{Tenant: "acme", Schedule: "ops", Contact: "ben",
		From: clock.Now().Add(-time.Hour), To: clock.Now().Add(5 * time.Minute), CreatedBy: "noc", CreatedAt: clock.Now()}))
	rules := testkit.StaticRules{P: incident.DefaultPolicy()}
	rules.P.Priority.Services = map[string]int{"shop": 1}
	svc := &service.Service{Store: st, Rules: func() service.Rules { return rules }, Now: clock.Now}
	body := testkit.Payload("r", `{}:{alertname="X"}`, "firing", clock.Now(), map[string]string{"alertname": "X", "severity": "critical", "service": "shop"})
	m, err := alertmsg.Parse(body)
	require.NoError(t, err)
	_, err = svc.Ingest(ctx, "acme", m, body)
	require.NoError(t, err)
	e := &escalation.Engine{Store: st, Config: func() *escalation.Config { return cfg }, Now: clock.Now, Owner: "a"}
	_, err = e.Tick(ctx)
	require.NoError(t, err)
	require.Len(t, hook.Bodies(), 1)
	require.Contains(t, hook.Bodies()[0]["text"], "<@U0BEN>", "the override's contact")
	// The override has ended by level 2: the rotation's ann.
	clock.Advance(10 * time.Minute)
	_, err = e.Tick(ctx)
	require.NoError(t, err)
	require.Len(t, hook.Bodies(), 2)
	require.Contains(t, hook.Bodies()[1]["text"], "<@U0ANN>")
}
