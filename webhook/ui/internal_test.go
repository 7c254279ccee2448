package ui

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kizashi-dev/kizashi/webhook/auth"
	"github.com/kizashi-dev/kizashi/webhook/incident"
)

func TestCSVCell(t *testing.T) {
	for in, want := range map[string]string{
		"=1+1": "'=1+1", "+81 3": "'+81 3", "-5": "'-5", "@SUM(A1)": "'@SUM(A1)", "\tx": "'\tx", "\rx": "'\rx",
		"": "", "disk full": "disk full", "ディスク": "ディスク", "a=b": "a=b", " =x": " =x",
	} {
		require.Equal(t, want, csvCell(in), "%q", in)
	}
}

// TestAllowedActions: the page offers what incident.Do allows in each state, and only that.
func TestAllowedActions(t *testing.T) {
	p := incident.DefaultPolicy()
	now := time.Now()
	base := incident.Incident{Tenant: "acme", Priority: 3, CreatedAt: now.Add(-time.Hour), State: incident.StateNew}
	allowed := func(st incident.State, edit func(*incident.Incident)) []string {
		in := base
		in.State = st
		if edit != nil {
			edit(&in)
		}
		before := in
		m := allowedActions(&in, p, now)
		require.Equal(t, before.State, in.State, "the incident itself is not changed")
		var out []string
		for _, k := range incident.Actions {
			if m[k] {
				out = append(out, k)
			}
		}
		return out
	}
	all := func(except ...string) []string {
		var out []string
		for _, k := range incident.Actions {
			if !slices.Contains(except, k) {
				out = append(out, k)
			}
		}
		return out
	}
	require.Equal(t, all("resume", "close", "reopen"), allowed(incident.StateNew, nil))
	// Acknowledgement is a fact, not a state: In Progress without a person (after a reopen, a
	// silence's end) is still acknowledged, once.
	require.Equal(t, all("resume", "close", "reopen"), allowed(incident.StateInProgress, nil))
	require.Equal(t, all("acknowledge", "resume", "close", "reopen"), allowed(incident.StateInProgress, func(in *incident.Incident) { in.AcknowledgedAt = now }))
	require.Equal(t, all("hold", "close", "reopen"), allowed(incident.StateOnHold, func(in *incident.Incident) { in.HoldSince = now }))
	require.Equal(t, all("acknowledge", "hold", "close", "reopen"), allowed(incident.StateOnHold, func(in *incident.Incident) { in.HoldSince, in.AcknowledgedAt = now, now }))
	require.Equal(t, []string{"assign", "note", "comment", "close", "reopen"}, allowed(incident.StateResolved, func(in *incident.Incident) { in.ResolvedAt = now }))
	// Past the reopen window a person still reopens a resolved incident (the window only
	// bounds automatic reopening by a re-fire).
	require.Equal(t, []string{"assign", "note", "comment", "close", "reopen"}, allowed(incident.StateResolved, func(in *incident.Incident) { in.ResolvedAt = now.Add(-p.ReopenWindow - time.Minute) }))
	require.Equal(t, []string{"note", "comment"}, allowed(incident.StateClosed, nil))
	require.Equal(t, []string{"note", "comment"}, allowed(incident.StateCanceled, nil))
}

func TestMayAct(t *testing.T) {
	require.True(t, mayAct(auth.Principal{Name: "acme", Tenant: "acme", Role: auth.RoleAPIAct}))
	require.False(t, mayAct(auth.Principal{Name: "acme", Tenant: "acme", Role: auth.RoleTenant}), "Alertmanager's credential only posts alerts")
	require.False(t, mayAct(auth.Principal{Name: "acme-dash", Tenant: "acme", Role: auth.RoleAPIRead}))
	require.True(t, mayAct(auth.Principal{Name: "noc", Role: auth.RoleOperator}))
	require.True(t, mayAct(auth.Principal{Name: "root", Role: auth.RoleAdmin}))
	require.False(t, mayAct(auth.Principal{Name: "cust", Tenant: "acme", Role: auth.RoleCustomer}), "a customer viewer only reads")
	require.False(t, mayAct(auth.Principal{Name: "viewer", Tenant: "acme", Role: "viewer"}), "a role the page does not know only reads")
	require.False(t, mayAct(auth.Principal{}))
}

// TestCatalogue: every message of the templates and of the code has its Japanese translation,
// every translation is used, and each keeps its key's format verbs.
func TestCatalogue(t *testing.T) {
	raw, err := os.ReadFile("locales/ja.json")
	require.NoError(t, err)
	var ja map[string]string
	require.NoError(t, json.Unmarshal(raw, &ja))
	keys := map[string]bool{}
	add := func(pattern string, files ...string) {
		re := regexp.MustCompile(pattern)
		for _, f := range files {
			b, err := os.ReadFile(f)
			require.NoError(t, err)
			for _, m := range re.FindAllStringSubmatch(string(b), -1) {
				keys[m[1]] = true
			}
		}
	}
	tmpls, err := filepath.Glob("templates/*.html")
	require.NoError(t, err)
	add(`\.T "([^"]+)"`, tmpls...)
	gos, err := filepath.Glob("*.go")
	require.NoError(t, err)
	var code []string
	for _, f := range gos {
		if !strings.HasSuffix(f, "_test.go") {
			code = append(code, f)
		}
	}
	add(`\.T\("([^"]+)"`, code...)
	for _, m := range loginErrors {
		keys[m] = true
	}
	// Words the page translates from data: states, actions, journal kinds, alert statuses,
	// hold reasons and close codes, delivery states, HTTP statuses.
	for _, s := range incident.States {
		keys["state:"+s.Label()] = true
	}
	for _, k := range incident.Actions {
		keys[k] = true
	}
	for _, k := range []string{incident.KindNotification, incident.KindCreated, incident.KindState, incident.KindPriority,
		incident.KindAssign, incident.KindNote, incident.KindSLABreach, incident.KindMajor, incident.KindFlapping,
		incident.KindSuppressed, incident.KindLinked, incident.KindComment, incident.KindAcknowledged, "firing", "resolved", "canceled",
		"delivering", "circuit open", "paused", "delivered", "pending", "dead letter",
		"Not Found", "Forbidden", "Bad Request", "Conflict", "Service Unavailable"} {
		keys[k] = true
	}
	for _, c := range incident.Channels {
		keys[c] = true
	}
	for _, c := range append(slices.Clone(incident.HoldReasons), incident.CloseCodes...) {
		keys[strings.ReplaceAll(c, "_", " ")] = true
	}
	verbs := regexp.MustCompile(`%[dsqv]`)
	for k := range keys {
		tr, ok := ja[k]
		require.True(t, ok, "no Japanese for %q", k)
		require.Equal(t, verbs.FindAllString(k, -1), verbs.FindAllString(tr, -1), "format verbs of %q", k)
	}
	for k := range ja {
		require.True(t, keys[k], "translation of %q is not used", k)
	}
}

func TestLocale(t *testing.T) {
	ja := newLocale("ja", time.FixedZone("JST", 9*3600))
	require.Equal(t, "インシデント", ja.T("Incidents"))
	require.Equal(t, "対応中", ja.State("in_progress"))
	require.Equal(t, "保留", ja.State("on_hold"))
	require.Equal(t, "ベンダー待ち", ja.Code("awaiting_vendor"))
	s := -300.0
	require.Equal(t, "5m0s 前に超過", ja.Remaining(&s))
	require.Equal(t, "2026-12-05 09:30:00", ja.Time(time.Date(2026, 12, 5, 0, 30, 0, 0, time.UTC)))
	en := newLocale("en", time.UTC)
	require.Equal(t, "In Progress", en.State("in_progress"))
	require.Equal(t, "breached 5m0s ago", en.Remaining(&s))
	var none *Locale
	require.Equal(t, "Incidents", none.T("Incidents"), "a page without a locale speaks English")
	require.Equal(t, "—", none.TS(nil))
}
