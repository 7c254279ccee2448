package app_test

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kizashi-dev/kizashi/webhook/bench"
)

// BenchmarkTenantFairness measures a small tenant's latency while another
// tenant sends large notifications: acme sends groups of 14,000 alerts
// (about 4 MB each) from 8 senders as fast as it can, globex 20 small
// notifications (10 alerts) per second; SQLite, fsync on. "shared" is the
// default per-tenant share of the store, "unlimited" lets acme take it all
// (what the webhook did before it had shares). Reports globex's p50 and p99
// and acme's throughput; KIZASHI_BENCH_SECONDS long (default 10), -benchtime 1x.
//
//	go test -run '^$' -bench TenantFairness -benchtime 1x ./webhook/app/
func BenchmarkTenantFairness(b *testing.B) {
	secs := 10
	if s := os.Getenv("KIZASHI_BENCH_SECONDS"); s != "" {
		var err error
		secs, err = strconv.Atoi(s)
		require.NoError(b, err)
	}
	for _, mode := range []struct{ name, limits string }{
		{"shared", ""},
		{"unlimited", "limits:\n  tenant: {concurrency: 1000000, inflight_bytes: 1099511627776}\n"},
	} {
		b.Run(mode.name, func(b *testing.B) {
			storage := "storage:\n  driver: sqlite\n  path: " + filepath.Join(b.TempDir(), "kizashi.db") + "\n"
			l, err := net.Listen("tcp", "127.0.0.1:0")
			require.NoError(b, err)
			w := runWebhook(b, l, configYAML(storage)+mode.limits)
			for i := 0; i < b.N; i++ {
				var (
					wg    sync.WaitGroup
					large bench.Result
					lerr  error
				)
				d := time.Duration(secs) * time.Second
				wg.Add(1)
				go func() {
					defer wg.Done()
					large, lerr = bench.Run(context.Background(), bench.Options{URL: w.URL + "/api/v1/alerts", Token: tokAcme,
						Duration: d, Concurrency: 8, Alerts: 14_000, Groups: 8})
				}()
				small, err := bench.Run(context.Background(), bench.Options{URL: w.URL + "/api/v1/alerts", Token: tokGlobex,
					Rate: 20, Duration: d, Concurrency: 8, Alerts: 10, Groups: 1000})
				wg.Wait()
				require.NoError(b, err)
				require.NoError(b, lerr)
				b.Logf("small tenant: %s", small)
				b.Logf("large tenant: %s", large)
				b.ReportMetric(float64(small.P50.Microseconds())/1000, "small-p50-ms")
				b.ReportMetric(float64(small.P99.Microseconds())/1000, "small-p99-ms")
				b.ReportMetric(large.Throughput(), "large-notifications/s")
			}
		})
	}
}
