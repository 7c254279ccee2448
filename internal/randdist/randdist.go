// Package randdist draws from the distributions the project's synthetic series need beyond
// math/rand/v2's (the failure catalogue, the engine's tests). It depends on nothing of the
// project, so that the engine's own tests can use it (package catalog imports the engine).
package randdist

import (
	"math"
	"math/rand/v2"
)

// Gamma draws from a Gamma distribution with the given shape and scale 1 (Marsaglia and Tsang
// 2000; shapes below 1 by boosting).
func Gamma(r *rand.Rand, shape float64) float64 {
	if shape < 1 {
		return Gamma(r, shape+1) * math.Pow(r.Float64(), 1/shape)
	}
	d := shape - 1.0/3
	c := 1 / math.Sqrt(9*d)
	for {
		x := r.NormFloat64()
		v := 1 + c*x
		if v <= 0 {
			continue
		}
		v = v * v * v
		u := r.Float64()
		if u < 1-0.0331*x*x*x*x || math.Log(u) < 0.5*x*x+d*(1-v+math.Log(v)) {
			return d * v
		}
	}
}
