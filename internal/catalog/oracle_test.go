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
	const rarity, trials = 2800, 5000
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
