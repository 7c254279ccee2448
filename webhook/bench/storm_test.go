package bench_test

import (
	"bytes"
	"context"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"sync"
	"testing"
	"time"

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

// stormAlerts is the size of the storm: one group of 100,000 alerts.
const stormAlerts = 100_000

// BenchmarkIngestStorm measures one notification of 100,000 alerts (28 MB of
// JSON) from its body to its commit: streaming decode, the raw body
// compressed, one incident with 100,000 alert rows. "first" opens the
// incident, "resend" is the same group again with its last alert changed
// (what Alertmanager sends every group_interval while a storm goes on).
// Run with -benchmem; peak-heap-MiB samples the live heap meanwhile.
//
//	go test -run '^$' -bench IngestStorm -benchtime 3x -benchmem ./webhook/bench/
func BenchmarkIngestStorm(b *testing.B) {
	for _, st := range []struct {
		name string
		open func(b *testing.B) store.Store
	}{
		{"sqlite", func(b *testing.B) store.Store {
			s, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "b.db"), sqlite.Options{})
			require.NoError(b, err)
			return s
		}},
		{"postgres", func(b *testing.B) store.Store {
			s, err := postgres.Open(context.Background(), testenv.PostgresDSN(b), postgres.Options{})
			require.NoError(b, err)
			return s
		}},
	} {
		for _, mode := range []string{"first", "resend"} {
			b.Run(st.name+"/"+mode, func(b *testing.B) {
				s := st.open(b)
				b.Cleanup(func() { require.NoError(b, s.Close()) })
				rules := testkit.StaticRules{P: incident.DefaultPolicy()}
				svc := &service.Service{Store: s, Rules: func() service.Rules { return rules }}
				ingest := func(body []byte) *alertmsg.Message {
					m, err := alertmsg.Decode(bytes.NewReader(body), alertmsg.Limits{MaxBytes: 1 << 30, MaxAlerts: stormAlerts})
					require.NoError(b, err)
					require.Len(b, m.Alerts, stormAlerts)
					_, err = svc.Ingest(context.Background(), "bench", m, nil)
					require.NoError(b, err)
					return m
				}
				// Groups: notification seq goes to group seq % groups; "resend" keeps one group.
				groups := 1 << 20
				if mode == "resend" {
					groups = 1
					ingest(bench.Payload(0, groups, stormAlerts, false))
				}
				var stored int
				var peak uint64
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					b.StopTimer()
					body := bench.Payload(uint64(i+1), groups, stormAlerts, false)
					runtime.GC()
					before := heapBytes()
					stop := sampleHeap()
					b.StartTimer()
					m := ingest(body)
					b.StopTimer()
					peak = max(peak, stop()-min(before, stop()))
					stored = len(m.Raw.Body)
					b.StartTimer()
				}
				b.StopTimer()
				// The heap the ingest added at its peak (the request body, held by the caller, excluded).
				b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
				b.ReportMetric(float64(len(bench.Payload(0, groups, stormAlerts, false))), "body-bytes")
				b.ReportMetric(float64(stored), "stored-body-bytes")
			})
		}
	}
}

func heapBytes() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// sampleHeap samples the live heap every millisecond until the returned
// function is called, which returns the largest sample.
func sampleHeap() func() uint64 {
	var (
		mu   sync.Mutex
		peak uint64
		done = make(chan struct{})
		wg   sync.WaitGroup
		once sync.Once
	)
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			metrics.Read(s)
			mu.Lock()
			peak = max(peak, s[0].Value.Uint64())
			mu.Unlock()
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() uint64 {
		once.Do(func() { close(done) })
		wg.Wait()
		return peak
	}
}
