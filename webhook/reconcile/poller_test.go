package reconcile_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/kizashi-dev/kizashi/webhook/alertmsg"
	"github.com/kizashi-dev/kizashi/webhook/config"
	"github.com/kizashi-dev/kizashi/webhook/incident"
	"github.com/kizashi-dev/kizashi/webhook/reconcile"
	"github.com/kizashi-dev/kizashi/webhook/service"
	"github.com/kizashi-dev/kizashi/webhook/store"
	"github.com/kizashi-dev/kizashi/webhook/store/sqlite"
	"github.com/kizashi-dev/kizashi/webhook/testkit"
)

// fakeAM answers GET /api/v2/alerts and GET /api/v2/status as
// Alertmanager does.
type fakeAM struct {
	mu      sync.Mutex
	alerts  []map[string]any
	started time.Time
}

func (f *fakeAM) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	switch r.URL.Path {
	case "/api/v2/alerts":
		_ = json.NewEncoder(w).Encode(f.alerts)
	case "/api/v2/status":
		_ = json.NewEncoder(w).Encode(map[string]any{"uptime": f.started.Format(time.RFC3339Nano),
			"cluster": map[string]any{"status": "disabled"}, "config": map[string]any{"original": ""},
			"versionInfo": map[string]string{"version": "0.25.0"}})
	default:
		http.NotFound(w, r)
	}
}

type env struct {
	st    store.Store
	svc   *service.Service
	rec   *reconcile.Reconciler
	reg   *prometheus.Registry
	clock *testkit.Clock
}

func newEnv(t *testing.T, amURL, grace string) *env {
	cfg, err := config.Parse([]byte(fmt.Sprintf(`policy: {auto_resolve: resolve_if_untouched}
tenants:
  - name: acme
    tokens: ["acme-token-0123456789abcdef"]
    alertmanager: {url: %q, staleness: 1h, startup_grace: %s}
    watchdog: {timeout: 10m}
`, amURL, grace)), ".")
	require.NoError(t, err)
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "k.db"), sqlite.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, st.Close()) })
	clock := testkit.NewClock(time.Now().UTC())
	svc := &service.Service{Store: st, Rules: func() service.Rules { return cfg }, Now: clock.Now}
	reg := prometheus.NewRegistry()
	rec := reconcile.New(reconcile.Options{Service: svc, Store: st, Config: func() *config.Config { return cfg },
		Metrics: reconcile.NewMetrics(reg), Now: clock.Now})
	return &env{st: st, svc: svc, rec: rec, reg: reg, clock: clock}
}

func (e *env) fire(t *testing.T) int64 {
	body := testkit.Payload("ops", `{}:{alertname="X"}`, "firing", e.clock.Now(), map[string]string{"alertname": "X", "instance": "a"})
	m, err := alertmsg.Parse(body)
	require.NoError(t, err)
	res, err := e.svc.Ingest(context.Background(), "acme", m, body)
	require.NoError(t, err)
	return res.Incidents[0]
}

func (e *env) state(t *testing.T, id int64) incident.State {
	in, err := e.st.Incident(context.Background(), "", id)
	require.NoError(t, err)
	return in.State
}

func TestAlertmanagerUnreachable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	e := newEnv(t, url, "0s")
	id := e.fire(t)
	e.clock.Advance(2 * time.Hour)
	require.Error(t, e.rec.RunOnce(context.Background()))
	require.Equal(t, incident.StateNew, e.state(t, id), "nothing changes without Alertmanager's view")
	require.Equal(t, 1.0, counter(t, e.reg, "kizashi_webhook_reconcile_errors_total"))
}

func TestStartupGrace(t *testing.T) {
	am := &fakeAM{}
	srv := httptest.NewServer(am)
	t.Cleanup(srv.Close)
	e := newEnv(t, srv.URL, "10m")
	id := e.fire(t)
	e.clock.Advance(2 * time.Hour)
	am.started = e.clock.Now().Add(-time.Minute)
	require.NoError(t, e.rec.RunOnce(context.Background()))
	require.Equal(t, incident.StateNew, e.state(t, id), "Alertmanager just started: absence proves nothing")

	am.mu.Lock()
	am.started = e.clock.Now().Add(-time.Hour)
	am.mu.Unlock()
	require.NoError(t, e.rec.RunOnce(context.Background()))
	require.Equal(t, incident.StateResolved, e.state(t, id))
}

// A silence pauses the SLA at the next pass, however recently Alertmanager
// notified; an alert missing from Alertmanager is not taken for gone then (its
// resolve may be in flight).
func TestFreshIncidentHeldBySilenceNotResolvedWhenGone(t *testing.T) {
	am := &fakeAM{}
	srv := httptest.NewServer(am)
	t.Cleanup(srv.Close)
	e := newEnv(t, srv.URL, "0s")
	ctx := context.Background()
	id := e.fire(t)
	am.mu.Lock()
	am.started = e.clock.Now().Add(-time.Hour)
	am.mu.Unlock()
	e.clock.Advance(time.Minute) // staleness is 1h
	require.NoError(t, e.rec.RunOnce(ctx))
	require.Equal(t, incident.StateNew, e.state(t, id), "gone from Alertmanager, but notified a minute ago")

	in, err := e.st.Incident(ctx, "", id)
	require.NoError(t, err)
	alerts, err := e.st.Alerts(ctx, id)
	require.NoError(t, err)
	am.mu.Lock()
	am.alerts = []map[string]any{amAlert(alerts[0].Fingerprint, "suppressed", []string{"maint-1"})}
	am.mu.Unlock()
	require.NoError(t, e.rec.RunOnce(ctx))
	require.Equal(t, incident.StateOnHold, e.state(t, id), "the silence pauses the SLA at once")
	held, err := e.st.Incident(ctx, "", id)
	require.NoError(t, err)
	require.Equal(t, "awaiting_change", held.HoldReason)
	require.True(t, held.SLAPaused())
	require.Equal(t, in.ResponseDue, held.ResponseDue)

	// The resolve comes while it is held by the silence: resolved (it was no person's hold).
	e.clock.Advance(time.Minute)
	body := testkit.Payload("ops", `{}:{alertname="X"}`, "resolved", alerts[0].StartsAt, map[string]string{"alertname": "X", "instance": "a"})
	m, err := alertmsg.Parse(body)
	require.NoError(t, err)
	_, err = e.svc.Ingest(ctx, "acme", m, body)
	require.NoError(t, err)
	require.Equal(t, incident.StateResolved, e.state(t, id))
}

func amAlert(fp, state string, silencedBy []string) map[string]any {
	now := time.Now().UTC().Format(time.RFC3339Nano)
	return map[string]any{"fingerprint": fp, "labels": map[string]string{"alertname": "X", "instance": "a"},
		"annotations": map[string]string{}, "startsAt": now, "endsAt": now, "updatedAt": now,
		"receivers": []map[string]string{{"name": "ops"}},
		"status":    map[string]any{"state": state, "silencedBy": silencedBy, "inhibitedBy": []string{}}}
}

func TestWatchdog(t *testing.T) {
	e := newEnv(t, "http://127.0.0.1:1", "0s")
	ctx := context.Background()
	require.NoError(t, e.rec.RunOnce(ctx), "armed now")
	e.clock.Advance(11 * time.Minute)
	require.NoError(t, e.rec.RunOnce(ctx))
	ins, err := e.st.ListIncidents(ctx, store.Filter{Tenant: "acme"})
	require.NoError(t, err)
	require.Len(t, ins, 1)
	require.Equal(t, "watchdog:acme", ins[0].CorrelationKey)
	require.Equal(t, 1, ins[0].Priority)
	require.NoError(t, e.rec.RunOnce(ctx), "one incident while down")
	ins, err = e.st.ListIncidents(ctx, store.Filter{Tenant: "acme"})
	require.NoError(t, err)
	require.Len(t, ins, 1)

	require.NoError(t, e.st.(store.Reconciling).RecordHeartbeat(ctx, "acme", e.clock.Now()))
	require.NoError(t, e.rec.RunOnce(ctx))
	require.Equal(t, incident.StateResolved, e.state(t, ins[0].ID))
	e.clock.Advance(11 * time.Minute)
	require.NoError(t, e.rec.RunOnce(ctx))
	require.Equal(t, incident.StateInProgress, e.state(t, ins[0].ID), "reopened when it stops again")
	j, err := e.st.Journal(ctx, ins[0].ID)
	require.NoError(t, err)
	require.Equal(t, "resolved -> in_progress (no watchdog heartbeat for 10m0s again)", j[len(j)-1].Message)
}

func counter(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	return 0
}
