package deliver_test

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kizashi-dev/kizashi/internal/testenv"
	"github.com/kizashi-dev/kizashi/webhook/alertmsg"
	"github.com/kizashi-dev/kizashi/webhook/channel/email"
	"github.com/kizashi-dev/kizashi/webhook/channel/notifytest"
	"github.com/kizashi-dev/kizashi/webhook/deliver"
	"github.com/kizashi-dev/kizashi/webhook/incident"
	"github.com/kizashi-dev/kizashi/webhook/notify"
	"github.com/kizashi-dev/kizashi/webhook/oncall"
	"github.com/kizashi-dev/kizashi/webhook/problem"
	"github.com/kizashi-dev/kizashi/webhook/report"
	"github.com/kizashi-dev/kizashi/webhook/service"
	"github.com/kizashi-dev/kizashi/webhook/store"
	"github.com/kizashi-dev/kizashi/webhook/store/sqlite"
	"github.com/kizashi-dev/kizashi/webhook/testkit"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// Store is what the tests need of a store.
type Store interface {
	store.Store
	store.Delivering
	store.Problems
	store.OnCallOverrides
}

// Opener opens the same database again each call (a restart or another replica).
type Opener func(t *testing.T) Store

func sqliteOpener(t *testing.T) Opener {
	path := filepath.Join(t.TempDir(), "k.db")
	return func(t *testing.T) Store {
		s, err := sqlite.Open(context.Background(), path, sqlite.Options{})
		require.NoError(t, err)
		t.Cleanup(func() { _ = s.Close() })
		return s
	}
}

func mailer(t *testing.T, srv *notifytest.SMTP) *email.Channel {
	m, err := email.New(email.Config{Host: srv.Host, Port: srv.Port, TLSConfig: srv.ClientTLS,
		Username: srv.Username, Password: srv.Password, From: "desk@kizashi.example"})
	require.NoError(t, err)
	return m
}

// fire opens an incident of tenant acme.
func fire(t *testing.T, st store.Store, clock *testkit.Clock, name string, resolveAfter time.Duration) *incident.Incident {
	t.Helper()
	ctx := context.Background()
	rules := testkit.StaticRules{P: incident.DefaultPolicy()}
	rules.P.Priority.Services = map[string]int{"shop": 1}
	svc := &service.Service{Store: st, Rules: func() service.Rules { return rules }, Now: clock.Now}
	labels := map[string]string{"alertname": name, "severity": "critical", "service": "shop"}
	ingest := func(status string) {
		body := testkit.Payload("acme-ops", `{}:{alertname="`+name+`"}`, status, clock.Now(), labels)
		m, err := alertmsg.Parse(body)
		require.NoError(t, err)
		_, err = svc.Ingest(ctx, "acme", m, body)
		require.NoError(t, err)
	}
	ingest("firing")
	if resolveAfter > 0 {
		clock.Advance(resolveAfter)
		ingest("resolved")
	}
	ins, err := st.ListIncidents(ctx, store.Filter{Tenant: "acme", Search: name})
	require.NoError(t, err)
	require.Len(t, ins, 1)
	return ins[0]
}

// tickAll runs tick on every replica at once.
func tickAll(t *testing.T, ticks ...func(context.Context) (int, error)) int {
	t.Helper()
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		total int
	)
	for _, tick := range ticks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n, err := tick(context.Background())
			if err != nil {
				t.Error(err)
			}
			mu.Lock()
			total += n
			mu.Unlock()
		}()
	}
	wg.Wait()
	return total
}

func TestRemindersOncePerDueTime(t *testing.T) { reminders(t, sqliteOpener(t)) }

func reminders(t *testing.T, open Opener) {
	ctx := context.Background()
	tokyo, err := time.LoadLocation("Asia/Tokyo")
	require.NoError(t, err)
	clock := testkit.NewClock(time.Date(2026, 12, 5, 3, 0, 0, 0, tokyo))
	srv := notifytest.StartSMTP(t)
	mail := mailer(t, srv)
	people := deliver.People{
		Channels: map[string]notify.Channel{"mail": mail},
		Contacts: map[string]notify.Contact{
			"hanako": {Name: "hanako", User: "hanako.yamada", Email: "hanako@acme.example", Lang: notify.LangJA, Location: tokyo, Channels: []string{"mail"}},
			"taro":   {Name: "taro", Email: "taro@acme.example", Channels: []string{"mail"}},
			"jiro":   {Name: "jiro", Email: "jiro@acme.example", Channels: []string{"mail"}},
		},
		Schedules: map[string]*oncall.Schedule{
			"ops": {Name: "ops", Location: tokyo, Members: []string{"taro"}, Period: oncall.Weekly, Handoff: 9 * time.Hour, Start: time.Date(2026, 11, 30, 0, 0, 0, 0, tokyo)},
		},
	}
	cfg := &deliver.ReminderConfig{ExternalURL: "https://desk.example", Tenants: map[string]*deliver.ReminderTenant{
		"acme": {People: people, Coordinator: true, Schedules: []string{"ops"}}}}

	st := open(t)
	in := fire(t, st, clock, "DBDown", 0)
	desk, err := problem.New(st, func(string) problem.Settings { return problem.Settings{} }, clock.Now)
	require.NoError(t, err)
	// The coordinator is named by user account.
	_, err = desk.Declare(ctx, "acme", "bob", in.ID, "hanako.yamada", 30*time.Minute)
	require.NoError(t, err)

	replica := func(st Store, owner string) *deliver.Reminders {
		d, err := problem.New(st, func(string) problem.Settings { return problem.Settings{} }, clock.Now)
		require.NoError(t, err)
		e := &deliver.Reminders{Due: func(ctx context.Context) ([]store.MajorIncident, error) { return d.DueUpdates(ctx, "") },
			Incident: st.Incident, Config: func() *deliver.ReminderConfig { return cfg }}
		e.Store, e.Now, e.Owner = st, clock.Now, owner
		return e
	}
	a, b := replica(st, "a"), replica(open(t), "b")

	require.Zero(t, tickAll(t, a.Tick, b.Tick), "a reminder before the update is due")
	require.Empty(t, srv.Mails())

	clock.Advance(30 * time.Minute)
	require.Equal(t, 1, tickAll(t, a.Tick, b.Tick))
	mails := srv.Mails()
	require.Len(t, mails, 2, "the coordinator and the on-call, once each")
	var to []string
	for _, m := range mails {
		to = append(to, m.To...)
	}
	require.ElementsMatch(t, []string{"hanako@acme.example", "taro@acme.example"}, to)
	for _, m := range mails {
		if m.To[0] == "hanako@acme.example" {
			require.Contains(t, m.Subject(), "顧客への状況報告の期限")
			require.Contains(t, m.Body, "https://desk.example/incidents/")
		} else {
			require.Contains(t, m.Subject(), "Customer update due")
		}
	}

	// Later ticks, and a restarted replica, remind nobody again of the same due time.
	clock.Advance(5 * time.Minute)
	c := replica(open(t), "c")
	require.Zero(t, tickAll(t, a.Tick, b.Tick, c.Tick))
	require.Len(t, srv.Mails(), 2)

	// An update posted moves the due time: the next one is reminded of once, 30 minutes later,
	// to jiro, whom an override made through the API puts on call in ops.
	_, err = desk.CustomerUpdate(ctx, "acme", "hanako.yamada", in.ID, "DB failover in progress")
	require.NoError(t, err)
	require.NoError(t, st.AddOverride(ctx, &store.OnCallOverride{Tenant: "acme", Schedule: "ops", Contact: "jiro",
		From: clock.Now(), To: clock.Now().Add(2 * time.Hour), CreatedBy: "noc", CreatedAt: clock.Now()}))
	clock.Advance(29 * time.Minute)
	require.Zero(t, tickAll(t, a.Tick, c.Tick))
	// A temporary SMTP failure is retried for the failed delivery only.
	srv.FailNext(1)
	clock.Advance(time.Minute)
	require.Zero(t, tickAll(t, a.Tick), "finished with a failed delivery to retry")
	require.Len(t, srv.Mails(), 3)
	clock.Advance(5 * time.Minute)
	require.Equal(t, 1, tickAll(t, a.Tick, b.Tick, c.Tick))
	require.Len(t, srv.Mails(), 4)

	j, err := st.Journal(ctx, in.ID)
	require.NoError(t, err)
	var lines []string
	for _, e := range j {
		if e.Kind == deliver.KindJournal {
			lines = append(lines, e.Message)
		}
	}
	require.Len(t, lines, 2, "one journal line per due time: %v", lines)
	require.Contains(t, lines[0], "reminded hanako/mail, taro/mail")
	require.Contains(t, lines[1], "reminded hanako/mail, jiro/mail", "the override's jiro instead of taro")
	ds, err := st.Deliveries(ctx, deliver.KindReminder, "acme", 10)
	require.NoError(t, err)
	require.Len(t, ds, 2)
	for _, d := range ds {
		require.Equal(t, store.DeliverySent, d.Outcome)
	}
	require.Equal(t, 1, ds[0].Attempts, "the second reminder's retry")

	// An ended major incident is reminded of no more.
	end := true
	_, err = desk.ChangeMajor(ctx, in.ID, problem.MajorChange{Tenant: "acme", Actor: "bob", End: end})
	require.NoError(t, err)
	clock.Advance(2 * time.Hour)
	require.Zero(t, tickAll(t, a.Tick))
	require.Len(t, srv.Mails(), 4)
}

func TestMonthlyReportOncePerMonth(t *testing.T) { monthlyReport(t, sqliteOpener(t)) }

// noChromium is a printer without a browser.
type noChromium struct{}

func (noChromium) PDF(context.Context, []byte) ([]byte, error) { return nil, report.ErrNoChromium }

// fakePDF stands for Chromium in the hermetic test (the real printer is in the e2e test).
type fakePDF struct{}

func (fakePDF) PDF(_ context.Context, page []byte) ([]byte, error) {
	return append([]byte("%PDF-1.4 "), page[:16]...), nil
}

func monthlyReport(t *testing.T, open Opener) {
	ctx := context.Background()
	tokyo, err := time.LoadLocation("Asia/Tokyo")
	require.NoError(t, err)
	// November in Tokyo: two incidents, one resolved after 40 minutes.
	clock := testkit.NewClock(time.Date(2026, 11, 10, 10, 0, 0, 0, tokyo))
	srv := notifytest.StartSMTP(t)
	st := open(t)
	fire(t, st, clock, "DBDown", 40*time.Minute)
	clock.Advance(24 * time.Hour)
	fire(t, st, clock, "DiskFull", 0)
	// 08:59 on December 1st in Tokyo: not yet.
	setClock(clock, time.Date(2026, 12, 1, 8, 59, 0, 0, tokyo))
	cfg := &deliver.ReportConfig{Tenants: map[string]*deliver.ReportTenant{
		"acme": {Recipients: []string{"cio@acme.example", "ops@acme.example"}, Lang: "ja", Location: tokyo, Day: 1, At: 9 * time.Hour, Format: deliver.FormatPDF},
	}}
	replica := func(st Store, owner string, p deliver.PDFPrinter) *deliver.Reports {
		e := &deliver.Reports{Compute: func(ctx context.Context, o report.Options) (*report.Report, error) {
			return report.Compute(ctx, st, st, o)
		},
			Config: func() *deliver.ReportConfig { return cfg }, Mailer: mailer(t, srv), Printer: p}
		e.Store, e.Now, e.Owner = st, clock.Now, owner
		return e
	}
	a, b := replica(st, "a", noChromium{}), replica(open(t), "b", noChromium{})
	require.Zero(t, tickAll(t, a.Tick, b.Tick))
	require.Empty(t, srv.Mails())

	clock.Advance(time.Minute)
	require.Equal(t, 1, tickAll(t, a.Tick, b.Tick))
	mails := srv.Mails()
	require.Len(t, mails, 1, "one mail for the month however many replicas")
	m := mails[0]
	require.ElementsMatch(t, []string{"cio@acme.example", "ops@acme.example"}, m.To)
	require.Equal(t, "サービスレポート acme 2026年11月", m.Subject())
	require.Contains(t, m.Body, "インシデント: 2 件", "the text summary")
	require.Contains(t, m.Body, "<svg", "the HTML report (no Chromium: no PDF)")
	require.NotContains(t, string(m.Raw), "application/pdf")
	ds, err := st.Deliveries(ctx, deliver.KindReport, "acme", 10)
	require.NoError(t, err)
	require.Len(t, ds, 1)
	require.Equal(t, "2026-11", ds[0].Period)
	require.Contains(t, ds[0].Note, "no pdf")

	// Later in December, after a restart, nothing is sent again.
	clock.Advance(10 * 24 * time.Hour)
	c := replica(open(t), "c", fakePDF{})
	require.Zero(t, tickAll(t, a.Tick, c.Tick))
	require.Len(t, srv.Mails(), 1)

	// January 1st: December's report, its first attempt refused by the relay, is retried.
	setClock(clock, time.Date(2027, 1, 1, 9, 0, 0, 0, tokyo))
	srv.FailNext(1)
	require.Zero(t, tickAll(t, c.Tick))
	require.Len(t, srv.Mails(), 1)
	clock.Advance(time.Minute)
	require.Zero(t, tickAll(t, c.Tick), "retried before its backoff")
	clock.Advance(time.Hour)
	require.Equal(t, 1, tickAll(t, c.Tick))
	require.Zero(t, tickAll(t, a.Tick, b.Tick))
	mails = srv.Mails()
	require.Len(t, mails, 2)
	// c renders PDF: attached, named after the tenant and the month.
	require.Equal(t, "サービスレポート acme 2026年12月", mails[1].Subject())
	raw := string(mails[1].Raw)
	require.Contains(t, raw, "application/pdf")
	require.Contains(t, raw, "service-report-acme-2026-12.pdf")
	ds, err = st.Deliveries(ctx, deliver.KindReport, "acme", 10)
	require.NoError(t, err)
	require.Len(t, ds, 2)
	require.Equal(t, 1, ds[0].Attempts)
}

func setClock(c *testkit.Clock, to time.Time) { c.Advance(to.Sub(c.Now())) }

func TestReportDue(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	require.NoError(t, err)
	rt := &deliver.ReportTenant{Location: ny, Day: 3, At: 7*time.Hour + 30*time.Minute}
	_, _, _, _, ok := rt.Due(time.Date(2027, 3, 3, 12, 29, 0, 0, time.UTC))
	require.False(t, ok, "07:29 in New York")
	period, at, from, to, ok := rt.Due(time.Date(2027, 3, 3, 12, 30, 0, 0, time.UTC))
	require.True(t, ok)
	require.Equal(t, "2027-02", period)
	require.Equal(t, time.Date(2027, 3, 3, 7, 30, 0, 0, ny), at)
	require.Equal(t, time.Date(2027, 2, 1, 0, 0, 0, 0, ny), from)
	require.Equal(t, time.Date(2027, 3, 1, 0, 0, 0, 0, ny), to)
	// Daylight saving starts on 2027-03-14 at 02:00 in New York: 08:00 stays 08:00.
	dst := &deliver.ReportTenant{Location: ny, Day: 14, At: 8 * time.Hour}
	_, at, _, _, ok = dst.Due(time.Date(2027, 3, 20, 0, 0, 0, 0, time.UTC))
	require.True(t, ok)
	require.Equal(t, "2027-03-14 08:00 EDT", at.In(ny).Format("2006-01-02 15:04 MST"))
	period, _, _, _, ok = rt.Due(time.Date(2027, 1, 20, 12, 0, 0, 0, time.UTC))
	require.True(t, ok, "January 20th still sends December's (once: the store keeps the period)")
	require.Equal(t, "2026-12", period)
}
