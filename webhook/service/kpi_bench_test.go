package service_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/kizashi-dev/kizashi/webhook/incident"
	"github.com/kizashi-dev/kizashi/webhook/service"
	"github.com/kizashi-dev/kizashi/webhook/store"
	"github.com/kizashi-dev/kizashi/webhook/store/sqlite"
)

// BenchmarkKPICollector is the cost of one scrape of the KPI metrics over a SQLite store of
// 10,000 incidents (every incident is read: the KPIs are computed from the store).
func BenchmarkKPICollector(b *testing.B) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "k.db"), sqlite.Options{})
	require.NoError(b, err)
	b.Cleanup(func() { _ = st.Close() })
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for batch := range 10 {
		require.NoError(b, st.Update(ctx, func(ctx context.Context, tx store.Tx) error {
			for i := range 1000 {
				n := batch*1000 + i
				in := &incident.Incident{Tenant: fmt.Sprintf("t%d", n%20), CorrelationKey: fmt.Sprintf("k%d", n), Title: "x",
					State: incident.StateResolved, Priority: 1 + n%5, Impact: 2, Urgency: 2, Labels: map[string]string{"alertname": "X"},
					CreatedAt: t0.Add(time.Duration(n) * time.Minute), AcknowledgedAt: t0.Add(time.Duration(n)*time.Minute + 5*time.Minute),
					ResolvedAt: t0.Add(time.Duration(n)*time.Minute + time.Hour), ResponseDue: t0.Add(time.Duration(n)*time.Minute + 30*time.Minute),
					ResolveDue: t0.Add(time.Duration(n)*time.Minute + 8*time.Hour)}
				if err := tx.CreateIncident(ctx, in); err != nil {
					return err
				}
			}
			return nil
		}))
	}
	c := service.NewKPICollector(st)
	b.ReportAllocs()
	for b.Loop() {
		ch := make(chan prometheus.Metric, 1024)
		go func() { c.Collect(ch); close(ch) }()
		n := 0
		for range ch {
			n++
		}
		require.Equal(b, 20*10, n) // 20 tenant-priority groups (a tenant has one priority here), 10 series each
	}
}
