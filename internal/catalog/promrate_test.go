package catalog

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// small is a catalogue small enough for unit tests: 9 days, failures from day 2.
func small() Options {
	return Options{Seed: 1, Days: 9, PerCell: 1, Controls: 1, Warmup: 24 * time.Hour}
}

// s builds samples from (seconds, value) pairs.
func s(pairs ...float64) []sample {
	out := make([]sample, 0, len(pairs)/2)
	for i := 0; i < len(pairs); i += 2 {
		out = append(out, sample{T: int64(pairs[i] * 1000), F: pairs[i+1]})
	}
	return out
}

// Values worked out by hand from Prometheus' extrapolatedRate.
func TestExtrapolatedRateByHand(t *testing.T) {
	for _, tc := range []struct {
		name          string
		samples       []sample
		eval, rangeS  float64
		want          float64
		wantNoSamples bool
	}{
		{
			// Window [67, 127]: increase 20 over 45 s; 8 s to the start and 7 s to the end are
			// both under 1.1 × 15 s, so it extrapolates to the whole 60 s: 20·60/45/60.
			name: "extrapolated to both ends", samples: s(75, 40, 90, 41, 105, 55, 120, 60), eval: 127, rangeS: 60,
			want: 20.0 * 60 / 45 / 60,
		},
		{
			// A reset from 20 to 5 adds 20: increase 15-10+20 = 25. The zero point (45·10/25 =
			// 18 s before the first sample) is further than the start (10 s): 25·60/45/60.
			name: "counter reset", samples: s(0, 10, 15, 20, 30, 5, 45, 15), eval: 50, rangeS: 60,
			want: 25.0 * 60 / 45 / 60,
		},
		{
			// The first sample is 20 s after the start (over 16.5 s): extrapolate 7.5 s, but the
			// counter would reach 0 after 30·1/6 = 5 s, so 5 s; 10 s to the end: 6·45/30/60.
			name: "zero point limits the start", samples: s(20, 1, 35, 4, 50, 7), eval: 60, rangeS: 60,
			want: 6.0 * 45 / 30 / 60,
		},
		{
			// The series ended 80 s before the end of the range: only half an interval (7.5 s) is
			// extrapolated there: 60·(30+10+7.5)/30/120.
			name: "series ended inside the range", samples: s(10, 100, 25, 130, 40, 160), eval: 120, rangeS: 120,
			want: 60 * 47.5 / 30 / 120,
		},
		{
			// 17 s to the start is over 1.1 × 15 s: extrapolate half an interval there only:
			// 30·(30+7.5+13)/30/60.
			name: "just beyond the extrapolation threshold", samples: s(17, 100, 32, 115, 47, 130), eval: 60, rangeS: 60,
			want: 30 * 50.5 / 30 / 60,
		},
		{
			// 16 s is within it: extrapolate all the way: 30·(30+16+14)/30/60.
			name: "just within the extrapolation threshold", samples: s(16, 100, 31, 115, 46, 130), eval: 60, rangeS: 60,
			want: 30 * 60 / 30 / 60,
		},
		{
			name: "a flat counter", samples: s(5, 7, 20, 7, 35, 7, 50, 7), eval: 60, rangeS: 60, want: 0,
		},
		{name: "one sample has no rate", samples: s(30, 1), eval: 60, rangeS: 60, wantNoSamples: true},
		{name: "no sample has no rate", eval: 60, rangeS: 60, wantNoSamples: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := extrapolatedRate(tc.samples, int64(tc.eval*1000), int64(tc.rangeS*1000))
			require.Equal(t, !tc.wantNoSamples, ok)
			require.InDelta(t, tc.want, got, 1e-12)
		})
	}
}

// rates selects (t-range, t] for each evaluation time as a brute-force selection does.
func TestRatesSelectsTheRange(t *testing.T) {
	var samples []sample
	c := 0.0
	for i := range 200 {
		c += float64(i % 7)
		if i == 120 {
			c = 3 // a reset
		}
		samples = append(samples, sample{T: int64(i)*15_000 + 4_321, F: c})
	}
	var evals []int64
	for e := int64(120_000); e < 4_000_000; e += 60_000 {
		evals = append(evals, e)
	}
	for _, rangeMS := range []int64{60_000, 300_000, 600_000} {
		got := rates(samples, evals, rangeMS, nil)
		var want []float64
		for _, e := range evals {
			var sel []sample
			for _, x := range samples {
				if x.T > e-rangeMS && x.T <= e {
					sel = append(sel, x)
				}
			}
			r, ok := extrapolatedRate(sel, e, rangeMS)
			if !ok {
				break
			}
			want = append(want, r)
		}
		require.Equal(t, want, got, "range %d ms", rangeMS)
		require.Less(t, len(got), len(evals), "the counter ended: so do its rates")
		require.Greater(t, len(got), 40)
	}
}

// The counter never goes down but at a restart, and the rates are never negative.
func TestCounterOnlyResets(t *testing.T) {
	for i := range 4 {
		_, g, _, err := build(small(), Case{Rate1m, None, i}, "resets")
		require.NoError(t, err)
		cg := g.(*counterGen)
		start := epoch
		samples, resets := scrape(cg, &plan{f: None}, 60_000, start, 8*24*60)
		downs := 0
		for j := 1; j < len(samples); j++ {
			require.Equal(t, int64(scrapeMS), samples[j].T-samples[j-1].T)
			if samples[j].F < samples[j-1].F {
				downs++
				require.Less(t, samples[j].F, 0.5*samples[j-1].F+1e4, "a reset starts again near 0")
			}
			require.Equal(t, samples[j].F, math.Floor(samples[j].F), "counts are whole")
		}
		require.Equal(t, resets, downs)
		require.Positive(t, resets, "a counter restarts about every 4 days")
		for _, r := range rates(samples, evalTimes(start, 8*24*60), 60_000, nil) {
			require.GreaterOrEqual(t, r, 0.0)
		}
	}
}
