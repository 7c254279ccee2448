package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kizashi-dev/kizashi/webhook/store"
	"github.com/kizashi-dev/kizashi/webhook/testkit"
)

// RunIncidentJobs runs the suite of store.IncidentForwarding: an incident's delivery to each of
// its targets, scoped to its tenant.
func RunIncidentJobs(t *testing.T, open Opener) {
	ctx := context.Background()
	e := newEnv(t, open)
	f := forwarding(t, e.st)
	jf, ok := e.st.(store.IncidentForwarding)
	require.True(t, ok, "%T implements store.IncidentForwarding", e.st)
	gk := `{}:{alertname="J"}`
	a := e.ingest("acme", testkit.Payload("r", gk, "firing", t0, alert("J", "a"))).Incidents[0]
	b := e.ingest("acme", testkit.Payload("r", `{}:{alertname="K"}`, "firing", t0, alert("K", "a"))).Incidents[0]
	g := e.ingest("globex", testkit.Payload("r", gk, "firing", t0, alert("J", "a"))).Incidents[0]
	jobs, err := jf.IncidentJobs(ctx, "", a)
	require.NoError(t, err)
	require.Empty(t, jobs, "nothing dispatched yet")
	e.dispatchAll(f)

	now := e.clock.Now()
	claimed, err := f.ClaimJobs(ctx, "acme/snow", "w", now, now.Add(time.Minute), 10)
	require.NoError(t, err)
	for _, j := range claimed {
		if j.IncidentID == a {
			require.NoError(t, f.FailJob(ctx, j.ID, "w", store.JobFailed{Error: "400 Bad Request", Count: true, Dead: true, At: now}))
		}
	}
	jobs, err = jf.IncidentJobs(ctx, "acme", a)
	require.NoError(t, err)
	require.Len(t, jobs, 2)
	require.Equal(t, []string{"acme/pd", "acme/snow"}, []string{jobs[0].Target, jobs[1].Target}, "ordered by target")
	for _, j := range jobs {
		require.Equal(t, a, j.IncidentID)
		require.True(t, j.Pending())
	}
	require.True(t, jobs[0].DeadAt.IsZero())
	require.Equal(t, now, jobs[1].DeadAt)
	require.Equal(t, "400 Bad Request", jobs[1].LastError)
	require.Equal(t, 1, jobs[1].Attempts)

	other, err := jf.IncidentJobs(ctx, "", b)
	require.NoError(t, err)
	require.Len(t, other, 2, "each incident its own jobs")
	scoped, err := jf.IncidentJobs(ctx, "globex", a)
	require.NoError(t, err)
	require.Empty(t, scoped, "another tenant's incident has no jobs for globex")
	none, err := jf.IncidentJobs(ctx, "globex", g)
	require.NoError(t, err)
	require.Empty(t, none, "globex has no targets")
}
