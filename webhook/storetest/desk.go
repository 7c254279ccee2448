package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kizashi-dev/kizashi/webhook/incident"
	"github.com/kizashi-dev/kizashi/webhook/service"
	"github.com/kizashi-dev/kizashi/webhook/store"
	"github.com/kizashi-dev/kizashi/webhook/testkit"
)

// runDesk checks the lifecycle's promises that involve Alertmanager's repeats
// and the sweep (issue 14).
func runDesk(t *testing.T, open Opener) {
	op := service.Caller{Name: "op", Operator: true}
	resolve := incident.Action{Kind: incident.ActResolve, CloseCode: "solved_workaround", Text: "restarted"}

	t.Run("a repeat shows again an incident resolved or closed while its alerts fire", func(t *testing.T) {
		e := newEnv(t, open)
		ctx := context.Background()
		body := testkit.Payload("r", "g", "firing", t0, alert("H", "a"))
		id := e.ingest("acme", body).Incidents[0]
		e.clock.Advance(time.Minute)
		_, err := e.svc.Act(ctx, op, id, resolve)
		require.NoError(t, err)
		// A copy within the grace: Alertmanager's resolve may be on its way.
		e.clock.Advance(time.Minute)
		r := e.ingest("acme", body)
		require.True(t, r.Duplicate)
		in, err := e.st.Incident(ctx, "acme", id)
		require.NoError(t, err)
		require.Equal(t, incident.StateResolved, in.State)
		// Alertmanager repeats the notification later: the alert still fires.
		e.clock.Advance(service.StillFiringGrace)
		r = e.ingest("acme", body)
		require.True(t, r.Duplicate)
		require.Equal(t, []int64{id}, r.Incidents)
		in, err = e.st.Incident(ctx, "acme", id)
		require.NoError(t, err)
		require.Equal(t, incident.StateInProgress, in.State, "the desk sees it again")
		require.False(t, in.Flapping)
		// Resolved and closed by hand while it fires: a repeat opens a new, linked incident.
		_, err = e.svc.Act(ctx, op, id, resolve)
		require.NoError(t, err)
		_, err = e.svc.Act(ctx, op, id, incident.Action{Kind: incident.ActClose})
		require.NoError(t, err)
		e.clock.Advance(4 * time.Hour)
		r = e.ingest("acme", body)
		require.Len(t, r.Incidents, 1)
		require.NotEqual(t, id, r.Incidents[0])
		ins := e.list(store.Filter{Tenant: "acme", OpenOnly: true})
		require.Len(t, ins, 1)
		require.Equal(t, id, ins[0].PreviousID)
		// Once it shows, further repeats are heartbeats.
		e.clock.Advance(4 * time.Hour)
		r = e.ingest("acme", body)
		require.True(t, r.Heartbeat)
		require.Len(t, e.list(store.Filter{Tenant: "acme"}), 2)
	})

	t.Run("a false-positive mute that ends while the alert fires shows it again", func(t *testing.T) {
		e := newEnv(t, open)
		ctx := context.Background()
		body := testkit.Payload("r", "g", "firing", t0, alert("M", "a"))
		id := e.ingest("acme", body).Incidents[0]
		_, err := e.svc.Act(ctx, op, id, incident.Action{Kind: incident.ActCancel, Text: "noise", FalsePositive: true})
		require.NoError(t, err)
		e.clock.Advance(time.Hour)
		e.ingest("acme", body) // muted: nothing new
		require.Len(t, e.list(store.Filter{Tenant: "acme"}), 1)
		e.clock.Advance(e.rules.P.MuteWindow)
		r := e.ingest("acme", body)
		require.True(t, r.Duplicate)
		ins := e.list(store.Filter{Tenant: "acme", OpenOnly: true})
		require.Len(t, ins, 1, "mute over, alert still firing: a new incident")
		require.Equal(t, id, ins[0].PreviousID)
	})

	t.Run("a late repeat does not undo a resolve", func(t *testing.T) {
		e := newEnv(t, open)
		firing := testkit.Payload("r", "g", "firing", t0, alert("L", "a"))
		id := e.ingest("acme", firing).Incidents[0]
		e.clock.Advance(time.Minute)
		e.ingest("acme", testkit.Payload("r", "g", "resolved", t0, alert("L", "a")))
		// An HA peer's copy of the firing notification arrives after the resolve.
		e.clock.Advance(time.Second)
		r := e.ingest("acme", firing)
		require.True(t, r.Duplicate)
		in, err := e.st.Incident(context.Background(), "acme", id)
		require.NoError(t, err)
		require.Equal(t, incident.StateResolved, in.State)
	})

	t.Run("the sweep resolves a flapping incident once quiet and forwards breaches when they happen", func(t *testing.T) {
		e := newEnv(t, open)
		ctx := context.Background()
		e.rules.P.FlapCycles, e.rules.P.FlapWindow = 2, 10*time.Minute
		start := t0
		var id int64
		for i := 0; i < 2; i++ {
			r := e.ingest("acme", testkit.Payload("r", "g", "firing", start, alert("F", "a")))
			id = r.Incidents[0]
			e.clock.Advance(time.Minute)
			e.ingest("acme", testkit.Payload("r", "g", "resolved", start, alert("F", "a")))
			e.clock.Advance(time.Minute)
			start = start.Add(2 * time.Minute)
		}
		e.ingest("acme", testkit.Payload("r", "g", "firing", start, alert("F", "a")))
		lastRefire := e.clock.Now()
		e.clock.Advance(30 * time.Second)
		e.ingest("acme", testkit.Payload("r", "g", "resolved", start, alert("F", "a")))
		in, err := e.st.Incident(ctx, "acme", id)
		require.NoError(t, err)
		require.True(t, in.Flapping)
		require.Equal(t, incident.StateInProgress, in.State)
		before, err := e.st.Outbox(ctx, 0, 1000)
		require.NoError(t, err)

		e.clock.Advance(lastRefire.Add(11*time.Minute + 30*time.Second).Sub(e.clock.Now()))
		_, err = e.svc.Sweep(ctx, e.rules.P.CloseAfter)
		require.NoError(t, err)
		in, err = e.st.Incident(ctx, "acme", id)
		require.NoError(t, err)
		require.Equal(t, incident.StateResolved, in.State, "quiet for longer than the flap window")
		after, err := e.st.Outbox(ctx, 0, 1000)
		require.NoError(t, err)
		require.Len(t, after, len(before)+1)
		require.Equal(t, incident.EventResolved, after[len(after)-1].Event)

		// A breach found by the sweep is queued for the ticket systems at once.
		r := e.ingest("acme", testkit.Payload("r", "g2", "firing", t0, alert("B", "a")))
		e.clock.Advance(24 * time.Hour)
		_, err = e.svc.Sweep(ctx, e.rules.P.CloseAfter)
		require.NoError(t, err)
		ob, err := e.st.Outbox(ctx, 0, 1000)
		require.NoError(t, err)
		var breaches int
		for _, it := range ob {
			if it.IncidentID == r.Incidents[0] && it.Event == incident.EventSLABreach {
				breaches++
			}
		}
		require.Equal(t, 1, breaches)
	})

	t.Run("manual incidents, priority override, link and merge", func(t *testing.T) {
		e := newEnv(t, open)
		ctx := context.Background()
		_, err := e.svc.CreateManual(ctx, service.Caller{Name: "cleo", Tenant: "acme", ReadOnly: true},
			incident.Manual{Title: "x", Channel: "phone", Impact: 1, Urgency: 1})
		require.ErrorIs(t, err, service.ErrForbidden)
		_, err = e.svc.CreateManual(ctx, op, incident.Manual{Tenant: "acme", Title: "x", Channel: "fax", Impact: 1, Urgency: 1})
		require.ErrorIs(t, err, incident.ErrInvalid)
		call, err := e.svc.CreateManual(ctx, op, incident.Manual{Tenant: "acme", Title: "Checkout slow (customer call)",
			Description: "caller: Sato, since 09:10", Channel: "phone", Impact: 2, Urgency: 2})
		require.NoError(t, err)
		require.Equal(t, incident.StateNew, call.State)
		require.Equal(t, 3, call.Priority)
		mail, err := e.svc.CreateManual(ctx, service.Caller{Name: "acme", Tenant: "acme"}, incident.Manual{Tenant: "globex",
			Title: "Checkout slow (e-mail)", Channel: "email", Impact: 2, Urgency: 2})
		require.NoError(t, err)
		require.Equal(t, "acme", mail.Tenant, "a tenant's credential opens incidents in its own tenant only")
		alerted := e.ingest("acme", testkit.Payload("r", "g", "firing", t0, alert("Slow", "web1"))).Incidents[0]

		_, err = e.svc.Act(ctx, op, call.ID, incident.Action{Kind: incident.ActPriority, Impact: 1, Urgency: 2, Text: "all stores affected"})
		require.NoError(t, err)
		require.NoError(t, e.svc.Relate(ctx, op, incident.RelLink, call.ID, alerted, "same cause"))
		require.NoError(t, e.svc.Relate(ctx, op, incident.RelMerge, mail.ID, call.ID, "duplicate report"))
		err = e.svc.Relate(ctx, op, incident.RelMerge, mail.ID, call.ID, "")
		require.ErrorIs(t, err, incident.ErrTransition, "already merged")
		err = e.svc.Relate(ctx, service.Caller{Name: "globex", Tenant: "globex"}, incident.RelLink, call.ID, alerted, "")
		require.ErrorIs(t, err, store.ErrNotFound, "another tenant's incidents")

		// An alert's incident merged into the call: its repeats stay with the call.
		dup := e.ingest("acme", testkit.Payload("r", "g2", "firing", t0, alert("Slow", "web2"))).Incidents[0]
		require.NoError(t, e.svc.Relate(ctx, op, incident.RelMerge, dup, call.ID, ""))
		e.clock.Advance(time.Hour)
		r := e.ingest("acme", testkit.Payload("r", "g2", "firing", t0, alert("Slow", "web2")))
		require.True(t, r.Duplicate)
		require.Len(t, e.list(store.Filter{Tenant: "acme", OpenOnly: true}), 2, "the call and the alerted incident")

		in, err := e.st.Incident(ctx, "acme", mail.ID)
		require.NoError(t, err)
		require.Equal(t, incident.StateCanceled, in.State)
		require.Equal(t, "merged", in.CloseCode)
		in, err = e.st.Incident(ctx, "acme", call.ID)
		require.NoError(t, err)
		require.Equal(t, 2, in.Priority)
		j, err := e.st.Journal(ctx, call.ID)
		require.NoError(t, err)
		var lines []string
		for _, l := range j {
			require.NotEmpty(t, l.Actor)
			lines = append(lines, l.Actor+" "+l.Kind+" "+l.Message)
		}
		require.Equal(t, []string{
			"op created created by hand (phone): P3 (impact 2, urgency 2) — caller: Sato, since 09:10",
			"op priority priority set P3 -> P2 (impact 1, urgency 2): all stores affected",
			fmt.Sprintf("op linked linked to incident #%d — same cause", alerted),
			fmt.Sprintf("op linked incident #%d merged into this one — duplicate report", mail.ID),
			fmt.Sprintf("op linked incident #%d merged into this one", dup),
		}, lines)
	})
}
