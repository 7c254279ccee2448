package forward_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kizashi-dev/kizashi/internal/testenv"
	"github.com/kizashi-dev/kizashi/webhook/alertmsg"
	"github.com/kizashi-dev/kizashi/webhook/forward"
	"github.com/kizashi-dev/kizashi/webhook/forward/forwardtest"
	"github.com/kizashi-dev/kizashi/webhook/incident"
	"github.com/kizashi-dev/kizashi/webhook/store"
	"github.com/kizashi-dev/kizashi/webhook/testkit"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func TestRateLimited(t *testing.T) {
	pd := forwardtest.NewPagerDuty(t)
	h := forwardtest.NewHarness(t, forwardtest.OpenSQLite(t), forwardtest.PagerDutyConfig(pd.URL()), "")
	pd.Fail(forwardtest.Fault{Op: forwardtest.PDEnqueue, Status: 429, RetryAfter: "2"})
	h.Forwarder("r1")
	start := time.Now()
	id := h.Fire(1)
	h.WaitSettled(time.Minute)
	require.GreaterOrEqual(t, time.Since(start), 2*time.Second, "Retry-After honoured")
	require.Equal(t, float64(1), h.Counter("kizashi_webhook_forward_failures_total", "target", "acme/pd", "reason", "rate_limited"))
	require.Len(t, pd.Events(), 1)
	require.Equal(t, "trigger", pd.Events()[0].Action)
	require.Zero(t, h.DeadLetter("acme/pd", id).ID)
	require.Zero(t, h.Counter("kizashi_webhook_forward_circuit_open", "target", "acme/pd"))
}

// TestRetryAfterCapped: a target that asks for a year's pause is paused for max_retry_after,
// and the pause shows in the metric and the forwarder's status.
func TestRetryAfterCapped(t *testing.T) {
	pd := forwardtest.NewPagerDuty(t)
	h := forwardtest.NewHarness(t, forwardtest.OpenSQLite(t), forwardtest.PagerDutyConfig(pd.URL()), "max_retry_after: 1s")
	pd.Fail(forwardtest.Fault{Op: forwardtest.PDEnqueue, Status: 429, RetryAfter: "31536000"})
	f := h.Forwarder("r1")
	start := time.Now()
	h.Fire(1)
	h.WaitSettled(time.Minute)
	require.Len(t, pd.Events(), 1, "delivered after the capped pause")
	until := h.Counter("kizashi_webhook_forward_paused_until_timestamp_seconds", "target", "acme/pd")
	require.GreaterOrEqual(t, until, float64(start.Unix()))
	require.LessOrEqual(t, until, float64(time.Now().Add(time.Second).Unix())+1, "paused for at most max_retry_after")
	st := f.Status()
	require.Len(t, st, 1)
	require.Equal(t, "acme/pd", st[0].Target)
	require.Equal(t, int64(until), st[0].PausedUntil.Unix())
	require.False(t, st[0].CircuitOpen)
}

func TestDeadLetters(t *testing.T) {
	sn := forwardtest.NewServiceNow(t)
	// The breaker stays closed: failures of one incident while the target
	// serves others count against it (a failed probe would not).
	h := forwardtest.NewHarness(t, forwardtest.OpenSQLite(t), forwardtest.ServiceNowConfig(sn.URL()), "circuit_breaker: {failures: 10}")
	// A rejected request is final: dead at once, with the reason.
	sn.Fail(forwardtest.Fault{Op: forwardtest.SNCreate, Status: 400})
	h.Forwarder("r1")
	id := h.Fire(1)
	require.Eventually(t, func() bool { return h.DeadLetter("acme/snow", id).ID != 0 }, time.Minute, 20*time.Millisecond)
	d := h.DeadLetter("acme/snow", id)
	require.Contains(t, d.LastError, "HTTP 400")
	require.Equal(t, 1, d.Attempts)
	require.Equal(t, float64(1), h.Counter("kizashi_webhook_forward_dead_letters_total", "target", "acme/snow"))

	// 500s until max_attempts (4), then dead.
	sn.Fail(forwardtest.Fault{Op: forwardtest.SNCreate, Status: 500, Times: 4})
	id2 := h.Fire(2)
	require.Eventually(t, func() bool { return h.DeadLetter("acme/snow", id2).ID != 0 }, time.Minute, 20*time.Millisecond)
	d2 := h.DeadLetter("acme/snow", id2)
	require.Equal(t, 4, d2.Attempts)
	require.Contains(t, d2.LastError, "dead after 4 attempts")

	// New changes do not revive a dead letter; a retry does. Once the note is dispatched into
	// the dead job (its gen moves), the job is still dead and nothing was sent.
	gen := h.DeadLetter("acme/snow", id).Gen
	h.Act(id, incident.Action{Kind: incident.ActNote, Text: "still broken?"})
	require.Eventually(t, func() bool { return h.DeadLetter("acme/snow", id).Gen > gen }, time.Minute, 20*time.Millisecond)
	require.NotZero(t, h.DeadLetter("acme/snow", id).ID, "still dead")
	require.Empty(t, sn.Records())
	n, err := h.Fwd.RetryDeadLetters(context.Background(), forwardtest.Tenant, "acme/snow", 0, time.Now())
	require.NoError(t, err)
	require.Equal(t, 2, n)
	h.WaitSettled(time.Minute)
	require.Len(t, sn.Records(), 2)
	forwardtest.ExactlyOnce(t, h.Journal(id), sn.ByCorrelation()[forward.CorrelationID("kizashi", forwardtest.Tenant, id)][0].WorkNotes)
}

// TestCircuitBreakerAndCoalescing: while the target is down only probes
// reach it; changes coalesce; once it is back every incident is delivered
// at once, in one create and one update each.
func TestCircuitBreakerAndCoalescing(t *testing.T) {
	sn := forwardtest.NewServiceNow(t)
	h := forwardtest.NewHarness(t, forwardtest.OpenSQLite(t), forwardtest.ServiceNowConfig(sn.URL()), "")
	sn.Stop() // connection refused
	h.Forwarder("r1")
	const n = 40
	ids := make([]int64, n)
	for i := range n {
		ids[i] = h.Fire(i)
	}
	require.Eventually(t, func() bool { return h.Counter("kizashi_webhook_forward_circuit_open", "target", "acme/snow") == 1 },
		time.Minute, 10*time.Millisecond)
	opened := time.Now()
	network := func() float64 {
		return h.Counter("kizashi_webhook_forward_failures_total", "target", "acme/snow", "reason", "network")
	}
	atOpen := network()
	for i := range n {
		h.Act(ids[i], incident.Action{Kind: incident.ActAcknowledge})
		h.Act(ids[i], incident.Action{Kind: incident.ActNote, Text: "note while down"})
	}
	// Without the breaker every one of the 40 jobs would be tried every 0.1-1 s. With it, after
	// the deliveries in flight when it opened (at most concurrency, 8) one probe runs per open
	// period (at least 0.1 s: open_for 0.2 s with jitter, doubling): the failures since it
	// opened stay below 8 + 1 + one per 0.1 s, however long that took. Wait for a few failures.
	require.Eventually(t, func() bool { return network() >= atOpen+5 }, time.Minute, 10*time.Millisecond)
	failures := network() - atOpen
	bound := 8 + 1 + float64(time.Since(opened)/(100*time.Millisecond))
	require.LessOrEqual(t, failures, bound, "only probes while open")
	sn.Start()
	start := time.Now()
	h.WaitSettled(time.Minute)
	t.Logf("delivered %d incidents %s after the target came back (%v failures while down)", n, time.Since(start), failures)
	require.Zero(t, h.Counter("kizashi_webhook_forward_circuit_open", "target", "acme/snow"))
	recs := sn.ByCorrelation()
	require.Len(t, recs, n)
	for _, id := range ids {
		r := recs[forward.CorrelationID("kizashi", forwardtest.Tenant, id)]
		require.Len(t, r, 1)
		require.Equal(t, "2", r[0].Fields["state"])
		require.Len(t, r[0].WorkNotes, 1, "the changes coalesced into one note")
		forwardtest.ExactlyOnce(t, h.Journal(id), r[0].WorkNotes)
	}
	require.Equal(t, n, sn.Count(forwardtest.SNCreate), "created as they are now, notes included")
	require.Zero(t, sn.Count(forwardtest.SNUpdate))
	require.LessOrEqual(t, sn.Count(forwardtest.SNFind), n, "retries look up first")
	dead, err := h.Fwd.DeadLetters(context.Background(), store.DeadLetterFilter{})
	require.NoError(t, err)
	require.Empty(t, dead, "an outage does not make dead letters")
}

func TestReloadAddsTarget(t *testing.T) {
	sn := forwardtest.NewServiceNow(t)
	pd := forwardtest.NewPagerDuty(t)
	h := forwardtest.NewHarness(t, forwardtest.OpenSQLite(t), forwardtest.ServiceNowConfig(sn.URL()), "")
	h.Forwarder("r1")
	id := h.Fire(1)
	h.WaitSettled(time.Minute)
	h.SetConfig(forwardtest.ServiceNowConfig(sn.URL())+forwardtest.PagerDutyConfig(pd.URL()), "")
	h.Act(id, incident.Action{Kind: incident.ActAcknowledge})
	h.WaitSettled(time.Minute)
	require.Equal(t, []string{"trigger", "acknowledge"}, func() []string {
		var a []string
		for _, e := range pd.Events() {
			a = append(a, e.Action)
		}
		return a
	}(), "a new target gets the incident's next change, as it is now")
	require.Len(t, sn.Records(), 1)
}

func TestOtherTenantsAreNotForwarded(t *testing.T) {
	sn := forwardtest.NewServiceNow(t)
	h := forwardtest.NewHarness(t, forwardtest.OpenSQLite(t), forwardtest.ServiceNowConfig(sn.URL()), "")
	h.Forwarder("r1")
	body := testkit.Payload("globex-ops", `{}:{alertname="G"}`, "firing", time.Now(), map[string]string{"alertname": "G"})
	m, err := alertmsg.Parse(body)
	require.NoError(t, err)
	_, err = h.Service.Ingest(context.Background(), "globex", m, body)
	require.NoError(t, err)
	h.Fire(1)
	h.WaitSettled(time.Minute)
	require.Len(t, sn.Records(), 1)
	require.True(t, strings.HasPrefix(sn.Records()[0].Fields["correlation_id"], "kizashi-acme-"))
	stats, err := h.Fwd.ForwardStats(context.Background())
	require.NoError(t, err)
	require.Len(t, stats, 0, "globex's outbox row was dropped, acme's delivered")
}
