package catalog

import (
	"fmt"
	"math"
	"slices"
	"time"
)

// Failure names a class of failure injected into a series; None is a failure-free control.
type Failure string

// The failure classes (see the package documentation for their definitions).
const (
	None     Failure = "none"
	Drop50   Failure = "drop50"
	Drop0    Failure = "drop0"
	Stuck    Failure = "stuck"
	Flatten  Failure = "flatten"
	Spike10  Failure = "spike10m"
	Spike1   Failure = "spike1"
	Variance Failure = "variance3x"
	Ramp     Failure = "ramp"
	Phase    Failure = "phase3h"
	Vanish   Failure = "vanish"
)

// Failures returns every failure class in report order (not None).
func Failures() []Failure {
	return []Failure{Drop50, Drop0, Stuck, Flatten, Spike10, Spike1, Variance, Ramp, Phase, Vanish}
}

// ParseFailure returns the failure class with the given name (None included).
func ParseFailure(s string) (Failure, error) {
	if f := Failure(s); f == None || slices.Contains(Failures(), f) {
		return f, nil
	}
	return "", fmt.Errorf("unknown failure %q (want none or one of %v)", s, Failures())
}

// Quick reports whether the class must be caught within QuickSteps of its onset (spikes and
// drops: the damage is immediate) rather than within the judging window.
func (f Failure) Quick() bool {
	switch f {
	case Drop50, Drop0, Spike10, Spike1:
		return true
	}
	return false
}

// QuickSteps is the bar of the quick classes: the alert fires at most this many steps after the
// onset (the earliest the shipped rule can fire is 2 steps after it).
const QuickSteps = 5

// Exclusion is a cell (kind x failure) the catalogue does not score, and why.
type Exclusion struct {
	Kind    Kind
	Failure Failure
	Reason  string
}

// Exclusions lists the cells that are meaningless for the kind. A cell is never excluded
// because a detector misses it.
func Exclusions() []Exclusion {
	var out []Exclusion
	for _, k := range Kinds() {
		for _, f := range Failures() {
			if r, ok := excluded(k, f); ok {
				out = append(out, Exclusion{k, f, r})
			}
		}
	}
	return out
}

// Excluded reports whether the cell is excluded, with the reason.
func Excluded(k Kind, f Failure) (string, bool) { return excluded(k, f) }

func excluded(k Kind, f Failure) (string, bool) {
	switch {
	case k == HeavyTail && (f == Flatten || f == Phase):
		return "the series has no daily pattern to flatten or shift", true
	case k.rangeMS() > 0 && f == Stuck:
		return "a counter that stops moving has a rate of 0: the same series as drop0", true
	case (k == Rate5m || k == Rate10m) && f == Spike1:
		return "rate() over 5 or 10 minutes has no one-sample spikes: a one-minute burst of 3× is +40% " +
			"(5m) or +20% (10m) for the window, which the operator chose not to see by choosing the window", true
	case k == Sparse && f == Drop50:
		return "halving 0.5-4% of minutes with an event cannot be told from chance within 4 hours " +
			"(at 2%: 4.8 events expected, 2.4 after; 2 or fewer events happen by chance 14% of the time)", true
	case k == Sparse && f == Drop0:
		return "0 is the series' normal value: hours without events are ordinary", true
	case k == Sparse && (f == Flatten || f == Phase):
		return "the daily rhythm of a 95%-zero series is not visible within hours", true
	case k == Sparse && f == Variance:
		return "there is no noise around a level to scale: the spread is how often and how big the " +
			"events are, which spike1, spike10m and ramp cover", true
	}
	return "", false
}

// mode is what a failure does to a sample.
type mode uint8

const (
	normal      mode = iota // the kind's draw around the (possibly changed) expected value
	zero                    // exactly 0
	stuck                   // the last value before the onset
	spikeSingle             // a one-sample spike (counters: arrivals ×3 for one minute)
	spikeBurst              // a minute of a ten-minute spike (counters: arrivals ×3)
	gone                    // no sample
)

// Judge is how long after its onset a failure is judged (the series ends there).
const Judge = judge * time.Second

// Failure sizes and times (seconds).
const (
	judge      = 4 * hour
	phaseShift = 3 * hour
	spikeLen   = 10 * minute
	// activeLen is how long from its onset the series must be active for the drops, spikes,
	// variance and stuck classes.
	activeLen = 10 * minute
)

var varianceNoise = math.Sqrt(3) // variance ×3: the noise's standard deviation ×√3

// plan is a failure placed in a series.
type plan struct {
	f     Failure
	start int64   // unix seconds: the failure's first moment (counters: a minute before the onset step)
	flat  float64 // Flatten: the daily mean around the onset
	ramp  float64 // Ramp: what has been added at the end of the judging window
	armed bool    // Stuck on Sparse: the onset waits for the next non-zero sample
}

// at returns what the failure makes of time t (unix seconds): the expected value, the noise
// scale and the mode.
func (p *plan) at(g gen, t int64) (mu, noise float64, m mode) {
	if p.f == None || t < p.start || p.armed {
		return g.expected(t), 1, normal
	}
	e := g.expected(t)
	switch p.f {
	case Drop50:
		return e / 2, 1, normal
	case Drop0:
		return 0, 1, zero
	case Stuck:
		return e, 1, stuck
	case Flatten:
		return p.flat, 1, normal
	case Spike10:
		if t < p.start+spikeLen {
			return e, 1, spikeBurst
		}
	case Spike1:
		if t < p.start+minute {
			return e, 1, spikeSingle
		}
	case Variance:
		return e, varianceNoise, normal
	case Ramp:
		return e + p.ramp*float64(t-p.start)/judge, 1, normal
	case Phase:
		return g.expected(t - phaseShift), 1, normal
	case Vanish:
		return e, 1, gone
	}
	return e, 1, normal
}

// stats of the expected value over a week.
type stats struct{ mean, min, max float64 }

func expectedStats(g gen, start int64) stats {
	s := stats{min: math.Inf(1), max: math.Inf(-1)}
	for t := start; t < start+week; t += minute {
		e := g.expected(t)
		s.mean += e
		s.min, s.max = min(s.min, e), max(s.max, e)
	}
	s.mean /= week / minute
	return s
}

// active reports whether the series is in its active state for activeLen from t: its expected
// value at least half its mean and above the lowest quarter of its range (the business hours
// of an on/off series, not the deepest night trough of a daily one).
func active(g gen, st stats, t int64) bool {
	lim := max(0.5*st.mean, st.min+0.25*(st.max-st.min))
	for u := t; u < t+activeLen; u += minute {
		if g.expected(u) < lim {
			return false
		}
	}
	return true
}

// dailyMean is the mean of the expected value over the day centred on t.
func dailyMean(g gen, t int64) float64 {
	s := 0.0
	for u := t - day/2; u < t+day/2; u += minute {
		s += g.expected(u)
	}
	return s / (day / minute)
}

// visible reports whether a change of the expected value from e to ef is visible within the
// judging window: on average at least a fifth of the series' weekly range.
func visible(g gen, st stats, t int64, ef func(u int64) float64) bool {
	s := 0.0
	for u := t; u < t+judge; u += minute {
		s += math.Abs(ef(u) - g.expected(u))
	}
	return s/(judge/minute) >= 0.2*(st.max-st.min)
}

// rampSize is what a ramp has added at the end of the judging window: the series' own mean
// (a slow leak doubles the typical level in four hours); for Sparse six times it (the event
// rate ×7), since doubling an event rate of 1-4% of minutes cannot be told from chance in hours.
func rampSize(k Kind, st stats) float64 {
	if k == Sparse {
		return 6 * st.mean
	}
	return st.mean
}
