package catalog

import (
	"hash/fnv"
	"math"
	"math/rand/v2"

	"github.com/kizashi-dev/kizashi/internal/randdist"
)

// Random streams. Every series draws from independent PCG streams keyed by the catalogue seed,
// its case (kind, failure, index) and the stream's purpose, so that a series does not change
// when others are added, filtered out or generated in another order or goroutine.

// stream is the purpose of a random stream.
type stream string

const (
	streamParams  stream = "params"  // the series' parameters (level, shape, noise sizes)
	streamNoise   stream = "noise"   // its noise, step by step
	streamOnset   stream = "onset"   // where its failure starts
	streamFailure stream = "failure" // draws of the failure itself (spike sizes)
)

func newRand(seed uint64, key string, s stream) *rand.Rand {
	h := fnv.New64a()
	_, _ = h.Write([]byte(key))
	_, _ = h.Write([]byte{0})
	_, _ = h.Write([]byte(s))
	return rand.New(rand.NewPCG(seed, h.Sum64()))
}

// uniform returns a value drawn uniformly from [lo, hi).
func uniform(r *rand.Rand, lo, hi float64) float64 { return lo + (hi-lo)*r.Float64() }

// logUniform returns a value whose logarithm is uniform in [log lo, log hi).
func logUniform(r *rand.Rand, lo, hi float64) float64 {
	return math.Exp(uniform(r, math.Log(lo), math.Log(hi)))
}

// poisson draws from a Poisson distribution with mean lam: inversion by multiplication for small
// means, Hörmann's PTRS transformed rejection (1993, as in NumPy) for lam >= 10.
func poisson(r *rand.Rand, lam float64) float64 {
	switch {
	case !(lam > 0):
		return 0
	case lam < 10:
		l := math.Exp(-lam)
		k, p := 0.0, r.Float64()
		for p > l {
			k++
			p *= r.Float64()
		}
		return k
	}
	slam, loglam := math.Sqrt(lam), math.Log(lam)
	b := 0.931 + 2.53*slam
	a := -0.059 + 0.02483*b
	invAlpha := 1.1239 + 1.1328/(b-3.4)
	vr := 0.9277 - 3.6224/(b-2)
	for {
		u := r.Float64() - 0.5
		v := r.Float64()
		us := 0.5 - math.Abs(u)
		k := math.Floor((2*a/us+b)*u + lam + 0.43)
		if us >= 0.07 && v <= vr {
			return k
		}
		if k < 0 || (us < 0.013 && v > us) {
			continue
		}
		lg, _ := math.Lgamma(k + 1)
		if math.Log(v)+math.Log(invAlpha)-math.Log(a/(us*us)+b) <= -lam+k*loglam-lg {
			return k
		}
	}
}

// studentT draws from Student's t distribution with nu degrees of freedom.
func studentT(r *rand.Rand, nu float64) float64 {
	return r.NormFloat64() / math.Sqrt(2*randdist.Gamma(r, nu/2)/nu)
}

// laplace draws from a Laplace distribution with scale 1.
func laplace(r *rand.Rand) float64 {
	u := r.Float64() - 0.5
	if u == -0.5 {
		return 0
	}
	return -math.Copysign(math.Log(1-2*math.Abs(u)), u)
}

// overdispersed draws a count with mean mu whose variance is disp times the Poisson variance
// (disp >= 1): a Gamma-Poisson (negative binomial) mixture; disp = 1 is Poisson.
func overdispersed(r *rand.Rand, mu, disp float64) float64 {
	if disp <= 1 || !(mu > 0) {
		return poisson(r, mu)
	}
	k := mu / (disp - 1) // var = mu + mu²/k = disp·mu
	return poisson(r, mu*randdist.Gamma(r, k)/k)
}

// ar1 is a stationary first-order autoregressive noise with marginal standard deviation sd.
type ar1 struct {
	phi, sd, x float64
	innov      float64 // standard deviation of the innovations
}

func newAR1(r *rand.Rand, phi, sd float64) ar1 {
	return ar1{phi: phi, sd: sd, x: sd * r.NormFloat64(), innov: math.Sqrt(1-phi*phi) * sd}
}

func (a *ar1) next(r *rand.Rand) float64 {
	a.x = a.phi*a.x + a.innov*r.NormFloat64()
	return a.x
}

// drift is a multiplicative wander of the level (an Ornstein-Uhlenbeck process of the log level
// with time constant tau seconds and marginal standard deviation sd, sampled every dt seconds):
// the day-to-day and hour-to-hour variation that every real series has and no failure is made
// of.
type drift struct {
	ar1
	tau float64
}

func newDrift(r *rand.Rand, sd, tau, dt float64) drift {
	return drift{ar1: newAR1(r, math.Exp(-dt/tau), sd), tau: tau}
}

func (d *drift) factor(r *rand.Rand) float64 { return math.Exp(d.next(r)) }
