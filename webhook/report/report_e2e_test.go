//go:build e2e

package report_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kizashi-dev/kizashi/internal/proc"
	"github.com/kizashi-dev/kizashi/internal/testenv"
	"github.com/kizashi-dev/kizashi/webhook/alertmsg"
	"github.com/kizashi-dev/kizashi/webhook/incident"
	"github.com/kizashi-dev/kizashi/webhook/problem"
	"github.com/kizashi-dev/kizashi/webhook/report"
	"github.com/kizashi-dev/kizashi/webhook/service"
	"github.com/kizashi-dev/kizashi/webhook/store"
	"github.com/kizashi-dev/kizashi/webhook/store/postgres"
	"github.com/kizashi-dev/kizashi/webhook/store/sqlite"
	"github.com/kizashi-dev/kizashi/webhook/testkit"
)

func TestMain(m *testing.M) { testenv.Main(m) }

type opener func(t *testing.T) store.Store

func stores() map[string]opener {
	return map[string]opener{
		"sqlite": func(t *testing.T) store.Store {
			s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "k.db"), sqlite.Options{})
			require.NoError(t, err)
			t.Cleanup(func() { require.NoError(t, s.Close()) })
			return s
		},
		"postgres": func(t *testing.T) store.Store {
			s, err := postgres.Open(context.Background(), testenv.PostgresDSN(t), postgres.Options{})
			require.NoError(t, err)
			t.Cleanup(func() { require.NoError(t, s.Close()) })
			return s
		},
	}
}

// month is a scripted November 2026 of tenant acme (and some of globex, and one incident of
// acme's that began in October).
type month struct {
	t     *testing.T
	st    store.Store
	svc   *service.Service
	desk  *problem.Desk
	clock *testkit.Clock
	ids   map[string]int64
}

func (m *month) at(when time.Time) {
	m.t.Helper()
	d := when.Sub(m.clock.Now())
	require.GreaterOrEqual(m.t, d, time.Duration(0), "the script goes forward")
	m.clock.Advance(d)
}

func (m *month) send(tenant, name, status, service, category string, impact, urgency int) {
	m.t.Helper()
	labels := map[string]string{"alertname": name, "service": service, "category": category, "severity": "critical",
		"itil_impact": strconv.Itoa(impact), "itil_urgency": strconv.Itoa(urgency)}
	body := testkit.Payload("ops", `{}:{alertname="`+name+`"}`, status, m.clock.Now(), labels)
	msg, err := alertmsg.Parse(body)
	require.NoError(m.t, err)
	r, err := m.svc.Ingest(context.Background(), tenant, msg, body)
	require.NoError(m.t, err)
	if status == "firing" {
		require.Len(m.t, r.Incidents, 1)
		m.ids[tenant+"/"+name+"@"+m.clock.Now().Format(time.RFC3339)] = r.Incidents[0]
		m.ids[tenant+"/"+name] = r.Incidents[0]
	}
}

func (m *month) act(tenant, name, kind string) {
	m.t.Helper()
	_, err := m.svc.Act(context.Background(), service.Caller{Name: "alice", Tenant: tenant}, m.ids[tenant+"/"+name], incident.Action{Kind: kind, Text: "scripted"})
	require.NoError(m.t, err)
}

func d(day, hour, minute int) time.Time {
	return time.Date(2026, 11, day, hour, minute, 0, 0, time.UTC)
}

func script(t *testing.T, st store.Store) *month {
	clock := testkit.NewClock(time.Date(2026, 10, 20, 0, 0, 0, 0, time.UTC))
	rules := &testkit.StaticRules{P: incident.DefaultPolicy()}
	m := &month{t: t, st: st, clock: clock, ids: map[string]int64{},
		svc: &service.Service{Store: st, Rules: func() service.Rules { return *rules }, Now: clock.Now}}
	desk, err := problem.New(st, func(string) problem.Settings { return problem.Settings{Recurrences: 3, Window: 30 * 24 * time.Hour} }, clock.Now)
	require.NoError(t, err)
	m.desk = desk
	ctx := context.Background()

	// A problem created in October and closed in November: closed, not opened, this month.
	old, err := desk.CreateProblem(ctx, problem.Create{Tenant: "acme", Actor: "alice", Title: "old certificate problem"})
	require.NoError(t, err)

	// H: Oct 31 22:00 P2 db, acknowledged 22:10, resolved Nov 1 02:00 (2h of db's downtime in November).
	m.at(time.Date(2026, 10, 31, 22, 0, 0, 0, time.UTC))
	m.send("acme", "Old", "firing", "db", "capacity", 1, 2)
	m.at(time.Date(2026, 10, 31, 22, 10, 0, 0, time.UTC))
	m.act("acme", "Old", incident.ActAcknowledge)
	m.at(d(1, 2, 0))
	m.send("acme", "Old", "resolved", "db", "capacity", 1, 2)

	// A: Nov 3 10:00 P1 shop, acknowledged after 10m (met), resolved after 2h (met).
	m.at(d(3, 10, 0))
	m.send("acme", "ShopDown", "firing", "shop", "availability", 1, 1)
	m.send("globex", "ShopDown", "firing", "shop", "availability", 1, 1) // another tenant's
	m.at(d(3, 10, 10))
	m.act("acme", "ShopDown", incident.ActAcknowledge)
	m.at(d(3, 12, 0))
	m.send("acme", "ShopDown", "resolved", "shop", "availability", 1, 1)

	// D: Nov 5 09:00 P3 db, never acknowledged, resolved after 2h (response and resolution met).
	m.at(d(5, 9, 0))
	m.send("acme", "DBSlow", "firing", "db", "performance", 2, 2)
	m.at(d(5, 11, 0))
	m.send("acme", "DBSlow", "resolved", "db", "performance", 2, 2)

	// B: Nov 10 02:00 P1 shop again, acknowledged after 30m (breached), resolved after 5h
	// (breached); declared major at 02:10 (coordinator carol, updates every 30m), one
	// customer update, a review on Nov 11 (a problem about its key).
	m.at(d(10, 2, 0))
	m.send("acme", "ShopDown", "firing", "shop", "availability", 1, 1)
	m.at(d(10, 2, 10))
	_, err = desk.Declare(ctx, "acme", "alice", m.ids["acme/ShopDown"], "carol", 30*time.Minute)
	require.NoError(t, err)
	m.at(d(10, 2, 30))
	m.act("acme", "ShopDown", incident.ActAcknowledge)
	m.at(d(10, 2, 40))
	_, err = desk.CustomerUpdate(ctx, "acme", "carol", m.ids["acme/ShopDown"], "Restoring the shop's database.")
	require.NoError(t, err)
	m.at(d(10, 7, 0))
	m.send("acme", "ShopDown", "resolved", "shop", "availability", 1, 1)
	m.at(d(11, 9, 0))
	review := "A full disk; alert at 80% from now on."
	_, err = desk.ChangeMajor(ctx, m.ids["acme/ShopDown"], problem.MajorChange{Tenant: "acme", Actor: "carol", Review: &review})
	require.NoError(t, err)

	// F: Nov 15 08:00 P5 shop, canceled at 08:30 (out of the SLA, counted as an incident).
	m.at(d(15, 8, 0))
	m.send("acme", "Noise", "firing", "shop", "monitoring", 3, 3)
	m.at(d(15, 8, 30))
	m.act("acme", "Noise", incident.ActCancel)

	// C: Nov 20 00:00 P1 shop a third time: acknowledged after 5m, resolved after 50m (met).
	m.at(d(20, 0, 0))
	m.send("acme", "ShopDown", "firing", "shop", "availability", 1, 1)
	m.at(d(20, 0, 5))
	m.act("acme", "ShopDown", incident.ActAcknowledge)
	m.at(d(20, 0, 50))
	m.send("acme", "ShopDown", "resolved", "shop", "availability", 1, 1)

	// The old problem is closed on Nov 25.
	m.at(d(25, 0, 0))
	closed := store.ProblemClosed
	_, err = desk.ChangeProblem(ctx, old.ID, problem.Change{Tenant: "acme", Actor: "alice", State: &closed})
	require.NoError(t, err)

	// E: Nov 28 12:00 P2 db, acknowledged after 20m (met), still open at the month's end
	// (resolution due 20:00 breached; db down until Dec 1 00:00).
	m.at(d(28, 12, 0))
	m.send("acme", "DBDisk", "firing", "db", "capacity", 1, 2)
	m.at(d(28, 12, 20))
	m.act("acme", "DBDisk", incident.ActAcknowledge)

	// G: Nov 30 23:00 P4 db, nothing done: its response is due after the month (pending).
	m.at(d(30, 23, 0))
	m.send("acme", "Late", "firing", "db", "capacity", 2, 3)

	// Problem sweep: the review's problem covers ShopDown's key: A, B, C are linked to it.
	_, err = desk.Sweep(ctx)
	require.NoError(t, err)
	m.at(time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC))
	return m
}

func TestScriptedMonth(t *testing.T) {
	for name, open := range stores() {
		t.Run(name, func(t *testing.T) {
			st := open(t)
			m := script(t, st)
			ctx := context.Background()
			from, to := report.Month(2026, time.November, time.UTC)
			r, err := report.Compute(ctx, st, st.(store.Problems), report.Options{Tenant: "acme", From: from, To: to, Now: m.clock.Now()})
			require.NoError(t, err)

			// Hand-computed figures (see the script).
			require.Equal(t, 7, r.Incidents, "A B C D E F G; H began in October, globex is not acme")
			require.Equal(t, 1, r.Canceled)
			require.Equal(t, []report.SLARow{
				{Priority: 1, Incidents: 3, ResponseMet: 2, ResponseBreached: 1, ResolutionMet: 2, ResolutionBreached: 1},
				{Priority: 2, Incidents: 1, ResponseMet: 1, ResolutionBreached: 1},
				{Priority: 3, Incidents: 1, ResponseMet: 1, ResolutionMet: 1},
				{Priority: 4, Incidents: 1, ResponsePending: 1, ResolvePending: 1},
				{Priority: 5},
			}, r.SLA)
			require.Equal(t, 4, r.Acknowledged)
			require.Equal(t, (10+30+5+20)*time.Minute/4, r.MTTA, "16m15s")
			require.Equal(t, 4, r.Resolved, "A B C D (F was canceled, E and G are open)")
			require.Equal(t, (120+300+50+120)*time.Minute/4, r.MTTR, "2h27m30s")
			require.Equal(t, []report.Count{{"P1", 3}, {"P2", 1}, {"P3", 1}, {"P4", 1}, {"P5", 1}}, r.ByPriority)
			require.Equal(t, []report.Count{{"shop", 4}, {"db", 3}}, r.ByService)
			require.Equal(t, []report.Count{{"availability", 3}, {"capacity", 2}, {"monitoring", 1}, {"performance", 1}}, r.ByCategory)
			require.Len(t, r.Daily, 30)
			require.Equal(t, report.Count{Label: "2026-11-03", N: 1}, r.Daily[2])
			require.Len(t, r.TopKeys, 1)
			require.Equal(t, 3, r.TopKeys[0].N)
			require.Equal(t, `group:ops:{}:{alertname="ShopDown"}`, r.TopKeys[0].Key)
			require.Equal(t, 1, r.ProblemsOpened, "the review's problem")
			require.Equal(t, 1, r.ProblemsClosed, "October's problem")
			require.Len(t, r.Problems, 2)
			require.Equal(t, 3, r.Problems[1].Incidents, "A, B and C are linked to the review's problem")
			require.Len(t, r.Majors, 1)
			require.Equal(t, report.MajorRow{IncidentID: r.Majors[0].IncidentID, Title: r.Majors[0].Title, Priority: 1, DeclaredAt: d(10, 2, 10),
				Coordinator: "carol", Updates: 1, Reviewed: true, ProblemID: r.Problems[1].ID}, r.Majors[0])
			month := float64(30 * 24 * time.Hour)
			require.Equal(t, []report.Availability{
				{Service: "db", Downtime: 62 * time.Hour, Ratio: 1 - float64(62*time.Hour)/month},
				{Service: "shop", Downtime: 7*time.Hour + 50*time.Minute, Ratio: 1 - float64(7*time.Hour+50*time.Minute)/month},
			}, r.Availability)

			// The page in both languages, and its PDF.
			for _, lang := range report.Languages {
				var page bytes.Buffer
				require.NoError(t, report.HTML(&page, r, lang, m.clock.Now()))
				html := page.String()
				require.Contains(t, html, "<svg", "charts")
				want := map[string][]string{
					"en": {"Service report", "16m", "2h 28m", "98.91%", "91.39%", "66.67%"},
					"ja": {"サービスレポート", "16分", "2時間28分", "98.91%", "91.39%", "66.67%"},
				}[lang]
				for _, w := range want {
					require.Contains(t, html, w)
				}
				pdf := printPDF(t, page.Bytes())
				text, pages := pdfText(t, pdf)
				require.Positive(t, pages)
				for _, w := range want {
					require.Contains(t, text, w, "the PDF's text (%s)", lang)
				}
				require.Contains(t, text, "acme")
			}
		})
	}
}

func printPDF(t *testing.T, page []byte) []byte {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: not starting chromium")
	}
	testenv.Program(t, proc.Binary{Names: []string{"chromium", "chromium-browser", "google-chrome"}, Package: "chromium"})
	pdf, err := (&report.Printer{}).PDF(context.Background(), page)
	require.NoError(t, err)
	return pdf
}

var pagesLine = regexp.MustCompile(`(?m)^Pages:\s+(\d+)$`)

// pdfText extracts the text of a PDF and counts its pages with poppler's pdftotext and
// pdfinfo.
func pdfText(t *testing.T, pdf []byte) (string, int) {
	t.Helper()
	totext := testenv.Program(t, proc.Binary{Names: []string{"pdftotext"}, Package: "poppler-utils"})
	info := testenv.Program(t, proc.Binary{Names: []string{"pdfinfo"}, Package: "poppler-utils"})
	path := filepath.Join(t.TempDir(), "r.pdf")
	require.NoError(t, os.WriteFile(path, pdf, 0o600))
	out, err := exec.Command(info, path).CombinedOutput()
	require.NoError(t, err, "%s", out)
	mm := pagesLine.FindSubmatch(out)
	require.NotNil(t, mm, "%s", out)
	pages, err := strconv.Atoi(string(mm[1]))
	require.NoError(t, err)
	text, err := exec.Command(totext, "-enc", "UTF-8", path, "-").Output()
	require.NoError(t, err)
	return string(text), pages
}
