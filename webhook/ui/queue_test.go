package ui_test

import (
	"encoding/csv"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kizashi-dev/kizashi/webhook/incident"
)

var rowID = regexp.MustCompile(`<tr class="[^"]*" data-id="(\d+)"`)

// queueIDs are the incidents of the queue's table, in order.
func queueIDs(t *testing.T, page string) []int64 {
	t.Helper()
	var out []int64
	for _, m := range rowID.FindAllStringSubmatch(page, -1) {
		id, err := strconv.ParseInt(m[1], 10, 64)
		require.NoError(t, err)
		out = append(out, id)
	}
	return out
}

func prio(p string, alertname string) map[string]string {
	return map[string]string{"alertname": alertname, "itil_impact": p[:1], "itil_urgency": p[1:]}
}

// TestQueueSortedBySLADue: by default the queue shows breached clocks first, then the soonest
// due (response or resolve, whichever is nearer), then incidents without a running clock,
// newest first; sort=created is the API's order.
func TestQueueSortedBySLADue(t *testing.T) {
	d := newDesk(t, "")
	now := time.Now()
	create := func(ago time.Duration, p, name string) int64 {
		d.clock.Advance(now.Add(-ago).Sub(d.clock.Now()))
		return d.ingest("acme", name, now.Add(-ago), prio(p, name), nil)
	}
	// Priorities (impact, urgency): 11 -> P1 (respond 15m), 22 -> P3 (4h), 33 -> P5 (24h), 12 -> P2.
	f := create(2*time.Hour, "33", "F")     // P5: response due in 22h
	a := create(time.Hour, "22", "A")       // P3: response due in 3h
	dd := create(30*time.Minute, "12", "D") // P2: acknowledged below: resolve due in 7.5h
	b := create(20*time.Minute, "11", "B")  // P1: response breached 5m ago
	c := create(0, "11", "C")               // P1: response due in 15m
	e := create(0, "22", "E")               // resolved below: no running clock
	d.act(dd, incident.Action{Kind: incident.ActAcknowledge})
	d.act(e, incident.Action{Kind: incident.ActResolve, CloseCode: incident.CloseCodes[0], Text: "fixed"})

	cookie, _ := d.session(tokNOC)
	page := d.do(cookie, http.MethodGet, "/incidents", nil, nil)
	require.Equal(t, http.StatusOK, page.code, page.body)
	require.Equal(t, []int64{b, c, a, dd, f, e}, queueIDs(t, page.body))

	page = d.do(cookie, http.MethodGet, "/incidents?sort=created", nil, nil)
	require.Equal(t, []int64{e, c, b, dd, a, f}, queueIDs(t, page.body), "newest first")
	// The filter applies to the sorted queue too.
	page = d.do(cookie, http.MethodGet, "/incidents?open=true&priority=1", nil, nil)
	require.Equal(t, []int64{b, c}, queueIDs(t, page.body))
}

// TestQueueReadsEveryPage: the SLA order spans more incidents than one page of the store: the
// oldest incident (on the store's second page) is the most urgent and comes first.
func TestQueueReadsEveryPage(t *testing.T) {
	d := newDesk(t, "")
	now := time.Now()
	urgent := d.ingest("acme", "urgent", now, prio("11", "Urgent"), nil)
	for i := range 520 {
		d.ingest("acme", "g"+strconv.Itoa(i), now, prio("33", "G"+strconv.Itoa(i)), nil)
	}
	cookie, _ := d.session(tok)
	ids := queueIDs(t, d.do(cookie, http.MethodGet, "/incidents", nil, nil).body)
	require.Len(t, ids, 521)
	require.Equal(t, urgent, ids[0])
	// Equal clocks: newest first.
	require.Greater(t, ids[1], ids[len(ids)-1])
}

// TestCSVExport: the export is the filtered queue, UTF-8 with a BOM, times in the user's time
// zone, and cells a spreadsheet would run as a formula are prefixed with '.
func TestCSVExport(t *testing.T) {
	d := newDesk(t, "")
	start := time.Date(2026, 12, 5, 0, 30, 0, 0, time.UTC)
	d.clock.Advance(start.Sub(d.clock.Now()))
	evil := d.ingest("acme", "evil", start, map[string]string{"alertname": "=HYPERLINK(\"http://evil.example\",\"x\")", "instance": "ディスク"}, nil)
	for _, p := range []string{"+1", "-1", "@SUM(A1)"} {
		d.ingest("acme", "p"+p, start, map[string]string{"alertname": p}, nil)
	}
	d.ingest("globex", "other", start, map[string]string{"alertname": "Globex"}, nil)
	cookie, _ := d.session(tok)
	ans := d.do(cookie, http.MethodGet, "/incidents.csv?q=HYPERLINK", nil, nil, &http.Cookie{Name: "kizashi_tz", Value: "Asia/Tokyo"})
	require.Equal(t, http.StatusOK, ans.code, ans.body)
	require.Equal(t, "text/csv; charset=utf-8", ans.header.Get("Content-Type"))
	require.Contains(t, ans.header.Get("Content-Disposition"), "attachment")
	require.True(t, strings.HasPrefix(ans.body, "\uFEFF"), "UTF-8 byte order mark for Excel")
	rows, err := csv.NewReader(strings.NewReader(strings.TrimPrefix(ans.body, "\uFEFF"))).ReadAll()
	require.NoError(t, err)
	require.Len(t, rows, 2, "the header and the one incident of the filter")
	head, row := rows[0], rows[1]
	col := func(name string) string {
		for i, h := range head {
			if h == name {
				return row[i]
			}
		}
		t.Fatalf("no column %q in %q", name, head)
		return ""
	}
	require.Equal(t, strconv.FormatInt(evil, 10), col("id"))
	require.Equal(t, `'=HYPERLINK("http://evil.example","x") on ディスク`, col("Title"))
	require.Equal(t, "2026-12-05 09:30:00", col("Created (Asia/Tokyo)"), "the user's zone")

	// Every dangerous first character is neutralised; tenant isolation holds in the export.
	ans = d.do(cookie, http.MethodGet, "/incidents.csv", nil, nil)
	rows, err = csv.NewReader(strings.NewReader(strings.TrimPrefix(ans.body, "\uFEFF"))).ReadAll()
	require.NoError(t, err)
	require.Len(t, rows, 5)
	titles := map[string]bool{}
	for _, r := range rows[1:] {
		for _, cell := range r {
			require.False(t, cell != "" && strings.ContainsRune("=+-@\t\r", rune(cell[0])), "cell %q", cell)
		}
		titles[r[4]] = true
	}
	for _, p := range []string{"'+1", "'-1", "'@SUM(A1)"} {
		require.True(t, titles[p], "%q in %v", p, titles)
	}
	require.NotContains(t, ans.body, "Globex")

	// Japanese headers for a Japanese user; a bad filter is refused with its reason.
	ans = d.do(cookie, http.MethodGet, "/incidents.csv", nil, map[string]string{"Accept-Language": "ja-JP,ja;q=0.9"})
	require.Contains(t, ans.body, "タイトル")
	ans = d.do(cookie, http.MethodGet, "/incidents.csv?priority=9", nil, nil)
	require.Equal(t, http.StatusBadRequest, ans.code)
	require.Contains(t, ans.body, "priority must be an integer 1-5")
	// No session: the log-in page.
	require.Equal(t, http.StatusSeeOther, d.do("", http.MethodGet, "/incidents.csv", nil, nil).code)
}

// TestBulkActions: acknowledge, assign and resolve several incidents at once, each in its own
// transaction: one the rules refuse does not stop the others, and each result is shown. The
// form needs the session's CSRF token.
func TestBulkActions(t *testing.T) {
	d := newDesk(t, "")
	now := time.Now()
	a := d.ingest("acme", "a", now, map[string]string{"alertname": "A"}, nil)
	b := d.ingest("acme", "b", now, map[string]string{"alertname": "B"}, nil)
	c := d.ingest("acme", "c", now, map[string]string{"alertname": "C"}, nil)
	g := d.ingest("globex", "g", now, map[string]string{"alertname": "G"}, nil)
	d.act(c, incident.Action{Kind: incident.ActResolve, CloseCode: incident.CloseCodes[0], Text: "done"})
	cookie, csrf := d.session(tok)
	ids := func(ids ...int64) []string {
		var out []string
		for _, id := range ids {
			out = append(out, strconv.FormatInt(id, 10))
		}
		return out
	}

	form := url.Values{"csrf": {csrf}, "action": {"acknowledge"}, "ids": ids(a, b, c, g), "back": {"open=true"}}
	ans := d.do(cookie, http.MethodPost, "/incidents/bulk", form, nil)
	require.Equal(t, http.StatusOK, ans.code, ans.body)
	require.Contains(t, ans.body, `<p id="bulk-summary">2 of 4 incidents done.</p>`)
	require.Contains(t, ans.body, `href="/incidents?open=true"`, "the way back keeps the filter")
	require.Regexp(t, `data-id="`+strconv.FormatInt(c, 10)+`"><td>.*</td><td><span class="error">The incident&#39;s state does not allow this action`, ans.body)
	require.Regexp(t, `data-id="`+strconv.FormatInt(g, 10)+`"><td>.*</td><td><span class="error">Not Found`, ans.body, "another tenant's incident")
	for _, id := range []int64{a, b} {
		in, err := d.st.Incident(t.Context(), "acme", id)
		require.NoError(t, err)
		require.Equal(t, incident.StateInProgress, in.State)
		require.Equal(t, "acme", in.Assignee)
	}

	form = url.Values{"csrf": {csrf}, "action": {"assign"}, "ids": ids(a, b), "assignee": {"hanako"}, "assignment_group": {"dba"}}
	require.Contains(t, d.do(cookie, http.MethodPost, "/incidents/bulk", form, nil).body, "2 of 2 incidents done.")
	form = url.Values{"csrf": {csrf}, "action": {"resolve"}, "ids": ids(a, b), "close_code": {"solved_workaround"}, "text": {"restarted"}}
	require.Contains(t, d.do(cookie, http.MethodPost, "/incidents/bulk", form, nil).body, "2 of 2 incidents done.")
	for _, id := range []int64{a, b} {
		in, err := d.st.Incident(t.Context(), "acme", id)
		require.NoError(t, err)
		require.Equal(t, incident.StateResolved, in.State)
		require.Equal(t, "hanako", in.Assignee)
		require.Equal(t, "dba", in.AssignmentGroup)
		require.Equal(t, "restarted", in.CloseNotes)
	}

	// Refused: a missing resolution note (per incident), no selection, another action, no CSRF.
	d2 := d.ingest("acme", "d", now, map[string]string{"alertname": "D"}, nil)
	form = url.Values{"csrf": {csrf}, "action": {"resolve"}, "ids": ids(d2), "close_code": {"solved_workaround"}}
	require.Contains(t, d.do(cookie, http.MethodPost, "/incidents/bulk", form, nil).body, "Invalid input (")
	require.Equal(t, http.StatusBadRequest, d.do(cookie, http.MethodPost, "/incidents/bulk", url.Values{"csrf": {csrf}, "action": {"resolve"}}, nil).code)
	require.Equal(t, http.StatusBadRequest, d.do(cookie, http.MethodPost, "/incidents/bulk", url.Values{"csrf": {csrf}, "action": {"cancel"}, "ids": ids(d2), "text": {"x"}}, nil).code)
	noCSRF := d.do(cookie, http.MethodPost, "/incidents/bulk", url.Values{"action": {"acknowledge"}, "ids": ids(d2)}, nil)
	require.Equal(t, http.StatusForbidden, noCSRF.code)
	crossSite := d.do(cookie, http.MethodPost, "/incidents/bulk", url.Values{"csrf": {csrf}, "action": {"acknowledge"}, "ids": ids(d2)},
		map[string]string{"Origin": "http://evil.example"})
	require.Equal(t, http.StatusForbidden, crossSite.code)
	in, err := d.st.Incident(t.Context(), "acme", d2)
	require.NoError(t, err)
	require.Equal(t, incident.StateNew, in.State, "nothing refused changed the incident")
}
