package webhook_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kizashi-dev/kizashi/webhook/forward"
	"github.com/kizashi-dev/kizashi/webhook/forward/forwardtest"
	"github.com/kizashi-dev/kizashi/webhook/forward/webhook"
	"github.com/kizashi-dev/kizashi/webhook/incident"
)

func TestWebhook(t *testing.T) {
	rc := forwardtest.NewReceiver(t, []byte("0123456789abcdef-secret"))
	h := forwardtest.NewHarness(t, forwardtest.OpenSQLite(t), forwardtest.HookConfig(rc.URL()), "")
	h.Forwarder("r1")
	id := h.Lifecycle()
	tk := rc.Tickets()[forward.CorrelationID("kizashi", forwardtest.Tenant, id)]
	require.Equal(t, "WH-1", tk.ID)
	require.Equal(t, incident.StateResolved, tk.Incident.State)
	require.Equal(t, "https://kizashi.example/incidents/1", tk.Incident.URL)
	for _, e := range h.Journal(id) {
		require.Equal(t, 1, tk.JournalIDs[e.ID], "journal line %d delivered once", e.ID)
	}
	require.Zero(t, rc.BadSignatures())
	refs, err := h.Fwd.ExternalRefs(context.Background(), []int64{id})
	require.NoError(t, err)
	require.Equal(t, "WH-1", refs[id][0].ID)
}

func TestWebhookSignature(t *testing.T) {
	now := time.Unix(1700000000, 0)
	body := []byte(`{"a":1}`)
	sig := webhook.Sign([]byte("secret"), "1700000000", body)
	require.Equal(t, "sha256=", sig[:7])
	require.NoError(t, webhook.Verify([]byte("secret"), "1700000000", sig, body, now, time.Minute))
	require.Error(t, webhook.Verify([]byte("other"), "1700000000", sig, body, now, time.Minute))
	require.Error(t, webhook.Verify([]byte("secret"), "1700000000", sig, []byte(`{"a":2}`), now, time.Minute))
	require.Error(t, webhook.Verify([]byte("secret"), "1700000000", sig, body, now.Add(time.Hour), time.Minute), "replay")
}

// TestSecretFileReadAtEachDelivery: the signing secret file is replaced while the forwarder
// runs on the same configuration: the next delivery is signed with the new secret.
func TestSecretFileReadAtEachDelivery(t *testing.T) {
	rc := forwardtest.NewReceiver(t, []byte(forwardtest.HookSecret))
	h := forwardtest.NewHarness(t, forwardtest.OpenSQLite(t), forwardtest.HookConfig(rc.URL()), "")
	h.Forwarder("r1")
	id := h.Fire(1)
	h.WaitSettled(time.Minute)
	require.Zero(t, rc.BadSignatures())

	const rotated = "rotated-signing-secret-0123"
	rc.SetSecret([]byte(rotated))
	f := filepath.Join(h.Dir, "hook.secret")
	require.NoError(t, os.WriteFile(f+".new", []byte(rotated+"\n"), 0o600))
	require.NoError(t, os.Rename(f+".new", f))
	h.Act(id, incident.Action{Kind: incident.ActAcknowledge})
	h.WaitSettled(time.Minute)
	require.Zero(t, rc.BadSignatures(), "signed with the new secret")
	require.Equal(t, string(incident.StateInProgress), string(rc.Tickets()[forward.CorrelationID("kizashi", forwardtest.Tenant, id)].Incident.State))
}
