//go:build e2e

package forward_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/kizashi-dev/kizashi/internal/testenv"
	"github.com/kizashi-dev/kizashi/webhook/forward"
	"github.com/kizashi-dev/kizashi/webhook/forward/forwardtest"
	"github.com/kizashi-dev/kizashi/webhook/forward/integrations"
	"github.com/kizashi-dev/kizashi/webhook/incident"
	"github.com/kizashi-dev/kizashi/webhook/store"
	"github.com/kizashi-dev/kizashi/webhook/store/postgres"
)

// TestPostgresReplicasShareWork runs three forwarders, each on its own
// connection pool to one PostgreSQL database (three webhook replicas): the
// work is shared (FOR UPDATE SKIP LOCKED) and every incident is delivered
// once.
func TestPostgresReplicasShareWork(t *testing.T) {
	open := openPostgres(t)
	sn := forwardtest.NewServiceNow(t)
	// Held requests must not time out (a replica whose requests all time out may end with no
	// delivery of its own).
	h := forwardtest.NewHarness(t, open(t), forwardtest.ServiceNowConfig(sn.URL()), "timeout: 1m")
	const n = 150
	ids := make([]int64, n)
	for i := range n {
		ids[i] = h.Fire(i)
	}
	for i := range n {
		h.Act(ids[i], incident.Action{Kind: incident.ActAcknowledge})
	}
	// Dispatched before the replicas start, each incident's two changes are one job: one
	// delivery each. (Dispatched while deliveries run, a change may come after a delivery
	// and need one more: correct, but not countable.)
	for {
		k, err := h.Fwd.DispatchOutbox(context.Background(), time.Now(), 1000, h.Config.Load().TargetKeys)
		require.NoError(t, err)
		if k == 0 {
			break
		}
	}
	// The target holds every request until all three replicas have some in flight: one
	// replica holds at most `concurrency` (8), two at most 16.
	sn.Hold()
	regs := map[string]*prometheus.Registry{}
	var stops []func()
	for _, owner := range []string{"r1", "r2", "r3"} {
		regs[owner] = prometheus.NewRegistry()
		st := open(t)
		t.Cleanup(func() { require.NoError(t, st.Close()) })
		f := forward.New(forward.Options{Store: st.(store.Forwarding), Reads: st, Config: h.Config.Load, Owner: owner,
			Metrics: forward.NewMetrics(regs[owner]), Build: integrations.Build, Logger: forwardtest.Logger(t)})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- f.Run(ctx) }()
		var once sync.Once
		stop := func() {
			once.Do(func() {
				cancel()
				require.NoError(t, <-done)
			})
		}
		stops = append(stops, stop)
		t.Cleanup(stop)
	}
	require.Eventually(t, func() bool { return sn.Waiting() > 16 }, time.Minute, 10*time.Millisecond, "all three replicas deliver")
	sn.Release()
	h.WaitSettled(time.Minute)
	recs := sn.ByCorrelation()
	require.Len(t, recs, n)
	for cid, r := range recs {
		require.Len(t, r, 1, cid)
		require.Equal(t, "2", r[0].Fields["state"])
	}
	require.Equal(t, n, sn.Count(forwardtest.SNCreate))
	// A delivery is counted after the store has it: stop the replicas (Run waits for the
	// deliveries in flight) before reading the counters.
	for _, stop := range stops {
		stop()
	}
	total := 0.0
	for owner, reg := range regs {
		mfs, err := reg.Gather()
		require.NoError(t, err)
		var got float64
		for _, mf := range mfs {
			if mf.GetName() == "kizashi_webhook_forward_deliveries_total" {
				got = mf.GetMetric()[0].GetCounter().GetValue()
			}
		}
		t.Logf("replica %s delivered %v incidents", owner, got)
		require.Positive(t, got, "every replica took a share")
		total += got
	}
	require.Equal(t, float64(n), total, "one delivery per incident: the acknowledgements coalesced into the first delivery")
}

func openPostgres(t *testing.T) func(t *testing.T) store.Store {
	dsn := testenv.PostgresDSN(t)
	return func(t *testing.T) store.Store {
		st, err := postgres.Open(context.Background(), dsn, postgres.Options{})
		require.NoError(t, err)
		return st
	}
}
