package anomaly

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// maxScore is the highest score of rs[from:to].
func maxScore(rs []Result, from, to int) float64 {
	m := 0.0
	for _, r := range rs[from:to] {
		m = max(m, r.Score)
	}
	return m
}

func TestSpikeLargerThanEverSeenScoresHigh(t *testing.T) {
	// A bursty series: every 50 samples a spike to 40-60 over a level of 10. The residual
	// model learns that such spikes are normal; a spike to 120, beyond anything seen, is not.
	const n, at = 4000, 3500
	rng := rand.New(rand.NewPCG(3, 4))
	ts, vs := series(n, 5*time.Minute, 0.5, func(i int, _ time.Time) float64 {
		switch {
		case i == at:
			return 120
		case i%50 == 0:
			return 40 + 20*rng.Float64()
		}
		return 10
	})
	_, rs := run(t, Config{Daily: Off, Weekly: Off}, ts, vs)
	usual := 0.0
	for i := 2000; i < at; i += 50 {
		usual = max(usual, rs[i].Score)
	}
	require.Less(t, usual, 0.65, "the usual spikes")
	require.Greater(t, rs[at].Score, 0.65, "the spike beyond the range seen")
	require.Greater(t, rs[at].Score, usual+0.1)
	require.Equal(t, ReasonBeyondRange, rs[at].Reason)
}

func TestSmallSustainedDriftIsNoticed(t *testing.T) {
	// A quiet series drifts by +2 sigmas and stays there: no single sample is remarkable (2
	// sigmas away from the old level happen every ~20 samples), but the run of them is.
	const at = 3000
	ts, vs := series(at+200, 5*time.Minute, 1, func(i int, _ time.Time) float64 {
		if i >= at {
			return 52
		}
		return 50
	})
	_, rs := run(t, Config{Daily: Off, Weekly: Off}, ts, vs)
	// Learned noise reaches 0.75 in at most 1e-4 of samples (TestScoreCalibration).
	require.Less(t, maxScore(rs, 1000, at), 0.75, "before the drift")
	require.Greater(t, maxScore(rs, at, at+100), 0.75, "the drift is noticed")
	// What the alert says: the reason when the shipped rule (score > 0.65 for 2m at a 1m
	// interval) would fire. The highest score is a single sample beyond the range seen so far.
	require.Equal(t, ReasonLevelShift, firingReason(rs, at, at+100, 0.65, 3))
}

// firingReason is the reason at the n-th consecutive score above th in rs[from:to], where an
// alert rule with that many evaluations fires (ReasonNone if it never would).
func firingReason(rs []Result, from, to int, th float64, n int) Reason {
	run := 0
	for i := from; i < to; i++ {
		if run = run + 1; rs[i].Score <= th {
			run = 0
		}
		if run == n {
			return rs[i].Reason
		}
	}
	return ReasonNone
}

// topReason is the reason of the highest score in rs[from:to].
func topReason(rs []Result, from, to int) Reason {
	best := from
	for i := from; i < to; i++ {
		if rs[i].Score > rs[best].Score {
			best = i
		}
	}
	return rs[best].Reason
}

func TestSpreadChangeIsNoticed(t *testing.T) {
	// The level stays, the noise triples.
	const at = 3000
	rng := rand.New(rand.NewPCG(5, 6))
	ts, vs := series(at+300, 5*time.Minute, 0, func(i int, _ time.Time) float64 {
		if i >= at {
			return 50 + 3*rng.NormFloat64()
		}
		return 50 + rng.NormFloat64()
	})
	_, rs := run(t, Config{Daily: Off, Weekly: Off}, ts, vs)
	require.Less(t, maxScore(rs, 1000, at), 0.75, "before the change")
	require.Greater(t, maxScore(rs, at, at+100), 0.75, "the wider spread is noticed")
	require.NotEqual(t, ReasonNone, topReason(rs, at, at+100))
}

// TestScoreCalibration checks that one threshold means about the same rarity on different
// kinds of normal behaviour: the share of samples scoring at least 0.5 and 0.65 on noise
// the model has learned (Gaussian, Laplace and Student-t residuals, with or without a daily
// pattern), after warm-up, and that the share at 0.65 differs by at most a factor 5 between
// them (the calibration of the channels' sum, calFit). The bar, a factor 3, is met on
// the failure catalogue's ten kinds (BENCHMARKS.md: 2.2); here Student-t5 noise without a
// pattern reaches 0.65 about 1 sample in 830, against 1 in 3,400 for Gaussian noise with a
// pattern (a factor 4.1, most of it the volatility channel on heavy tails). Fifteen models a
// series: the episodes above 0.65 come in clusters that differ from model to model, and with
// five (before 2026-12-07) the test read a factor 2.65 and shares within 1e-3 by luck of the
// draw.
func TestScoreCalibration(t *testing.T) {
	noises := map[string]func(r *rand.Rand) float64{
		"gaussian": func(r *rand.Rand) float64 { return r.NormFloat64() },
		"laplace": func(r *rand.Rand) float64 {
			e := r.ExpFloat64() / math.Sqrt2
			if r.IntN(2) == 0 {
				return -e
			}
			return e
		},
		"student-t5": func(r *rand.Rand) float64 {
			c := 0.0
			for range 5 {
				x := r.NormFloat64()
				c += x * x
			}
			return r.NormFloat64() / math.Sqrt(c/5)
		},
	}
	var shares65 []float64
	for name, noise := range noises {
		for _, daily := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/daily=%v", name, daily), func(t *testing.T) {
				rng := rand.New(rand.NewPCG(7, 8))
				var n, over50, over65, over75 int
				for range 15 {
					m, err := New(Config{})
					require.NoError(t, err)
					for i := range 20000 {
						v := 100 + 5*noise(rng)
						if daily {
							v += 30 * math.Sin(2*math.Pi*float64(i)/288)
						}
						r, err := m.Update(t0.Add(time.Duration(i)*5*time.Minute), v)
						require.NoError(t, err)
						if i < 4000 {
							continue
						}
						n++
						if r.Score >= 0.5 {
							over50++
						}
						if r.Score >= 0.65 {
							over65++
						}
						if r.Score >= 0.75 {
							over75++
						}
					}
				}
				p50, p65, p75 := float64(over50)/float64(n), float64(over65)/float64(n), float64(over75)/float64(n)
				t.Logf("share >= 0.5: %.1e, >= 0.65: %.1e, >= 0.75: %.1e (%d samples)", p50, p65, p75, n)
				// Score 0.5 (no alert; where a reason is first given) is nominally 10^-2.7; heavy
				// tails reach 9.1e-3 (Student-t5 without a pattern: 1.2e-3 at 0.65, 1.9e-4 at
				// 0.75; Gaussian noise with a pattern 5.6e-3, 2.9e-4 and 1.3e-5).
				require.Less(t, p50, 1.1e-2)
				require.Less(t, p65, 1.5e-3)
				require.Less(t, p75, 2.5e-4)
				shares65 = append(shares65, p65)
			})
		}
	}
	require.Len(t, shares65, 6)
	require.Greater(t, slices.Min(shares65), 0.0)
	require.LessOrEqual(t, slices.Max(shares65)/slices.Min(shares65), 5.0, "one threshold, one rarity: %v", shares65)
}

// The slow drift is a mean over an hour or two: a lasting failure is a long run of surprising
// values in a row, not one. Its tail learns from them less than the other channels' tails
// learn from theirs, so that the evidence of a failure wears down more slowly while it lasts.
func TestSlowDriftTailLearnsLessFromALastingFailure(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	var other, slow tailFit
	n := uint32(0)
	for range 20000 { // a fortnight of normal drift: Gaussian surprisal
		n++
		x := float32(log10Tail2(math.Abs(rng.NormFloat64())))
		other.judge(x, n)
		slow.judgeTeaching(x, n, tuneSlowDriftTeach)
	}
	const failure = 6 // a drift at 10^-6, for two hours
	first := slow.level(failure)
	var xo, xs float64
	for range 120 {
		n++
		xo = other.judge(failure, n)
		xs = slow.judgeTeaching(failure, n, tuneSlowDriftTeach)
	}
	t.Logf("evidence at the start %.2f, after two hours: %.2f (taught as the other channels: %.2f)", first, xs, xo)
	require.Greater(t, first, 5.0, "the premise: a drift at 10^-6 is news to a Gaussian tail")
	require.Greater(t, xs, xo+0.3)
	// Measured: 6.0 -> 4.1, against 3.4 taught as the other channels (a failure of 10^-6 still
	// reads as one of 10^-4 after two hours, not 10^-3.4).
	require.Greater(t, xs, 3.5, "two hours of the failure leave more than 10^-3.5 of evidence")
}

// poissonCounts draws Poisson counts of mean mu(i) per sample (Knuth's method: small means).
func poissonCounts(rng *rand.Rand, n int, mu func(i int) float64) []float64 {
	vs := make([]float64, n)
	for i := range vs {
		l, k, p := math.Exp(-mu(i)), 0.0, rng.Float64()
		for p > l {
			k++
			p *= rng.Float64()
		}
		vs[i] = k
	}
	return vs
}

func TestCountsDroppingToZeroFireWithinFiveSteps(t *testing.T) {
	// Errors a minute: Poisson counts of mean 3 with a daily rhythm of ±50%. At the day's peak
	// of the tenth day they stop. A zero is an ordinary count (5% of minutes at the peak, more
	// at night) and the spread is the level's square root, so the level channels need tens of
	// minutes; four zeros in a row where 4.5 are expected have a chance of about 10^-8.
	const day = 1440
	at := 9*day + 15*60 // 15:00, the rhythm's peak
	ts := make([]time.Time, at+60)
	for i := range ts {
		ts[i] = t0.Add(time.Duration(i) * time.Minute)
	}
	mu := func(i int) float64 {
		h := float64(ts[i].Hour()) + float64(ts[i].Minute())/60
		return 3 * (1 + 0.5*math.Cos(2*math.Pi*(h-15)/24))
	}
	vs := poissonCounts(rand.New(rand.NewPCG(5, 6)), len(ts), mu)
	for i := at; i < len(vs); i++ {
		vs[i] = 0
	}
	_, rs := run(t, Config{}, ts, vs)
	require.Equal(t, ReasonQuiet, firingReason(rs, at, at+5, 0.65, 2), "the alert fires within 5 steps, saying quiet")
	require.Zero(t, quietAlerts(rs[7*day:at]), "zeros that are ordinary counts")

	// The same values half a unit up are not counts (not integers): the drop is not judged as
	// a run of zeros, and is not seen as early.
	up := slices.Clone(vs)
	for i := range up {
		up[i] += 0.5
	}
	_, rs = run(t, Config{}, ts, up)
	require.Equal(t, ReasonNone, firingReason(rs, at, at+5, 0.65, 2), "no run of zeros in a series that is not counts")
}

func TestLongRunsOfZerosBetweenRareEventsAreNormal(t *testing.T) {
	// Rare large events, sampled every 5 minutes (a count of 20 in 2% of samples; mean 0.4): between them
	// runs of tens of zeros, each zero expected with a chance just under 1 by a baseline near
	// the mean and the profiles' memory of past events, so that a whole run has a small chance.
	// What is judged is the run's recent part.
	const n = 14 * 288
	rng := rand.New(rand.NewPCG(7, 8))
	ts := make([]time.Time, n)
	vs := make([]float64, n)
	for i := range n {
		ts[i] = t0.Add(time.Duration(i) * 5 * time.Minute)
		if rng.Float64() < 0.02 {
			vs[i] = 20
		}
	}
	_, rs := run(t, Config{}, ts, vs)
	require.Zero(t, quietAlerts(rs[7*288:]), "runs of zeros between events")
}

func TestBurstyCountsZerosAreNormal(t *testing.T) {
	// Overdispersed counts (tweets a minute): Poisson of a mean that is itself exponential
	// around 3 (a negative binomial of variance 4 times the mean). A third of the minutes are
	// zero and runs of them are common: a Poisson reading of the mean would call four in a row
	// a 10^-5 event.
	const n = 14 * 1440
	rng := rand.New(rand.NewPCG(9, 10))
	ts := make([]time.Time, n)
	for i := range ts {
		ts[i] = t0.Add(time.Duration(i) * time.Minute)
	}
	vs := poissonCounts(rng, n, func(int) float64 { return 3 * rng.ExpFloat64() })
	_, rs := run(t, Config{}, ts, vs)
	require.Zero(t, quietAlerts(rs[7*1440:]), "zeros of bursty counts")
}

func TestZerosAfterABurstAreItsEnd(t *testing.T) {
	// Counts of about 3 a minute; then a burst of 150 the level followed (a re-levelling of
	// +147). The zeros when it ends are judged against the level from before the burst while
	// that is still normal (tuneUndoAge), not as counts stopping where 150 are expected.
	rng := rand.New(rand.NewPCG(11, 12))
	ts, _ := series(3*1440, time.Minute, 0, dailySine)
	vs := poissonCounts(rng, len(ts), func(int) float64 { return 3 })
	m, _ := run(t, Config{}, ts, vs)
	now := m.last
	zeros := func(shift float32) float64 {
		r := *m
		r.lastShift, r.shiftAt = shift, now
		x := 0.0
		for i := range 3 {
			x = r.zeros(now+int64(i+1)*60e9, 0, 150, -150, 60e9)
		}
		return x
	}
	require.Greater(t, zeros(0), 20.0, "three zeros where 150 are expected")
	require.Less(t, zeros(147), 5.0, "three zeros just after a burst of 150 over 3")
}

func TestHugeIntegerSeriesSnapshotRestore(t *testing.T) {
	// Integers so large that their squared residuals overflow a float32 (a counter of bytes
	// near 2^53, a series of 1e25s: every float64 beyond 2^53 is an integer): the state stays
	// finite and the snapshot restores.
	for _, level := range []float64{1 << 52, 1e25} {
		rng := rand.New(rand.NewPCG(15, 16))
		ts, _ := series(2*288, 5*time.Minute, 0, dailySine)
		vs := make([]float64, len(ts))
		for i := range vs {
			vs[i] = math.Round(level * (1 + 0.01*rng.NormFloat64()))
		}
		m, _ := run(t, Config{}, ts, vs)
		b, err := m.MarshalBinary()
		require.NoError(t, err)
		_, err = m.Spec().Restore(b)
		require.NoError(t, err, "level %g", level)
	}
}

// quietAlerts counts the steps of rs at which the shipped rule (score > 0.65 for two steps)
// fires saying quiet.
func quietAlerts(rs []Result) int {
	n := 0
	for i := 1; i < len(rs); i++ {
		if rs[i-1].Score > 0.65 && rs[i].Score > 0.65 && rs[i].Reason == ReasonQuiet {
			n++
		}
	}
	return n
}

func TestHermiteTables(t *testing.T) {
	// Every table on a grid 16 times finer than its own, and at random points.
	rng := rand.New(rand.NewPCG(13, 14))
	check := func(name string, lo, hi, perUnit, tol float64, got, want func(float64) float64) {
		worst := 0.0
		for i := 0; i < int((hi-lo)*perUnit*16); i++ {
			x := lo + float64(i)/(perUnit*16)
			if i%2 == 1 {
				x = lo + rng.Float64()*(hi-lo)
			}
			g, w := got(x), want(x)
			worst = max(worst, math.Abs(g-w)/max(math.Abs(w), 1))
			require.InDelta(t, w, g, tol*max(math.Abs(w), 1), "%s(%v)", name, x)
		}
		t.Logf("%s: largest difference %.3g", name, worst)
	}
	check("log10Tail2", 0, tail2Max+0.5, 128, 1e-12, log10Tail2, log10Tail2Exact)
	check("ln", 0.5, 1, 512, 1e-11, lnTable.at, math.Log)
	check("exp", -3, 3, 256, 1e-12, expTable.at, math.Exp)
	check("powSlot", 1/tuneSlotScaleMax, tuneSlotScaleMax, 64, 1e-11, func(r float64) float64 { return powSlot(r, 0.74) },
		func(r float64) float64 { return math.Exp(math.Log(r) * 0.74) })
	// Outside the tables, the library.
	for _, r := range []float64{0, 1e-3, 21, 1e9, math.NaN(), math.Inf(1)} {
		want := math.Pow(r, 0.5)
		if math.IsNaN(want) {
			require.True(t, math.IsNaN(powSlot(r, 0.5)))
		} else {
			require.Equal(t, want, powSlot(r, 0.5), "%v", r)
		}
	}
	require.True(t, math.IsNaN(log10Tail2(math.NaN())))
}

// windowRate is rate(x[10m]) at a 1-minute step of a counter whose increments per minute are
// about Poisson with the given means (normal approximation): each value the mean per second
// of the last ten minutes' counts.
func windowRate(rng *rand.Rand, mu []float64) []float64 {
	counts := make([]float64, len(mu))
	for i, l := range mu {
		counts[i] = max(math.Round(l+math.Sqrt(l)*rng.NormFloat64()), 0)
	}
	vs := make([]float64, len(mu))
	sum := 0.0
	for i, c := range counts {
		sum += c
		if i >= 10 {
			sum -= counts[i-10]
		}
		vs[i] = sum / float64(min(i+1, 10)) / 60
	}
	return vs
}

// rateMeans are the per-minute means of a request counter with a daily rhythm and a wander of
// a few percent over tens of minutes (AR(1) in the log), halved from at on when half is set.
func rateMeans(rng *rand.Rand, n, at int, half bool) []float64 {
	mu := make([]float64, n)
	w := 0.0
	for i := range mu {
		w = 0.975*w + 0.03*math.Sqrt(1-0.975*0.975)*rng.NormFloat64()
		h := float64(i%1440) / 60
		mu[i] = 1200 * (1 + 0.4*math.Sin(2*math.Pi*h/24)) * math.Exp(w)
		if half && i >= at {
			mu[i] /= 2
		}
	}
	return mu
}

// TestRateOverAWindowDroppingFiresWithinFiveSteps: rate(x[10m]) of a counter whose requests
// halve falls by a tenth of the drop a step, each step a fraction of the band around its
// wandering baseline but many times its usual step: the steps channel adds them up, and the
// alert fires within five steps. Before it, the series' other channels needed six to eight.
// The same series without the drop do not fire in the week judged.
func TestRateOverAWindowDroppingFiresWithinFiveSteps(t *testing.T) {
	const n, at = 1440 * 10, 1440*10 - 600
	ts, _ := series(n, time.Minute, 0, func(int, time.Time) float64 { return 0 })
	for seed := range uint64(4) {
		at := at + int(seed)*97
		rs := func(half bool) []Result {
			vs := windowRate(rand.New(rand.NewPCG(seed, 11)), rateMeans(rand.New(rand.NewPCG(seed, 7)), n, at, half))
			_, rs := run(t, Config{}, ts, vs)
			return rs
		}
		drop := rs(true)
		_, ok := fires(drop, at, at+5)
		require.True(t, ok, "seed %d: the drop fires within five steps (scores %.2f)", seed, scores(drop, at, at+6))
		require.Equal(t, ReasonLevelShift, drop[at+4].Reason, "seed %d", seed)
		_, falseAlarm := fires(rs(false), n-1440*3, n)
		require.False(t, falseAlarm, "seed %d: the same series without the drop", seed)
	}
}

func scores(rs []Result, from, to int) []float64 {
	s := make([]float64, 0, to-from)
	for _, r := range rs[from:to] {
		s = append(s, r.Score)
	}
	return s
}

// The spike channel judges what is new in a residual only where consecutive residuals are
// strongly correlated, and never more than the residual itself: the first sample of a change
// (after a small residual) is judged on z, the samples that carry it over on their innovation.
func TestInnovation(t *testing.T) {
	m := &Model{zz: 1, zlag: 0.9, lastZ: 3} // ρ = 0.9
	zi := (4 - 0.9*3) / math.Sqrt(1-0.81)
	require.InDelta(t, zi, m.innovation(4), 1e-6, "a high residual after a high one: its innovation")
	m.lastZ = 0
	require.Equal(t, 4.0, m.innovation(4), "the first sample of a change: z itself")
	m.lastZ = -3
	require.Equal(t, 4.0, m.innovation(4), "a reversal: z, not the larger innovation")
	m.zlag, m.lastZ = 0.5, 3 // ρ = 0.5, below tuneInnovRho
	require.Equal(t, 4.0, m.innovation(4))
	m.zz = 0 // nothing learned yet
	require.Equal(t, 4.0, m.innovation(4))
}
