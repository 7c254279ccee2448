package incident

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestReconcile(t *testing.T) {
	p := DefaultPolicy()
	now := t0.Add(10 * time.Hour)
	firing := func(fp string) Alert { return Alert{Fingerprint: fp, Status: "firing", StartsAt: t0} }
	active := func(fp string) AMAlert { return AMAlert{Fingerprint: fp, State: AMActive} }
	silenced := func(fp, by string) AMAlert {
		return AMAlert{Fingerprint: fp, State: AMSuppressed, SilencedBy: []string{by}}
	}
	inhibited := func(fp, by string) AMAlert {
		return AMAlert{Fingerprint: fp, State: AMSuppressed, InhibitedBy: []string{by}}
	}
	for _, tc := range []struct {
		name     string
		state    State
		touched  bool
		flapping bool
		held     bool
		gone     AutoResolve
		ignore   bool
		alerts   []Alert
		am       []AMAlert
		event    string
		want     State
		hold     string
		firing   int
		line     string
	}{
		{name: "still active: nothing", state: StateNew, alerts: []Alert{firing("a")}, am: []AMAlert{active("a")},
			want: StateNew, firing: 1},
		{name: "silenced goes on hold", state: StateInProgress, alerts: []Alert{firing("a"), firing("b")},
			am: []AMAlert{silenced("a", "s1"), silenced("b", "s1")}, event: EventHold, want: StateOnHold, hold: "awaiting_change",
			firing: 2, line: "in_progress -> on_hold: awaiting_change — silenced in Alertmanager (by s1)"},
		{name: "inhibited goes on hold", state: StateNew, alerts: []Alert{firing("a")}, am: []AMAlert{inhibited("a", "f9")},
			event: EventHold, want: StateOnHold, hold: "awaiting_problem", firing: 1, line: "new -> on_hold: awaiting_problem — inhibited in Alertmanager (by f9)"},
		{name: "one active of two: no hold", state: StateNew, alerts: []Alert{firing("a"), firing("b")},
			am: []AMAlert{silenced("a", "s1"), active("b")}, want: StateNew, firing: 2},
		{name: "held by us, active again: resume", state: StateOnHold, held: true, alerts: []Alert{firing("a")},
			am: []AMAlert{active("a")}, event: EventResume, want: StateInProgress, firing: 1, line: "on_hold -> in_progress: alerts active again"},
		{name: "held by a person: no resume", state: StateOnHold, alerts: []Alert{firing("a")}, am: []AMAlert{active("a")},
			want: StateOnHold, firing: 1},
		{name: "gone: resolved", state: StateInProgress, gone: AutoResolveResolve, alerts: []Alert{firing("a"), {Fingerprint: "old", Status: "resolved"}},
			event: EventResolved, want: StateResolved, line: "in_progress -> resolved (alerts gone from Alertmanager without a resolve)"},
		{name: "gone: note policy", state: StateNew, gone: AutoResolveNote, alerts: []Alert{firing("a")},
			event: EventUpdated, want: StateNew, line: "left open by policy note"},
		{name: "gone, touched: resolve_if_untouched keeps it", state: StateInProgress, touched: true, gone: AutoResolveIfUntouched,
			alerts: []Alert{firing("a")}, event: EventUpdated, want: StateInProgress},
		{name: "gone, untouched: resolve_if_untouched resolves", state: StateNew, gone: AutoResolveIfUntouched,
			alerts: []Alert{firing("a")}, event: EventResolved, want: StateResolved},
		{name: "gone while held by us: resolved", state: StateOnHold, held: true, gone: AutoResolveIfUntouched,
			alerts: []Alert{firing("a")}, event: EventResolved, want: StateResolved},
		{name: "gone while held by a person: kept unless policy resolve", state: StateOnHold, touched: true, gone: AutoResolveIfUntouched,
			alerts: []Alert{firing("a")}, event: EventUpdated, want: StateOnHold},
		{name: "gone, flapping: kept", state: StateInProgress, flapping: true, gone: AutoResolveResolve,
			alerts: []Alert{firing("a")}, event: EventUpdated, want: StateInProgress, line: "kept open because the incident is flapping"},
		{name: "missing but ignored (Alertmanager just restarted)", state: StateNew, gone: AutoResolveResolve, ignore: true,
			alerts: []Alert{firing("a")}, want: StateNew, firing: 1},
		{name: "missing ignored, the other silenced: hold", state: StateNew, gone: AutoResolveResolve, ignore: true,
			alerts: []Alert{firing("a"), firing("b")}, am: []AMAlert{silenced("b", "s3")}, event: EventHold, want: StateOnHold, firing: 2},
		{name: "one of two gone: marked, rest silenced: hold", state: StateNew, gone: AutoResolveResolve,
			alerts: []Alert{firing("a"), firing("b")}, am: []AMAlert{silenced("b", "s2")}, event: EventHold, want: StateOnHold,
			hold: "awaiting_change", firing: 1, line: "1 alert(s) gone from Alertmanager without a resolve, marked resolved: a"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := &Incident{ID: 7, Tenant: "acme", State: tc.state, Touched: tc.touched, Flapping: tc.flapping,
				FiringAlerts: len(tc.alerts), CreatedAt: t0, Priority: 3}
			if tc.flapping {
				in.FlapTimes = []time.Time{now.Add(-time.Minute)}
			}
			if tc.state == StateOnHold {
				in.HoldSince, in.HoldReason = t0.Add(time.Hour), "awaiting_vendor"
			}
			am := map[string]AMAlert{}
			for _, a := range tc.am {
				am[a.Fingerprint] = a
			}
			out := Reconcile(in, p, ReconcileInput{Alerts: tc.alerts, InAlertmanager: am, HeldByReconciler: tc.held, IgnoreMissing: tc.ignore, Gone: tc.gone}, now)
			require.Equal(t, tc.event, out.Event)
			require.Equal(t, tc.want, in.State)
			require.Equal(t, tc.event != "", out.Changed())
			if tc.hold != "" {
				require.Equal(t, tc.hold, in.HoldReason)
				require.Equal(t, now, in.HoldSince)
				require.True(t, in.SLAPaused())
			}
			if tc.firing > 0 || tc.event != "" {
				require.Equal(t, tc.firing, in.FiringAlerts)
			}
			if tc.line != "" {
				var msgs []string
				for _, e := range out.Entries {
					require.Equal(t, ActorReconciler, e.Actor)
					msgs = append(msgs, e.Message)
				}
				require.Contains(t, joinLines(msgs), tc.line)
			}
			if tc.want == StateResolved {
				require.Equal(t, ActorReconciler, in.ResolvedBy)
				require.Equal(t, "auto_resolved", in.CloseCode)
				require.True(t, in.HoldSince.IsZero(), "hold time accounted")
			}
			for _, a := range out.Alerts {
				require.Equal(t, "resolved", a.Status)
				require.Equal(t, now, a.EndsAt)
			}
			require.False(t, in.Touched && !tc.touched, "reconciliation is not a person")
		})
	}
}

func joinLines(s []string) string {
	out := ""
	for _, l := range s {
		out += l + "\n"
	}
	return out
}

func TestHeldByReconciler(t *testing.T) {
	j := []Entry{
		{Actor: "bob", Kind: KindState, Message: "new -> on_hold: awaiting_vendor"},
		{Actor: "bob", Kind: KindState, Message: "on_hold -> in_progress: SLA clock paused 1m"},
		{Actor: ActorReconciler, Kind: KindState, Message: "in_progress -> on_hold: awaiting_change — silenced"},
		{Actor: "bob", Kind: KindNote, Message: "fine"},
	}
	require.True(t, HeldByReconciler(j))
	require.False(t, HeldByReconciler(j[:2]))
	require.False(t, HeldByReconciler(nil))
}

func TestWatchdogIncident(t *testing.T) {
	p := DefaultPolicy()
	in, entries := NewWatchdogIncident(t0, p, "acme", "Monitoring pipeline down", 1, 2, t0.Add(-time.Hour), 10*time.Minute)
	require.Equal(t, "watchdog:acme", in.CorrelationKey)
	require.Equal(t, 2, in.Priority)
	require.Equal(t, t0.Add(30*time.Minute), in.ResponseDue, "P2 SLA")
	require.Len(t, entries, 1)
	require.Contains(t, entries[0].Message, "no watchdog heartbeat for 10m0s")
	e := ResolveWatchdog(in, p, t0.Add(time.Hour), t0.Add(59*time.Minute))
	require.Equal(t, StateResolved, in.State)
	require.Contains(t, e[0].Message, "new -> resolved (watchdog heartbeat resumed")
}
