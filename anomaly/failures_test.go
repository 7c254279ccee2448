package anomaly

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// fires reports whether the shipped alert rule (score > 0.65 for 2 steps) fires in rs[from:to],
// and at which index.
func fires(rs []Result, from, to int) (int, bool) {
	run := 0
	for i := from; i < to && i < len(rs); i++ {
		if rs[i].Ready && rs[i].Score > 0.65 {
			run++
			if run == 3 {
				return i, true
			}
		} else {
			run = 0
		}
	}
	return 0, false
}

// alerts counts the episodes of the alert rule in rs[from:to] (a new one at least ten steps
// after the last one fired).
func alerts(rs []Result, from, to int) int {
	n := 0
	for {
		i, ok := fires(rs, from, to)
		if !ok {
			return n
		}
		n++
		from = i + 10
	}
}

// businessHours is on from 9 to 18 on weekdays, with 5% multiplicative noise.
func businessHours(rng *rand.Rand) func(i int, t time.Time) float64 {
	return func(_ int, t time.Time) float64 { return officeLoad(rng, t, 1) }
}

// officeLoad is the value of businessHours at t, its noise's standard deviation times k.
func officeLoad(rng *rand.Rand, t time.Time, k float64) float64 {
	c := 20.0
	if wd := t.Weekday(); wd != time.Saturday && wd != time.Sunday && t.Hour() >= 9 && t.Hour() < 18 {
		c = 400
	}
	return c * (1 + 0.05*k*rng.NormFloat64())
}

func TestSharpWeeklyPatternIsLearnedAndAHalvingIsCaught(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	f := businessHours(rng)
	const week = 7 * 1440
	// Four weeks at 1 minute; on the last Wednesday at 11:00 the value halves for an hour.
	onset := 3*week + 2*1440 + 11*60
	ts, vs := series(4*week, time.Minute, 0, func(i int, tt time.Time) float64 {
		v := f(i, tt)
		if i >= onset && i < onset+60 {
			v /= 2
		}
		return v
	})
	m, rs := run(t, Config{}, ts, vs)
	require.True(t, m.Readiness().Weekly, "the weekly pattern is in use")
	// The catalogue's bar: at most 0.5 false alarms a week (an edge can still fire: the fast
	// level learned on the busy hours carries their wander into the quiet ones).
	require.LessOrEqual(t, alerts(rs, 2*week, onset), 1, "edges and weekends of weeks 3 and 4")
	at, ok := fires(rs, onset, onset+60)
	require.True(t, ok, "the halving is caught")
	require.LessOrEqual(t, at-onset, 5, "within 5 steps")
	require.Equal(t, ReasonLevelShift, rs[at].Reason)
}

func TestStuckValueIsNoticedAndConstantSeriesAreNot(t *testing.T) {
	const at = 3000
	ts, vs := series(at+200, time.Minute, 2, func(i int, _ time.Time) float64 { return 100 })
	for i := at; i < len(vs); i++ {
		vs[i] = vs[at-1] // the exporter hangs: the gauge keeps its last value
	}
	_, rs := run(t, Config{Daily: Off}, ts, vs)
	i, ok := fires(rs, at, at+20)
	require.True(t, ok, "a frozen noisy series is noticed")
	require.Equal(t, ReasonQuiet, rs[i].Reason)
	_, falseAlarm := fires(rs, 1500, at)
	require.False(t, falseAlarm)

	// A series that is mostly zero repeats its zeros all the time: no alarm.
	rng := rand.New(rand.NewPCG(3, 5))
	ts, vs = series(6000, time.Minute, 0, func(int, time.Time) float64 {
		if rng.Float64() < 0.02 {
			return 1
		}
		return 0
	})
	_, rs = run(t, Config{Daily: Off}, ts, vs)
	_, falseAlarm = fires(rs, 1500, len(rs))
	require.False(t, falseAlarm, "runs of zeros of a sparse series are normal")
}

func TestOneExtremeSampleKeepsTheScoreUpForAnAlert(t *testing.T) {
	const at = 4000
	ts, vs := series(at+50, time.Minute, 1, func(int, time.Time) float64 { return 50 })
	vs[at] = 200
	_, rs := run(t, Config{Daily: Off}, ts, vs)
	i, ok := fires(rs, at, at+10)
	require.True(t, ok, "a single sample 150 sigmas off fires the `for: 2m` rule")
	require.Equal(t, ReasonBeyondRange, rs[i].Reason, "the reason of the sample is kept while its evidence is held")
	require.Less(t, rs[at+5].Score, 0.65, "and the score falls a few steps later")
}

func TestOneExtremeSampleIsHeldForMinutesNotSamples(t *testing.T) {
	// At a five-minute step the extreme sample's own score lasts five evaluations of the alert:
	// its evidence is not held into the next sample, which is back to normal.
	const at = 2000
	ts, vs := series(at+20, 5*time.Minute, 1, func(int, time.Time) float64 { return 50 })
	vs[at] = 200
	_, rs := run(t, Config{Daily: Off}, ts, vs)
	require.Greater(t, rs[at].Score, 0.65, "the extreme sample")
	require.Less(t, rs[at+1].Score, 0.65, "the sample after it, five minutes later (held a step: 0.72)")

	// At a two-minute step it is held into the next sample, losing two minutes' worth.
	ts, vs = series(at+20, 2*time.Minute, 1, func(int, time.Time) float64 { return 50 })
	vs[at] = 200
	_, rs = run(t, Config{Daily: Off}, ts, vs)
	require.Greater(t, rs[at+1].Score, 0.65, "two minutes later, held")
	require.Less(t, rs[at+3].Score, 0.65, "six minutes later, no longer")
}

func TestHeavyTailedNoiseRarelyHoldsTheScore(t *testing.T) {
	// Student-t noise with 3 degrees of freedom: large outliers are normal and must not be held
	// as extreme samples.
	rng := rand.New(rand.NewPCG(21, 22))
	ts, vs := series(40000, time.Minute, 0, func(int, time.Time) float64 {
		c := 0.0
		for range 3 {
			x := rng.NormFloat64()
			c += x * x
		}
		return 100 + rng.NormFloat64()/math.Sqrt(c/3)
	})
	_, rs := run(t, Config{Daily: Off}, ts, vs)
	// About three weeks of samples: at most one alert a week.
	require.LessOrEqual(t, alerts(rs, 10000, len(rs)), 3)
}

func TestMissingSamplesScoreAsVanished(t *testing.T) {
	ts, vs := series(3000, time.Minute, 1, func(int, time.Time) float64 { return 10 })
	m, _ := run(t, Config{Daily: Off}, ts, vs)
	last := ts[len(ts)-1]
	require.Zero(t, m.Missing(last.Add(30*time.Second)).Score, "less than a step late")
	r := m.Missing(last.Add(3 * time.Minute))
	require.Greater(t, r.Score, 0.65, "two steps missed by a series that never missed one")
	require.Equal(t, ReasonVanished, r.Reason)
	require.InDelta(t, 10, r.Baseline, 1)

	// A series that misses every other step scores a missing step low.
	var gts []time.Time
	var gvs []float64
	for i := range ts {
		if i%2 == 0 || i < 10 {
			gts, gvs = append(gts, ts[i]), append(gvs, vs[i])
		}
	}
	m, _ = run(t, Config{Daily: Off, Step: time.Minute}, gts, gvs)
	require.Less(t, m.Missing(gts[len(gts)-1].Add(2*time.Minute)).Score, 0.5)
}

// poisson draws a Poisson count of mean mu (Knuth's method: small means only).
func poisson(rng *rand.Rand, mu float64) float64 {
	l, k, p := math.Exp(-mu), 0.0, rng.Float64()
	for p > l {
		k++
		p *= rng.Float64()
	}
	return k
}

func TestHalvedLowCountsAreCaughtWithinHours(t *testing.T) {
	// Errors per minute, about 4 on average with a daily rhythm. From 14:00 on the twentieth
	// day they halve and stay there. The fast level follows a halving within the hour, so no
	// minute is remarkable; over an hour or two the slow drift channel sees the counts run
	// well below what the days before had at those times.
	rng := rand.New(rand.NewPCG(31, 32))
	const day = 1440
	onset := 19*day + 14*60
	ts, vs := series(onset+4*60, time.Minute, 0, func(i int, tt time.Time) float64 {
		h := float64(tt.Hour()) + float64(tt.Minute())/60
		mu := 4 * (1 + 0.4*math.Cos(2*math.Pi*(h-15)/24))
		if i >= onset {
			mu /= 2
		}
		return poisson(rng, mu)
	})
	_, rs := run(t, Config{}, ts, vs)
	require.LessOrEqual(t, alerts(rs, 7*day, onset), 1, "twelve days of normal counts")
	at, ok := fires(rs, onset, len(rs))
	require.True(t, ok, "the halving is caught within 4 hours")
	t.Logf("caught after %d minutes", at-onset)
	require.Contains(t, []Reason{ReasonLevelShift, ReasonPatternChange}, rs[at].Reason)
}

// A random walk (CPU utilisation around a daily bump) is re-levelled several times a day: the
// CUSUM follows its wander. Those re-levellings are small (under tuneClip sigmas) and do not
// silence the slow drift channel, which the day after each re-levelling used to: on such a
// series it was almost never judged. A large re-levelling (the series tripled) still does,
// for a day, while the model relearns its level and pattern.
func TestWanderReLevelsDoNotSilenceTheSlowDrift(t *testing.T) {
	const day = 1440
	for _, tripled := range []bool{false, true} {
		rng := rand.New(rand.NewPCG(1, 91))
		walk := 0.0
		onset := 17*day + 10*60
		ts, vs := series(19*day, time.Minute, 0, func(i int, tt time.Time) float64 {
			walk = 0.96*walk + 4*math.Sqrt(1-0.96*0.96)*rng.NormFloat64()
			h := float64(tt.Hour()) + float64(tt.Minute())/60
			mu := 25 + 20*math.Pow((1+math.Cos(2*math.Pi*(h-14)/24))/2, 2)
			if tripled && i >= onset {
				mu *= 3
			}
			return max(mu+walk+0.8*rng.NormFloat64(), 0)
		})
		spec, err := Compile(Config{})
		require.NoError(t, err)
		m := spec.New()
		judged, after := 0, 0
		for i := range ts {
			_, err := m.Update(ts[i], vs[i])
			require.NoError(t, err)
			switch {
			case i >= 14*day && i < onset: // judged from two weeks of history (Weekly: auto)
				if m.judgesSlowDrift(ts[i].UnixNano()) {
					judged++
				}
			case tripled && i >= onset+60 && i < onset+day:
				if m.judgesSlowDrift(ts[i].UnixNano()) {
					after++
				}
			}
		}
		if !tripled {
			perDay := float64(m.Stats().LevelShifts) / 19
			t.Logf("%.1f re-levellings a day; the slow drift judged at %d of %d samples", perDay, judged, onset-14*day)
			require.Greater(t, perDay, 3.0, "the premise: the wander is re-levelled several times a day")
			require.Greater(t, judged, (onset-14*day)*9/10)
			continue
		}
		require.Zero(t, after, "not judged in the day after the series tripled")
	}
}

// cpuWalk is CPU-like load: a slowly mean-reverting random walk (innovations of 1 point,
// φ 0.99: it wanders by about 7 points) around 20% plus a daily rhythm of 15 points, clamped to
// [0, 100].
func cpuWalk(rng *rand.Rand) func(i int, t time.Time) float64 {
	w := 0.0
	return func(_ int, t time.Time) float64 {
		w = 0.99*w + rng.NormFloat64()
		h := float64(t.Hour()) + float64(t.Minute())/60
		return min(max(20+15*math.Max(0, math.Sin((h-6)/12*math.Pi))+w, 0), 100)
	}
}

func TestSuddenDropOfAWanderingSeriesIsCaughtAtOnce(t *testing.T) {
	// The walk moves the load by several points every few minutes, so a halving is within
	// the wander's range for the level channels; but it happens in one step, far beyond any
	// step the walk takes (the jump channel).
	const at, week = 3*7*1440 + 14*60, 7 * 1440 // a Monday afternoon of the fourth week
	rng := rand.New(rand.NewPCG(21, 22))
	f := cpuWalk(rng)
	ts, vs := series(at+60, time.Minute, 0, func(i int, tm time.Time) float64 {
		v := f(i, tm)
		if i >= at {
			v /= 2
		}
		return v
	})
	_, rs := run(t, Config{}, ts, vs)
	i, ok := fires(rs, at, at+5)
	require.True(t, ok, "a halving in one step fires within 5 steps")
	require.Contains(t, []Reason{ReasonSpike, ReasonLevelShift}, rs[i].Reason)
	// The walk's own steps, however large, stay within what it did before: no more alerts
	// than the catalogue's bar allows (0.5 per series-week; the one here is its level
	// channels' on an unusually long slide, the same without the jump channel).
	require.LessOrEqual(t, alerts(rs, week, at), 1, "the walk's own steps do not fire")
}

func TestStaircaseLeakAddsUpAcrossSmallReLevels(t *testing.T) {
	// A leak in steps: every 15 minutes the level rises by 0.8 sigmas of the noise, for four
	// hours. Each step alone is small, and the fast level follows the steps by re-levellings
	// of less than tuneWanderShift sigmas, as it follows a wander; those do not reset the slow
	// drift, whose mean around the slow level climbs with the steps (0.6 sigmas at the end
	// when they did). On this quiet series the other channels see the first steps as well;
	// on a wandering one (CPU) they do not, and the slow drift is what is left.
	const week = 7 * 1440
	at := 3*week + 10*60 // a Monday morning of the fourth week
	rng := rand.New(rand.NewPCG(41, 42))
	ts, vs := series(at+4*60, time.Minute, 0, func(i int, tm time.Time) float64 {
		h := float64(tm.Hour()) + float64(tm.Minute())/60
		v := 100 + 20*math.Sin(2*math.Pi*h/24) + rng.NormFloat64()
		if i >= at {
			v += 0.8 * float64((i-at)/15+1)
		}
		return v
	})
	spec, err := Compile(Config{})
	require.NoError(t, err)
	m := spec.New()
	rs := make([]Result, len(ts))
	small := 0
	for i := range ts {
		shifts, drift := m.shifts, m.slowDrift[m.cand]
		rs[i], err = m.Update(ts[i], vs[i])
		require.NoError(t, err)
		if i >= at && m.shifts > shifts && drift != 0 && m.slowDrift[m.cand] != 0 {
			small++
		}
	}
	at2, ok := fires(rs, at, len(rs))
	end := float64(m.slowDrift[m.cand])
	t.Logf("%d small re-levellings kept the slow drift, %.2f sigmas at the end; caught after %d minutes: %v", small, end, at2-at, ok)
	require.Positive(t, small, "small re-levellings keep the slow drift")
	require.Greater(t, end, 2.0, "the slow drift climbs with the steps")
	require.True(t, ok, "the leak is caught within 4 hours")
	require.LessOrEqual(t, alerts(rs, week, at), 1, "three weeks of the normal series")
}

// The slow drift clips each residual so that one outlier moves its mean by little, at 3 sigmas
// of the sample noise (as for learning) or at 3 times twice the slow drift's own root mean
// square where that is wider. A series whose wander is larger than its sample noise (the
// catalogue's request rates through rate(x[1m]) and rate(x[10m]): a slow drift of about one
// sigma when all is well) could otherwise never read more than 3 sigmas, 3 of its own spreads,
// however far a leak or a flattening took it. Residuals of 8 sigmas for ten hours: the mean
// reaches the clip, 6 with a spread of 1, 3 with one of 0.1.
func TestSlowDriftClipFollowsItsOwnSpread(t *testing.T) {
	spec, err := Compile(Config{})
	require.NoError(t, err)
	for _, c := range []struct{ rms, want float64 }{{1, 6}, {0.1, 3}} {
		m := spec.New()
		m.rates.update(60e9, 10*dayNS, 60e9, spec.logDamping)
		m.slowVar = float32(c.rms * c.rms)
		var trS, prof [numCand]float64
		for range 600 {
			m.learnSlowDrift(8, 1, &trS, &prof)
		}
		require.InDelta(t, c.want, float64(m.slowDrift[m.cand]), 0.01, "spread %g", c.rms)
	}
}
