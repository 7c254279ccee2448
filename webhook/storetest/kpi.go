package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kizashi-dev/kizashi/webhook/incident"
	"github.com/kizashi-dev/kizashi/webhook/service"
	"github.com/kizashi-dev/kizashi/webhook/testkit"
)

// RunKPIs plays a scripted shift and checks the KPIs against figures computed
// by hand (see the comments), on the store as reopened after a restart. db
// gives a fresh database that can be opened more than once.
func RunKPIs(t *testing.T, db func(t *testing.T) Database) {
	d := db(t)
	clock := testkit.NewClock(t0)
	p := incident.DefaultPolicy()
	p.SLA = map[int]incident.SLATarget{2: {Response: 15 * time.Minute, Resolve: 2 * time.Hour}}
	rules := &testkit.StaticRules{P: p}
	start := func() *env {
		st := d.Open(t)
		e := &env{t: t, st: st, clock: clock, rules: rules}
		e.svc = &service.Service{Store: st, Rules: func() service.Rules { return *e.rules }, Now: clock.Now}
		return e
	}
	ctx := context.Background()
	op := service.Caller{Name: "op", Operator: true}
	at := func(m int) { clock.Advance(t0.Add(time.Duration(m) * time.Minute).Sub(clock.Now())) }
	fire := func(e *env, g string, startsAt int) int64 {
		r := e.ingest("acme", testkit.Payload("r", g, "firing", t0.Add(time.Duration(startsAt)*time.Minute), alert("K", g)))
		require.Len(t, r.Incidents, 1)
		return r.Incidents[0]
	}
	resolve := func(e *env, g string, startsAt int) {
		e.ingest("acme", testkit.Payload("r", g, "resolved", t0.Add(time.Duration(startsAt)*time.Minute), alert("K", g)))
	}
	act := func(e *env, id int64, a incident.Action) {
		_, err := e.svc.Act(ctx, op, id, a)
		require.NoError(t, err)
	}
	solved := incident.Action{Kind: incident.ActResolve, CloseCode: "solved_permanently", Text: "fixed"}

	// Every incident is P2 (critical alert, unknown service; the watchdog with impact 2,
	// urgency 1): response due after 15m, resolution after 2h (plus time on hold).
	e := start()
	at(0)
	a, _, _, d2, x := fire(e, "a", 0), fire(e, "b", 0), fire(e, "c", 0), fire(e, "d", 0), fire(e, "e", 0)
	e.ingest("globex", testkit.Payload("r", "a", "firing", t0, alert("K", "a"))) // another tenant: not counted
	_, err := e.svc.WatchdogDown(ctx, service.Watchdog{Tenant: "acme", Title: "pipeline down", Impact: 2, Urgency: 1,
		Timeout: 5 * time.Minute, Last: t0.Add(-6 * time.Minute)})
	require.NoError(t, err)
	at(5)
	act(e, a, incident.Action{Kind: incident.ActAcknowledge}) // A: acknowledged after 5m
	at(8)
	act(e, x, incident.Action{Kind: incident.ActCancel, Text: "test alert"}) // E: canceled after 8m, its first response
	at(10)
	act(e, a, incident.Action{Kind: incident.ActHold, Reason: "awaiting_vendor"})
	act(e, d2, incident.Action{Kind: incident.ActAcknowledge}) // D: acknowledged after 10m
	at(20)
	resolve(e, "b", 0) // B: never acknowledged, resolved by Alertmanager after 20m (response late)
	at(25)
	_, err = e.svc.WatchdogUp(ctx, "acme", clock.Now()) // W: resolved after 25m, never acknowledged (response late)
	require.NoError(t, err)
	at(30)
	resolve(e, "d", 0) // D: resolved after 30m ...
	require.NoError(t, e.st.Close())

	// Restart.
	e = start()
	at(40)
	act(e, a, incident.Action{Kind: incident.ActResume}) // A: 30m on hold
	fire(e, "d", 40)                                     // D: re-fires, reopened
	at(60)
	resolve(e, "d", 40) // D: resolved again after 60m: one resolution of 60m
	at(70)
	act(e, a, solved) // A: resolved after 70m, 40m of it not on hold
	at(180)
	_, err = e.svc.Sweep(ctx, p.CloseAfter) // C: never acknowledged, both targets breached
	require.NoError(t, err)
	require.NoError(t, e.st.Close())

	e = start()
	t.Cleanup(func() { require.NoError(t, e.st.Close()) })
	kpis, err := e.svc.KPIs(ctx, "acme", time.Time{}, time.Time{})
	require.NoError(t, err)
	require.Len(t, kpis, 1)
	k := kpis[0]
	require.Equal(t, incident.KPI{
		Tenant: "acme", Priority: 2,
		Incidents:         6, // A B C D E W
		Open:              1, // C (Resolved is not open, E canceled)
		Unacknowledged:    1, // C
		Responded:         5, // A 5m, B 20m, D 10m, W 25m, E 8m
		TimeToAcknowledge: (5 + 20 + 10 + 25 + 8) * time.Minute,
		Resolved:          4, // A 70m-30m on hold, B 20m, D 60m, W 25m
		TimeToResolve:     (40 + 20 + 60 + 25) * time.Minute,
		ResponseMet:       3, // A, D, E
		ResponseBreached:  3, // B, W (late), C (recorded)
		ResolveMet:        4, // A (due 2h30m), B, D, W
		ResolveBreached:   1, // C
	}, k)
	mtta, ok := k.MTTA()
	require.True(t, ok)
	require.Equal(t, 13*time.Minute+36*time.Second, mtta)
	mttr, ok := k.MTTR()
	require.True(t, ok)
	require.Equal(t, 36*time.Minute+15*time.Second, mttr)
	rc, _ := k.ResponseCompliance()
	require.InDelta(t, 50.0, rc, 1e-9)
	sc, _ := k.ResolveCompliance()
	require.InDelta(t, 80.0, sc, 1e-9)

	counts, err := e.st.OpenCounts(ctx)
	require.NoError(t, err)
	open := map[string]int{}
	for _, c := range counts {
		open[c.Tenant] += c.Count
	}
	require.Equal(t, map[string]int{"acme": 1, "globex": 1}, open, "the open-incidents metric agrees: Resolved is not open")

	all, err := e.svc.KPIs(ctx, "", time.Time{}, time.Time{})
	require.NoError(t, err)
	require.Len(t, all, 2, "acme and globex")
	require.Equal(t, "globex", all[1].Tenant)
	require.Equal(t, 1, all[1].Open)
}
