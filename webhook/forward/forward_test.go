package forward_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kizashi-dev/kizashi/webhook/alertmsg"
	"github.com/kizashi-dev/kizashi/webhook/forward"
	"github.com/kizashi-dev/kizashi/webhook/forward/fake"
	"github.com/kizashi-dev/kizashi/webhook/incident"
	"github.com/kizashi-dev/kizashi/webhook/store"
	"github.com/kizashi-dev/kizashi/webhook/testkit"
)

func snConfig(url string) string {
	return fmt.Sprintf(`- name: snow
  type: servicenow
  url: %s
  http_config: {basic_auth: {username: kizashi, password: pw}}
  servicenow: {caller_id: kizashi.integration}
`, url)
}

func jiraConfig(url, deployment string) string {
	return fmt.Sprintf(`- name: jira
  type: jira
  url: %s
  jira: {project: OPS, deployment: %s, priorities: {P2: High}, statuses: {on_hold: Waiting}}
`, url, deployment)
}

func pdConfig(url string) string {
	return fmt.Sprintf(`- name: pd
  type: pagerduty
  url: %s
  pagerduty: {routing_key: R0123456789abcdef0123456789abcdef}
`, url)
}

func hookConfig(url string) string {
	return fmt.Sprintf(`- name: hook
  type: webhook
  url: %s/kizashi
  webhook: {secret_file: hook.secret}
`, url)
}

// lifecycle runs an incident through create, acknowledge, note, hold,
// resume and resolve, waiting for delivery after each step.
func lifecycle(h *harness) int64 {
	id := h.fire(1)
	h.waitSettled(time.Minute)
	h.act(id, incident.Action{Kind: incident.ActAcknowledge})
	h.act(id, incident.Action{Kind: incident.ActNote, Text: "looking at it"})
	h.waitSettled(time.Minute)
	h.act(id, incident.Action{Kind: incident.ActHold, Reason: "awaiting_vendor", Text: "disk ordered"})
	h.waitSettled(time.Minute)
	h.act(id, incident.Action{Kind: incident.ActResume})
	h.act(id, incident.Action{Kind: incident.ActResolve, CloseCode: "solved_workaround", Text: "moved data"})
	h.waitSettled(time.Minute)
	return id
}

func TestServiceNow(t *testing.T) {
	sn := fake.NewServiceNow(t)
	sn.User, sn.Password = "kizashi", "pw"
	h := newHarness(t, openSQLite(t), snConfig(sn.URL()), "")
	h.forwarder("r1")
	id := lifecycle(h)

	recs := sn.ByCorrelation()
	cid := forward.CorrelationID("kizashi", tenant, id)
	require.Len(t, recs, 1)
	require.Len(t, recs[cid], 1, "one record per incident")
	rec := recs[cid][0]
	require.Equal(t, "6", rec.Fields["state"], "resolved")
	require.Equal(t, "Solved (Work Around)", rec.Fields["close_code"])
	require.Contains(t, rec.Fields["close_notes"], "moved data")
	require.Equal(t, "2", rec.Fields["impact"])
	require.Equal(t, "1", rec.Fields["urgency"])
	require.Equal(t, "2", rec.Fields["priority"], "computed by the instance")
	require.Equal(t, "ops", rec.Fields["assignment_group"])
	require.Equal(t, "kizashi.integration", rec.Fields["caller_id"])
	require.Equal(t, "Kizashi", rec.Fields["correlation_display"])
	require.Contains(t, rec.Fields["description"], "https://kizashi.example/incidents/")
	exactlyOnce(t, h.journal(id), rec.WorkNotes)

	refs, err := h.fw.ExternalRefs(context.Background(), []int64{id})
	require.NoError(t, err)
	require.Equal(t, []store.ExternalRef{{Target: "acme/snow", ID: rec.Fields["sys_id"], Key: rec.Fields["number"],
		URL: sn.URL() + "/incident.do?sys_id=" + rec.Fields["sys_id"]}}, refs[id])
	require.Equal(t, 1, sn.Count(fake.SNCreate))
	require.Zero(t, sn.Count(fake.SNFind), "a first attempt creates without looking up")
	require.Zero(t, sn.Count(fake.SNJournal), "no uncertain attempt, no read back")
	// Six changes in four steps: 4 deliveries when each step's changes coalesce, up to 6 when the
	// forwarder ran between two changes of a step (both are right; which one is timing). The
	// counter moves after the store records the delivery: wait for it.
	deliveries := func() float64 { return h.counter("kizashi_webhook_forward_deliveries_total", "target", "acme/snow") }
	require.Eventually(t, func() bool { return deliveries() >= 4 }, time.Minute, 10*time.Millisecond)
	require.LessOrEqual(t, deliveries(), 6.0)
}

func TestServiceNowHoldReason(t *testing.T) {
	sn := fake.NewServiceNow(t)
	h := newHarness(t, openSQLite(t), snConfig(sn.URL()), "")
	h.forwarder("r1")
	id := h.fire(1)
	h.act(id, incident.Action{Kind: incident.ActHold, Reason: "awaiting_change"})
	h.waitSettled(time.Minute)
	rec := sn.ByCorrelation()[forward.CorrelationID("kizashi", tenant, id)][0]
	require.Equal(t, "3", rec.Fields["state"])
	require.Equal(t, "5", rec.Fields["hold_reason"])
}

func TestJira(t *testing.T) {
	for _, deployment := range []string{"cloud", "datacenter"} {
		t.Run(deployment, func(t *testing.T) {
			j := fake.NewJira(t)
			h := newHarness(t, openSQLite(t), jiraConfig(j.URL(), deployment), "")
			h.forwarder("r1")
			id := h.fire(1)
			h.waitSettled(time.Minute)
			is := j.Issues()
			require.Len(t, is, 1)
			require.Equal(t, "To Do", is[0].Status)
			require.Equal(t, "High", is[0].Priority, "P2 mapped")
			require.Equal(t, "OPS", is[0].Project)
			require.Contains(t, is[0].Labels, forward.CorrelationID("kizashi", tenant, id))

			h.act(id, incident.Action{Kind: incident.ActAcknowledge})
			h.waitSettled(time.Minute)
			require.Equal(t, "In Progress", j.Issues()[0].Status)
			h.act(id, incident.Action{Kind: incident.ActHold, Reason: "awaiting_vendor"})
			h.waitSettled(time.Minute)
			require.Equal(t, "Waiting", j.Issues()[0].Status)
			h.act(id, incident.Action{Kind: incident.ActResolve, CloseCode: "solved_permanently", Text: "fixed"})
			h.waitSettled(time.Minute)
			is = j.Issues()
			require.Len(t, is, 1)
			require.Equal(t, "Done", is[0].Status)
			exactlyOnce(t, h.journal(id), is[0].Comments)
			require.Zero(t, j.Count(fake.JiraSearch), "a first attempt creates without searching")
		})
	}
}

func TestPagerDuty(t *testing.T) {
	pd := fake.NewPagerDuty(t)
	pd.RoutingKey = "R0123456789abcdef0123456789abcdef"
	h := newHarness(t, openSQLite(t), pdConfig(pd.URL()), "")
	h.forwarder("r1")
	id := lifecycle(h)
	cid := forward.CorrelationID("kizashi", tenant, id)
	var actions []string
	for _, e := range pd.Events() {
		require.Equal(t, cid, e.DedupKey)
		actions = append(actions, e.Action)
	}
	require.Equal(t, []string{"trigger", "acknowledge", "resolve"}, actions, "hold and resume are still acknowledged")
	require.Equal(t, "error", pd.Events()[0].Severity, "P2")
	require.Equal(t, "Alert1 on a", pd.Events()[0].Summary)
	require.Equal(t, fake.PDAlert{Status: "resolved", Incidents: 1, Events: 3}, pd.Alerts()[cid])

	// Resolved before it was ever sent: nobody is paged.
	pd.SetDown(true)
	id2 := h.fire(2)
	h.resolve(2)
	pd.SetDown(false)
	h.waitSettled(time.Minute)
	_, sent := pd.Alerts()[forward.CorrelationID("kizashi", tenant, id2)]
	require.False(t, sent)
}

func TestWebhook(t *testing.T) {
	rc := fake.NewReceiver(t, []byte("0123456789abcdef-secret"))
	h := newHarness(t, openSQLite(t), hookConfig(rc.URL()), "")
	h.forwarder("r1")
	id := lifecycle(h)
	tk := rc.Tickets()[forward.CorrelationID("kizashi", tenant, id)]
	require.Equal(t, "WH-1", tk.ID)
	require.Equal(t, incident.StateResolved, tk.Incident.State)
	require.Equal(t, "https://kizashi.example/incidents/1", tk.Incident.URL)
	for _, e := range h.journal(id) {
		require.Equal(t, 1, tk.JournalIDs[e.ID], "journal line %d delivered once", e.ID)
	}
	require.Zero(t, rc.BadSignatures())
	refs, err := h.fw.ExternalRefs(context.Background(), []int64{id})
	require.NoError(t, err)
	require.Equal(t, "WH-1", refs[id][0].ID)
}

func TestWebhookSignature(t *testing.T) {
	now := time.Unix(1700000000, 0)
	body := []byte(`{"a":1}`)
	sig := forward.Sign([]byte("secret"), "1700000000", body)
	require.Equal(t, "sha256=", sig[:7])
	require.NoError(t, forward.Verify([]byte("secret"), "1700000000", sig, body, now, time.Minute))
	require.Error(t, forward.Verify([]byte("other"), "1700000000", sig, body, now, time.Minute))
	require.Error(t, forward.Verify([]byte("secret"), "1700000000", sig, []byte(`{"a":2}`), now, time.Minute))
	require.Error(t, forward.Verify([]byte("secret"), "1700000000", sig, body, now.Add(time.Hour), time.Minute), "replay")
}

// TestCreateOrAdopt: the target commits a create (or a note) but the answer
// is lost; the retry finds the ticket and the notes, and nothing is doubled.
func TestCreateOrAdopt(t *testing.T) {
	t.Run("servicenow", func(t *testing.T) {
		sn := fake.NewServiceNow(t)
		h := newHarness(t, openSQLite(t), snConfig(sn.URL()), "")
		sn.Fail(fake.Fault{Op: fake.SNCreate, AfterCommit: true},
			fake.Fault{Op: fake.SNUpdate, AfterCommit: true, Status: 500})
		h.forwarder("r1")
		id := h.fire(1)
		h.waitSettled(time.Minute)
		h.act(id, incident.Action{Kind: incident.ActNote, Text: "second note"})
		h.waitSettled(time.Minute)
		recs := sn.ByCorrelation()[forward.CorrelationID("kizashi", tenant, id)]
		require.Len(t, recs, 1, "adopted, not created twice")
		require.Equal(t, 1, sn.Count(fake.SNCreate+"(committed)"))
		require.Zero(t, sn.Count(fake.SNCreate), "the only create's answer was lost")
		require.Positive(t, sn.Count(fake.SNJournal), "notes read back after the uncertain update")
		exactlyOnce(t, h.journal(id), recs[0].WorkNotes)
	})
	t.Run("jira", func(t *testing.T) {
		j := fake.NewJira(t)
		h := newHarness(t, openSQLite(t), jiraConfig(j.URL(), "cloud"), "timeout: 3s")
		j.Fail(fake.Fault{Op: fake.JiraCreate, AfterCommit: true, Delay: time.Minute},
			fake.Fault{Op: fake.JiraComment, AfterCommit: true, Status: 502})
		h.forwarder("r1")
		id := h.fire(1)
		h.waitSettled(time.Minute)
		is := j.Issues()
		require.Len(t, is, 1, "the timed-out create was adopted")
		exactlyOnce(t, h.journal(id), is[0].Comments)
		require.Equal(t, float64(1), h.counter("kizashi_webhook_forward_failures_total", "target", "acme/jira", "reason", "timeout"))
		require.Equal(t, float64(1), h.counter("kizashi_webhook_forward_failures_total", "target", "acme/jira", "reason", "server_error"))
	})
	t.Run("concurrent creates by two replicas", func(t *testing.T) {
		// Two replicas whose leases both expired would each look up and
		// create; leases prevent it: one replica runs the job at a time.
		sn := fake.NewServiceNow(t)
		sn.SetLatency(20 * time.Millisecond)
		h := newHarness(t, openSQLite(t), snConfig(sn.URL()), "")
		h.forwarder("r1")
		h.forwarder("r2")
		for i := range 30 {
			h.fire(i)
		}
		h.waitSettled(time.Minute)
		for cid, recs := range sn.ByCorrelation() {
			require.Len(t, recs, 1, cid)
		}
		require.Len(t, sn.ByCorrelation(), 30)
	})
}

func TestRateLimited(t *testing.T) {
	pd := fake.NewPagerDuty(t)
	h := newHarness(t, openSQLite(t), pdConfig(pd.URL()), "")
	pd.Fail(fake.Fault{Op: fake.PDEnqueue, Status: 429, RetryAfter: "2"})
	h.forwarder("r1")
	start := time.Now()
	id := h.fire(1)
	h.waitSettled(time.Minute)
	require.GreaterOrEqual(t, time.Since(start), 2*time.Second, "Retry-After honoured")
	require.Equal(t, float64(1), h.counter("kizashi_webhook_forward_failures_total", "target", "acme/pd", "reason", "rate_limited"))
	require.Len(t, pd.Events(), 1)
	require.Equal(t, "trigger", pd.Events()[0].Action)
	require.Zero(t, h.deadLetter("acme/pd", id).ID)
	require.Zero(t, h.counter("kizashi_webhook_forward_circuit_open", "target", "acme/pd"))
}

// TestRetryAfterCapped: a target that asks for a year's pause is paused for max_retry_after,
// and the pause shows in the metric and the forwarder's status.
func TestRetryAfterCapped(t *testing.T) {
	pd := fake.NewPagerDuty(t)
	h := newHarness(t, openSQLite(t), pdConfig(pd.URL()), "max_retry_after: 1s")
	pd.Fail(fake.Fault{Op: fake.PDEnqueue, Status: 429, RetryAfter: "31536000"})
	f := h.forwarder("r1")
	start := time.Now()
	h.fire(1)
	h.waitSettled(time.Minute)
	require.Len(t, pd.Events(), 1, "delivered after the capped pause")
	until := h.counter("kizashi_webhook_forward_paused_until_timestamp_seconds", "target", "acme/pd")
	require.GreaterOrEqual(t, until, float64(start.Unix()))
	require.LessOrEqual(t, until, float64(time.Now().Add(time.Second).Unix())+1, "paused for at most max_retry_after")
	st := f.Status()
	require.Len(t, st, 1)
	require.Equal(t, "acme/pd", st[0].Target)
	require.Equal(t, int64(until), st[0].PausedUntil.Unix())
	require.False(t, st[0].CircuitOpen)
}

func TestDeadLetters(t *testing.T) {
	sn := fake.NewServiceNow(t)
	// The breaker stays closed: failures of one incident while the target
	// serves others count against it (a failed probe would not).
	h := newHarness(t, openSQLite(t), snConfig(sn.URL()), "circuit_breaker: {failures: 10}")
	// A rejected request is final: dead at once, with the reason.
	sn.Fail(fake.Fault{Op: fake.SNCreate, Status: 400})
	h.forwarder("r1")
	id := h.fire(1)
	require.Eventually(t, func() bool { return h.deadLetter("acme/snow", id).ID != 0 }, time.Minute, 20*time.Millisecond)
	d := h.deadLetter("acme/snow", id)
	require.Contains(t, d.LastError, "HTTP 400")
	require.Equal(t, 1, d.Attempts)
	require.Equal(t, float64(1), h.counter("kizashi_webhook_forward_dead_letters_total", "target", "acme/snow"))

	// 500s until max_attempts (4), then dead.
	sn.Fail(fake.Fault{Op: fake.SNCreate, Status: 500, Times: 4})
	id2 := h.fire(2)
	require.Eventually(t, func() bool { return h.deadLetter("acme/snow", id2).ID != 0 }, time.Minute, 20*time.Millisecond)
	d2 := h.deadLetter("acme/snow", id2)
	require.Equal(t, 4, d2.Attempts)
	require.Contains(t, d2.LastError, "dead after 4 attempts")

	// New changes do not revive a dead letter; a retry does. Once the note is dispatched into
	// the dead job (its gen moves), the job is still dead and nothing was sent.
	gen := h.deadLetter("acme/snow", id).Gen
	h.act(id, incident.Action{Kind: incident.ActNote, Text: "still broken?"})
	require.Eventually(t, func() bool { return h.deadLetter("acme/snow", id).Gen > gen }, time.Minute, 20*time.Millisecond)
	require.NotZero(t, h.deadLetter("acme/snow", id).ID, "still dead")
	require.Empty(t, sn.Records())
	n, err := h.fw.RetryDeadLetters(context.Background(), tenant, "acme/snow", 0, time.Now())
	require.NoError(t, err)
	require.Equal(t, 2, n)
	h.waitSettled(time.Minute)
	require.Len(t, sn.Records(), 2)
	exactlyOnce(t, h.journal(id), sn.ByCorrelation()[forward.CorrelationID("kizashi", tenant, id)][0].WorkNotes)
}

// TestCircuitBreakerAndCoalescing: while the target is down only probes
// reach it; changes coalesce; once it is back every incident is delivered
// at once, in one create and one update each.
func TestCircuitBreakerAndCoalescing(t *testing.T) {
	sn := fake.NewServiceNow(t)
	h := newHarness(t, openSQLite(t), snConfig(sn.URL()), "")
	sn.Stop() // connection refused
	h.forwarder("r1")
	const n = 40
	ids := make([]int64, n)
	for i := range n {
		ids[i] = h.fire(i)
	}
	require.Eventually(t, func() bool { return h.counter("kizashi_webhook_forward_circuit_open", "target", "acme/snow") == 1 },
		time.Minute, 10*time.Millisecond)
	opened := time.Now()
	network := func() float64 {
		return h.counter("kizashi_webhook_forward_failures_total", "target", "acme/snow", "reason", "network")
	}
	atOpen := network()
	for i := range n {
		h.act(ids[i], incident.Action{Kind: incident.ActAcknowledge})
		h.act(ids[i], incident.Action{Kind: incident.ActNote, Text: "note while down"})
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
	h.waitSettled(time.Minute)
	t.Logf("delivered %d incidents %s after the target came back (%v failures while down)", n, time.Since(start), failures)
	require.Zero(t, h.counter("kizashi_webhook_forward_circuit_open", "target", "acme/snow"))
	recs := sn.ByCorrelation()
	require.Len(t, recs, n)
	for _, id := range ids {
		r := recs[forward.CorrelationID("kizashi", tenant, id)]
		require.Len(t, r, 1)
		require.Equal(t, "2", r[0].Fields["state"])
		require.Len(t, r[0].WorkNotes, 1, "the changes coalesced into one note")
		exactlyOnce(t, h.journal(id), r[0].WorkNotes)
	}
	require.Equal(t, n, sn.Count(fake.SNCreate), "created as they are now, notes included")
	require.Zero(t, sn.Count(fake.SNUpdate))
	require.LessOrEqual(t, sn.Count(fake.SNFind), n, "retries look up first")
	dead, err := h.fw.DeadLetters(context.Background(), store.DeadLetterFilter{})
	require.NoError(t, err)
	require.Empty(t, dead, "an outage does not make dead letters")
}

func TestReloadAddsTarget(t *testing.T) {
	sn := fake.NewServiceNow(t)
	pd := fake.NewPagerDuty(t)
	h := newHarness(t, openSQLite(t), snConfig(sn.URL()), "")
	h.forwarder("r1")
	id := h.fire(1)
	h.waitSettled(time.Minute)
	h.setConfig(snConfig(sn.URL())+pdConfig(pd.URL()), "")
	h.act(id, incident.Action{Kind: incident.ActAcknowledge})
	h.waitSettled(time.Minute)
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
	sn := fake.NewServiceNow(t)
	h := newHarness(t, openSQLite(t), snConfig(sn.URL()), "")
	h.forwarder("r1")
	body := testkit.Payload("globex-ops", `{}:{alertname="G"}`, "firing", time.Now(), map[string]string{"alertname": "G"})
	m, err := alertmsg.Parse(body)
	require.NoError(t, err)
	_, err = h.svc.Ingest(context.Background(), "globex", m, body)
	require.NoError(t, err)
	h.fire(1)
	h.waitSettled(time.Minute)
	require.Len(t, sn.Records(), 1)
	require.True(t, strings.HasPrefix(sn.Records()[0].Fields["correlation_id"], "kizashi-acme-"))
	stats, err := h.fw.ForwardStats(context.Background())
	require.NoError(t, err)
	require.Len(t, stats, 0, "globex's outbox row was dropped, acme's delivered")
}
