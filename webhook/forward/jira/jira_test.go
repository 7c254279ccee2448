package jira_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kizashi-dev/kizashi/webhook/forward"
	"github.com/kizashi-dev/kizashi/webhook/forward/forwardtest"
	"github.com/kizashi-dev/kizashi/webhook/incident"
)

func TestJira(t *testing.T) {
	for _, deployment := range []string{"cloud", "datacenter"} {
		t.Run(deployment, func(t *testing.T) {
			j := forwardtest.NewJira(t)
			h := forwardtest.NewHarness(t, forwardtest.OpenSQLite(t), forwardtest.JiraConfig(j.URL(), deployment), "")
			h.Forwarder("r1")
			id := h.Fire(1)
			h.WaitSettled(time.Minute)
			is := j.Issues()
			require.Len(t, is, 1)
			require.Equal(t, "To Do", is[0].Status)
			require.Equal(t, "High", is[0].Priority, "P2 mapped")
			require.Equal(t, "OPS", is[0].Project)
			require.Contains(t, is[0].Labels, forward.CorrelationID("kizashi", forwardtest.Tenant, id))

			h.Act(id, incident.Action{Kind: incident.ActAcknowledge})
			h.WaitSettled(time.Minute)
			require.Equal(t, "In Progress", j.Issues()[0].Status)
			h.Act(id, incident.Action{Kind: incident.ActHold, Reason: "awaiting_vendor"})
			h.WaitSettled(time.Minute)
			require.Equal(t, "Waiting", j.Issues()[0].Status)
			h.Act(id, incident.Action{Kind: incident.ActResolve, CloseCode: "solved_permanently", Text: "fixed"})
			h.WaitSettled(time.Minute)
			is = j.Issues()
			require.Len(t, is, 1)
			require.Equal(t, "Done", is[0].Status)
			forwardtest.ExactlyOnce(t, h.Journal(id), is[0].Comments)
			require.Zero(t, j.Count(forwardtest.JiraSearch), "a first attempt creates without searching")
		})
	}
}

// TestCreateOrAdopt: the target commits a create (or a note) but the answer
// is lost; the retry finds the ticket and the notes, and nothing is doubled.
func TestCreateOrAdopt(t *testing.T) {
	t.Run("jira", func(t *testing.T) {
		j := forwardtest.NewJira(t)
		h := forwardtest.NewHarness(t, forwardtest.OpenSQLite(t), forwardtest.JiraConfig(j.URL(), "cloud"), "timeout: 3s")
		j.Fail(forwardtest.Fault{Op: forwardtest.JiraCreate, AfterCommit: true, Delay: time.Minute},
			forwardtest.Fault{Op: forwardtest.JiraComment, AfterCommit: true, Status: 502})
		h.Forwarder("r1")
		id := h.Fire(1)
		h.WaitSettled(time.Minute)
		is := j.Issues()
		require.Len(t, is, 1, "the timed-out create was adopted")
		forwardtest.ExactlyOnce(t, h.Journal(id), is[0].Comments)
		require.Equal(t, float64(1), h.Counter("kizashi_webhook_forward_failures_total", "target", "acme/jira", "reason", "timeout"))
		require.Equal(t, float64(1), h.Counter("kizashi_webhook_forward_failures_total", "target", "acme/jira", "reason", "server_error"))
	})
}
