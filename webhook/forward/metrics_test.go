package forward_test

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/kizashi-dev/kizashi/webhook/forward"
	"github.com/kizashi-dev/kizashi/webhook/forward/fake"
	"github.com/kizashi-dev/kizashi/webhook/reconcile"
	"github.com/kizashi-dev/kizashi/webhook/store"
)

func TestMetricsLint(t *testing.T) {
	sn := fake.NewServiceNow(t)
	h := newHarness(t, openSQLite(t), snConfig(sn.URL()), "")
	h.forwarder("r1")
	h.fire(1)
	h.reg.MustRegister(forward.NewQueueCollector(h.st.(store.Forwarding), h.cfg.Load, nil))
	rm := reconcile.NewMetrics(h.reg)
	rm.Actions.WithLabelValues("acme", "hold").Inc()
	rm.Errors.WithLabelValues("acme")
	rm.LastSuccess.WithLabelValues("acme").Set(1)
	rm.WatchdogDown.WithLabelValues("acme")
	rm.LastHeartbeat.WithLabelValues("acme").Set(1)
	h.waitSettled(time.Minute)
	problems, err := testutil.GatherAndLint(h.reg)
	require.NoError(t, err)
	require.Empty(t, problems)
	n, err := testutil.GatherAndCount(h.reg, "kizashi_webhook_outbox_lag_seconds", "kizashi_webhook_forward_pending",
		"kizashi_webhook_forward_dead_letters", "kizashi_webhook_forward_deliveries_total")
	require.NoError(t, err)
	require.Equal(t, 4, n)
}
