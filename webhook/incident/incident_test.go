package incident

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var t0 = time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)

func TestTransitions(t *testing.T) {
	for _, tc := range []struct {
		from, to State
		ok       bool
	}{
		{StateNew, StateInProgress, true},
		{StateNew, StateClosed, false},
		{StateInProgress, StateOnHold, true},
		{StateOnHold, StateInProgress, true},
		{StateResolved, StateInProgress, true},
		{StateResolved, StateClosed, true},
		{StateClosed, StateInProgress, false},
		{StateCanceled, StateNew, false},
		{StateInProgress, StateNew, false},
	} {
		t.Run(string(tc.from)+"->"+string(tc.to), func(t *testing.T) {
			require.Equal(t, tc.ok, CanTransition(tc.from, tc.to))
		})
	}
}

func TestPriority(t *testing.T) {
	p := DefaultPriorityPolicy()
	p.Services = map[string]int{"checkout": 1, "wiki": 3}
	for _, tc := range []struct {
		name                      string
		labels                    map[string]string
		impact, urgency, priority int
	}{
		{"critical on catalogue high", map[string]string{"severity": "critical", "service": "checkout"}, 1, 1, 1},
		{"warning on high", map[string]string{"severity": "warning", "service": "checkout"}, 1, 2, 2},
		{"info on low", map[string]string{"severity": "info", "service": "wiki"}, 3, 3, 5},
		{"unknown everything", map[string]string{}, 2, 3, 4},
		{"explicit labels win", map[string]string{"severity": "info", "service": "wiki", "itil_impact": "high", "itil_urgency": "1"}, 1, 1, 1},
		{"bad explicit label ignored", map[string]string{"severity": "critical", "itil_urgency": "urgent"}, 2, 1, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			i, u, pr := p.Compute(tc.labels)
			require.Equal(t, []int{tc.impact, tc.urgency, tc.priority}, []int{i, u, pr})
		})
	}
}

func firing(fp string, labels map[string]string) Alert {
	return Alert{Fingerprint: fp, Status: "firing", Labels: labels, StartsAt: t0}
}

func resolved(fp string, labels map[string]string) Alert {
	return Alert{Fingerprint: fp, Status: "resolved", Labels: labels, StartsAt: t0, EndsAt: t0.Add(time.Minute)}
}

var crit = map[string]string{"alertname": "Down", "severity": "critical", "instance": "db1"}

func TestApplyCreate(t *testing.T) {
	p := DefaultPolicy()
	out := Apply(t0, p, Input{Tenant: "a", CorrelationKey: "k", Complete: true, Alerts: []Alert{firing("1", crit)}})
	require.NotNil(t, out.Create)
	n := out.Create
	require.Equal(t, StateNew, n.State)
	require.Equal(t, "Down on db1", n.Title)
	require.Equal(t, "db1", n.CI)
	require.Equal(t, 2, n.Priority)
	require.Equal(t, t0.Add(30*time.Minute), n.ResponseDue)
	require.Equal(t, t0.Add(8*time.Hour), n.ResolveDue)
	require.Equal(t, []string{EventCreated}, out.Events)
	require.Len(t, out.Alerts, 1)
}

func TestApplyMajorProposed(t *testing.T) {
	p := DefaultPolicy()
	p.Priority.Services = map[string]int{"pay": 1}
	l := map[string]string{"alertname": "Down", "severity": "critical", "service": "pay"}
	out := Apply(t0, p, Input{Complete: true, Alerts: []Alert{firing("1", l)}})
	require.True(t, out.Create.MajorProposed)
	require.Equal(t, KindMajor, out.Entries[len(out.Entries)-1].Kind)
}

func open(p Policy, alerts ...Alert) (*Incident, []Alert) {
	out := Apply(t0, p, Input{Tenant: "a", CorrelationKey: "k", Complete: true, Alerts: alerts})
	out.Create.ID, out.Create.Version = 1, 1
	return out.Create, out.Alerts
}

func TestApplyAutoResolvePolicies(t *testing.T) {
	for _, tc := range []struct {
		mode    AutoResolve
		touched bool
		want    State
	}{
		{AutoResolveResolve, true, StateResolved},
		{AutoResolveNote, false, StateNew},
		{AutoResolveIfUntouched, false, StateResolved},
		{AutoResolveIfUntouched, true, StateNew},
	} {
		t.Run(string(tc.mode), func(t *testing.T) {
			p := DefaultPolicy()
			p.AutoResolve = tc.mode
			cur, alerts := open(p, firing("1", crit))
			cur.Touched = tc.touched
			out := Apply(t0.Add(time.Minute), p, Input{Complete: true, Current: cur, CurrentAlerts: alerts, Alerts: []Alert{resolved("1", crit)}})
			require.Equal(t, tc.want, out.Update.State)
			require.False(t, out.Heartbeat)
		})
	}
}

func TestApplyTruncatedDoesNotResolveAbsent(t *testing.T) {
	p := DefaultPolicy()
	cur, alerts := open(p, firing("1", crit), firing("2", crit))
	out := Apply(t0.Add(time.Minute), p, Input{Complete: false, Current: cur, CurrentAlerts: alerts, Alerts: []Alert{resolved("1", crit)}})
	require.Equal(t, StateNew, out.Update.State)
	require.Equal(t, 1, out.Update.FiringAlerts)
	out = Apply(t0.Add(time.Minute), p, Input{Complete: true, Current: cur, CurrentAlerts: alerts, Alerts: []Alert{resolved("1", crit)}})
	require.Equal(t, StateResolved, out.Update.State)
}

func TestApplyHeartbeat(t *testing.T) {
	p := DefaultPolicy()
	cur, alerts := open(p, firing("1", crit))
	out := Apply(t0.Add(4*time.Minute), p, Input{Complete: true, Reason: "repeat interval elapsed", Current: cur, CurrentAlerts: alerts, Alerts: []Alert{firing("1", crit)}})
	require.True(t, out.Heartbeat)
	require.Empty(t, out.Entries)
}

func TestApplyFlapping(t *testing.T) {
	p := DefaultPolicy()
	p.FlapCycles, p.FlapWindow = 3, time.Hour
	cur, alerts := open(p, firing("1", crit))
	now := t0
	for i := 0; i < 3; i++ {
		now = now.Add(time.Minute)
		out := Apply(now, p, Input{Complete: true, Current: cur, CurrentAlerts: alerts, Alerts: []Alert{resolved("1", crit)}})
		cur, alerts = out.Update, mergeForTest(alerts, out.Alerts)
		require.Equal(t, StateResolved, cur.State, "cycle %d", i)
		now = now.Add(time.Minute)
		out = Apply(now, p, Input{Complete: true, Current: cur, CurrentAlerts: alerts, Alerts: []Alert{firing("1", crit)}})
		cur, alerts = out.Update, mergeForTest(alerts, out.Alerts)
		require.Equal(t, StateInProgress, cur.State)
	}
	require.True(t, cur.Flapping)
	// Flapping: a resolve keeps the incident open.
	now = now.Add(time.Minute)
	out := Apply(now, p, Input{Complete: true, Current: cur, CurrentAlerts: alerts, Alerts: []Alert{resolved("1", crit)}})
	require.Equal(t, StateInProgress, out.Update.State)
	// Quiet for longer than the window: the next resolve resolves.
	out = Apply(now.Add(2*time.Hour), p, Input{Complete: true, Current: out.Update, CurrentAlerts: mergeForTest(alerts, out.Alerts), Alerts: []Alert{resolved("1", crit)}})
	require.Equal(t, StateResolved, out.Update.State)
	require.False(t, out.Update.Flapping)
}

func mergeForTest(known, changed []Alert) []Alert {
	m, _ := mergeAlerts(t0, known, changed, false)
	return m
}

func TestApplySuppressedAndLinked(t *testing.T) {
	p := DefaultPolicy()
	prev := &Incident{ID: 7, State: StateCanceled, MuteUntil: t0.Add(time.Hour)}
	out := Apply(t0, p, Input{Complete: true, Previous: prev, Alerts: []Alert{firing("1", crit)}})
	require.Nil(t, out.Create)
	require.Equal(t, []string{EventSuppressed}, out.Events)
	out = Apply(t0.Add(2*time.Hour), p, Input{Complete: true, Previous: prev, Alerts: []Alert{firing("1", crit)}})
	require.NotNil(t, out.Create)
	require.Equal(t, int64(7), out.Create.PreviousID)
}

func TestApplyResolveUnknownIsNoop(t *testing.T) {
	out := Apply(t0, DefaultPolicy(), Input{Complete: true, Alerts: []Alert{resolved("1", crit)}})
	require.True(t, out.Heartbeat)
	require.Nil(t, out.Create)
}

func TestDeskLifecycleAndSLAPause(t *testing.T) {
	p := DefaultPolicy()
	in, _ := open(p, firing("1", crit))
	resolveDue := in.ResolveDue
	steps := []struct {
		at     time.Duration
		action Action
		want   State
		err    error
	}{
		{time.Minute, Action{Kind: ActResolve, Actor: "bob", CloseCode: "bogus", Text: "x"}, StateNew, ErrInvalid},
		{time.Minute, Action{Kind: ActHold, Actor: "bob", Reason: "nap"}, StateNew, ErrInvalid},
		{2 * time.Minute, Action{Kind: ActAcknowledge, Actor: "bob"}, StateInProgress, nil},
		{3 * time.Minute, Action{Kind: ActAcknowledge, Actor: "bob"}, StateInProgress, ErrTransition},
		{4 * time.Minute, Action{Kind: ActHold, Actor: "bob", Reason: "awaiting_vendor"}, StateOnHold, nil},
		{64 * time.Minute, Action{Kind: ActResume, Actor: "bob"}, StateInProgress, nil},
		{65 * time.Minute, Action{Kind: ActAssign, Actor: "bob", AssignmentGroup: "dba", Assignee: "alice"}, StateInProgress, nil},
		{66 * time.Minute, Action{Kind: ActClose, Actor: "bob"}, StateInProgress, ErrTransition},
		{70 * time.Minute, Action{Kind: ActResolve, Actor: "alice", CloseCode: "solved_workaround", Text: "restarted"}, StateResolved, nil},
		{80 * time.Minute, Action{Kind: ActReopen, Actor: "alice", Text: "again"}, StateInProgress, nil},
		{81 * time.Minute, Action{Kind: ActCancel, Actor: "alice"}, StateInProgress, ErrInvalid},
		{82 * time.Minute, Action{Kind: ActCancel, Actor: "alice", Text: "test", FalsePositive: true}, StateCanceled, nil},
		{83 * time.Minute, Action{Kind: ActReopen, Actor: "alice"}, StateCanceled, ErrTransition},
	}
	for _, s := range steps {
		_, err := Do(in, p, s.action, t0.Add(s.at))
		if s.err != nil {
			require.ErrorIs(t, err, s.err, s.action.Kind)
		} else {
			require.NoError(t, err, s.action.Kind)
		}
		require.Equal(t, s.want, in.State, s.action.Kind)
	}
	require.Equal(t, resolveDue.Add(time.Hour), in.ResolveDue, "hold of 1h shifts the resolve due time")
	require.Equal(t, t0.Add(82*time.Minute+p.MuteWindow), in.MuteUntil)
	require.Equal(t, "alice", in.Assignee)
}

func TestSweep(t *testing.T) {
	p := DefaultPolicy()
	in, _ := open(p, firing("1", crit))
	entries, breaches := Sweep(in, p, t0.Add(time.Hour))
	require.Equal(t, []string{BreachResponse}, breaches)
	require.Len(t, entries, 1)
	_, breaches = Sweep(in, p, t0.Add(2*time.Hour))
	require.Empty(t, breaches, "a breach is recorded once")
	_, err := Do(in, p, Action{Kind: ActHold, Actor: "x", Reason: "awaiting_caller"}, t0.Add(2*time.Hour))
	require.NoError(t, err)
	_, breaches = Sweep(in, p, t0.Add(30*time.Hour))
	require.Empty(t, breaches, "on hold: the clock is paused")
	_, err = Do(in, p, Action{Kind: ActResolve, Actor: "x", CloseCode: "solved_permanently", Text: "ok"}, t0.Add(30*time.Hour))
	require.NoError(t, err)
	Sweep(in, p, t0.Add(30*time.Hour+p.CloseAfter))
	require.Equal(t, StateClosed, in.State)
}

// An incident that reached In Progress or On Hold without a person is still
// acknowledged (once), and its response clock stops.
func TestAcknowledgeIsAFactNotAState(t *testing.T) {
	p := DefaultPolicy()
	for _, tc := range []struct {
		name  string
		setup []Action
		want  State
	}{
		{"hold then resume from new", []Action{{Kind: ActHold, Actor: "x", Reason: "awaiting_caller"}, {Kind: ActResume, Actor: "x"}}, StateInProgress},
		{"on hold from new", []Action{{Kind: ActHold, Actor: "x", Reason: "awaiting_vendor"}}, StateOnHold},
		{"reopened", []Action{{Kind: ActResolve, Actor: "x", CloseCode: "solved_permanently", Text: "ok"}, {Kind: ActReopen, Actor: "x"}}, StateInProgress},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in, _ := open(p, firing("1", crit))
			for _, a := range tc.setup {
				_, err := Do(in, p, a, t0.Add(time.Minute))
				require.NoError(t, err)
			}
			require.Equal(t, tc.want, in.State)
			require.True(t, in.AcknowledgedAt.IsZero())
			res, err := Do(in, p, Action{Kind: ActAcknowledge, Actor: "bob"}, t0.Add(5*time.Minute))
			require.NoError(t, err)
			require.True(t, res.Acknowledged)
			require.Equal(t, tc.want, in.State, "acknowledging changes no state here")
			require.Equal(t, t0.Add(5*time.Minute), in.AcknowledgedAt)
			_, ok := in.ResponseRemaining(t0.Add(time.Hour))
			require.False(t, ok, "no response clock after the acknowledgement")
			_, err = Do(in, p, Action{Kind: ActAcknowledge, Actor: "bob"}, t0.Add(6*time.Minute))
			require.ErrorIs(t, err, ErrTransition, "acknowledged once")
		})
	}
}

// A flapping incident kept open when its alerts resolved is resolved by the
// sweep once no re-fire came for the flap window (no notification will come).
func TestSweepResolvesQuietFlappingIncident(t *testing.T) {
	p := DefaultPolicy()
	p.FlapCycles, p.FlapWindow = 2, 10*time.Minute
	cur, alerts := open(p, firing("1", crit))
	now := t0
	for i := 0; i < 2; i++ {
		now = now.Add(time.Minute)
		out := Apply(now, p, Input{Complete: true, Current: cur, CurrentAlerts: alerts, Alerts: []Alert{resolved("1", crit)}})
		cur, alerts = out.Update, mergeForTest(alerts, out.Alerts)
		now = now.Add(time.Minute)
		out = Apply(now, p, Input{Complete: true, Current: cur, CurrentAlerts: alerts, Alerts: []Alert{firing("1", crit)}})
		cur, alerts = out.Update, mergeForTest(alerts, out.Alerts)
	}
	require.True(t, cur.Flapping)
	lastRefire := now
	now = now.Add(30 * time.Second)
	out := Apply(now, p, Input{Complete: true, Current: cur, CurrentAlerts: alerts, Alerts: []Alert{resolved("1", crit)}})
	cur = out.Update
	require.Equal(t, StateInProgress, cur.State, "flapping: kept open")
	Sweep(cur, p, lastRefire.Add(9*time.Minute))
	require.Equal(t, StateInProgress, cur.State, "not quiet yet")
	entries, _ := Sweep(cur, p, lastRefire.Add(11*time.Minute+30*time.Second))
	require.Equal(t, StateResolved, cur.State, "quiet for longer than the window")
	require.False(t, cur.Flapping)
	require.Equal(t, lastRefire.Add(11*time.Minute+30*time.Second), cur.ResolvedAt)
	require.NotEmpty(t, entries)
}

func TestPriorityOverrideAndLateReopen(t *testing.T) {
	p := DefaultPolicy()
	in, _ := open(p, firing("1", crit))
	require.Equal(t, 2, in.Priority)
	_, err := Do(in, p, Action{Kind: ActPriority, Actor: "bob", Impact: 1, Urgency: 1}, t0.Add(time.Minute))
	require.ErrorIs(t, err, ErrInvalid, "a reason is required")
	_, err = Do(in, p, Action{Kind: ActPriority, Actor: "bob", Impact: 4, Urgency: 1, Text: "x"}, t0.Add(time.Minute))
	require.ErrorIs(t, err, ErrInvalid)
	res, err := Do(in, p, Action{Kind: ActPriority, Actor: "bob", Impact: 1, Urgency: 1, Text: "checkout down for all customers"}, t0.Add(time.Minute))
	require.NoError(t, err)
	require.Equal(t, 1, in.Priority)
	require.Equal(t, t0.Add(p.SLA[1].Resolve), in.ResolveDue, "the SLA follows the new priority")
	last := res.Entries[len(res.Entries)-1]
	require.Equal(t, KindPriority, last.Kind)
	require.Equal(t, "bob", last.Actor)
	require.Equal(t, "priority set P2 -> P1 (impact 1, urgency 1): checkout down for all customers", last.Message)

	// A person reopens a resolved incident after the reopen window (until it closes).
	_, err = Do(in, p, Action{Kind: ActResolve, Actor: "bob", CloseCode: "solved_permanently", Text: "ok"}, t0.Add(2*time.Minute))
	require.NoError(t, err)
	_, err = Do(in, p, Action{Kind: ActReopen, Actor: "carl", Text: "customer says it is back"}, t0.Add(2*time.Minute+2*p.ReopenWindow))
	require.NoError(t, err)
	require.Equal(t, StateInProgress, in.State)
}
