package report_test

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kizashi-dev/kizashi/webhook/incident"
	"github.com/kizashi-dev/kizashi/webhook/report"
	"github.com/kizashi-dev/kizashi/webhook/store"
	"github.com/kizashi-dev/kizashi/webhook/store/sqlite"
)

// benchStore holds a month of n incidents of one tenant (over 50 services and 200 keys, a
// quarter acknowledged late), each with two journal lines, in SQLite.
func benchStore(b *testing.B, n int) store.Store {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "k.db"), sqlite.Options{})
	require.NoError(b, err)
	b.Cleanup(func() { require.NoError(b, st.Close()) })
	from := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	step := 30 * 24 * time.Hour / time.Duration(n)
	for start := 0; start < n; start += 500 {
		require.NoError(b, st.Update(ctx, func(ctx context.Context, tx store.Tx) error {
			for i := start; i < min(start+500, n); i++ {
				at := from.Add(time.Duration(i) * step)
				in := &incident.Incident{Tenant: "acme", CorrelationKey: fmt.Sprintf("key-%d", i%200), Title: fmt.Sprintf("alert %d", i%200),
					State: incident.StateClosed, Priority: 1 + i%5, Impact: 2, Urgency: 2, CI: fmt.Sprintf("svc-%d", i%50), Category: "monitoring",
					Labels: map[string]string{}, CreatedAt: at, UpdatedAt: at, AcknowledgedAt: at.Add(time.Duration(i%4) * 10 * time.Minute),
					ResolvedAt: at.Add(time.Hour), ClosedAt: at.Add(2 * time.Hour), ResponseDue: at.Add(15 * time.Minute), ResolveDue: at.Add(4 * time.Hour)}
				if err := tx.CreateIncident(ctx, in); err != nil {
					return err
				}
				if err := tx.AppendJournal(ctx, []incident.Entry{
					{Tenant: "acme", IncidentID: in.ID, At: at, Actor: "alertmanager", Kind: incident.KindCreated, Message: "created"},
					{Tenant: "acme", IncidentID: in.ID, At: at.Add(time.Hour), Actor: "alice", Kind: incident.KindState, Message: "=resolved"},
				}); err != nil {
					return err
				}
			}
			return nil
		}))
	}
	return st
}

// BenchmarkCompute: the month's report of 10,000 incidents.
func BenchmarkCompute(b *testing.B) {
	st := benchStore(b, 10000)
	from, to := report.Month(2026, time.November, time.UTC)
	b.ReportAllocs()
	for b.Loop() {
		r, err := report.Compute(context.Background(), st, st.(store.Problems), report.Options{Tenant: "acme", From: from, To: to})
		require.NoError(b, err)
		require.Equal(b, 10000, r.Incidents)
	}
}

// BenchmarkExportJournalCSV: the month's journal (20,000 lines) as CSV.
func BenchmarkExportJournalCSV(b *testing.B) {
	st := benchStore(b, 10000)
	from, to := report.Month(2026, time.November, time.UTC)
	b.ReportAllocs()
	for b.Loop() {
		e := &report.Export{Store: st, Problems: st.(store.Problems), Tenant: "acme", From: from, To: to}
		require.NoError(b, e.Journal(context.Background(), io.Discard, report.FormatCSV))
	}
}
