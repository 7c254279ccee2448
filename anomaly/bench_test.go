package anomaly

import (
	"math/rand/v2"
	"runtime"
	"testing"
	"time"
)

// BenchmarkUpdate measures one steady-state Update (after warm-up): ns/op and allocs/op.
func BenchmarkUpdate(b *testing.B) {
	ts, vs := series(288*14, 5*time.Minute, 2, dailySine)
	benchmarkUpdate(b, Config{}, ts, vs)
}

// BenchmarkUpdateZone is BenchmarkUpdate with the seasonal profiles in a time zone that
// changes its offset twice a year (Config.Location: a search of its offsets per sample).
func BenchmarkUpdateZone(b *testing.B) {
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		b.Fatal(err)
	}
	ts, vs := series(288*14, 5*time.Minute, 2, dailySine)
	benchmarkUpdate(b, Config{Location: loc}, ts, vs)
}

// BenchmarkUpdateCounts is BenchmarkUpdate on Poisson counts of mean 3 (the zeros channel
// judges them; see zeros).
func BenchmarkUpdateCounts(b *testing.B) {
	ts, _ := series(288*14, 5*time.Minute, 0, dailySine)
	vs := poissonCounts(rand.New(rand.NewPCG(1, 2)), len(ts), func(int) float64 { return 3 })
	benchmarkUpdate(b, Config{}, ts, vs)
}

func benchmarkUpdate(b *testing.B, cfg Config, ts []time.Time, vs []float64) {
	m, err := New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	m.UpdateAll(ts[:288*7], vs[:288*7], nil)
	rest := len(ts) - 288*7
	step := 5 * time.Minute
	last := ts[len(ts)-1]
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		j := 288*7 + i%rest
		// Timestamps keep increasing past the generated slice.
		if _, err := m.Update(last.Add(time.Duration(i+1)*step), vs[j]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkModels100k reports the heap bytes per model with 100k warmed-up models alive.
func BenchmarkModels100k(b *testing.B) {
	spec, err := Compile(Config{})
	if err != nil {
		b.Fatal(err)
	}
	for range b.N {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		models := make([]*Model, 100_000)
		for i := range models {
			m := spec.New()
			for k := range 3 {
				_, _ = m.Update(t0.Add(time.Duration(k)*time.Minute), float64(i+k))
			}
			models[i] = m
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/float64(len(models)), "bytes/model")
		runtime.KeepAlive(models)
	}
}

func BenchmarkSnapshotEncode(b *testing.B) {
	m := warmModel(b)
	buf := make([]byte, 0, 4096)
	b.ReportAllocs()
	for range b.N {
		var err error
		buf, err = m.AppendBinary(buf[:0])
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(buf)), "bytes/snapshot")
}

func BenchmarkSnapshotDecode(b *testing.B) {
	m := warmModel(b)
	snap, err := m.MarshalBinary()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for range b.N {
		if err := m.UnmarshalBinary(snap); err != nil {
			b.Fatal(err)
		}
	}
}

func warmModel(b *testing.B) *Model {
	ts, vs := series(288*3, 5*time.Minute, 2, dailySine)
	m, err := New(Config{})
	if err != nil {
		b.Fatal(err)
	}
	m.UpdateAll(ts, vs, nil)
	return m
}

// BenchmarkBreachETA is a breach ETA that finds no crossing within a week (the longest search:
// 512 forecasts of the baseline), in UTC and in a zone whose offset it looks up per forecast.
func BenchmarkBreachETA(b *testing.B) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		b.Fatal(err)
	}
	for _, loc := range []*time.Location{nil, berlin} {
		b.Run("zone="+loc.String(), func(b *testing.B) {
			ts, vs := series(288*14, 5*time.Minute, 2, dailySine)
			m, err := New(Config{Location: loc})
			if err != nil {
				b.Fatal(err)
			}
			m.UpdateAll(ts, vs, nil)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if _, ok := m.BreachETA(1000, 7*24*time.Hour); ok {
					b.Fatal("a crossing of 1000 by a sine of ±20 around 100")
				}
			}
		})
	}
}
