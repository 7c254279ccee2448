package storetest

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kizashi-dev/kizashi/webhook/incident"
	"github.com/kizashi-dev/kizashi/webhook/service"
	"github.com/kizashi-dev/kizashi/webhook/store"
	"github.com/kizashi-dev/kizashi/webhook/testkit"
)

func forwarding(t *testing.T, st store.Store) store.Forwarding {
	t.Helper()
	f, ok := st.(store.Forwarding)
	require.True(t, ok, "%T implements store.Forwarding", st)
	return f
}

func reconciling(t *testing.T, st store.Store) store.Reconciling {
	t.Helper()
	r, ok := st.(store.Reconciling)
	require.True(t, ok, "%T implements store.Reconciling", st)
	return r
}

// targetsOf gives tenant "acme" two targets and every other tenant none.
func targetsOf(tenant string) []string {
	if tenant == "acme" {
		return []string{"acme/snow", "acme/pd"}
	}
	return nil
}

func (e *env) dispatchAll(f store.Forwarding) int {
	e.t.Helper()
	total := 0
	for {
		n, err := f.DispatchOutbox(context.Background(), e.clock.Now(), 100, targetsOf)
		require.NoError(e.t, err)
		total += n
		if n == 0 {
			return total
		}
	}
}

// RunForwarding runs the suite of store.Forwarding and store.Reconciling.
func RunForwarding(t *testing.T, open Opener) {
	ctx := context.Background()

	t.Run("dispatch fans out per target and coalesces", func(t *testing.T) {
		e := newEnv(t, open)
		f := forwarding(t, e.st)
		gk := `{}:{alertname="F"}`
		start := e.clock.Now()
		e.ingest("acme", testkit.Payload("r", gk, "firing", t0, alert("F", "a")))
		e.ingest("globex", testkit.Payload("r", gk, "firing", t0, alert("F", "a")))
		e.clock.Advance(time.Minute)
		e.ingest("acme", testkit.Payload("r", gk, "firing", t0, alert("F", "a"), alert("F", "b")))
		require.Equal(t, 3, e.dispatchAll(f))
		require.Zero(t, e.dispatchAll(f), "dispatched rows are not dispatched again")

		stats, err := f.ForwardStats(ctx)
		require.NoError(t, err)
		require.Len(t, stats, 2, "globex has no target: its row is dropped")
		for _, s := range stats {
			require.Equal(t, 1, s.Pending, s.Target)
			require.Equal(t, start, s.OldestPending, "pending since the first change")
		}
		now := e.clock.Now()
		jobs, err := f.ClaimJobs(ctx, "acme/snow", "w1", now, now.Add(time.Minute), 10)
		require.NoError(t, err)
		require.Len(t, jobs, 1)
		j := jobs[0]
		require.Equal(t, int64(2), j.Gen, "two changes, one job")
		require.Equal(t, 1, j.Claims)
		require.Equal(t, "acme", j.Tenant)
		again, err := f.ClaimJobs(ctx, "acme/snow", "w2", now, now.Add(time.Minute), 10)
		require.NoError(t, err)
		require.Empty(t, again, "a leased job is not claimed twice")

		// A change while the delivery runs keeps the job pending.
		e.clock.Advance(time.Second)
		e.ingest("acme", testkit.Payload("r", gk, "resolved", t0, alert("F", "a"), alert("F", "b")))
		require.Equal(t, 1, e.dispatchAll(f))
		ok, err := f.CompleteJob(ctx, j.ID, "w2", store.JobDone{Gen: j.Gen, At: e.clock.Now()})
		require.NoError(t, err)
		require.False(t, ok, "only the lease owner completes")
		ref := store.ExternalRef{ID: "sys1", Key: "INC001", URL: "https://snow/INC001"}
		require.NoError(t, f.SaveRef(ctx, j.ID, "w1", ref))
		ok, err = f.CompleteJob(ctx, j.ID, "w1", store.JobDone{Gen: j.Gen, SyncedJournalID: 7, RemoteState: "2", Ref: ref,
			At: e.clock.Now(), ClaimedAt: now})
		require.NoError(t, err)
		require.True(t, ok)
		jobs, err = f.ClaimJobs(ctx, "acme/snow", "w1", e.clock.Now(), e.clock.Now().Add(time.Minute), 10)
		require.NoError(t, err)
		require.Len(t, jobs, 1)
		require.Equal(t, int64(3), jobs[0].Gen)
		require.Equal(t, int64(2), jobs[0].SyncedGen)
		require.Equal(t, int64(7), jobs[0].SyncedJournalID)
		require.Equal(t, "2", jobs[0].RemoteState)
		require.Equal(t, 1, jobs[0].Claims, "claims restart after a success")
		require.Equal(t, now, jobs[0].PendingSince, "changes during a delivery are pending since its start")
		ref.Target = "acme/snow"
		require.Equal(t, ref, jobs[0].Ref)
		ok, err = f.CompleteJob(ctx, jobs[0].ID, "w1", store.JobDone{Gen: 3, Ref: ref, At: e.clock.Now()})
		require.NoError(t, err)
		require.True(t, ok)

		refs, err := f.ExternalRefs(ctx, []int64{j.IncidentID, 999})
		require.NoError(t, err)
		require.Equal(t, map[int64][]store.ExternalRef{j.IncidentID: {ref}}, refs)
		stats, err = f.ForwardStats(ctx)
		require.NoError(t, err)
		require.Equal(t, []store.TargetStats{{Target: "acme/pd", Pending: 1, OldestPending: start}}, stats)
	})

	t.Run("failures back off, die and are retried", func(t *testing.T) {
		e := newEnv(t, open)
		f := forwarding(t, e.st)
		for i := range 3 {
			e.ingest("acme", testkit.Payload("r", fmt.Sprintf(`{}:{alertname="D%d"}`, i), "firing", t0, alert(fmt.Sprintf("D%d", i), "a")))
		}
		e.dispatchAll(f)
		now := e.clock.Now()
		jobs, err := f.ClaimJobs(ctx, "acme/pd", "w", now, now.Add(time.Minute), 10)
		require.NoError(t, err)
		require.Len(t, jobs, 3)
		next := now.Add(time.Hour)
		require.NoError(t, f.FailJob(ctx, jobs[0].ID, "w", store.JobFailed{Error: "500", NextAttemptAt: next, Count: true, At: now}))
		require.NoError(t, f.FailJob(ctx, jobs[1].ID, "w", store.JobFailed{Error: "429", NextAttemptAt: next, At: now}))
		require.NoError(t, f.FailJob(ctx, jobs[2].ID, "w", store.JobFailed{Error: "400 bad field", Count: true, Dead: true, At: now}))
		got, err := f.ClaimJobs(ctx, "acme/pd", "w", now, now.Add(time.Minute), 10)
		require.NoError(t, err)
		require.Empty(t, got, "backing off and dead jobs are not due")

		dead, err := f.DeadLetters(ctx, store.DeadLetterFilter{Tenant: "acme"})
		require.NoError(t, err)
		require.Len(t, dead, 1)
		require.Equal(t, "400 bad field", dead[0].LastError)
		require.Equal(t, 1, dead[0].Attempts)
		none, err := f.DeadLetters(ctx, store.DeadLetterFilter{Tenant: "globex"})
		require.NoError(t, err)
		require.Empty(t, none)
		stats, err := f.ForwardStats(ctx)
		require.NoError(t, err)
		for _, s := range stats {
			if s.Target == "acme/pd" {
				require.Equal(t, 2, s.Pending)
				require.Equal(t, 1, s.Dead)
			}
		}

		n, err := f.KickTarget(ctx, "acme/pd", now)
		require.NoError(t, err)
		require.Equal(t, 2, n)
		got, err = f.ClaimJobs(ctx, "acme/pd", "w", now, now.Add(time.Minute), 10)
		require.NoError(t, err)
		require.Len(t, got, 2)
		attempts := map[int64]int{}
		for _, j := range got {
			attempts[j.ID] = j.Attempts
			require.Equal(t, 2, j.Claims)
		}
		require.Equal(t, map[int64]int{jobs[0].ID: 1, jobs[1].ID: 0}, attempts, "throttling does not count as an attempt")

		_, err = f.RetryDeadLetters(ctx, "globex", "", dead[0].ID, now)
		require.NoError(t, err)
		j, err := f.Job(ctx, "acme", dead[0].ID)
		require.NoError(t, err)
		require.False(t, j.DeadAt.IsZero(), "another tenant cannot retry it")
		_, err = f.Job(ctx, "globex", dead[0].ID)
		require.ErrorIs(t, err, store.ErrNotFound)
		n, err = f.RetryDeadLetters(ctx, "acme", "", dead[0].ID, now)
		require.NoError(t, err)
		require.Equal(t, 1, n)
		got, err = f.ClaimJobs(ctx, "acme/pd", "w2", now, now.Add(time.Minute), 10)
		require.NoError(t, err)
		require.Len(t, got, 1)
		require.Zero(t, got[0].Attempts)

		require.NoError(t, f.ReleaseLeases(ctx))
		got, err = f.ClaimJobs(ctx, "acme/pd", "w3", now, now.Add(time.Minute), 10)
		require.NoError(t, err)
		require.Len(t, got, 3, "released leases can be claimed again")
	})

	t.Run("concurrent workers claim each job once", func(t *testing.T) {
		e := newEnv(t, open)
		f := forwarding(t, e.st)
		const incidents = 60
		for i := range incidents {
			e.ingest("acme", testkit.Payload("r", fmt.Sprintf(`{}:{alertname="C%d"}`, i), "firing", t0, alert(fmt.Sprintf("C%d", i), "a")))
		}
		// Two dispatchers at once (replicas).
		var wg sync.WaitGroup
		for range 2 {
			wg.Go(func() {
				for {
					n, err := f.DispatchOutbox(ctx, e.clock.Now(), 7, targetsOf)
					if !assertNoError(t, err) || n == 0 {
						return
					}
				}
			})
		}
		wg.Wait()
		var (
			mu      sync.Mutex
			claimed = map[int64]string{}
		)
		now := e.clock.Now()
		for w := range 6 {
			wg.Go(func() {
				owner := fmt.Sprintf("w%d", w)
				for {
					jobs, err := f.ClaimJobs(ctx, "acme/snow", owner, now, now.Add(time.Minute), 3)
					if !assertNoError(t, err) || len(jobs) == 0 {
						return
					}
					mu.Lock()
					for _, j := range jobs {
						if prev, dup := claimed[j.ID]; dup {
							t.Errorf("job %d claimed by %s and %s", j.ID, prev, owner)
						}
						claimed[j.ID] = owner
					}
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		require.Len(t, claimed, incidents)
	})

	t.Run("ticket system answers with NUL bytes and cut runes are repaired, not refused", func(t *testing.T) {
		e := newEnv(t, open)
		f := forwarding(t, e.st)
		e.ingest("acme", testkit.Payload("r", "g", "firing", t0, alert("T", "a")))
		e.dispatchAll(f)
		now := e.clock.Now()
		jobs, err := f.ClaimJobs(ctx, "acme/snow", "w1", now, now.Add(time.Minute), 10)
		require.NoError(t, err)
		require.Len(t, jobs, 1)
		ref := store.ExternalRef{ID: "sys\x001", Key: "INC\xff", URL: "https://snow/\x00"}
		require.NoError(t, f.SaveRef(ctx, jobs[0].ID, "w1", ref))
		// An error text cut at 2,000 bytes inside a rune, with a NUL from the target's body.
		require.NoError(t, f.FailJob(ctx, jobs[0].ID, "w1", store.JobFailed{Error: strings.Repeat("x", 1999) + "é\x00", Count: true,
			NextAttemptAt: now, At: now}))
		j, err := f.Job(ctx, "acme", jobs[0].ID)
		require.NoError(t, err)
		require.Equal(t, strings.Repeat("x", 1999), j.LastError)
		require.Equal(t, store.ExternalRef{Target: "acme/snow", ID: "sys\uFFFD1", Key: "INC\uFFFD", URL: "https://snow/\uFFFD"}, j.Ref)
	})

	t.Run("stats are one consistent read while the outbox is dispatched", func(t *testing.T) {
		// Each incident has one outbox row, dispatched into one job per target. Until a job is
		// delivered, every change is either an undispatched row ("acme/") or a pending job, so
		// the two add up to the number of incidents in every snapshot. A reader that counts the
		// jobs before a dispatch commits and the rows after it sees changes vanish (and a test
		// waiting for "nothing pending" stops before anything was delivered).
		e := newEnv(t, open)
		f := forwarding(t, e.st)
		const incidents = 150
		for i := range incidents {
			e.ingest("acme", testkit.Payload("r", fmt.Sprintf(`{}:{alertname="S%d"}`, i), "firing", t0, alert(fmt.Sprintf("S%d", i), "a")))
		}
		total := func(stats []store.TargetStats) (jobs, rows int) {
			for _, s := range stats {
				switch s.Target {
				case "acme/snow":
					jobs = s.Pending
				case "acme/":
					rows = s.Pending
				}
			}
			return jobs, rows
		}
		stats, err := f.ForwardStats(ctx)
		require.NoError(t, err)
		_, rows := total(stats)
		require.Equal(t, incidents, rows, "one outbox row per incident")
		done := make(chan struct{})
		t.Cleanup(func() { <-done }) // before the store closes
		go func() {
			defer close(done)
			for {
				n, err := f.DispatchOutbox(ctx, e.clock.Now(), 1, targetsOf)
				if !assertNoError(t, err) || n == 0 {
					return
				}
			}
		}()
		reads := 0
		for finished := false; !finished; reads++ {
			select {
			case <-done:
				finished = true // one more read after the last dispatch
			default:
			}
			stats, err := f.ForwardStats(ctx)
			require.NoError(t, err)
			jobs, rows := total(stats)
			require.Equal(t, incidents, jobs+rows, "read %d: %d pending jobs and %d undispatched rows", reads, jobs, rows)
		}
		t.Logf("%d consistent reads during the dispatch", reads)
	})

	t.Run("outbox rows are pruned after dispatch", func(t *testing.T) {
		e := newEnv(t, open)
		f := forwarding(t, e.st)
		e.ingest("acme", testkit.Payload("r", `{}:{alertname="P"}`, "firing", t0, alert("P", "a")))
		n, err := f.PruneOutbox(ctx, e.clock.Now().Add(time.Hour))
		require.NoError(t, err)
		require.Zero(t, n, "undispatched rows stay")
		e.dispatchAll(f)
		n, err = f.PruneOutbox(ctx, e.clock.Now())
		require.NoError(t, err)
		require.Zero(t, n)
		n, err = f.PruneOutbox(ctx, e.clock.Now().Add(time.Second))
		require.NoError(t, err)
		require.Equal(t, int64(1), n)
	})

	t.Run("reconcile candidates and watchdogs", func(t *testing.T) {
		e := newEnv(t, open)
		r := reconciling(t, e.st)
		e.ingest("acme", testkit.Payload("r", `{}:{alertname="S"}`, "firing", t0, alert("S", "a")))
		e.clock.Advance(time.Hour)
		e.ingest("acme", testkit.Payload("r", `{}:{alertname="T"}`, "firing", t0, alert("T", "a")))
		e.ingest("acme", testkit.Payload("r", `{}:{alertname="U"}`, "firing", t0, alert("U", "a")))
		e.ingest("acme", testkit.Payload("r", `{}:{alertname="U"}`, "resolved", t0, alert("U", "a")))
		cands, err := r.ReconcileCandidates(ctx, "acme", e.clock.Now().Add(-30*time.Minute), 10)
		require.NoError(t, err)
		require.Len(t, cands, 1)
		require.Equal(t, "S", cands[0].Labels["alertname"])
		none, err := r.ReconcileCandidates(ctx, "globex", e.clock.Now(), 10)
		require.NoError(t, err)
		require.Empty(t, none)

		held := e.list(store.Filter{Tenant: "acme", Search: "T on a"})
		require.Len(t, held, 1)
		_, err = e.svc.Act(ctx, service.Caller{Name: "bob", Tenant: "acme"}, held[0].ID, incident.Action{Kind: incident.ActHold, Reason: "awaiting_vendor"})
		require.NoError(t, err)
		cands, err = r.ReconcileCandidates(ctx, "acme", e.clock.Now().Add(-30*time.Minute), 10)
		require.NoError(t, err)
		require.Len(t, cands, 2, "incidents on hold are candidates whatever their last notification")

		now := e.clock.Now()
		w, err := r.Watchdog(ctx, "acme", now)
		require.NoError(t, err)
		require.Equal(t, now, w.ArmedAt)
		require.True(t, w.LastSeenAt.IsZero())
		require.Equal(t, now, w.Last())
		e.clock.Advance(time.Minute)
		require.NoError(t, r.RecordHeartbeat(ctx, "acme", e.clock.Now()))
		require.NoError(t, r.RecordHeartbeat(ctx, "acme", now), "an older heartbeat does not go back in time")
		w, err = r.Watchdog(ctx, "acme", e.clock.Now().Add(time.Hour))
		require.NoError(t, err)
		require.Equal(t, now, w.ArmedAt)
		require.Equal(t, e.clock.Now(), w.LastSeenAt)
		require.NoError(t, r.RecordHeartbeat(ctx, "globex", now))
		w, err = r.Watchdog(ctx, "globex", e.clock.Now())
		require.NoError(t, err)
		require.Equal(t, now, w.Last())
	})
}

func assertNoError(t *testing.T, err error) bool {
	if err != nil {
		t.Error(err)
		return false
	}
	return true
}
