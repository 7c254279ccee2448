package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kizashi-dev/kizashi/webhook/incident"
	"github.com/kizashi-dev/kizashi/webhook/problem"
	"github.com/kizashi-dev/kizashi/webhook/store"
	"github.com/kizashi-dev/kizashi/webhook/testkit"
)

// problemEnv is an env with the problem desk over the same store and clock.
type problemEnv struct {
	*env
	desk *problem.Desk
	set  problem.Settings
}

func newProblemEnv(t *testing.T, open Opener) *problemEnv {
	e := &problemEnv{env: newEnv(t, open), set: problem.Settings{Recurrences: 3, Window: 7 * 24 * time.Hour, ByCI: false, Flapping: true}}
	d, err := problem.New(e.st, func(string) problem.Settings { return e.set }, e.clock.Now)
	require.NoError(t, err)
	e.desk = d
	return e
}

// recur makes one incident of the alert group gk (firing, then resolved; the next firing
// comes after the reopen window, so it is a new incident) and returns its id.
func (e *problemEnv) recur(tenant, gk string, labels map[string]string) int64 {
	e.t.Helper()
	at := e.clock.Now()
	r := e.ingest(tenant, testkit.Payload("r", gk, "firing", at, labels))
	require.Len(e.t, r.Incidents, 1)
	e.clock.Advance(time.Minute)
	e.ingest(tenant, testkit.Payload("r", gk, "resolved", at, labels))
	e.clock.Advance(2 * time.Hour)
	ins := e.list(store.Filter{Tenant: tenant, Limit: 1})
	return ins[0].ID
}

func (e *problemEnv) sweep() problem.SweepResult {
	e.t.Helper()
	r, err := e.desk.Sweep(context.Background())
	require.NoError(e.t, err)
	return r
}

func (e *problemEnv) problems(f store.ProblemFilter) []*store.Problem {
	e.t.Helper()
	ps, err := e.desk.Problems.ListProblems(context.Background(), f)
	require.NoError(e.t, err)
	return ps
}

// RunProblems runs the suite of store.Problems through package problem.
func RunProblems(t *testing.T, open Opener) {
	ctx := context.Background()

	t.Run("a problem is proposed after K recurrences within D, once", func(t *testing.T) {
		e := newProblemEnv(t, open)
		gk := `{}:{alertname="Disk"}`
		a := alert("Disk", "db1")
		var ids []int64
		for range 2 {
			ids = append(ids, e.recur("acme", gk, a))
		}
		// Another tenant's incidents of the same key do not count.
		e.recur("globex", gk, a)
		r := e.sweep()
		require.Equal(t, 3, r.Examined)
		require.Zero(t, r.Proposed, "2 recurrences are fewer than K=3")
		require.Empty(t, e.problems(store.ProblemFilter{}))

		ids = append(ids, e.recur("acme", gk, a))
		r = e.sweep()
		require.Equal(t, 1, r.Examined, "the cursor remembers what was seen")
		require.Equal(t, 1, r.Proposed)
		ps := e.problems(store.ProblemFilter{Tenant: "acme"})
		require.Len(t, ps, 1)
		p := ps[0]
		require.Equal(t, store.OriginRecurrence, p.Origin)
		require.Equal(t, store.ScopeKey, p.Scope)
		require.Equal(t, store.ProblemOpen, p.State)
		linked, err := e.desk.Problems.ProblemIncidents(ctx, p.ID)
		require.NoError(t, err)
		require.Equal(t, ids, linked)
		j, err := e.desk.Problems.ProblemJournal(ctx, "acme", p.ID)
		require.NoError(t, err)
		require.Len(t, j, 1)
		require.Contains(t, j[0].Message, "3 incidents of the same correlation key")
		require.Empty(t, e.problems(store.ProblemFilter{Tenant: "globex"}))

		// A fourth incident is linked to the open problem, not proposed again.
		fourth := e.recur("acme", gk, a)
		r = e.sweep()
		require.Equal(t, 0, r.Proposed)
		require.Equal(t, 1, r.Linked)
		linked, err = e.desk.Problems.ProblemIncidents(ctx, p.ID)
		require.NoError(t, err)
		require.Equal(t, append(ids, fourth), linked)
		require.Zero(t, e.sweep().Examined, "a sweep with nothing new does nothing")
	})

	t.Run("recurrences older than the window do not count", func(t *testing.T) {
		e := newProblemEnv(t, open)
		e.set.Window = 3 * time.Hour // two recurrences (2h01m apart) fit, the third's window drops the first
		gk := `{}:{alertname="Slow"}`
		for range 3 {
			e.recur("acme", gk, alert("Slow", "a"))
		}
		require.Zero(t, e.sweep().Proposed)
		e.set.Window = 5 * time.Hour
		e.recur("acme", gk, alert("Slow", "a"))
		require.Equal(t, 1, e.sweep().Proposed, "with D=5h the last three count")
	})

	t.Run("recurrences the detector first sees after the window propose nothing", func(t *testing.T) {
		e := newProblemEnv(t, open)
		e.set.Window = 24 * time.Hour
		for range 3 {
			e.recur("acme", `{}:{alertname="Past"}`, alert("Past", "a"))
		}
		e.clock.Advance(48 * time.Hour)
		r := e.sweep()
		require.Equal(t, 3, r.Examined)
		require.Zero(t, r.Proposed, "history, not a recurrence now")
	})

	t.Run("by CI: different keys of the same service", func(t *testing.T) {
		e := newProblemEnv(t, open)
		e.set.ByCI = true
		for i := range 3 {
			e.recur("acme", fmt.Sprintf(`{}:{alertname="A%d"}`, i), map[string]string{"alertname": fmt.Sprintf("A%d", i), "service": "shop", "severity": "warning"})
		}
		e.sweep()
		ps := e.problems(store.ProblemFilter{Tenant: "acme", Scope: store.ScopeCI, Subject: "shop"})
		require.Len(t, ps, 1)
		require.Empty(t, e.problems(store.ProblemFilter{Tenant: "acme", Scope: store.ScopeKey, Subject: `{}:{alertname="A0"}`}))
	})

	t.Run("a known error annotates new incidents of its key with the workaround", func(t *testing.T) {
		e := newProblemEnv(t, open)
		gk := `{}:{alertname="Mem"}`
		first := e.recur("acme", gk, alert("Mem", "a"))
		e.sweep()
		in, err := e.st.Incident(ctx, "acme", first)
		require.NoError(t, err)
		p, err := e.desk.CreateProblem(ctx, problem.Create{Tenant: "acme", Actor: "alice", Title: "memory leak", Key: in.CorrelationKey,
			Workaround: "restart the pod", KnownError: true, Incidents: []int64{first}})
		require.NoError(t, err)
		_, err = e.desk.CreateProblem(ctx, problem.Create{Tenant: "acme", Actor: "alice", Title: "again", Key: in.CorrelationKey})
		require.ErrorIs(t, err, store.ErrExists, "one open problem per key")
		_, err = e.desk.CreateProblem(ctx, problem.Create{Tenant: "acme", Actor: "alice", Title: "x", KnownError: true})
		require.ErrorIs(t, err, problem.ErrInvalid, "a known error needs a workaround")
		_, err = e.desk.CreateProblem(ctx, problem.Create{Tenant: "globex", Actor: "bob", Title: "x", Incidents: []int64{first}})
		require.ErrorIs(t, err, store.ErrNotFound, "another tenant's incident")

		second := e.recur("acme", gk, alert("Mem", "a"))
		r := e.sweep()
		require.Equal(t, 1, r.Annotated)
		j, err := e.st.Journal(ctx, second)
		require.NoError(t, err)
		var notes []string
		for _, l := range j {
			if l.Kind == store.KindKnownError {
				notes = append(notes, l.Message)
			}
		}
		require.Len(t, notes, 1)
		require.Contains(t, notes[0], "restart the pod")
		require.Zero(t, e.sweep().Annotated, "annotated once")

		// Closing the problem ends the annotations; the key may get a new problem.
		closed := store.ProblemClosed
		p, err = e.desk.ChangeProblem(ctx, p.ID, problem.Change{Tenant: "acme", Actor: "alice", State: &closed})
		require.NoError(t, err)
		require.False(t, p.ClosedAt.IsZero())
		third := e.recur("acme", gk, alert("Mem", "a"))
		r = e.sweep()
		require.Zero(t, r.Annotated)
		require.Equal(t, 1, r.Proposed, "the key recurred 3 times within D: a new problem, the closed one does not hold it")
		j, err = e.st.Journal(ctx, third)
		require.NoError(t, err)
		for _, l := range j {
			require.NotEqual(t, store.KindKnownError, l.Kind)
		}
	})

	t.Run("won't fix suppresses proposals until a date, journaled", func(t *testing.T) {
		e := newProblemEnv(t, open)
		gk := `{}:{alertname="Noise"}`
		first := e.recur("acme", gk, alert("Noise", "a"))
		in, err := e.st.Incident(ctx, "acme", first)
		require.NoError(t, err)
		require.ErrorIs(t, e.desk.Suppress(ctx, "acme", "alice", in.CorrelationKey, e.clock.Now().Add(time.Hour), " "), problem.ErrInvalid)
		until := e.clock.Now().Add(24 * time.Hour)
		require.NoError(t, e.desk.Suppress(ctx, "acme", "alice", in.CorrelationKey, until, "vendor bug, fixed in 2.0"))
		e.recur("acme", gk, alert("Noise", "a"))
		e.recur("acme", gk, alert("Noise", "a"))
		require.Zero(t, e.sweep().Proposed)
		sps, err := e.desk.Problems.Suppressions(ctx, "acme", e.clock.Now())
		require.NoError(t, err)
		require.Len(t, sps, 1)
		require.Equal(t, "vendor bug, fixed in 2.0", sps[0].Reason)
		require.Equal(t, until, sps[0].Until)
		j, err := e.desk.Problems.ProblemJournal(ctx, "acme", 0)
		require.NoError(t, err)
		require.Len(t, j, 1)
		require.Equal(t, "alice", j[0].Actor)
		require.Contains(t, j[0].Message, "won't fix until")
		// After the date the key counts again.
		e.clock.Advance(24 * time.Hour)
		e.recur("acme", gk, alert("Noise", "a"))
		e.set.Window = 30 * 24 * time.Hour
		require.Equal(t, 1, e.sweep().Proposed)
	})

	t.Run("a flapping incident proposes a problem", func(t *testing.T) {
		e := newProblemEnv(t, open)
		e.rules.P.FlapCycles = 2
		gk := `{}:{alertname="Flap"}`
		a := alert("Flap", "a")
		for range 3 {
			e.ingest("acme", testkit.Payload("r", gk, "firing", e.clock.Now(), a))
			e.clock.Advance(time.Minute)
			e.ingest("acme", testkit.Payload("r", gk, "resolved", e.clock.Now(), a))
			e.clock.Advance(time.Minute)
		}
		ins := e.list(store.Filter{Tenant: "acme"})
		require.Len(t, ins, 1)
		require.True(t, ins[0].Flapping)
		r := e.sweep()
		require.Equal(t, 1, r.Proposed)
		ps := e.problems(store.ProblemFilter{Tenant: "acme"})
		require.Len(t, ps, 1)
		require.Equal(t, store.OriginFlapping, ps[0].Origin)
		require.Zero(t, e.sweep().Proposed, "proposed once")
	})

	t.Run("major incident: declare, cadence reminders, updates, review linked to a problem", func(t *testing.T) {
		e := newProblemEnv(t, open)
		r := e.ingest("acme", testkit.Payload("r", "g", "firing", e.clock.Now(), alert("Down", "a")))
		id := r.Incidents[0]
		_, err := e.desk.Declare(ctx, "globex", "bob", id, "", 0)
		require.ErrorIs(t, err, store.ErrNotFound, "another tenant's incident")
		_, err = e.desk.Declare(ctx, "acme", "alice", id, "carol", 10*time.Second)
		require.ErrorIs(t, err, problem.ErrInvalid)
		m, err := e.desk.Declare(ctx, "acme", "alice", id, "carol", 30*time.Minute)
		require.NoError(t, err)
		require.Equal(t, e.clock.Now().Add(30*time.Minute), m.NextUpdateDue)
		_, err = e.desk.Declare(ctx, "acme", "alice", id, "carol", 30*time.Minute)
		require.ErrorIs(t, err, store.ErrExists)

		due, err := e.desk.DueUpdates(ctx, "acme")
		require.NoError(t, err)
		require.Empty(t, due)
		e.clock.Advance(30 * time.Minute)
		due, err = e.desk.DueUpdates(ctx, "acme")
		require.NoError(t, err)
		require.Len(t, due, 1, "the update is due")
		require.Equal(t, "carol", due[0].Coordinator)
		due, err = e.desk.DueUpdates(ctx, "globex")
		require.NoError(t, err)
		require.Empty(t, due)

		_, err = e.desk.CustomerUpdate(ctx, "acme", "carol", id, "We are restoring the database.")
		require.NoError(t, err)
		due, err = e.desk.DueUpdates(ctx, "")
		require.NoError(t, err)
		require.Empty(t, due, "the next update is due a cadence later")
		e.clock.Advance(30 * time.Minute)
		due, err = e.desk.DueUpdates(ctx, "")
		require.NoError(t, err)
		require.Len(t, due, 1)
		ups, err := e.desk.Problems.MajorUpdates(ctx, "acme", id)
		require.NoError(t, err)
		require.Len(t, ups, 1)

		review := "Root cause: a full disk. Actions: alerting at 80%."
		m, err = e.desk.ChangeMajor(ctx, id, problem.MajorChange{Tenant: "acme", Actor: "carol", Review: &review})
		require.NoError(t, err)
		require.NotZero(t, m.ProblemID)
		require.False(t, m.EndedAt.IsZero(), "a review ends the major incident")
		due, err = e.desk.DueUpdates(ctx, "")
		require.NoError(t, err)
		require.Empty(t, due)
		p, err := e.desk.Problems.Problem(ctx, "acme", m.ProblemID)
		require.NoError(t, err)
		require.Equal(t, store.OriginReview, p.Origin)
		linked, err := e.desk.Problems.ProblemIncidents(ctx, p.ID)
		require.NoError(t, err)
		require.Equal(t, []int64{id}, linked)
		j, err := e.st.Journal(ctx, id)
		require.NoError(t, err)
		kinds := map[string]int{}
		for _, l := range j {
			kinds[l.Kind]++
		}
		require.Equal(t, 1, kinds[store.KindMajorDeclared])
		require.Equal(t, 1, kinds[store.KindCustomerUpdate])
		require.Equal(t, 1, kinds[store.KindMajor])
		// Each of those lines queued the incident for its tickets.
		ob, err := e.st.Outbox(ctx, 0, 100)
		require.NoError(t, err)
		updated := 0
		for _, o := range ob {
			if o.IncidentID == id && o.Event == incident.EventUpdated {
				updated++
			}
		}
		require.Equal(t, 3, updated, "declared, customer update, review")
		ms, err := e.desk.Problems.ListMajors(ctx, "acme", time.Time{}, time.Time{}, time.Time{})
		require.NoError(t, err)
		require.Len(t, ms, 1)
		require.Equal(t, review, ms[0].ReviewSummary)
	})

	t.Run("journal range is tenant-scoped and paged by id", func(t *testing.T) {
		e := newProblemEnv(t, open)
		e.ingest("acme", testkit.Payload("r", "g1", "firing", e.clock.Now(), alert("J", "a")))
		e.ingest("globex", testkit.Payload("r", "g1", "firing", e.clock.Now(), alert("J", "a")))
		e.clock.Advance(time.Hour)
		e.ingest("acme", testkit.Payload("r", "g2", "firing", e.clock.Now(), alert("K", "a")))
		all, err := e.desk.Problems.JournalRange(ctx, "acme", time.Time{}, time.Time{}, 0, 0)
		require.NoError(t, err)
		require.NotEmpty(t, all)
		for _, l := range all {
			require.Equal(t, "acme", l.Tenant)
		}
		var paged []incident.Entry
		var after int64
		for {
			page, err := e.desk.Problems.JournalRange(ctx, "acme", time.Time{}, time.Time{}, after, 1)
			require.NoError(t, err)
			if len(page) == 0 {
				break
			}
			paged = append(paged, page...)
			after = page[len(page)-1].ID
		}
		require.Equal(t, all, paged)
		late, err := e.desk.Problems.JournalRange(ctx, "acme", e.clock.Now(), time.Time{}, 0, 0)
		require.NoError(t, err)
		require.NotEmpty(t, late)
		require.Less(t, len(late), len(all))
	})
}
