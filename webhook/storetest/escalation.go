package storetest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kizashi-dev/kizashi/webhook/incident"
	"github.com/kizashi-dev/kizashi/webhook/service"
	"github.com/kizashi-dev/kizashi/webhook/store"
	"github.com/kizashi-dev/kizashi/webhook/testkit"
)

// RunEscalations runs the conformance suite of store.Escalating.
func RunEscalations(t *testing.T, open Opener) {
	ctx := context.Background()
	// fire opens an incident of priority 1 (critical alert of an impact-1 service) or 3.
	fire := func(e *env, tenant, name string, p1 bool) *incident.Incident {
		sev := "warning"
		if p1 {
			sev = "critical"
		}
		e.ingest(tenant, testkit.Payload("r", "{}:{alertname=\""+name+"\"}", "firing", e.clock.Now(),
			map[string]string{"alertname": name, "severity": sev, "service": "shop"}))
		ins := e.list(store.Filter{Tenant: tenant, Search: name})
		require.Len(t, ins, 1)
		return ins[0]
	}
	setup := func(t *testing.T) (*env, store.Escalating) {
		e := newEnv(t, open)
		e.rules.P.Priority.Services = map[string]int{"shop": 1}
		es, ok := e.st.(store.Escalating)
		require.True(t, ok, "%T does not implement store.Escalating", e.st)
		return e, es
	}

	t.Run("escalations start once per new incident of the priorities", func(t *testing.T) {
		e, es := setup(t)
		old := fire(e, "acme", "Old", true)
		e.clock.Advance(2 * time.Hour)
		p1 := fire(e, "acme", "Disk", true)
		p3 := fire(e, "acme", "Slow", false)
		acked := fire(e, "acme", "Acked", true)
		other := fire(e, "globex", "Disk", true)
		require.Equal(t, 1, p1.Priority)
		require.NotEqual(t, 1, p3.Priority)
		_, err := e.svc.Act(ctx, service.Caller{Name: "bob", Tenant: "acme"}, acked.ID, incident.Action{Kind: incident.ActAcknowledge})
		require.NoError(t, err)
		now := e.clock.Now()
		n, err := es.StartEscalations(ctx, "acme", "p1", []int{1}, now.Add(-time.Hour), now)
		require.NoError(t, err)
		require.Equal(t, 1, n)
		n, err = es.StartEscalations(ctx, "acme", "p1", []int{1}, now.Add(-time.Hour), now)
		require.NoError(t, err)
		require.Zero(t, n, "a second start created steps again")
		steps, err := es.EscalationSteps(ctx, p1.ID)
		require.NoError(t, err)
		require.Len(t, steps, 1)
		s := steps[0]
		require.Equal(t, "acme", s.Tenant)
		require.Equal(t, "p1", s.Policy)
		require.Equal(t, 0, s.Seq)
		require.Equal(t, 0, s.Level)
		require.Equal(t, 1, s.Round)
		require.True(t, s.DueAt.Equal(now))
		require.Empty(t, s.Outcome)
		for _, in := range []*incident.Incident{old, p3, acked, other} {
			steps, err := es.EscalationSteps(ctx, in.ID)
			require.NoError(t, err)
			require.Empty(t, steps, "incident %s got a step", in.Title)
		}
	})

	t.Run("a step is leased to one owner, finished once with its journal line and next step", func(t *testing.T) {
		e, es := setup(t)
		in := fire(e, "acme", "Disk", true)
		now := e.clock.Now()
		_, err := es.StartEscalations(ctx, "acme", "p1", []int{1}, time.Time{}, now)
		require.NoError(t, err)
		none, err := es.ClaimSteps(ctx, "a", now.Add(-time.Second), now.Add(time.Minute), 10)
		require.NoError(t, err)
		require.Empty(t, none, "a step was claimed before it was due")
		got, err := es.ClaimSteps(ctx, "a", now, now.Add(time.Minute), 10)
		require.NoError(t, err)
		require.Len(t, got, 1)
		st := got[0]
		again, err := es.ClaimSteps(ctx, "b", now.Add(30*time.Second), now.Add(2*time.Minute), 10)
		require.NoError(t, err)
		require.Empty(t, again, "a leased step was claimed again")
		require.NoError(t, es.MarkDelivered(ctx, st.ID, "a", "alice/mail"))
		require.NoError(t, es.MarkDelivered(ctx, st.ID, "a", "alice/mail"))
		require.Error(t, es.MarkDelivered(ctx, st.ID, "b", "alice/slack"), "a delivery recorded without the lease")
		// The lease expires: b takes the step over and sees a's delivery.
		taken, err := es.ClaimSteps(ctx, "b", now.Add(time.Minute), now.Add(2*time.Minute), 10)
		require.NoError(t, err)
		require.Len(t, taken, 1)
		require.Equal(t, []string{"alice/mail"}, taken[0].Delivered)
		next := &store.EscalationStep{Tenant: "acme", IncidentID: in.ID, Policy: "p1", Seq: 1, Level: 1, Round: 1, DueAt: now.Add(11 * time.Minute)}
		line := []incident.Entry{{Tenant: "acme", IncidentID: in.ID, At: now.Add(time.Minute), Actor: "escalation", Kind: "escalation", Message: "level 1: notified alice/mail"}}
		ok, err := es.FinishStep(ctx, st.ID, "a", store.StepNotified, now.Add(time.Minute), next, line)
		require.NoError(t, err)
		require.False(t, ok, "the old owner finished a step it lost")
		ok, err = es.FinishStep(ctx, st.ID, "b", store.StepNotified, now.Add(time.Minute), next, line)
		require.NoError(t, err)
		require.True(t, ok)
		ok, err = es.FinishStep(ctx, st.ID, "b", store.StepNotified, now.Add(time.Minute), next, line)
		require.NoError(t, err)
		require.False(t, ok, "a step was finished twice")
		steps, err := es.EscalationSteps(ctx, in.ID)
		require.NoError(t, err)
		require.Len(t, steps, 2)
		require.Equal(t, store.StepNotified, steps[0].Outcome)
		require.True(t, steps[0].DoneAt.Equal(now.Add(time.Minute)))
		require.Equal(t, 1, steps[1].Seq)
		require.Equal(t, 1, steps[1].Level)
		require.True(t, steps[1].DueAt.Equal(now.Add(11*time.Minute)))
		j, err := e.st.Journal(ctx, in.ID)
		require.NoError(t, err)
		var lines int
		for _, l := range j {
			if l.Kind == "escalation" {
				lines++
				require.Equal(t, "level 1: notified alice/mail", l.Message)
			}
		}
		require.Equal(t, 1, lines, "journal lines of the step")
		// Retry: released, counted, due later.
		got, err = es.ClaimSteps(ctx, "a", now.Add(11*time.Minute), now.Add(12*time.Minute), 10)
		require.NoError(t, err)
		require.Len(t, got, 1)
		require.NoError(t, es.RetryStep(ctx, got[0].ID, "a", "smtp: 451", now.Add(13*time.Minute)))
		got, err = es.ClaimSteps(ctx, "a", now.Add(12*time.Minute), now.Add(14*time.Minute), 10)
		require.NoError(t, err)
		require.Empty(t, got)
		got, err = es.ClaimSteps(ctx, "a", now.Add(13*time.Minute), now.Add(14*time.Minute), 10)
		require.NoError(t, err)
		require.Len(t, got, 1)
		require.Equal(t, 1, got[0].Attempts)
		require.Equal(t, "smtp: 451", got[0].LastError)
	})

	t.Run("concurrent owners claim each step once", func(t *testing.T) {
		e, es := setup(t)
		for i := range 20 {
			fire(e, "acme", fmt.Sprintf("Disk%d", i), true)
		}
		now := e.clock.Now()
		n, err := es.StartEscalations(ctx, "acme", "p1", []int{1}, time.Time{}, now)
		require.NoError(t, err)
		require.Equal(t, 20, n)
		var (
			mu   sync.Mutex
			seen = map[int64]string{}
			wg   sync.WaitGroup
		)
		for w := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				owner := fmt.Sprintf("w%d", w)
				for {
					got, err := es.ClaimSteps(ctx, owner, now, now.Add(time.Minute), 3)
					if err != nil {
						t.Error(err)
						return
					}
					if len(got) == 0 {
						return
					}
					mu.Lock()
					for _, s := range got {
						if prev, dup := seen[s.ID]; dup {
							t.Errorf("step %d claimed by %s and %s", s.ID, prev, owner)
						}
						seen[s.ID] = owner
					}
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		require.Len(t, seen, 20)
	})
}
