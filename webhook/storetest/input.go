package storetest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/url"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/kizashi-dev/kizashi/webhook/auth"
	"github.com/kizashi-dev/kizashi/webhook/incident"
	"github.com/kizashi-dev/kizashi/webhook/readmodel"
	"github.com/kizashi-dev/kizashi/webhook/store"
	"github.com/kizashi-dev/kizashi/webhook/testkit"
)

func requireClean(t *testing.T, what, s string) {
	t.Helper()
	require.True(t, utf8.ValidString(s), "%s is not valid UTF-8: %q", what, s)
	require.NotContains(t, s, "\x00", "%s holds a NUL", what)
}

// runInput checks that text and times PostgreSQL refuses or cannot hold
// are repaired before they reach either store, the same way on both.
func runInput(t *testing.T, open Opener) {
	t.Run("NUL bytes and cut runes in a notification are repaired, not refused", func(t *testing.T) {
		e := newEnv(t, open)
		ctx := context.Background()
		// A title cut at byte 512 falls inside a rune: 510 bytes, then two 3-byte runes.
		long := strings.Repeat("A", 510) + "ああ"
		// A group key too long for a PostgreSQL index entry, and not compressible.
		var gk strings.Builder
		for i := 0; gk.Len() < 4000; i++ {
			s := sha256.Sum256([]byte{byte(i), byte(i >> 8)})
			gk.WriteString(hex.EncodeToString(s[:]))
		}
		body := testkit.JSONPayload(t, "team\x00ops", gk.String()+"\x00", "firing",
			testkit.JSONAlert{Status: "firing", Labels: map[string]string{"alertname": "Disk\x00Full", "instance": "db\x001", "severity": "critical"},
				Annotations: map[string]string{"summary": "nul \x00 here"}, StartsAt: t0.Format(time.RFC3339), GeneratorURL: "http://prom/\x00graph"},
			testkit.JSONAlert{Status: "firing", Labels: map[string]string{"alertname": long}, StartsAt: t0.Format(time.RFC3339)})
		r := e.ingest("acme", body)
		require.Len(t, r.Incidents, 1)
		require.True(t, e.ingest("acme", body).Duplicate, "the repaired notification keeps its idempotency key")
		in, err := e.st.Incident(ctx, "acme", r.Incidents[0])
		require.NoError(t, err)
		for what, s := range map[string]string{"title": in.Title, "receiver": in.Receiver, "group key": in.GroupKey,
			"correlation key": in.CorrelationKey, "ci": in.CI, "category": in.Category} {
			requireClean(t, what, s)
		}
		require.Equal(t, "team\uFFFDops", in.Receiver)
		require.LessOrEqual(t, len(in.GroupKey), 1024)
		alerts, err := e.st.Alerts(ctx, in.ID)
		require.NoError(t, err)
		require.Len(t, alerts, 2)
		byName := map[string]incident.Alert{}
		for _, a := range alerts {
			byName[a.Labels["alertname"]] = a
		}
		a := byName["Disk\uFFFDFull"]
		require.Equal(t, "db\uFFFD1", a.Labels["instance"])
		require.Equal(t, "nul \uFFFD here", a.Annotations["summary"])
		require.Equal(t, "http://prom/\uFFFDgraph", a.GeneratorURL)
		require.Contains(t, byName, long, "label values are kept whole")

		// A title made of the long alert name alone is cut on a rune boundary.
		r = e.ingest("acme", testkit.JSONPayload(t, "r", "g-long", "firing",
			testkit.JSONAlert{Status: "firing", Labels: map[string]string{"alertname": long}, StartsAt: t0.Format(time.RFC3339)}))
		in, err = e.st.Incident(ctx, "acme", r.Incidents[0])
		require.NoError(t, err)
		requireClean(t, "title", in.Title)
		require.Equal(t, strings.Repeat("A", 510), in.Title)
	})

	t.Run("desk actions and filters with NUL bytes and invalid UTF-8 are repaired, not refused", func(t *testing.T) {
		e := newEnv(t, open)
		ctx := context.Background()
		r := e.ingest("acme", testkit.Payload("r", "g", "firing", t0, alert("N", "a")))
		id := r.Incidents[0]
		p := auth.Principal{Name: "acme", Tenant: "acme", Role: auth.RoleAPIAct}
		// The journal names the credential's owner; a name the configuration lets through
		// (an API token named "bob\0" in YAML) is repaired as well.
		bob := auth.Principal{Name: "bob\x00\xff", Tenant: "acme", Role: auth.RoleAPIAct}
		_, err := e.svc.Act(ctx, p.Caller(), id, incident.Action{Kind: incident.ActNote, Text: "see\x00log \xff"})
		require.NoError(t, err)
		_, err = e.svc.Act(ctx, bob.Caller(), id, incident.Action{Kind: incident.ActAssign, Assignee: "\xffbob", AssignmentGroup: "ops\x00"})
		require.NoError(t, err)
		j, err := e.st.Journal(ctx, id)
		require.NoError(t, err)
		var note, assign incident.Entry
		for _, en := range j {
			requireClean(t, "journal actor", en.Actor)
			requireClean(t, "journal message", en.Message)
			switch en.Kind {
			case incident.KindNote:
				note = en
			case incident.KindAssign:
				assign = en
			}
		}
		require.Equal(t, "see\uFFFDlog \uFFFD", note.Message)
		require.Equal(t, "acme", note.Actor)
		require.Equal(t, "bob\uFFFD\uFFFD", assign.Actor)
		in, err := e.st.Incident(ctx, "acme", id)
		require.NoError(t, err)
		require.Equal(t, "\uFFFDbob", in.Assignee)
		require.Equal(t, "ops\uFFFD", in.AssignmentGroup)

		list := func(q url.Values) []*incident.Incident {
			t.Helper()
			f, err := new(readmodel.Reader).ParseFilter(q, p.Scope())
			require.NoError(t, err)
			return e.list(f)
		}
		require.Len(t, list(url.Values{"assignee": {"\xffbob"}}), 1, "the query is repaired the way the assignee was")
		require.Empty(t, list(url.Values{"assignee": {"\xff"}}))
		require.Empty(t, list(url.Values{"q": {"\x00"}}))
		require.Len(t, list(url.Values{"assignment_group": {"ops\x00"}}), 1)
	})

	t.Run("times outside 1678-2262 are clamped and the Unix epoch round-trips", func(t *testing.T) {
		e := newEnv(t, open)
		ctx := context.Background()
		epoch := time.Unix(0, 0).UTC()
		r := e.ingest("acme", testkit.JSONPayload(t, "r", "g", "firing",
			testkit.JSONAlert{Status: "firing", Labels: map[string]string{"alertname": "Epoch"}, StartsAt: "1970-01-01T00:00:00Z"},
			testkit.JSONAlert{Status: "firing", Labels: map[string]string{"alertname": "Future"}, StartsAt: "2300-01-01T00:00:00Z"},
			testkit.JSONAlert{Status: "resolved", Labels: map[string]string{"alertname": "Past"}, StartsAt: "1500-01-01T00:00:00Z", EndsAt: "9999-12-31T23:59:59Z"}))
		alerts, err := e.st.Alerts(ctx, r.Incidents[0])
		require.NoError(t, err)
		got := map[string][2]time.Time{}
		for _, a := range alerts {
			got[a.Labels["alertname"]] = [2]time.Time{a.StartsAt, a.EndsAt}
		}
		require.Equal(t, epoch, got["Epoch"][0], "1970-01-01 is a time, not \"no time\"")
		require.Equal(t, time.Date(2262, 4, 11, 0, 0, 0, 0, time.UTC), got["Future"][0], "2300 is clamped, not wrapped to 1715")
		require.Equal(t, time.Date(1678, 1, 1, 0, 0, 0, 0, time.UTC), got["Past"][0])
		require.Equal(t, time.Date(2262, 4, 11, 0, 0, 0, 0, time.UTC), got["Past"][1])

		p := auth.Principal{Name: "acme", Tenant: "acme", Role: auth.RoleAPIAct}
		list := func(q url.Values) []*incident.Incident {
			t.Helper()
			f, err := new(readmodel.Reader).ParseFilter(q, p.Scope())
			require.NoError(t, err)
			return e.list(f)
		}
		require.Empty(t, list(url.Values{"to": {"1500-01-01T00:00:00Z"}}), "nothing was active by 1500")
		require.Len(t, list(url.Values{"from": {"0001-01-01T00:00:00Z"}, "to": {"9999-12-31T00:00:00Z"}}), 1)
		require.Len(t, list(url.Values{"from": {"2300-01-01T00:00:00Z"}}), 1, "still open, so active after 2300")
		// The store itself clamps what it is given.
		require.Empty(t, e.list(store.Filter{Tenant: "acme", ActiveTo: time.Date(1500, 1, 1, 0, 0, 0, 0, time.UTC)}))
	})
}
