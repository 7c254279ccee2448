//go:build e2e

package testenv_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kizashi-dev/kizashi/internal/testenv"
)

// webhookMsg is the part of Alertmanager's webhook payload (version 4) the tests read.
type webhookMsg struct {
	Version string `json:"version"`
	Status  string `json:"status"`
	Alerts  []struct {
		Labels map[string]string `json:"labels"`
	} `json:"alerts"`
}

// receiver is an httptest webhook receiver that records notifications.
type receiver struct {
	*httptest.Server
	mu   sync.Mutex
	msgs []webhookMsg
	got  chan struct{}
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{got: make(chan struct{}, 100)}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		var m webhookMsg
		if err := json.NewDecoder(req.Body).Decode(&m); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.mu.Lock()
		r.msgs = append(r.msgs, m)
		r.mu.Unlock()
		r.got <- struct{}{}
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) wait(t *testing.T, timeout time.Duration) webhookMsg {
	t.Helper()
	select {
	case <-r.got:
	case <-time.After(timeout):
		t.Fatalf("no notification after %s", timeout)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.msgs[len(r.msgs)-1]
}

func (r *receiver) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.msgs)
}

func TestAlertmanagerWithPrometheus(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	recv := newReceiver(t)
	am := testenv.StartAlertmanager(t, testenv.AMOptions{WebhookURL: recv.URL})

	st, err := am.ClusterStatus(ctx)
	require.NoError(t, err)
	require.Equal(t, "disabled", st.Status)

	// A posted alert is delivered to the webhook.
	require.NoError(t, am.PostAlerts(ctx, testenv.Alert{
		Labels:      map[string]string{"alertname": "Posted", "severity": "critical"},
		Annotations: map[string]string{"summary": "posted by the test"},
	}))
	msg := recv.wait(t, 15*time.Second)
	require.Equal(t, "4", msg.Version)
	require.Equal(t, "firing", msg.Status)
	require.Equal(t, "Posted", msg.Alerts[0].Labels["alertname"])

	id, err := am.CreateSilence(ctx, map[string]string{"alertname": "Silenced"}, time.Hour)
	require.NoError(t, err)
	require.NotEmpty(t, id)

	// Prometheus evaluates a rule and sends its alert through Alertmanager.
	testenv.StartPrometheus(t, testenv.PromOptions{
		Rules: map[string]string{"test.yml": `groups:
  - name: test
    rules:
      - alert: FromPrometheus
        expr: vector(1)
        labels: {severity: warning}
`},
		Alertmanagers: []string{am.Addr()},
	})
	msg = recv.wait(t, 20*time.Second)
	require.Equal(t, "FromPrometheus", msg.Alerts[0].Labels["alertname"])
}

func TestAlertmanagerCluster(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	recv := newReceiver(t)
	ams := testenv.StartAlertmanagerCluster(t, 3, testenv.AMOptions{WebhookURL: recv.URL})
	require.Len(t, ams, 3)
	for _, am := range ams {
		st, err := am.ClusterStatus(ctx)
		require.NoError(t, err)
		require.Equal(t, "ready", st.Status)
		require.Len(t, st.Peers, 3)
	}

	// As Prometheus does, send the alert to every replica: the cluster
	// delivers one notification, not three.
	alert := testenv.Alert{Labels: map[string]string{"alertname": "HA"}}
	for _, am := range ams {
		require.NoError(t, am.PostAlerts(ctx, alert))
	}
	msg := recv.wait(t, 15*time.Second)
	require.Equal(t, "HA", msg.Alerts[0].Labels["alertname"])
	time.Sleep(3 * time.Second) // > 2 × --cluster.peer-timeout: the others had their turn
	require.Equal(t, 1, recv.count())

	// A killed peer comes back and rejoins.
	ams[2].Kill(t)
	ams[2].Restart(t)
	ams[2].WaitForPeers(t, 3, 30*time.Second)
}
