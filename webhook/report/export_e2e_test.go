//go:build e2e

package report_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kizashi-dev/kizashi/webhook/apitypes"
	"github.com/kizashi-dev/kizashi/webhook/report"
	"github.com/kizashi-dev/kizashi/webhook/store"
)

func TestExport(t *testing.T) {
	for name, open := range stores() {
		t.Run(name, func(t *testing.T) {
			st := open(t)
			m := script(t, st)
			// A title a spreadsheet would run.
			m.at(time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC))
			m.send("acme", "=HYPERLINK(\"http://x\")", "firing", "shop", "-2+3", 3, 3)
			ctx := context.Background()
			from, to := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC)
			want, err := st.ListIncidents(ctx, store.Filter{Tenant: "acme", ActiveFrom: from, ActiveTo: to, Limit: 500})
			require.NoError(t, err)
			require.Len(t, want, 9, "H A B C D E F G and the formula")

			flushes := 0
			e := &report.Export{Store: st, Problems: st.(store.Problems), Tenant: "acme", From: from, To: to, Now: m.clock.Now(),
				PageSize: 2, Flush: func() { flushes++ }}

			var b bytes.Buffer
			require.NoError(t, e.Incidents(ctx, &b, report.FormatCSV))
			require.GreaterOrEqual(t, flushes, 5, "written a page of 2 at a time")
			rows, err := csv.NewReader(&b).ReadAll()
			require.NoError(t, err)
			require.Equal(t, "id", rows[0][0])
			require.Len(t, rows, 1+len(want))
			for i, row := range rows[1:] {
				require.Equal(t, "acme", row[1])
				require.Equal(t, want[i].Title, strings.TrimPrefix(row[2], "'"))
				for _, c := range row {
					require.False(t, c != "" && strings.ContainsRune("=+-@\t\r", rune(c[0])), "no cell starts a formula: %q", c)
				}
			}
			require.Equal(t, `'=HYPERLINK("http://x")`, rows[1][2], "newest first; the formula is defused")
			require.Equal(t, "'-2+3", rows[1][7])

			b.Reset()
			require.NoError(t, e.Incidents(ctx, &b, report.FormatJSON))
			var ins []apitypes.Incident
			require.NoError(t, json.Unmarshal(b.Bytes(), &ins), b.String())
			require.Len(t, ins, len(want))
			require.Equal(t, `=HYPERLINK("http://x")`, ins[0].Title, "JSON keeps the data as it is")

			// The journal of November only: acme's lines, in order, none of globex.
			e.To = time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
			b.Reset()
			require.NoError(t, e.Journal(ctx, &b, report.FormatCSV))
			rows, err = csv.NewReader(&b).ReadAll()
			require.NoError(t, err)
			require.Greater(t, len(rows), 10)
			kinds := map[string]int{}
			for _, row := range rows[1:] {
				require.Equal(t, "acme", row[2])
				at, err := time.Parse(time.RFC3339Nano, row[3])
				require.NoError(t, err)
				require.False(t, at.Before(from) || !at.Before(e.To), "%s in range", at)
				kinds[row[5]]++
			}
			require.Equal(t, 1, kinds[store.KindMajorDeclared])
			require.Equal(t, 1, kinds[store.KindCustomerUpdate])
			b.Reset()
			require.NoError(t, e.Journal(ctx, &b, report.FormatJSON))
			var lines []apitypes.JournalLine
			require.NoError(t, json.Unmarshal(b.Bytes(), &lines))
			require.Len(t, lines, len(rows)-1)

			require.Error(t, e.Journal(ctx, &b, "xml"))

			// An empty range is a header, or an empty array.
			e.From, e.To = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2020, 2, 1, 0, 0, 0, 0, time.UTC)
			b.Reset()
			require.NoError(t, e.Journal(ctx, &b, report.FormatJSON))
			require.JSONEq(t, `[]`, b.String())
		})
	}
}

func FuzzSafeCell(f *testing.F) {
	for _, s := range []string{"", "=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx", "＝1", "plain", "'=x", "日本語"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		safe := report.SafeCell(s)
		require.True(t, safe == s || safe == "'"+s, "only an apostrophe is ever added")
		if safe != "" {
			require.NotContains(t, "=+-@\t\r\n", safe[:1])
		}
		for _, p := range []string{"＝", "＋", "－", "＠"} {
			require.False(t, strings.HasPrefix(safe, p))
		}
		// A CSV round trip gives the cell back.
		var b bytes.Buffer
		w := csv.NewWriter(&b)
		require.NoError(t, w.Write([]string{safe, "x"}))
		w.Flush()
		got, err := csv.NewReader(&b).Read()
		if err == nil && strings.ContainsAny(safe, "\r") {
			return // encoding/csv turns \r\n into \n inside quoted fields
		}
		require.NoError(t, err)
		require.Equal(t, []string{safe, "x"}, got)
	})
}

// TestHTMLEscapes renders labels, titles and keys an attacker controls (they come from alerts)
// in tables and charts: none of them becomes markup.
func TestHTMLEscapes(t *testing.T) {
	evil := `<script>alert(1)</script>"'&`
	from := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	r := &report.Report{Tenant: evil, From: from, To: from.AddDate(0, 1, 0), OutagePriority: 2,
		SLA:          []report.SLARow{{Priority: 1, Incidents: 1, ResponseMet: 1}},
		ByPriority:   []report.Count{{Label: "P1", N: 1}},
		ByService:    []report.Count{{Label: evil, N: 1}},
		ByCategory:   []report.Count{{Label: evil, N: 1}},
		Daily:        []report.Count{{Label: "2026-11-01", N: 1}},
		TopKeys:      []report.KeyCount{{Key: evil, Title: evil, N: 2}},
		Problems:     []report.ProblemRow{{ID: 1, Title: evil}},
		Majors:       []report.MajorRow{{IncidentID: 1, Title: evil, Coordinator: evil}},
		Availability: []report.Availability{{Service: evil, Ratio: 0.5}},
	}
	for _, lang := range report.Languages {
		var b bytes.Buffer
		require.NoError(t, report.HTML(&b, r, lang, from))
		require.NotContains(t, b.String(), "<script")
		require.Contains(t, b.String(), "&lt;script&gt;")
	}
}
