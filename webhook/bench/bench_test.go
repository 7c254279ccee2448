package bench_test

import (
	"context"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kizashi-dev/kizashi/webhook/alertmsg"
	"github.com/kizashi-dev/kizashi/webhook/bench"
	"github.com/kizashi-dev/kizashi/webhook/incident"
	"github.com/kizashi-dev/kizashi/webhook/service"
	"github.com/kizashi-dev/kizashi/webhook/store"
	"github.com/kizashi-dev/kizashi/webhook/store/sqlite"
	"github.com/kizashi-dev/kizashi/webhook/store/storetest"
)

// BenchmarkIngestSQLite measures the service layer on the SQLite store
// (synchronous=FULL), 10 alerts per notification, without HTTP.
func BenchmarkIngestSQLite(b *testing.B) {
	st, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "b.db"), sqlite.Options{})
	require.NoError(b, err)
	b.Cleanup(func() { require.NoError(b, st.Close()) })
	b.Run("realistic", func(b *testing.B) { benchIngest(b, st, false) })
	b.Run("churn", func(b *testing.B) { benchIngest(b, st, true) })
}

var seqs atomic.Uint64

func benchIngest(b *testing.B, st store.Store, churn bool) {
	rules := storetest.StaticRules{P: incident.DefaultPolicy()}
	svc := &service.Service{Store: st, Rules: func() service.Rules { return rules }}
	seq := &seqs
	b.SetParallelism(32)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			body := bench.Payload(seq.Add(1), 1000, 10, churn)
			m, err := alertmsg.Parse(body)
			if err != nil {
				b.Error(err)
				return
			}
			if _, err := svc.Ingest(context.Background(), "bench", m, body); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "notifications/s")
}
