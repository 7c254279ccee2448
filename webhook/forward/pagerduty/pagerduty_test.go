package pagerduty_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kizashi-dev/kizashi/webhook/forward"
	"github.com/kizashi-dev/kizashi/webhook/forward/forwardtest"
	"github.com/kizashi-dev/kizashi/webhook/incident"
)

func TestPagerDuty(t *testing.T) {
	pd := forwardtest.NewPagerDuty(t)
	pd.RoutingKey = forwardtest.PagerDutyRoutingKey
	h := forwardtest.NewHarness(t, forwardtest.OpenSQLite(t), forwardtest.PagerDutyConfig(pd.URL()), "")
	h.Forwarder("r1")
	id := h.Lifecycle()
	cid := forward.CorrelationID("kizashi", forwardtest.Tenant, id)
	var actions []string
	for _, e := range pd.Events() {
		require.Equal(t, cid, e.DedupKey)
		actions = append(actions, e.Action)
	}
	require.Equal(t, []string{"trigger", "acknowledge", "resolve"}, actions, "hold and resume are still acknowledged")
	require.Equal(t, "error", pd.Events()[0].Severity, "P2")
	require.Equal(t, "Alert1 on a", pd.Events()[0].Summary)
	require.Equal(t, forwardtest.PDAlert{Status: "resolved", Incidents: 1, Events: 3}, pd.Alerts()[cid])

	// Resolved before it was ever sent: nobody is paged.
	pd.SetDown(true)
	id2 := h.Fire(2)
	h.Resolve(2)
	pd.SetDown(false)
	h.WaitSettled(time.Minute)
	_, sent := pd.Alerts()[forward.CorrelationID("kizashi", forwardtest.Tenant, id2)]
	require.False(t, sent)
}

// TestRoutingKeyFileReadAtEachEvent: the routing key file is replaced while the forwarder runs
// on the same configuration: the next event goes with the new key (read where it is used, as
// Alertmanager reads routing_key_file); a file that cannot be read fails the delivery, which is
// retried (no dead letter) and goes out once the file is back.
func TestRoutingKeyFileReadAtEachEvent(t *testing.T) {
	pd := forwardtest.NewPagerDuty(t)
	h := forwardtest.NewHarness(t, forwardtest.OpenSQLite(t), "", "")
	keyFile := filepath.Join(h.Dir, "pd.key")
	require.NoError(t, os.WriteFile(keyFile, []byte("first-routing-key-0123\n"), 0o600))
	h.SetConfig(fmt.Sprintf("- {name: pd, type: pagerduty, url: %s, pagerduty: {routing_key_file: pd.key}}\n", pd.URL()), "")
	h.Forwarder("r1")
	id := h.Fire(1)
	h.WaitSettled(time.Minute)

	require.NoError(t, os.WriteFile(keyFile+".new", []byte("second-routing-key-0123\n"), 0o600))
	require.NoError(t, os.Rename(keyFile+".new", keyFile))
	h.Act(id, incident.Action{Kind: incident.ActAcknowledge})
	h.WaitSettled(time.Minute)

	require.NoError(t, os.Remove(keyFile))
	h.Act(id, incident.Action{Kind: incident.ActResolve, CloseCode: "solved_permanently", Text: "fixed"})
	require.Eventually(t, func() bool {
		return h.Counter("kizashi_webhook_forward_failures_total", "target", "acme/pd", "reason", "network") >= 1
	}, time.Minute, 10*time.Millisecond, "the delivery failed without the key")
	require.NoError(t, os.WriteFile(keyFile, []byte("third-routing-key-0123\n"), 0o600))
	h.WaitSettled(time.Minute)
	require.Zero(t, h.DeadLetter("acme/pd", id).ID)

	var got [][2]string
	for _, e := range pd.Events() {
		got = append(got, [2]string{e.Action, e.RoutingKey})
	}
	require.Equal(t, [][2]string{{"trigger", "first-routing-key-0123"}, {"acknowledge", "second-routing-key-0123"},
		{"resolve", "third-routing-key-0123"}}, got)
}
