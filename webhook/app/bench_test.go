//go:build e2e

package app_test

import (
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kizashi-dev/kizashi/internal/testenv"
	"github.com/kizashi-dev/kizashi/webhook/bench"
)

// BenchmarkWebhook runs the whole program in-process (HTTP, auth, decode,
// store with fsync) against the load generator on the same machine:
// "max" sends as fast as 64 concurrent senders can, "rate500" sends 500
// notifications/s; both with 10 alerts per notification. Each iteration is one
// run of KIZASHI_BENCH_SECONDS (default 10) seconds; run with -benchtime=1x.
//
//	go test -tags e2e -run XXX -bench Webhook -benchtime 1x ./webhook/app/
func BenchmarkWebhook(b *testing.B) {
	secs := 10
	if s := os.Getenv("KIZASHI_BENCH_SECONDS"); s != "" {
		var err error
		secs, err = strconv.Atoi(s)
		require.NoError(b, err)
	}
	stores := []struct {
		name    string
		storage func(b *testing.B) string
	}{
		{"sqlite", func(*testing.B) string { return "" }},
		{"postgres", func(b *testing.B) string {
			return fmt.Sprintf("storage:\n  driver: postgres\n  max_conns: 32\n  dsn: %q\n", testenv.PostgresDSN(b))
		}},
	}
	for _, st := range stores {
		for _, mode := range []struct {
			name  string
			rate  float64
			churn bool
		}{{"max", 0, false}, {"max-churn", 0, true}, {"rate500", 500, false}} {
			b.Run(st.name+"/"+mode.name, func(b *testing.B) {
				w := startWebhook(b, st.storage(b))
				var seq uint64
				for i := 0; i < b.N; i++ {
					res, err := bench.Run(b.Context(), bench.Options{URL: w.URL + "/api/v1/alerts", Token: tokAcme, Rate: mode.rate,
						Duration: time.Duration(secs) * time.Second, Concurrency: 64, Alerts: 10, Groups: 1000, Churn: mode.churn, Start: seq})
					require.NoError(b, err)
					require.Zero(b, res.Failed, res.String())
					seq += uint64(res.Sent)
					b.ReportMetric(res.Throughput(), "notifications/s")
					b.ReportMetric(float64(res.P50.Microseconds())/1000, "p50_ms")
					b.ReportMetric(float64(res.P99.Microseconds())/1000, "p99_ms")
					b.Logf("%s", res)
				}
			})
		}
	}
}
