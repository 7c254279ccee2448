package forward_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/kizashi-dev/kizashi/internal/testenv"
	"github.com/kizashi-dev/kizashi/webhook/alertmsg"
	"github.com/kizashi-dev/kizashi/webhook/config"
	"github.com/kizashi-dev/kizashi/webhook/forward"
	"github.com/kizashi-dev/kizashi/webhook/incident"
	"github.com/kizashi-dev/kizashi/webhook/service"
	"github.com/kizashi-dev/kizashi/webhook/store"
	"github.com/kizashi-dev/kizashi/webhook/store/postgres"
	"github.com/kizashi-dev/kizashi/webhook/store/sqlite"
	"github.com/kizashi-dev/kizashi/webhook/testkit"
)

func TestMain(m *testing.M) { testenv.Main(m) }

const tenant = "acme"

// fastForwarding are test timers: short polls, backoffs and breaker. The request timeout is
// long: on a loaded machine a local request may take seconds, and a timeout would change what
// the tests count (a test of timeouts sets its own).
const fastForwarding = `forwarding:
  poll_interval: 50ms
  timeout: 20s
  min_backoff: 100ms
  max_backoff: 1s
  max_attempts: 4
  circuit_breaker: {failures: 3, open_for: 200ms, max_open_for: 1s}
  external_url: https://kizashi.example
`

type harness struct {
	t   *testing.T
	st  store.Store
	fw  store.Forwarding
	svc *service.Service
	cfg atomic.Pointer[config.Config]
	reg *prometheus.Registry
	m   *forward.Metrics
}

func openSQLite(t *testing.T) store.Store {
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "k.db"), sqlite.Options{Synchronous: "OFF"})
	require.NoError(t, err)
	return st
}

func openPostgres(t *testing.T) func(t *testing.T) store.Store {
	dsn := testenv.PostgresDSN(t)
	return func(t *testing.T) store.Store {
		st, err := postgres.Open(context.Background(), dsn, postgres.Options{})
		require.NoError(t, err)
		return st
	}
}

// newHarness opens a store and a service for tenant acme with forwarders
// (YAML list items under "forwarders:") and extra forwarding settings.
func newHarness(t *testing.T, st store.Store, forwarders string, extra string) *harness {
	t.Helper()
	h := &harness{t: t, st: st, reg: prometheus.NewRegistry()}
	t.Cleanup(func() { require.NoError(t, st.Close()) })
	h.fw = st.(store.Forwarding)
	h.setConfig(forwarders, extra)
	h.svc = &service.Service{Store: st, Rules: func() service.Rules { return h.cfg.Load() }}
	h.m = forward.NewMetrics(h.reg)
	return h
}

func (h *harness) setConfig(forwarders, extra string) {
	h.t.Helper()
	// extra holds more forwarding settings (replacing the fast ones).
	var ff []string
	for _, l := range strings.Split(fastForwarding, "\n") {
		k, _, _ := strings.Cut(strings.TrimSpace(l), ":")
		if k == "" || !strings.Contains(extra, k+":") {
			ff = append(ff, l)
		}
	}
	if extra != "" {
		ff = append(ff, indent(extra, "  "))
	}
	y := strings.Join(ff, "\n") + `
tenants:
  - name: acme
    tokens: ["acme-token-0123456789abcdef"]
    forwarders:
` + indent(forwarders, "      ") + `
  - name: globex
    tokens: ["globex-token-0123456789abcdef"]
`
	dir := h.t.TempDir()
	require.NoError(h.t, os.WriteFile(filepath.Join(dir, "hook.secret"), []byte("0123456789abcdef-secret\n"), 0o600))
	c, err := config.Parse([]byte(y), dir)
	require.NoError(h.t, err, y)
	h.cfg.Store(c)
}

func indent(s, p string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = p + l
	}
	return strings.Join(lines, "\n")
}

// forwarder starts a forwarder (a replica) until the test ends.
func (h *harness) forwarder(owner string) *forward.Forwarder {
	h.t.Helper()
	f := forward.New(forward.Options{Store: h.fw, Reads: h.st, Config: h.cfg.Load, Metrics: h.m, Owner: owner,
		Logger: slog.New(slog.NewTextHandler(testWriter{h.t}, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()
	h.t.Cleanup(func() {
		cancel()
		require.NoError(h.t, <-done)
	})
	return f
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// fire opens (or updates) the incident of alert group n.
func (h *harness) fire(n int, instances ...string) int64 {
	h.t.Helper()
	return h.notify(n, "firing", instances...)
}

func (h *harness) resolve(n int, instances ...string) int64 {
	h.t.Helper()
	return h.notify(n, "resolved", instances...)
}

func (h *harness) notify(n int, status string, instances ...string) int64 {
	h.t.Helper()
	if len(instances) == 0 {
		instances = []string{"a"}
	}
	var alerts []map[string]string
	for _, in := range instances {
		alerts = append(alerts, map[string]string{"alertname": fmt.Sprintf("Alert%d", n), "instance": in, "severity": "critical", "team": "ops"})
	}
	body := testkit.Payload("acme-ops", fmt.Sprintf(`{}:{alertname="Alert%d"}`, n), status, time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), alerts...)
	m, err := alertmsg.Parse(body)
	require.NoError(h.t, err)
	res, err := h.svc.Ingest(context.Background(), tenant, m, body)
	require.NoError(h.t, err)
	if len(res.Incidents) == 0 {
		return 0
	}
	return res.Incidents[0]
}

func (h *harness) act(id int64, a incident.Action) {
	h.t.Helper()
	_, err := h.svc.Act(context.Background(), service.Caller{Name: "bob", Tenant: tenant}, id, a)
	require.NoError(h.t, err)
}

func (h *harness) journal(id int64) []incident.Entry {
	h.t.Helper()
	j, err := h.st.Journal(context.Background(), id)
	require.NoError(h.t, err)
	return j
}

// settled reports whether every change was delivered (or dead).
func (h *harness) settled() bool {
	stats, err := h.fw.ForwardStats(context.Background())
	require.NoError(h.t, err)
	for _, s := range stats {
		if s.Pending > 0 {
			return false
		}
	}
	return true
}

func (h *harness) waitSettled(timeout time.Duration) {
	h.t.Helper()
	require.Eventually(h.t, h.settled, timeout, 20*time.Millisecond, "every change delivered")
}

// deadLetter returns the dead job of an incident (zero if none).
func (h *harness) deadLetter(target string, incidentID int64) store.ForwardJob {
	h.t.Helper()
	dead, err := h.fw.DeadLetters(context.Background(), store.DeadLetterFilter{Target: target})
	require.NoError(h.t, err)
	for _, d := range dead {
		if d.IncidentID == incidentID {
			return d
		}
	}
	return store.ForwardJob{}
}

func (h *harness) counter(name string, labels ...string) float64 {
	h.t.Helper()
	mfs, err := h.reg.Gather()
	require.NoError(h.t, err)
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metrics:
		for _, m := range mf.GetMetric() {
			for i := 0; i+1 < len(labels); i += 2 {
				found := false
				for _, lp := range m.GetLabel() {
					if lp.GetName() == labels[i] && lp.GetValue() == labels[i+1] {
						found = true
					}
				}
				if !found {
					continue metrics
				}
			}
			if m.GetCounter() != nil {
				return m.GetCounter().GetValue()
			}
			return m.GetGauge().GetValue()
		}
	}
	return 0
}

// journalIDsIn returns the journal ids held by the notes (by their
// markers), counting repeats.
func journalIDsIn(t *testing.T, journal []incident.Entry, notes []string) map[int64]int {
	t.Helper()
	seen := map[int64]int{}
	for _, n := range notes {
		var cid string
		var first, last int64
		line := strings.SplitN(n, "\n", 2)[0]
		_, err := fmt.Sscanf(line, "[kizashi %s journal %d-%d]", &cid, &first, &last)
		require.NoError(t, err, "note starts with its marker: %q", line)
		for _, e := range journal {
			if e.ID >= first && e.ID <= last {
				seen[e.ID]++
				require.Contains(t, n, e.Message)
			}
		}
	}
	return seen
}

// exactlyOnce checks that every journal line is in the notes once.
func exactlyOnce(t *testing.T, journal []incident.Entry, notes []string) {
	t.Helper()
	seen := journalIDsIn(t, journal, notes)
	for _, e := range journal {
		require.Equal(t, 1, seen[e.ID], "journal line %d (%s) delivered once", e.ID, e.Message)
	}
}
