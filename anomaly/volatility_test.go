package anomaly

import (
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
