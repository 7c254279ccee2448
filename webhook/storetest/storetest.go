// Package storetest is the conformance suite every store.Store
// implementation must pass. Each implementation's test calls Run with a
// function that opens a fresh, empty store. The suite drives the store as
// the program does, through the service layer, so it stands above both; the
// builders it shares with other tests are in package testkit.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kizashi-dev/kizashi/webhook/alertmsg"
	"github.com/kizashi-dev/kizashi/webhook/incident"
	"github.com/kizashi-dev/kizashi/webhook/service"
	"github.com/kizashi-dev/kizashi/webhook/store"
	"github.com/kizashi-dev/kizashi/webhook/testkit"
)

// Opener returns a fresh empty store; the suite closes it.
type Opener func(t *testing.T) store.Store

type env struct {
	t     *testing.T
	st    store.Store
	svc   *service.Service
	clock *testkit.Clock
	rules *testkit.StaticRules
}

func newEnv(t *testing.T, open Opener) *env {
	st := open(t)
	t.Cleanup(func() { require.NoError(t, st.Close()) })
	clock := testkit.NewClock(time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC))
	rules := &testkit.StaticRules{P: incident.DefaultPolicy()}
	e := &env{t: t, st: st, clock: clock, rules: rules}
	e.svc = &service.Service{Store: st, Rules: func() service.Rules { return *e.rules }, Now: clock.Now}
	return e
}

func (e *env) ingest(tenant string, body []byte) service.IngestResult {
	e.t.Helper()
	m, err := alertmsg.Parse(body)
	require.NoError(e.t, err)
	res, err := e.svc.Ingest(context.Background(), tenant, m, body)
	require.NoError(e.t, err)
	return res
}

func (e *env) list(f store.Filter) []*incident.Incident {
	e.t.Helper()
	ins, err := e.st.ListIncidents(context.Background(), f)
	require.NoError(e.t, err)
	return ins
}

var t0 = time.Date(2025, 1, 2, 3, 0, 0, 0, time.UTC)

func alert(name, instance string) map[string]string {
	return map[string]string{"alertname": name, "instance": instance, "severity": "critical", "service": "shop"}
}

// Run runs the suite.
func Run(t *testing.T, open Opener) {
	runDesk(t, open)
	t.Run("migrations are idempotent and journal starts empty", func(t *testing.T) {
		e := newEnv(t, open)
		c, err := e.st.Counts(context.Background())
		require.NoError(t, err)
		require.Equal(t, store.Counts{}, c)
		require.NoError(t, e.st.Ping(context.Background()))
	})

	t.Run("firing creates one incident, duplicate changes nothing", func(t *testing.T) {
		e := newEnv(t, open)
		body := testkit.Payload("team\\.ops", "{}:{alertname=\"X\"}", "firing", t0, alert("X", "a"), alert("X", "b"))
		r1 := e.ingest("acme", body)
		require.False(t, r1.Duplicate)
		require.Len(t, r1.Incidents, 1)
		c1, err := e.st.Counts(context.Background())
		require.NoError(t, err)
		e.clock.Advance(time.Second)
		r2 := e.ingest("acme", body)
		require.True(t, r2.Duplicate)
		c2, err := e.st.Counts(context.Background())
		require.NoError(t, err)
		require.Equal(t, c1.Notifications, c2.Notifications)
		require.Equal(t, c1.JournalLines, c2.JournalLines)
		require.Equal(t, c1.OutboxItems, c2.OutboxItems)
		require.Equal(t, int64(1), c2.Duplicates)
		ins := e.list(store.Filter{Tenant: "acme"})
		require.Len(t, ins, 1)
		in := ins[0]
		require.Equal(t, incident.StateNew, in.State)
		require.Equal(t, "team.ops", in.Receiver)
		require.Equal(t, 2, in.Priority) // critical (urgency 1) x unknown service (impact 2)
		alerts, err := e.st.Alerts(context.Background(), in.ID)
		require.NoError(t, err)
		require.Len(t, alerts, 2)
		j, err := e.st.Journal(context.Background(), in.ID)
		require.NoError(t, err)
		require.GreaterOrEqual(t, len(j), 2)
		require.Equal(t, incident.KindNotification, j[0].Kind)
		ob, err := e.st.Outbox(context.Background(), 0, 10)
		require.NoError(t, err)
		require.Len(t, ob, 1)
		require.Equal(t, incident.EventCreated, ob[0].Event)
		// Another tenant with the same payload gets its own incident.
		r3 := e.ingest("globex", body)
		require.False(t, r3.Duplicate)
		require.Len(t, e.list(store.Filter{}), 2)
		require.Len(t, e.list(store.Filter{Tenant: "globex"}), 1)
	})

	t.Run("resolve, reopen within window, supersede after", func(t *testing.T) {
		e := newEnv(t, open)
		gk := "{}:{alertname=\"Y\"}"
		e.ingest("acme", testkit.Payload("r", gk, "firing", t0, alert("Y", "a")))
		e.clock.Advance(time.Minute)
		e.ingest("acme", testkit.Payload("r", gk, "resolved", t0, alert("Y", "a")))
		ins := e.list(store.Filter{Tenant: "acme"})
		require.Len(t, ins, 1)
		require.Equal(t, incident.StateResolved, ins[0].State)
		first := ins[0].ID
		// Re-fire within the reopen window: same incident, in progress.
		e.clock.Advance(10 * time.Minute)
		t1 := t0.Add(11 * time.Minute)
		e.ingest("acme", testkit.Payload("r", gk, "firing", t1, alert("Y", "a")))
		ins = e.list(store.Filter{Tenant: "acme"})
		require.Len(t, ins, 1)
		require.Equal(t, incident.StateInProgress, ins[0].State)
		require.Equal(t, 1, ins[0].ReopenCount)
		// Resolve, wait past the window, re-fire: old closed, new linked.
		e.clock.Advance(time.Minute)
		e.ingest("acme", testkit.Payload("r", gk, "resolved", t1, alert("Y", "a")))
		e.clock.Advance(2 * time.Hour)
		e.ingest("acme", testkit.Payload("r", gk, "firing", t1.Add(3*time.Hour), alert("Y", "a")))
		ins = e.list(store.Filter{Tenant: "acme"})
		require.Len(t, ins, 2)
		require.Equal(t, incident.StateNew, ins[0].State)
		require.Equal(t, first, ins[0].PreviousID)
		require.Equal(t, incident.StateClosed, ins[1].State)
	})

	t.Run("fingerprint correlation opens one incident per alert", func(t *testing.T) {
		e := newEnv(t, open)
		e.rules.Mode = incident.CorrelateFingerprint
		r := e.ingest("acme", testkit.Payload("r", "g", "firing", t0, alert("Z", "a"), alert("Z", "b"), alert("Z", "c")))
		require.Len(t, r.Incidents, 3)
		require.Len(t, e.list(store.Filter{Tenant: "acme", OpenOnly: true}), 3)
	})

	t.Run("repeat notification is a heartbeat without journal line", func(t *testing.T) {
		e := newEnv(t, open)
		a := alert("H", "a")
		e.ingest("acme", testkit.Payload("r", "g", "firing", t0, a))
		c1, err := e.st.Counts(context.Background())
		require.NoError(t, err)
		e.clock.Advance(4 * time.Hour)
		body := testkit.Payload("r", "g", "firing", t0, alert("H", "a"))
		body = append(body[:len(body)-1], []byte(`,"notification_reason":"repeat interval elapsed"}`)...)
		r := e.ingest("acme", body)
		require.True(t, r.Heartbeat)
		c2, err := e.st.Counts(context.Background())
		require.NoError(t, err)
		require.Equal(t, c1.JournalLines, c2.JournalLines)
		ins := e.list(store.Filter{Tenant: "acme"})
		require.Equal(t, e.clock.Now(), ins[0].LastNotifiedAt)
	})

	t.Run("unique index allows one open incident per key", func(t *testing.T) {
		e := newEnv(t, open)
		mk := func() *incident.Incident {
			return &incident.Incident{Tenant: "acme", CorrelationKey: "k", State: incident.StateNew, Title: "t",
				Labels: map[string]string{}, CreatedAt: t0, Priority: 3, Impact: 2, Urgency: 2}
		}
		ctx := context.Background()
		require.NoError(t, e.st.Update(ctx, func(ctx context.Context, tx store.Tx) error { return tx.CreateIncident(ctx, mk()) }))
		var calls int
		err := e.st.Update(ctx, func(ctx context.Context, tx store.Tx) error {
			calls++
			if calls > 3 {
				return errors.New("gave up")
			}
			return tx.CreateIncident(ctx, mk())
		})
		require.Error(t, err)
		// Another tenant or a closed incident does not conflict.
		require.NoError(t, e.st.Update(ctx, func(ctx context.Context, tx store.Tx) error {
			o := mk()
			o.Tenant = "other"
			if err := tx.CreateIncident(ctx, o); err != nil {
				return err
			}
			c := mk()
			c.State = incident.StateClosed
			return tx.CreateIncident(ctx, c)
		}))
		require.Len(t, e.list(store.Filter{}), 3)
	})

	t.Run("a failing update leaves nothing behind", func(t *testing.T) {
		e := newEnv(t, open)
		ctx := context.Background()
		boom := errors.New("boom")
		err := e.st.Update(ctx, func(ctx context.Context, tx store.Tx) error {
			if _, err := tx.InsertNotification(ctx, &store.Notification{Key: "k1", Tenant: "a", Body: []byte("{}"), ReceivedAt: t0}); err != nil {
				return err
			}
			return boom
		})
		require.ErrorIs(t, err, boom)
		c, err := e.st.Counts(ctx)
		require.NoError(t, err)
		require.Zero(t, c.Notifications)
	})

	t.Run("optimistic concurrency rejects stale versions", func(t *testing.T) {
		e := newEnv(t, open)
		ctx := context.Background()
		in := &incident.Incident{Tenant: "acme", CorrelationKey: "k", State: incident.StateNew, Labels: map[string]string{}, CreatedAt: t0}
		require.NoError(t, e.st.Update(ctx, func(ctx context.Context, tx store.Tx) error { return tx.CreateIncident(ctx, in) }))
		stale := in.Clone()
		in.Title = "new"
		require.NoError(t, e.st.Update(ctx, func(ctx context.Context, tx store.Tx) error { return tx.UpdateIncident(ctx, in) }))
		err := e.st.Update(ctx, func(ctx context.Context, tx store.Tx) error {
			err := tx.UpdateIncident(ctx, stale.Clone())
			require.ErrorIs(t, err, store.ErrConflict)
			return errors.New("stop")
		})
		require.Error(t, err)
		got, err := e.st.Incident(ctx, "acme", in.ID)
		require.NoError(t, err)
		require.Equal(t, "new", got.Title)
		require.Equal(t, int64(2), got.Version)
	})

	t.Run("concurrent duplicates make exactly one incident", func(t *testing.T) {
		e := newEnv(t, open)
		const n = 16
		var wg sync.WaitGroup
		var dups atomic.Int32
		errs := make(chan error, n*3)
		for g := 0; g < 3; g++ {
			gk := fmt.Sprintf("group-%d", g)
			body := testkit.Payload("r", gk, "firing", t0, alert("C", gk))
			for i := 0; i < n; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					m, err := alertmsg.Parse(body)
					if err != nil {
						errs <- err
						return
					}
					r, err := e.svc.Ingest(context.Background(), "acme", m, body)
					if err != nil {
						errs <- err
						return
					}
					if r.Duplicate {
						dups.Add(1)
					}
				}()
			}
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err)
		}
		require.Equal(t, int32(3*(n-1)), dups.Load())
		require.Len(t, e.list(store.Filter{Tenant: "acme"}), 3)
	})

	t.Run("concurrent distinct notifications on one key make one incident", func(t *testing.T) {
		e := newEnv(t, open)
		var wg sync.WaitGroup
		errs := make(chan error, 20)
		for i := 0; i < 20; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				body := testkit.Payload("r", "same", "firing", t0, alert("D", fmt.Sprint(i)))
				m, err := alertmsg.Parse(body)
				if err == nil {
					m.TruncatedAlerts = 1 // do not resolve the others
					_, err = e.svc.Ingest(context.Background(), "acme", m, body)
				}
				errs <- err
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err)
		}
		ins := e.list(store.Filter{Tenant: "acme"})
		require.Len(t, ins, 1)
		alerts, err := e.st.Alerts(context.Background(), ins[0].ID)
		require.NoError(t, err)
		require.Len(t, alerts, 20)
	})

	t.Run("desk actions are tenant scoped and journaled", func(t *testing.T) {
		e := newEnv(t, open)
		ctx := context.Background()
		r := e.ingest("acme", testkit.Payload("r", "g", "firing", t0, alert("A", "a")))
		id := r.Incidents[0]
		_, err := e.svc.Act(ctx, service.Caller{Name: "eve", Tenant: "globex"}, id, incident.Action{Kind: incident.ActAcknowledge})
		require.ErrorIs(t, err, store.ErrNotFound)
		in, err := e.svc.Act(ctx, service.Caller{Name: "bob", Tenant: "acme"}, id, incident.Action{Kind: incident.ActAcknowledge})
		require.NoError(t, err)
		require.Equal(t, incident.StateInProgress, in.State)
		_, err = e.svc.Act(ctx, service.Caller{Name: "bob", Tenant: "acme"}, id, incident.Action{Kind: incident.ActAcknowledge})
		require.ErrorIs(t, err, incident.ErrTransition)
		in, err = e.svc.Act(ctx, service.Caller{Name: "op", Operator: true}, id, incident.Action{Kind: incident.ActNote, Text: "looking"})
		require.NoError(t, err)
		j, err := e.st.Journal(ctx, id)
		require.NoError(t, err)
		last := j[len(j)-1]
		require.Equal(t, "op", last.Actor)
		require.Equal(t, "looking", last.Message)
		require.Equal(t, "acme", in.Tenant)
	})

	t.Run("an operator limited to assignment groups sees and works on its groups and the unassigned", func(t *testing.T) {
		e := newEnv(t, open)
		ctx := context.Background()
		admin := service.Caller{Name: "ada", Operator: true, Person: true}
		ids := map[string]int64{}
		for _, g := range []string{"dba", "web", "net", ""} {
			id := e.ingest("acme", testkit.Payload("r", "g-"+g, "firing", t0, alert("G"+g, g))).Incidents[0]
			if g != "" {
				_, err := e.svc.Act(ctx, admin, id, incident.Action{Kind: incident.ActAssign, AssignmentGroup: g})
				require.NoError(t, err)
			}
			ids[g] = id
		}
		// Another tenant's incident of the operator's group: operators see every tenant.
		other := e.ingest("globex", testkit.Payload("r", "g-dba", "firing", t0, alert("Gx", "x"))).Incidents[0]
		_, err := e.svc.Act(ctx, admin, other, incident.Action{Kind: incident.ActAssign, AssignmentGroup: "dba"})
		require.NoError(t, err)

		groupsOf := func(ins []*incident.Incident) []string {
			var out []string
			for _, in := range ins {
				out = append(out, in.Tenant+"/"+in.AssignmentGroup)
			}
			return out
		}
		require.ElementsMatch(t, []string{"acme/dba", "acme/web", "acme/", "globex/dba"},
			groupsOf(e.list(store.Filter{Groups: []string{"dba", "web"}})))
		require.ElementsMatch(t, []string{"acme/"}, groupsOf(e.list(store.Filter{Groups: []string{}})), "no group of its own: the unassigned only")
		require.ElementsMatch(t, []string{"acme/dba"}, groupsOf(e.list(store.Filter{Tenant: "acme", Groups: []string{"dba"}, AssignmentGroup: "dba"})))
		require.Empty(t, e.list(store.Filter{Groups: []string{"dba"}, AssignmentGroup: "net"}), "a filter cannot widen the groups")
		require.Len(t, e.list(store.Filter{}), 5, "nil: every group")

		dba := service.Caller{Name: "dora", Operator: true, Person: true, Groups: []string{"dba"}}
		_, err = e.svc.Act(ctx, dba, ids["net"], incident.Action{Kind: incident.ActAcknowledge})
		require.ErrorIs(t, err, store.ErrNotFound, "another group's incident is not found")
		err = e.svc.Relate(ctx, dba, incident.RelLink, ids["dba"], ids["net"], "x")
		require.ErrorIs(t, err, store.ErrNotFound)
		_, err = e.svc.Act(ctx, dba, ids["dba"], incident.Action{Kind: incident.ActAcknowledge})
		require.NoError(t, err)
		_, err = e.svc.Act(ctx, dba, ids[""], incident.Action{Kind: incident.ActAssign, AssignmentGroup: "dba", Assignee: "dora"})
		require.NoError(t, err, "it takes an unassigned incident")
		// Handing one over to another group is allowed; then it is the other group's.
		_, err = e.svc.Act(ctx, dba, ids["dba"], incident.Action{Kind: incident.ActAssign, AssignmentGroup: "net"})
		require.NoError(t, err)
		_, err = e.svc.Act(ctx, dba, ids["dba"], incident.Action{Kind: incident.ActNote, Text: "x"})
		require.ErrorIs(t, err, store.ErrNotFound)
		_, err = e.svc.Act(ctx, admin, ids["net"], incident.Action{Kind: incident.ActAcknowledge})
		require.NoError(t, err, "an operator of every group acts on every incident")
	})

	t.Run("false positive cancel mutes re-fires", func(t *testing.T) {
		e := newEnv(t, open)
		ctx := context.Background()
		r := e.ingest("acme", testkit.Payload("r", "g", "firing", t0, alert("F", "a")))
		_, err := e.svc.Act(ctx, service.Caller{Name: "bob", Tenant: "acme"}, r.Incidents[0],
			incident.Action{Kind: incident.ActCancel, Text: "test alert", FalsePositive: true})
		require.NoError(t, err)
		e.clock.Advance(time.Hour)
		e.ingest("acme", testkit.Payload("r", "g", "firing", t0.Add(time.Hour), alert("F", "a")))
		require.Len(t, e.list(store.Filter{Tenant: "acme"}), 1)
		e.clock.Advance(25 * time.Hour)
		e.ingest("acme", testkit.Payload("r", "g", "firing", t0.Add(26*time.Hour), alert("F", "a")))
		ins := e.list(store.Filter{Tenant: "acme"})
		require.Len(t, ins, 2)
		require.Equal(t, r.Incidents[0], ins[0].PreviousID)
	})

	t.Run("sweep records SLA breaches and closes resolved incidents", func(t *testing.T) {
		e := newEnv(t, open)
		ctx := context.Background()
		e.ingest("acme", testkit.Payload("r", "g1", "firing", t0, alert("S", "a")))
		e.ingest("acme", testkit.Payload("r", "g2", "firing", t0, alert("S", "b")))
		e.clock.Advance(time.Minute)
		e.ingest("acme", testkit.Payload("r", "g2", "resolved", t0, alert("S", "b")))
		e.clock.Advance(4 * 24 * time.Hour)
		n, err := e.svc.Sweep(ctx, e.rules.P.CloseAfter)
		require.NoError(t, err)
		require.Equal(t, 2, n)
		ins := e.list(store.Filter{Tenant: "acme"})
		require.Equal(t, incident.StateClosed, ins[0].State)
		require.False(t, ins[1].ResponseBreachedAt.IsZero())
		require.False(t, ins[1].ResolveBreachedAt.IsZero())
		// A second sweep finds nothing.
		n, err = e.svc.Sweep(ctx, e.rules.P.CloseAfter)
		require.NoError(t, err)
		require.Zero(t, n)
	})

	t.Run("filter and paginate", func(t *testing.T) {
		e := newEnv(t, open)
		for i := 0; i < 7; i++ {
			e.ingest("acme", testkit.Payload("r", fmt.Sprint("g", i), "firing", t0, alert(fmt.Sprint("P", i), "a")))
		}
		page1 := e.list(store.Filter{Tenant: "acme", Limit: 3})
		require.Len(t, page1, 3)
		page2 := e.list(store.Filter{Tenant: "acme", Limit: 3, BeforeID: page1[2].ID})
		require.Len(t, page2, 3)
		require.Less(t, page2[0].ID, page1[2].ID)
		require.Len(t, e.list(store.Filter{Tenant: "acme", Search: "p3"}), 1)
		require.Len(t, e.list(store.Filter{Tenant: "acme", Search: "%"}), 0)
		require.Len(t, e.list(store.Filter{Tenant: "acme", States: []incident.State{incident.StateNew}}), 7)
		require.Len(t, e.list(store.Filter{Tenant: "nobody"}), 0)
		counts, err := e.st.OpenCounts(context.Background())
		require.NoError(t, err)
		require.Len(t, counts, 1)
		require.Equal(t, 7, counts[0].Count)
	})

	t.Run("filter by the time an incident was active", func(t *testing.T) {
		e := newEnv(t, open)
		start := e.clock.Now()
		// A: open 0m-10m. B: open from 20m on, still open. C: open 40m-50m.
		e.ingest("acme", testkit.Payload("r", "gA", "firing", t0, alert("A", "a")))
		e.clock.Advance(10 * time.Minute)
		e.ingest("acme", testkit.Payload("r", "gA", "resolved", t0, alert("A", "a")))
		e.clock.Advance(10 * time.Minute)
		e.ingest("acme", testkit.Payload("r", "gB", "firing", t0, alert("B", "a")))
		e.clock.Advance(20 * time.Minute)
		e.ingest("acme", testkit.Payload("r", "gC", "firing", t0, alert("C", "a")))
		e.clock.Advance(10 * time.Minute)
		e.ingest("acme", testkit.Payload("r", "gC", "resolved", t0, alert("C", "a")))
		titles := func(from, to time.Duration) []string {
			var out []string
			f := store.Filter{Tenant: "acme", ActiveFrom: start.Add(from)}
			if to > 0 {
				f.ActiveTo = start.Add(to)
			}
			for _, in := range e.list(f) {
				out = append(out, in.Labels["alertname"])
			}
			return out
		}
		require.Equal(t, []string{"A"}, titles(0, 5*time.Minute))
		require.Equal(t, []string{"B"}, titles(12*time.Minute, 30*time.Minute))
		require.Equal(t, []string{"C", "B"}, titles(45*time.Minute, 60*time.Minute))
		require.Equal(t, []string{"C", "B", "A"}, titles(5*time.Minute, 45*time.Minute))
		require.Equal(t, []string{"B"}, titles(55*time.Minute, 0), "no end: still open")
	})

	runInput(t, open)
	runRetention(t, open)
}
