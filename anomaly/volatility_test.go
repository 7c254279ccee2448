package anomaly

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kizashi-dev/kizashi/internal/randdist"
)

// A tripled noise around an unchanged daily pattern is a failure of its own (a flapping link,
// a noisy neighbour): the level and the pattern stay, only the spread grows. The volatility
// channel flags it once it has lasted (half an hour of its own evidence); the same series without it stays quiet.
func TestVarianceTripledIsFlagged(t *testing.T) {
	const perDay = 1440
	days := 10
	onset := (days-1)*perDay + 10*60 // 10:00 of the last day, for four hours
	for _, tripled := range []bool{false, true} {
		ts, vs := wanderingSine(3, days*perDay, func(i int) float64 {
			if tripled && i >= onset && i < onset+4*60 {
				return 3
			}
			return 1
		})
		_, rs := run(t, Config{}, ts, vs)
		first, top, reason := -1, 0.0, ReasonNone
		for i := onset; i < onset+4*60; i++ {
			if rs[i].Score > 0.65 && rs[i].Reason == ReasonVarianceChange && first < 0 {
				first, reason = i-onset, rs[i].Reason
			}
			top = max(top, rs[i].Score)
		}
		if !tripled {
			require.Less(t, top, 0.65, "no alarm on the unchanged series (peak %.3f)", top)
			continue
		}
		require.GreaterOrEqual(t, first, 0, "flagged as a variance change within the four hours (peak %.3f)", top)
		t.Logf("flagged as %v after %d minutes", reason, first)
	}
}

// A raised noise is judged against the noise before it: while the volatility channel suspects
// a young change, the references it is judged against do not learn from it. Three kinds of
// noise at sixteen days of age (Student-t with 4 degrees of freedom, Laplace, business hours
// with 5% noise), twenty series each, the noise's variance tripled for four hours from a
// Wednesday 11:00: with the references learning from the change as they judged it, 44 of the
// 60 were caught within four hours (15, 11, 18); with them held, 49. The same series unchanged
// raise no variance_change alert.
func TestRaisedNoiseIsJudgedAgainstTheNoiseBefore(t *testing.T) {
	const day = 1440
	onset := 16*day + 11*60
	caught, wrong := 0, 0
	for _, kind := range []string{"student-t4", "laplace", "business hours"} {
		for seed := uint64(1); seed <= 20; seed++ {
			for _, tripled := range []bool{false, true} {
				rng := rand.New(rand.NewPCG(seed, 77))
				ts, vs := series(17*day, time.Minute, 0, func(i int, tt time.Time) float64 {
					k := 1.0
					if tripled && i >= onset && i < onset+4*60 {
						k = math.Sqrt(3)
					}
					switch kind {
					case "student-t4":
						chi := 0.0
						for range 4 {
							c := rng.NormFloat64()
							chi += c * c
						}
						return 100 + 2*k*rng.NormFloat64()/math.Sqrt(chi/4)
					case "laplace":
						u := rng.Float64() - 0.5
						return 100 - 2*k*math.Copysign(math.Log(1-2*math.Abs(u)), u)
					default:
						return officeLoad(rng, tt, k)
					}
				})
				_, rs := run(t, Config{}, ts, vs)
				if tripled {
					if _, ok := fires(rs, onset, onset+4*60); ok {
						caught++
					}
					continue
				}
				for from := 7 * day; ; {
					i, ok := fires(rs, from, len(rs))
					if !ok {
						break
					}
					if rs[i].Reason == ReasonVarianceChange {
						wrong++
					}
					from = i + 10
				}
			}
		}
	}
	t.Logf("caught %d of 60 within four hours; %d variance_change alerts on the unchanged series", caught, wrong)
	require.GreaterOrEqual(t, caught, 47)
	require.Zero(t, wrong)
}

// A noise that stays tripled is learned: the references stop learning from a suspected change
// only while it is young, so the channel comes back to rest within days and can see the next
// one.
func TestLastingTripledVarianceIsLearned(t *testing.T) {
	const perDay = 1440
	onset := 15*perDay + 10*60
	ts, vs := wanderingSine(1, 22*perDay, func(i int) float64 {
		if i >= onset {
			return math.Sqrt(3)
		}
		return 1
	})
	m, rs := run(t, Config{}, ts[:21*perDay], vs[:21*perDay])
	_, ok := fires(rs, onset, onset+4*60)
	require.True(t, ok, "caught within four hours")
	require.Zero(t, alerts(rs, onset+perDay, len(rs)), "no alert once it has lasted a day")
	mean := 0.0
	for i := 21 * perDay; i < len(ts); i++ {
		_, err := m.Update(ts[i], vs[i])
		require.NoError(t, err)
		mean += float64(m.volS) / perDay
	}
	require.Less(t, mean, tuneVolSuspect, "the volatility CUSUM back at rest six days on")
}

// wanderingSine is dailySine at one sample a minute with a slow wander, as real series have
// (it hides a raised noise from the residual's spread, not from the first differences), and a
// noise of standard deviation 2 times k(i).
func wanderingSine(seed uint64, n int, k func(i int) float64) ([]time.Time, []float64) {
	rng := rand.New(rand.NewPCG(seed, 4))
	wander := 0.0
	return series(n, time.Minute, 0, func(i int, tt time.Time) float64 {
		wander = 0.995*wander + 0.5*rng.NormFloat64()
		return dailySine(i, tt) + wander + 2*k(i)*rng.NormFloat64()
	})
}

// TestLogGetIsExp2 checks logGet's table against math.Exp2 for every stored value, to the bit:
// the volatility channel's references read the same as before it.
func TestLogGetIsExp2(t *testing.T) {
	for q := 1; q <= math.MaxUint16; q++ {
		want := math.Exp2((float64(q) - 32768) / 256)
		if got := logGet(uint16(q)); math.Float64bits(got) != math.Float64bits(want) {
			t.Fatalf("logGet(%d) = %v, want %v", q, got, want)
		}
	}
	if logGet(0) != 0 {
		t.Fatal("logGet(0) is not 0")
	}
}

// TestLogSetIsLog2 checks logSet's tables against math.Log2 to the bit: at every threshold of
// the rounding (±2^14 ulps, where its fallback takes over and around it) in octaves across the
// whole range, at random values, and at the edges (0, negative, NaN, subnormal, infinite).
func TestLogSetIsLog2(t *testing.T) {
	check := func(v float64) {
		t.Helper()
		var got, want uint16
		logSet(&got, v)
		logSetExact(&want, v)
		if !(v > 0) {
			want = 1
		}
		if got != want {
			t.Fatalf("logSet(%v) = %d, want %d", v, got, want)
		}
	}
	for _, e := range []int{-1022, -500, -129, -128, -100, -10, -1, 0, 1, 10, 100, 127, 128, 500, 1023} {
		for k := range 256 {
			th := math.Float64bits(math.Ldexp(math.Exp2((float64(k)+0.5)/256), e))
			for d := int64(-1 << 14); d <= 1<<14; d += 1 << 9 {
				check(math.Float64frombits(uint64(int64(th) + d)))
			}
			for d := int64(-3); d <= 3; d++ {
				check(math.Float64frombits(uint64(int64(th) + d)))
			}
		}
		check(math.Ldexp(1, e))
		check(math.Nextafter(math.Ldexp(2, e), 0))
	}
	rng := rand.New(rand.NewPCG(5, 8))
	for range 1_000_000 {
		check(math.Ldexp(1+rng.Float64(), rng.IntN(300)-150))
	}
	for _, v := range []float64{0, -1, math.NaN(), math.Inf(1), math.Inf(-1), 5e-324, 1e-310, math.MaxFloat64, math.SmallestNonzeroFloat64} {
		check(v)
	}
}

// A count whose noise has grown (errors a minute that now come in bursts: the same mean, three
// times the variance) is judged in first differences relative to the count's level, as any
// non-negative series, but not to the last count, which there is one draw of a few: the large
// draws of the raised noise made the differences after them smaller by as much as they were
// larger (49 of 60 caught within four hours with it, 57 without). Sixty series of 1.5 to 5 a
// minute with a daily rhythm of ±30-70% and quieter weekends, the variance tripled for four
// hours from a Wednesday 11:00 of their seventeenth day; the same series unchanged raise no
// alert then.
func TestRaisedNoiseOfLowCountsIsCaught(t *testing.T) {
	const day = 1440
	onset := 16*day + 11*60
	caught := 0
	for seed := uint64(1); seed <= 60; seed++ {
		for _, tripled := range []bool{false, true} {
			rng := rand.New(rand.NewPCG(seed, 78))
			mean, amp := 1.5+3.5*rng.Float64(), 0.3+0.4*rng.Float64()
			ts, vs := series(onset+4*60, time.Minute, 0, func(i int, tt time.Time) float64 {
				h := float64(tt.Hour()) + float64(tt.Minute())/60
				mu := mean * (1 + amp*math.Cos(2*math.Pi*(h-15)/24))
				if wd := tt.Weekday(); wd == time.Saturday || wd == time.Sunday {
					mu *= 0.7
				}
				if tripled && i >= onset {
					// A Gamma-Poisson mixture: variance mu + mu²/k = 3 mu.
					k := mu / 2
					mu *= randdist.Gamma(rng, k) / k
				}
				return poisson(rng, mu)
			})
			_, rs := run(t, Config{}, ts, vs)
			_, ok := fires(rs, onset, len(rs))
			if !tripled {
				require.False(t, ok, "seed %d: no alert on the unchanged counts", seed)
				continue
			}
			if ok {
				caught++
			}
		}
	}
	t.Logf("caught %d of 60 within four hours", caught)
	require.GreaterOrEqual(t, caught, 54)
}
