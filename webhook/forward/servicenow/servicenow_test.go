package servicenow_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kizashi-dev/kizashi/webhook/forward"
	"github.com/kizashi-dev/kizashi/webhook/forward/forwardtest"
	"github.com/kizashi-dev/kizashi/webhook/incident"
	"github.com/kizashi-dev/kizashi/webhook/store"
)

func TestServiceNow(t *testing.T) {
	sn := forwardtest.NewServiceNow(t)
	sn.User, sn.Password = "kizashi", "pw"
	h := forwardtest.NewHarness(t, forwardtest.OpenSQLite(t), forwardtest.ServiceNowConfig(sn.URL()), "")
	h.Forwarder("r1")
	id := h.Lifecycle()

	recs := sn.ByCorrelation()
	cid := forward.CorrelationID("kizashi", forwardtest.Tenant, id)
	require.Len(t, recs, 1)
	require.Len(t, recs[cid], 1, "one record per incident")
	rec := recs[cid][0]
	require.Equal(t, "6", rec.Fields["state"], "resolved")
	require.Equal(t, "Solved (Work Around)", rec.Fields["close_code"])
	require.Contains(t, rec.Fields["close_notes"], "moved data")
	require.Equal(t, "2", rec.Fields["impact"])
	require.Equal(t, "1", rec.Fields["urgency"])
	require.Equal(t, "2", rec.Fields["priority"], "computed by the instance")
	require.Equal(t, "ops", rec.Fields["assignment_group"])
	require.Equal(t, "kizashi.integration", rec.Fields["caller_id"])
	require.Equal(t, "Kizashi", rec.Fields["correlation_display"])
	require.Contains(t, rec.Fields["description"], "https://kizashi.example/incidents/")
	forwardtest.ExactlyOnce(t, h.Journal(id), rec.WorkNotes)

	refs, err := h.Fwd.ExternalRefs(context.Background(), []int64{id})
	require.NoError(t, err)
	require.Equal(t, []store.ExternalRef{{Target: "acme/snow", ID: rec.Fields["sys_id"], Key: rec.Fields["number"],
		URL: sn.URL() + "/incident.do?sys_id=" + rec.Fields["sys_id"]}}, refs[id])
	require.Equal(t, 1, sn.Count(forwardtest.SNCreate))
	require.Zero(t, sn.Count(forwardtest.SNFind), "a first attempt creates without looking up")
	require.Zero(t, sn.Count(forwardtest.SNJournal), "no uncertain attempt, no read back")
	// Six changes in four steps: 4 deliveries when each step's changes coalesce, up to 6 when the
	// forwarder ran between two changes of a step (both are right; which one is timing). The
	// counter moves after the store records the delivery: wait for it.
	deliveries := func() float64 { return h.Counter("kizashi_webhook_forward_deliveries_total", "target", "acme/snow") }
	require.Eventually(t, func() bool { return deliveries() >= 4 }, time.Minute, 10*time.Millisecond)
	require.LessOrEqual(t, deliveries(), 6.0)
}

func TestServiceNowHoldReason(t *testing.T) {
	sn := forwardtest.NewServiceNow(t)
	h := forwardtest.NewHarness(t, forwardtest.OpenSQLite(t), forwardtest.ServiceNowConfig(sn.URL()), "")
	h.Forwarder("r1")
	id := h.Fire(1)
	h.Act(id, incident.Action{Kind: incident.ActHold, Reason: "awaiting_change"})
	h.WaitSettled(time.Minute)
	rec := sn.ByCorrelation()[forward.CorrelationID("kizashi", forwardtest.Tenant, id)][0]
	require.Equal(t, "3", rec.Fields["state"])
	require.Equal(t, "5", rec.Fields["hold_reason"])
}

// TestCreateOrAdopt: the target commits a create (or a note) but the answer
// is lost; the retry finds the ticket and the notes, and nothing is doubled.
func TestCreateOrAdopt(t *testing.T) {
	t.Run("servicenow", func(t *testing.T) {
		sn := forwardtest.NewServiceNow(t)
		h := forwardtest.NewHarness(t, forwardtest.OpenSQLite(t), forwardtest.ServiceNowConfig(sn.URL()), "")
		sn.Fail(forwardtest.Fault{Op: forwardtest.SNCreate, AfterCommit: true},
			forwardtest.Fault{Op: forwardtest.SNUpdate, AfterCommit: true, Status: 500})
		h.Forwarder("r1")
		id := h.Fire(1)
		h.WaitSettled(time.Minute)
		h.Act(id, incident.Action{Kind: incident.ActNote, Text: "second note"})
		h.WaitSettled(time.Minute)
		recs := sn.ByCorrelation()[forward.CorrelationID("kizashi", forwardtest.Tenant, id)]
		require.Len(t, recs, 1, "adopted, not created twice")
		require.Equal(t, 1, sn.Count(forwardtest.SNCreate+"(committed)"))
		require.Zero(t, sn.Count(forwardtest.SNCreate), "the only create's answer was lost")
		require.Positive(t, sn.Count(forwardtest.SNJournal), "notes read back after the uncertain update")
		forwardtest.ExactlyOnce(t, h.Journal(id), recs[0].WorkNotes)
	})
	t.Run("concurrent creates by two replicas", func(t *testing.T) {
		// Two replicas whose leases both expired would each look up and
		// create; leases prevent it: one replica runs the job at a time.
		sn := forwardtest.NewServiceNow(t)
		sn.SetLatency(20 * time.Millisecond)
		h := forwardtest.NewHarness(t, forwardtest.OpenSQLite(t), forwardtest.ServiceNowConfig(sn.URL()), "")
		h.Forwarder("r1")
		h.Forwarder("r2")
		for i := range 30 {
			h.Fire(i)
		}
		h.WaitSettled(time.Minute)
		for cid, recs := range sn.ByCorrelation() {
			require.Len(t, recs, 1, cid)
		}
		require.Len(t, sn.ByCorrelation(), 30)
	})
}
