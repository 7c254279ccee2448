package anomaly

import "fmt"

// Reason says what kind of evidence a score rests on, so that an alert can say why.
// It is set on a Result whose Score is at least ReasonMinScore; below that it is ReasonNone.
type Reason uint8

// The reasons, in the order of their numeric values (stable: they are published as the value
// of kizashi_anomaly_reason and stored in snapshots of callers).
const (
	// ReasonNone: nothing noteworthy (score below ReasonMinScore).
	ReasonNone Reason = iota
	// ReasonSpike: a short burst of values far from the baseline (a single sample or minutes).
	ReasonSpike
	// ReasonLevelShift: the level moved and stays moved (a drop to half or to zero, a step up,
	// a slow leak or ramp that left the band).
	ReasonLevelShift
	// ReasonPatternChange: the seasonal shape no longer matches (a flattened daily pattern, a
	// pattern that arrives hours late, a business-hours peak that did not come).
	ReasonPatternChange
	// ReasonVarianceChange: the spread of the values changed (noisier, or bursts more often).
	ReasonVarianceChange
	// ReasonQuiet: the series is too quiet for what it normally does: stuck at one value, flat,
	// or zero where counts are expected.
	ReasonQuiet
	// ReasonBeyondRange: a value beyond the whole range the series has shown.
	ReasonBeyondRange
	// ReasonVanished: the series stopped reporting. The engine never sets it (it only sees the
	// samples it gets); callers that notice a series is gone (the exporter) use it.
	ReasonVanished

	numReasons
)

// ReasonMinScore is the score from which a Result carries the reason of its evidence.
const ReasonMinScore = 0.5

var reasonNames = [numReasons]string{"none", "spike", "level_shift", "pattern_change", "variance_change", "quiet", "beyond_range", "vanished"}

// Reasons returns every reason in the order of its numeric value.
func Reasons() []Reason {
	out := make([]Reason, numReasons)
	for i := range out {
		out[i] = Reason(i)
	}
	return out
}

// String returns the reason's name: none, spike, level_shift, pattern_change,
// variance_change, quiet, beyond_range or vanished.
func (r Reason) String() string {
	if r < numReasons {
		return reasonNames[r]
	}
	return fmt.Sprintf("Reason(%d)", uint8(r))
}

// MarshalText implements encoding.TextMarshaler with the reason's name.
func (r Reason) MarshalText() ([]byte, error) {
	if r >= numReasons {
		return nil, fmt.Errorf("anomaly: invalid reason %d", uint8(r))
	}
	return []byte(reasonNames[r]), nil
}

// UnmarshalText implements encoding.TextUnmarshaler: it accepts the names String returns.
func (r *Reason) UnmarshalText(b []byte) error {
	p, err := ParseReason(string(b))
	if err != nil {
		return err
	}
	*r = p
	return nil
}

// ParseReason returns the reason with the given name.
func ParseReason(s string) (Reason, error) {
	for i, n := range reasonNames {
		if n == s {
			return Reason(i), nil
		}
	}
	return ReasonNone, fmt.Errorf("anomaly: unknown reason %q", s)
}
