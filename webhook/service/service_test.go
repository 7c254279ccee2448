package service_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/kizashi-dev/kizashi/webhook/alertmsg"
	"github.com/kizashi-dev/kizashi/webhook/config"
	"github.com/kizashi-dev/kizashi/webhook/incident"
	"github.com/kizashi-dev/kizashi/webhook/service"
	"github.com/kizashi-dev/kizashi/webhook/store"
	"github.com/kizashi-dev/kizashi/webhook/store/sqlite"
)

// retryingStore runs every transaction twice, as PostgreSQL's store does when a serializable
// transaction conflicts: the first run is rolled back, the second commits.
type retryingStore struct {
	store.Store
}

var errConflict = errors.New("could not serialize access")

func (r retryingStore) Update(ctx context.Context, fn func(context.Context, store.Tx) error) error {
	err := r.Store.Update(ctx, func(ctx context.Context, tx store.Tx) error {
		if err := fn(ctx, tx); err != nil {
			return err
		}
		return errConflict
	})
	if !errors.Is(err, errConflict) {
		return err
	}
	return r.Store.Update(ctx, fn)
}

func config1(t *testing.T, matrix string) *config.Config {
	t.Helper()
	c, err := config.Parse([]byte(`
storage: {driver: sqlite, path: unused.db}
policy:
  close_after: 1h
  priority:
    matrix: `+matrix+`
  sla:
    P3: {response: 10m, resolve: 2h}
tenants:
  - name: acme
    tokens: ["acme-secret-token-0123456789"]
`), t.TempDir())
	require.NoError(t, err)
	return c
}

const p3 = "[[3,3,3],[3,3,3],[3,3,3]]"

func newService(t *testing.T, rules *atomic.Pointer[config.Config], now *time.Time) (*service.Service, *service.Metrics) {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "k.db"), sqlite.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	m := service.NewMetrics(prometheus.NewRegistry())
	return &service.Service{
		Store:   retryingStore{st},
		Rules:   func() service.Rules { return rules.Load() },
		Metrics: m,
		Now:     func() time.Time { return *now },
	}, m
}

func TestSweepCountsEachIncidentOnceWhenTheStoreRetries(t *testing.T) {
	ctx := context.Background()
	var rules atomic.Pointer[config.Config]
	rules.Store(config1(t, p3))
	now := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	svc, m := newService(t, &rules, &now)

	msg, err := alertmsg.Parse([]byte(`{"version":"4","status":"firing","receiver":"acme","groupKey":"{}:{alertname=\"X\"}",
		"groupLabels":{"alertname":"X"},"commonLabels":{"alertname":"X"},"externalURL":"http://am",
		"alerts":[{"status":"firing","labels":{"alertname":"X"},"startsAt":"2026-11-24T11:59:00Z","fingerprint":"f1"}]}`))
	require.NoError(t, err)
	res, err := svc.Ingest(ctx, "acme", msg, []byte("raw"))
	require.NoError(t, err)
	require.Len(t, res.Incidents, 1)

	// Past the response target: one incident changes, one breach is recorded, even though
	// each transaction ran twice.
	now = now.Add(15 * time.Minute)
	n, err := svc.Sweep(ctx, time.Hour)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	require.Equal(t, 1.0, testutil.ToFloat64(m.SLABreaches.WithLabelValues("acme", "P3", incident.BreachResponse)))

	// Nothing left to do: nothing counted.
	n, err = svc.Sweep(ctx, time.Hour)
	require.NoError(t, err)
	require.Zero(t, n)
}

func TestWatchdogReopenCountsTheIncidentsPriority(t *testing.T) {
	ctx := context.Background()
	var rules atomic.Pointer[config.Config]
	rules.Store(config1(t, p3))
	now := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	svc, m := newService(t, &rules, &now)
	w := service.Watchdog{Tenant: "acme", Title: "Watchdog silent", Impact: 2, Urgency: 2, Timeout: 5 * time.Minute, Last: now.Add(-6 * time.Minute)}

	id, err := svc.WatchdogDown(ctx, w)
	require.NoError(t, err)
	require.NotZero(t, id)
	now = now.Add(time.Minute)
	up, err := svc.WatchdogUp(ctx, "acme", now)
	require.NoError(t, err)
	require.Equal(t, id, up)

	// The matrix changes (a reload); the reopened incident keeps its priority, and the
	// metric counts it at that priority.
	rules.Store(config1(t, strings.ReplaceAll(p3, "3", "4")))
	now = now.Add(time.Hour)
	again, err := svc.WatchdogDown(ctx, w)
	require.NoError(t, err)
	require.Equal(t, id, again)
	require.Equal(t, 2.0, testutil.ToFloat64(m.IncidentsOpened.WithLabelValues("acme", "P3")))
	require.Zero(t, testutil.ToFloat64(m.IncidentsOpened.WithLabelValues("acme", "P4")))
}

func TestKPICollectorReadsTheStore(t *testing.T) {
	ctx := context.Background()
	var rules atomic.Pointer[config.Config]
	rules.Store(config1(t, p3))
	now := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	svc, _ := newService(t, &rules, &now)
	msg, err := alertmsg.Parse([]byte(`{"version":"4","status":"firing","receiver":"acme","groupKey":"g",
		"alerts":[{"status":"firing","labels":{"alertname":"X"},"startsAt":"2026-11-24T11:59:00Z","fingerprint":"f1"}]}`))
	require.NoError(t, err)
	res, err := svc.Ingest(ctx, "acme", msg, nil)
	require.NoError(t, err)
	now = now.Add(2 * time.Minute)
	_, err = svc.Act(ctx, service.Caller{Name: "op", Operator: true}, res.Incidents[0], incident.Action{Kind: incident.ActAcknowledge})
	require.NoError(t, err)

	// A collector over the same store, as another replica or a restarted process has.
	c := service.NewKPICollector(svc.Store)
	require.NoError(t, testutil.CollectAndCompare(c, strings.NewReader(`
# HELP kizashi_webhook_kpi_time_to_acknowledge_seconds_sum Sum of the times from creation to the first response (acknowledgement, or the end of an incident nobody acknowledged).
# TYPE kizashi_webhook_kpi_time_to_acknowledge_seconds_sum gauge
kizashi_webhook_kpi_time_to_acknowledge_seconds_sum{priority="P3",tenant="acme"} 120
# HELP kizashi_webhook_kpi_unacknowledged_incidents Open incidents nobody acknowledged yet.
# TYPE kizashi_webhook_kpi_unacknowledged_incidents gauge
kizashi_webhook_kpi_unacknowledged_incidents{priority="P3",tenant="acme"} 0
`), "kizashi_webhook_kpi_time_to_acknowledge_seconds_sum", "kizashi_webhook_kpi_unacknowledged_incidents"))
}
