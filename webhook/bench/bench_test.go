package bench_test

import (
	"context"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kizashi-dev/kizashi/internal/testenv"
	"github.com/kizashi-dev/kizashi/webhook/alertmsg"
	"github.com/kizashi-dev/kizashi/webhook/bench"
	"github.com/kizashi-dev/kizashi/webhook/incident"
	"github.com/kizashi-dev/kizashi/webhook/service"
	"github.com/kizashi-dev/kizashi/webhook/store"
	"github.com/kizashi-dev/kizashi/webhook/store/postgres"
	"github.com/kizashi-dev/kizashi/webhook/store/sqlite"
	"github.com/kizashi-dev/kizashi/webhook/testkit"
)

// BenchmarkIngestSQLite measures the service layer on the SQLite store
// (synchronous=FULL), 10 alerts per notification, without HTTP.
func BenchmarkIngestSQLite(b *testing.B) {
	st, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "b.db"), sqlite.Options{})
	require.NoError(b, err)
	b.Cleanup(func() { require.NoError(b, st.Close()) })
	b.Run("realistic", func(b *testing.B) { benchIngest(b, st, false) })
	b.Run("churn", func(b *testing.B) { benchIngest(b, st, true) })
	b.Run("duplicates", func(b *testing.B) { benchDuplicates(b, st) })
}

// benchDuplicates repeats notifications already stored (Alertmanager's repeats and its HA
// peers' copies): each is recognised and checked for alerts hidden while they fire.
func benchDuplicates(b *testing.B, st store.Store) {
	rules := testkit.StaticRules{P: incident.DefaultPolicy()}
	svc := &service.Service{Store: st, Rules: func() service.Rules { return rules }}
	var bodies [][]byte
	for range 100 {
		body := bench.Payload(seqs.Add(1), 1000, 10, false)
		m, err := alertmsg.Parse(body)
		require.NoError(b, err)
		_, err = svc.Ingest(context.Background(), "bench", m, body)
		require.NoError(b, err)
		bodies = append(bodies, body)
	}
	var i atomic.Uint64
	b.SetParallelism(32)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			body := bodies[i.Add(1)%uint64(len(bodies))]
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

var seqs atomic.Uint64

func benchIngest(b *testing.B, st store.Store, churn bool) {
	rules := testkit.StaticRules{P: incident.DefaultPolicy()}
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

// BenchmarkIngestPostgres measures the service layer on PostgreSQL
// (fsync on, synchronous_commit on), 10 alerts per notification. It uses a
// fresh database on the test server, or the (empty) database named by
// KIZASHI_BENCH_POSTGRES_DSN, e.g. one of a dedicated server or one with
// pg_stat_statements loaded.
func BenchmarkIngestPostgres(b *testing.B) {
	dsn := os.Getenv("KIZASHI_BENCH_POSTGRES_DSN")
	if dsn == "" {
		dsn = testenv.PostgresDSN(b)
	}
	st, err := postgres.Open(context.Background(), dsn, postgres.Options{MaxConns: 32})
	require.NoError(b, err)
	b.Cleanup(func() { require.NoError(b, st.Close()) })
	b.Run("realistic", func(b *testing.B) { benchIngest(b, st, false) })
	b.Run("churn", func(b *testing.B) { benchIngest(b, st, true) })
	b.Run("duplicates", func(b *testing.B) { benchDuplicates(b, st) })
}

func TestMain(m *testing.M) { testenv.Main(m) }

func TestPayloadIsValidAndDistinct(t *testing.T) {
	seen := map[string]bool{}
	for _, churn := range []bool{false, true} {
		for seq := uint64(0); seq < 3000; seq += 7 {
			m, err := alertmsg.Parse(bench.Payload(seq, 100, 10, churn))
			require.NoError(t, err)
			require.Len(t, m.Alerts, 10)
			k := m.IdempotencyKey("t")
			if !churn {
				require.False(t, seen[k], "seq %d repeats a notification", seq)
			}
			seen[k] = true
		}
	}
}
