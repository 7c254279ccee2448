package anomaly

import "math"

// calFit calibrates the sum of the score's channels on the series' own history. Each channel
// is judged by its own tail fit, but how the channels move together depends on the series (a
// sparse series' events raise the short and the drift windows at once, a smooth series' noise
// rarely raises both), so the same sum was reached by 1 sample in 900 on one kind of series and
// 1 in 5,000 on another. calFit tracks a high quantile u of the sum (by stochastic
// approximation, about 1 in tuneCalRate) and the mean excess of the sum above it, and maps the
// sum linearly so that u is X = tuneScoreHalf (a score of 0.5) and each decade of rarity beyond
// u, under the exponential tail of that excess, adds tuneCalDecade. A new model starts from the
// identity and learns; a sum beyond the score's half point teaches proportionally less, and the
// excess it teaches is capped, so that an incident (a slow leak raising the sum for hours) does
// not teach the model that its own evidence is ordinary. That restraint puts the learned levels
// a little lower than the nominal ones, the same on every tail (TestCalFitOneRarity): the
// calibrated sum passes the half point about 1 sample in 240 and X = 5 (0.65) about 1 in 2,800.
type calFit struct{ u, excess float32 }

// judge returns the calibrated evidence of the sum x and then learns from x; n is the model's
// sample count.
func (c *calFit) judge(x float64, n uint32) float64 {
	if c.excess == 0 {
		// The identity until learned.
		c.u, c.excess = tuneScoreHalf, tuneCalDecade/math.Ln10
	}
	u, ex := float64(c.u), float64(c.excess)
	X := tuneScoreHalf * max(x, 0) / u
	if x > u {
		X = tuneScoreHalf + tuneCalDecade*(x-u)/(ex*math.Ln10)
	}
	eta := 1 / float64(min(max(n, tuneCalMinSamples), tuneLongSamples))
	if xl := min(x, u+tuneCalCap*ex); xl > u {
		w := eta * tuneCalRate * min(1, tuneScoreHalf/X)
		c.excess += float32(w * (xl - u - ex))
		c.u += float32(w * ex)
	} else {
		c.u -= float32(eta * ex)
	}
	c.u = max(c.u, 0.5)
	c.excess = max(c.excess, 0.1)
	return X
}
