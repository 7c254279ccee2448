package catalog

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The catalogue holds a drop to 50% to detection within QuickSteps, and on Poisson counts with
// a mean of a few a minute no detector can meet that at the alert's rarity. The best test
// there is for "the mean halved", knowing the mean exactly (a Poisson CUSUM of the
// log-likelihood ratio, started from its own steady state), with its threshold where normal
// counts pass it on 1 sample in 2,800 (where the engine's score passes 0.65, see
// TestCalFitOneRarity in anomaly/), judged by the shipped rule: the share of halvings it catches
// within QuickSteps is the ceiling of the counts/drop50 cell at its bar (BENCHMARKS.md).
func TestNoDetectorCatchesAHalvingOfLowCountsWithinQuickSteps(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	const rarity, trials = oracleRarity, 5000
	for _, lam := range []float64{2, 3, 5, 8} {
		llr := func(x float64) float64 { return x*math.Log(0.5) + lam/2 }
		null := make([]float64, 0, 500_000)
		c := 0.0
		for range cap(null) {
			c = max(0, c+llr(poisson(r, lam)))
			null = append(null, c)
		}
		sorted := slices.Clone(null)
		slices.Sort(sorted)
		h := sorted[len(sorted)-len(sorted)/rarity]
		caught := 0
		t0 := time.Unix(0, 0)
		for range trials {
			c := null[r.IntN(len(null))]
			a := NewAlert(ShippedRule)
			for step := 0; step <= QuickSteps; step++ {
				c = max(0, c+llr(poisson(r, lam/2)))
				if a.Eval(t0.Add(time.Duration(step)*time.Minute), c > h) == Firing {
					caught++
					break
				}
			}
		}
		share := float64(caught) / trials
		t.Logf("mean %.0f a minute: the oracle catches %.1f%% of halvings within %d steps", lam, 100*share, QuickSteps)
		if lam <= 5 {
			require.Less(t, share, 0.1)
		} else {
			require.Less(t, share, 0.35) // the peak hours of the catalogue's busiest counts
		}
	}
}

// The counts' other misses are not the data's: an oracle that knows the expected count before
// and after the change (a Poisson CUSUM of their log-likelihood ratio, its threshold where the
// series' own normal weeks pass it on 1 sample in 2,800, judged by the shipped rule) catches
// almost every flattened pattern and 3-hour phase shift of the catalogue's counts within Judge,
// where the engine catches 12% and 62% (seed 1, BENCHMARKS.md): the gap is the engine's, which
// learns the expected count (a daily profile, a weekend that lowers its level and amplitude)
// from the same Poisson noise.
func TestAnOracleCatchesFlattenedAndShiftedCounts(t *testing.T) {
	for _, f := range []Failure{Flatten, Phase} {
		caught, n := 0, 0
		for seed := uint64(1); seed <= 3; seed++ {
			o := DefaultOptions()
			o.Seed = seed
			for i := range o.PerCell {
				s, g, pl, err := generate(o, Case{Kind: Counts, Failure: f, Index: i})
				require.NoError(t, err)
				start := s.Start.Unix()
				at := func(i int) int64 { return start + int64(i)*stepSeconds }
				c := 0.0
				cusum := func(i int) float64 {
					mu0, mu1 := g.expected(at(i)), pl.flat
					if f == Phase {
						mu1 = g.expected(at(i) - phaseShift)
					}
					c = max(0, c+s.Values[i]*math.Log(mu1/mu0)-(mu1-mu0))
					return c
				}
				if oracleCatches(o, s, cusum) {
					caught++
				}
				n++
			}
		}
		share := float64(caught) / float64(n)
		t.Logf("counts/%s: the oracle catches %d of %d within %s", f, caught, n, Judge)
		require.Greater(t, share, 0.9)
	}
}

// Nor are most of the CPU-like series' misses the data's (the engine, seed 1: a flattened
// pattern 25%, a 3-hour phase shift 38%, a drop to half 62% within QuickSteps). An oracle that
// knows the series' model (the daily pattern, the AR(1) walk around it and the jitter: a Kalman
// filter) and the change, but not when it starts (a generalised likelihood ratio over changes
// starting every `every` steps in the last `span`; its threshold where the normal weeks pass it
// 1 sample in 2,800), judged by the shipped rule, catches about two thirds of the flattened
// patterns and the shifts and nearly every halving (seeds 1–3). The walk explains a level that
// moves, so what gives a change away is mostly its first step: with changes tried every minute
// (two minutes of CPU a run, not here) the oracle catches 20 of 24 flattened patterns, with one
// every 5 minutes 17, every 15 minutes 16. The catalogue's bar of 80% a class is at about the
// limit of what any detector can do on this kind's flattening (BENCHMARKS.md).
func TestAnOracleCatchesCPUChanges(t *testing.T) {
	for _, tc := range []struct {
		f           Failure
		every, span int
		least       float64
	}{{Flatten, 15, 240, 0.6}, {Phase, 15, 240, 0.6}, {Drop50, 1, 10, 0.9}} {
		caught, n := 0, 0
		for seed := uint64(1); seed <= 3; seed++ {
			o := DefaultOptions()
			o.Seed = seed
			for i := range o.PerCell {
				s, g, _, err := generate(o, Case{Kind: CPU, Failure: tc.f, Index: i})
				require.NoError(t, err)
				c := g.(*cpu)
				start := s.Start.Unix()
				at := func(i int) int64 { return start + int64(i)*stepSeconds }
				null := kalmanAR1{phi: c.walk.phi, q: c.walk.innov * c.walk.innov, r: c.jitter * c.jitter, p: c.walk.sd * c.walk.sd}
				type change struct {
					from      int
					k         kalmanAR1
					llr, flat float64
				}
				var changes []change
				glr := func(i int) float64 {
					if i%tc.every == 0 {
						ch := change{from: i, k: null}
						if tc.f == Flatten {
							ch.flat = dailyMean(g, at(i))
						}
						changes = append(changes, ch)
					}
					for len(changes) > 0 && i-changes[0].from >= tc.span {
						changes = changes[1:]
					}
					y, mu := s.Values[i], g.expected(at(i))
					l0 := null.next(y - mu)
					best := 0.0
					for j := range changes {
						alt := changes[j].flat
						switch tc.f {
						case Phase:
							alt = g.expected(at(i) - phaseShift)
						case Drop50:
							alt = mu / 2
						}
						changes[j].llr += changes[j].k.next(y-alt) - l0
						best = max(best, changes[j].llr)
					}
					return best
				}
				if oracleCatches(o, s, glr) {
					caught++
				}
				n++
			}
		}
		share := float64(caught) / float64(n)
		t.Logf("cpu/%s: the oracle catches %d of %d", tc.f, caught, n)
		require.Greater(t, share, tc.least)
	}
}

// kalmanAR1 filters y = a + w, a an AR(1) state (coefficient phi, innovation variance q), w
// white noise of variance r; p is the state's variance.
type kalmanAR1 struct{ phi, q, r, a, p float64 }

// next returns the log-likelihood of y given the past, and learns y.
func (k *kalmanAR1) next(y float64) float64 {
	a, p := k.phi*k.a, k.phi*k.phi*k.p+k.q
	s, e := p+k.r, y-a
	g := p / s
	k.a, k.p = a+g*e, (1-g)*p
	return -0.5*math.Log(2*math.Pi*s) - e*e/(2*s)
}

// oracleCatches reports whether an oracle's statistic, called once per step in order from the
// series' first step, fires the shipped rule within the failure's bar (QuickSteps or Judge
// after the onset), its threshold where the normal weeks after the warm-up pass it 1 sample in
// oracleRarity.
func oracleCatches(o Options, s *Series, stat func(i int) float64) bool {
	var normal []float64
	for i := range s.Onset {
		if x := stat(i); i >= int(o.Warmup/s.Step) {
			normal = append(normal, x)
		}
	}
	slices.Sort(normal)
	h := normal[len(normal)-len(normal)/oracleRarity]
	end := s.Onset + judge/stepSeconds
	if s.Failure.Quick() {
		end = s.Onset + QuickSteps + 1
	}
	a := NewAlert(ShippedRule)
	for i := s.Onset; i < end; i++ {
		if a.Eval(s.Start.Add(time.Duration(i)*s.Step), stat(i) > h) == Firing {
			return true
		}
	}
	return false
}

// oracleRarity: the oracles' thresholds are passed as rarely on normal data as the engine's
// score passes the alert's 0.65 (TestCalFitOneRarity in anomaly/).
const oracleRarity = 2800
