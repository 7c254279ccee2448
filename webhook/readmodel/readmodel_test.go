package readmodel_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kizashi-dev/kizashi/webhook/apitypes"
	"github.com/kizashi-dev/kizashi/webhook/incident"
	"github.com/kizashi-dev/kizashi/webhook/readmodel"
	"github.com/kizashi-dev/kizashi/webhook/store"
)

func TestParseFilterTimeRange(t *testing.T) {
	r := &readmodel.Reader{}
	f, err := r.ParseFilter(map[string][]string{"from": {"2026-01-02T03:04:05Z"}, "to": {"2026-01-03T00:00:00+01:00"}}, "a")
	require.NoError(t, err)
	require.Equal(t, time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), f.ActiveFrom.UTC())
	require.Equal(t, time.Date(2026, 1, 2, 23, 0, 0, 0, time.UTC), f.ActiveTo.UTC())
	for _, q := range []map[string][]string{
		{"from": {"yesterday"}},
		{"to": {"1700000000"}},
		{"from": {"2026-01-03T00:00:00Z"}, "to": {"2026-01-02T00:00:00Z"}},
	} {
		_, err := r.ParseFilter(q, "a")
		require.Error(t, err, "%v", q)
	}
}

// TestQueryContract: what a client asks with apitypes.IncidentQuery is what the webhook reads,
// field by field; a tenant's scope overrides the tenant it asks for.
func TestQueryContract(t *testing.T) {
	from := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	q := apitypes.IncidentQuery{Tenant: "globex", States: []string{"new", "on_hold,resolved"}, OpenOnly: true, Priority: 2,
		Assignee: "bob", AssignmentGroup: "ops", Search: "disk", Limit: 500, Before: "12", From: from, To: from.Add(time.Hour)}
	r := &readmodel.Reader{}
	f, err := r.ParseFilter(q.Values(), "")
	require.NoError(t, err)
	require.Equal(t, store.Filter{Tenant: "globex", States: []incident.State{incident.StateNew, incident.StateOnHold, incident.StateResolved},
		OpenOnly: true, Priority: 2, Assignee: "bob", AssignmentGroup: "ops", Search: "disk", Limit: 500, BeforeID: 12,
		ActiveFrom: from, ActiveTo: from.Add(time.Hour)}, f)

	f, err = r.ParseFilter(q.Values(), "acme")
	require.NoError(t, err)
	require.Equal(t, "acme", f.Tenant, "scoped")

	f, err = r.ParseFilter(apitypes.IncidentQuery{}.Values(), "")
	require.NoError(t, err)
	require.Equal(t, store.Filter{Limit: 50}, f, "the zero query is every incident, 50 a page")
}
