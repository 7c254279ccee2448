package forward_test

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/kizashi-dev/kizashi/webhook/forward"
	"github.com/kizashi-dev/kizashi/webhook/forward/forwardtest"
	"github.com/kizashi-dev/kizashi/webhook/reconcile"
	"github.com/kizashi-dev/kizashi/webhook/store"
)

func TestMetricsLint(t *testing.T) {
	sn := forwardtest.NewServiceNow(t)
	h := forwardtest.NewHarness(t, forwardtest.OpenSQLite(t), forwardtest.ServiceNowConfig(sn.URL()), "")
	h.Forwarder("r1")
	h.Fire(1)
	h.Registry.MustRegister(forward.NewQueueCollector(h.Store.(store.Forwarding), h.Config.Load, nil))
	rm := reconcile.NewMetrics(h.Registry)
	rm.Actions.WithLabelValues("acme", "hold").Inc()
	rm.Errors.WithLabelValues("acme")
	rm.LastSuccess.WithLabelValues("acme").Set(1)
	rm.WatchdogDown.WithLabelValues("acme")
	rm.LastHeartbeat.WithLabelValues("acme").Set(1)
	h.WaitSettled(time.Minute)
	problems, err := testutil.GatherAndLint(h.Registry)
	require.NoError(t, err)
	require.Empty(t, problems)
	n, err := testutil.GatherAndCount(h.Registry, "kizashi_webhook_outbox_lag_seconds", "kizashi_webhook_forward_pending",
		"kizashi_webhook_forward_dead_letters", "kizashi_webhook_forward_deliveries_total")
	require.NoError(t, err)
	require.Equal(t, 4, n)
}
