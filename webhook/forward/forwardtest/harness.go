package forwardtest

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

	"github.com/kizashi-dev/kizashi/webhook/alertmsg"
	"github.com/kizashi-dev/kizashi/webhook/config"
	"github.com/kizashi-dev/kizashi/webhook/forward"
	"github.com/kizashi-dev/kizashi/webhook/forward/integrations"
	"github.com/kizashi-dev/kizashi/webhook/incident"
	"github.com/kizashi-dev/kizashi/webhook/service"
	"github.com/kizashi-dev/kizashi/webhook/store"
	"github.com/kizashi-dev/kizashi/webhook/store/sqlite"
	"github.com/kizashi-dev/kizashi/webhook/testkit"
)

// Tenant is the tenant whose forwarders a Harness runs (tenant globex has none).
const Tenant = "acme"

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

// HookSecret is the signing secret of HookConfig's forwarder (read from a file).
const HookSecret = "0123456789abcdef-secret"

// ServiceNowConfig is a forwarder "snow" of the ServiceNow fake at url (user kizashi, password pw).
func ServiceNowConfig(url string) string {
	return fmt.Sprintf(`- name: snow
  type: servicenow
  url: %s
  http_config: {basic_auth: {username: kizashi, password: pw}}
  servicenow: {caller_id: kizashi.integration}
`, url)
}

// JiraConfig is a forwarder "jira" of the Jira fake at url.
func JiraConfig(url, deployment string) string {
	return fmt.Sprintf(`- name: jira
  type: jira
  url: %s
  jira: {project: OPS, deployment: %s, priorities: {P2: High}, statuses: {on_hold: Waiting}}
`, url, deployment)
}

// PagerDutyRoutingKey is the routing key of PagerDutyConfig's forwarder.
const PagerDutyRoutingKey = "R0123456789abcdef0123456789abcdef"

// PagerDutyConfig is a forwarder "pd" of the PagerDuty fake at url.
func PagerDutyConfig(url string) string {
	return fmt.Sprintf(`- name: pd
  type: pagerduty
  url: %s
  pagerduty: {routing_key: %s}
`, url, PagerDutyRoutingKey)
}

// HookConfig is a forwarder "hook" of the webhook receiver at url, its secret in a file.
func HookConfig(url string) string {
	return fmt.Sprintf(`- name: hook
  type: webhook
  url: %s/kizashi
  webhook: {secret_file: hook.secret}
`, url)
}

// Harness is a store and a service for tenant acme, and the forwarders of its configuration.
type Harness struct {
	T       *testing.T
	Store   store.Store
	Fwd     store.Forwarding
	Service *service.Service
	Config  atomic.Pointer[config.Config]
	// Dir is the configuration's directory (it holds hook.secret).
	Dir      string
	Registry *prometheus.Registry
	Metrics  *forward.Metrics
}

// OpenSQLite opens a fresh SQLite store.
func OpenSQLite(t *testing.T) store.Store {
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "k.db"), sqlite.Options{Synchronous: "OFF"})
	require.NoError(t, err)
	return st
}

// NewHarness runs tenant acme on st (closed when the test ends) with forwarders (YAML list items
// under "forwarders:", see ServiceNowConfig...) and extra forwarding settings.
func NewHarness(t *testing.T, st store.Store, forwarders string, extra string) *Harness {
	t.Helper()
	h := &Harness{T: t, Store: st, Registry: prometheus.NewRegistry(), Dir: t.TempDir()}
	t.Cleanup(func() { require.NoError(t, st.Close()) })
	h.Fwd = st.(store.Forwarding)
	require.NoError(t, os.WriteFile(filepath.Join(h.Dir, "hook.secret"), []byte(HookSecret+"\n"), 0o600))
	h.SetConfig(forwarders, extra)
	h.Service = &service.Service{Store: st, Rules: func() service.Rules { return h.Config.Load() }}
	h.Metrics = forward.NewMetrics(h.Registry)
	return h
}

// SetConfig loads a new configuration (a reload).
func (h *Harness) SetConfig(forwarders, extra string) {
	h.T.Helper()
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
	c, err := config.Parse([]byte(y), h.Dir)
	require.NoError(h.T, err, y)
	h.Config.Store(c)
}

func indent(s, p string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = p + l
	}
	return strings.Join(lines, "\n")
}

// Forwarder starts a forwarder (a replica) with every integration until the test ends.
func (h *Harness) Forwarder(owner string) *forward.Forwarder {
	h.T.Helper()
	f := forward.New(forward.Options{Store: h.Fwd, Reads: h.Store, Config: h.Config.Load, Metrics: h.Metrics, Owner: owner,
		Build: integrations.Build, Logger: Logger(h.T)})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()
	h.T.Cleanup(func() {
		cancel()
		require.NoError(h.T, <-done)
	})
	return f
}

// Logger logs warnings and errors to the test's log.
func Logger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// Fire opens (or updates) the incident of alert group n.
func (h *Harness) Fire(n int, instances ...string) int64 {
	h.T.Helper()
	return h.Notify(n, "firing", instances...)
}

// Resolve resolves the alerts of group n.
func (h *Harness) Resolve(n int, instances ...string) int64 {
	h.T.Helper()
	return h.Notify(n, "resolved", instances...)
}

// Notify ingests a notification of alert group n for tenant acme; it returns its incident.
func (h *Harness) Notify(n int, status string, instances ...string) int64 {
	h.T.Helper()
	if len(instances) == 0 {
		instances = []string{"a"}
	}
	var alerts []map[string]string
	for _, in := range instances {
		alerts = append(alerts, map[string]string{"alertname": fmt.Sprintf("Alert%d", n), "instance": in, "severity": "critical", "team": "ops"})
	}
	body := testkit.Payload("acme-ops", fmt.Sprintf(`{}:{alertname="Alert%d"}`, n), status, time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), alerts...)
	m, err := alertmsg.Parse(body)
	require.NoError(h.T, err)
	res, err := h.Service.Ingest(context.Background(), Tenant, m, body)
	require.NoError(h.T, err)
	if len(res.Incidents) == 0 {
		return 0
	}
	return res.Incidents[0]
}

// Act runs a desk action as bob of tenant acme.
func (h *Harness) Act(id int64, a incident.Action) {
	h.T.Helper()
	_, err := h.Service.Act(context.Background(), service.Caller{Name: "bob", Tenant: Tenant}, id, a)
	require.NoError(h.T, err)
}

// Journal is an incident's journal.
func (h *Harness) Journal(id int64) []incident.Entry {
	h.T.Helper()
	j, err := h.Store.Journal(context.Background(), id)
	require.NoError(h.T, err)
	return j
}

// Settled reports whether every change was delivered (or dead).
func (h *Harness) Settled() bool {
	stats, err := h.Fwd.ForwardStats(context.Background())
	require.NoError(h.T, err)
	for _, s := range stats {
		if s.Pending > 0 {
			return false
		}
	}
	return true
}

// WaitSettled waits until every change was delivered (or dead).
func (h *Harness) WaitSettled(timeout time.Duration) {
	h.T.Helper()
	require.Eventually(h.T, h.Settled, timeout, 20*time.Millisecond, "every change delivered")
}

// Lifecycle runs an incident through create, acknowledge, note, hold, resume and resolve,
// waiting for delivery after each step.
func (h *Harness) Lifecycle() int64 {
	id := h.Fire(1)
	h.WaitSettled(time.Minute)
	h.Act(id, incident.Action{Kind: incident.ActAcknowledge})
	h.Act(id, incident.Action{Kind: incident.ActNote, Text: "looking at it"})
	h.WaitSettled(time.Minute)
	h.Act(id, incident.Action{Kind: incident.ActHold, Reason: "awaiting_vendor", Text: "disk ordered"})
	h.WaitSettled(time.Minute)
	h.Act(id, incident.Action{Kind: incident.ActResume})
	h.Act(id, incident.Action{Kind: incident.ActResolve, CloseCode: "solved_workaround", Text: "moved data"})
	h.WaitSettled(time.Minute)
	return id
}

// DeadLetter returns the dead job of an incident (zero if none).
func (h *Harness) DeadLetter(target string, incidentID int64) store.ForwardJob {
	h.T.Helper()
	dead, err := h.Fwd.DeadLetters(context.Background(), store.DeadLetterFilter{Target: target})
	require.NoError(h.T, err)
	for _, d := range dead {
		if d.IncidentID == incidentID {
			return d
		}
	}
	return store.ForwardJob{}
}

// Counter returns the value of the counter (or gauge) name with the given label pairs.
func (h *Harness) Counter(name string, labels ...string) float64 {
	h.T.Helper()
	mfs, err := h.Registry.Gather()
	require.NoError(h.T, err)
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

// JournalIDsIn returns the journal ids held by the notes (by their markers), counting repeats.
func JournalIDsIn(t *testing.T, journal []incident.Entry, notes []string) map[int64]int {
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

// ExactlyOnce checks that every journal line is in the notes once.
func ExactlyOnce(t *testing.T, journal []incident.Entry, notes []string) {
	t.Helper()
	seen := JournalIDsIn(t, journal, notes)
	for _, e := range journal {
		require.Equal(t, 1, seen[e.ID], "journal line %d (%s) delivered once", e.ID, e.Message)
	}
}
