package anomaly

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// A tripled noise around an unchanged daily pattern is a failure of its own (a flapping link,
// a noisy neighbour): the level and the pattern stay, only the spread grows. The volatility
// channel flags it once it has lasted (half an hour of its own evidence); the same series without it stays quiet.
func TestVarianceTripledIsFlagged(t *testing.T) {
	const perDay = 1440
	days := 10
	onset := (days-1)*perDay + 10*60 // 10:00 of the last day, for four hours
	for _, tripled := range []bool{false, true} {
		rng := rand.New(rand.NewPCG(3, 4))
		ts := make([]time.Time, days*perDay)
		vs := make([]float64, len(ts))
		wander := 0.0
		for i := range ts {
			ts[i] = t0.Add(time.Duration(i) * time.Minute)
			// A slow wander, as real series have: it hides a raised noise from the residual's
			// spread, not from the first differences.
			wander = 0.995*wander + 0.5*rng.NormFloat64()
			noise := 2.0
			if tripled && i >= onset && i < onset+4*60 {
				noise = 6
			}
			vs[i] = dailySine(i, ts[i]) + wander + noise*rng.NormFloat64()
		}
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
						c := 20.0
						if wd := tt.Weekday(); wd != time.Saturday && wd != time.Sunday && tt.Hour() >= 9 && tt.Hour() < 18 {
							c = 400
						}
						return c * (1 + 0.05*k*rng.NormFloat64())
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
	rng := rand.New(rand.NewPCG(1, 4))
	wander := 0.0
	ts, vs := series(22*perDay, time.Minute, 0, func(i int, tt time.Time) float64 {
		// The slow wander of TestVarianceTripledIsFlagged.
		wander = 0.995*wander + 0.5*rng.NormFloat64()
		noise := 2.0
		if i >= onset {
			noise *= math.Sqrt(3)
		}
		return dailySine(i, tt) + wander + noise*rng.NormFloat64()
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
