package anomaly

import (
	"fmt"
	"math"
	"time"
)

// Profile resolutions. The daily profile has a point every 15 minutes and the weekly profile
// one every hour, whatever the sample step: state stays bounded (see Sizeof) and a gap in the
// data leaves the slots it did not cover as they were.
const (
	dailySlots    = 96
	dailySlotNS   = int64(24*time.Hour) / dailySlots
	weeklySlots   = 168
	weeklySlotNS  = int64(time.Hour)
	spreadSlots   = 24 // per hour of day
	pendingPerH   = 2  // outstanding forecasts per horizon, for learning interval widths
	dayNS         = int64(24 * time.Hour)
	weekNS        = 7 * dayNS
	mondayEpochNS = 4 * dayNS // 1970-01-05 was a Monday
)

// Result is what the model says about one sample (or, from Predict, about a time).
type Result struct {
	// Baseline is the expected value; Lower and Upper bound the normal band
	// (baseline ± k·scale, clamped to the valid range).
	Baseline, Lower, Upper float64
	// Score in [0,1): how abnormal the recent behaviour is, calibrated per series so that one
	// threshold means about the same on every series. s = X/(X+2.7), X the combined -log10 tail
	// probability of the score's channels under the series' own history; on learned noise
	// about 1 sample in 1,000 reaches 0.5, 1 in 2,000-7,000 reaches 0.65 (the alert threshold)
	// and 1 in 10,000 or fewer reaches 0.75 (TestScoreCalibration). 0 until ready.
	Score float64
	// Deviation is the signed residual in robust sigmas: (value - baseline) / scale.
	Deviation float64
	// Ready reports whether the model has learned enough to be trusted (see Model.Readiness).
	Ready bool
	// Reason is the kind of evidence behind a Score of at least ReasonMinScore (ReasonNone
	// below it).
	Reason Reason
}

// Forecast is a point forecast with its prediction interval.
type Forecast struct {
	Horizon             time.Duration
	Value, Lower, Upper float64
}

// Stats counts what the model has seen.
type Stats struct {
	Samples     uint64 // accepted samples
	NonFinite   uint64 // NaN/Inf samples rejected
	OutOfOrder  uint64 // samples at or before the previous timestamp, rejected
	Gaps        uint64 // intervals longer than 3 steps
	LevelShifts uint64 // lasting level changes re-levelled
}

// Readiness says whether a model can be trusted yet, and why not.
type Readiness struct {
	Ready  bool
	Reason string // empty when ready
	// Seasonal components in use (detected from the data or forced by the Config).
	Daily, Weekly, Trend bool
}

// Model is the learned state of one series. It is small (Sizeof bytes) and every Update is
// O(1) and allocation-free. Not safe for concurrent use.
type Model struct {
	spec *Spec

	step    int64 // nominal interval in ns (learned when the Config leaves it zero)
	first   int64 // unix ns of the first accepted sample
	last    int64 // unix ns of the last accepted sample
	centred int64 // unix ns of the last re-centring of the profiles
	lastV   float64

	n, nonFinite, outOfOrder, gaps, shifts uint32

	levels       [3]float64 // fast levels with no profile, the daily one, both removed
	trend        float64
	slow         float64 // slow level the seasonal profiles are learned against
	slowAtCentre float64 // slow level at the last re-centring, for the trend
	spread       float64 // EW mean |residual| around the published baseline
	quantum      float64 // smallest non-zero change seen: the series' resolution

	daily      [dailySlots]float32
	weekly     [weeklySlots]float32
	slotSpread [spreadSlots]float32 // EW mean |residual| per hour of day

	// Evidence for the seasonal components: EW mean |error| around the slow level with no
	// profile, the daily one, both.
	errNone, errDaily, errBoth float32
	// Evidence for the trend: EW mean |error| of the longest-horizon forecasts with and without it.
	errTrend, errFlat float32
	flags             uint8

	// Level shifts: two-sided CUSUM of standardised residuals.
	cusumPos, cusumNeg float32
	shiftSum           [2]float32 // residual sums since the positive / negative CUSUM left zero
	shiftN             [2]uint16
	lastShift          float32 // the last re-levelling, and when (unix ns)
	shiftAt            int64

	// Score: short window of surprisal, longer windows of the residual and its size, and the
	// tail fit of each (90% quantile, mean excess).
	short, drift, vol        float32
	tail, driftTail, volTail tailFit
	vMin, vMax               float64 // range of the values seen, for spatial anomalies

	horizons [maxHorizons]horizonState
}

type horizonState struct {
	target    [pendingPerH]int64
	pred      [pendingPerH]float32 // without the trend
	trendPart [pendingPerH]float32
	issued    int64
	mae       float32
	count     uint16
}

const (
	flagDaily uint8 = 1 << iota
	flagWeekly
	flagTrend
)

// New returns a fresh model for one series.
func (s *Spec) New() *Model {
	m := &Model{spec: s, step: int64(s.cfg.Step), quantum: math.Inf(1)}
	m.applyForced()
	return m
}

// applyForced turns on the components the Config forces on (Auto ones wait for evidence).
func (m *Model) applyForced() {
	for _, c := range []struct {
		mode Mode
		flag uint8
	}{{m.spec.cfg.Daily, flagDaily}, {m.spec.cfg.Weekly, flagWeekly}, {m.spec.cfg.Trend, flagTrend}} {
		if c.mode == On {
			m.flags |= c.flag
		}
	}
}

// Spec returns the compiled configuration the model uses.
func (m *Model) Spec() *Spec { return m.spec }

// Step returns the model's nominal sample interval (zero until it has seen two samples, when
// the Config left it unset).
func (m *Model) Step() time.Duration { return time.Duration(m.step) }

// LastTime returns the time of the last accepted sample (zero time before the first).
func (m *Model) LastTime() time.Time {
	if m.n == 0 {
		return time.Time{}
	}
	return time.Unix(0, m.last).UTC()
}

// Stats returns the model's counters.
func (m *Model) Stats() Stats {
	return Stats{Samples: uint64(m.n), NonFinite: uint64(m.nonFinite), OutOfOrder: uint64(m.outOfOrder),
		Gaps: uint64(m.gaps), LevelShifts: uint64(m.shifts)}
}

// Readiness reports whether the model has learned enough to be trusted, and if not, why.
func (m *Model) Readiness() Readiness {
	r := Readiness{Daily: m.flags&flagDaily != 0, Weekly: m.flags&flagWeekly != 0, Trend: m.flags&flagTrend != 0}
	need := m.spec.warmUp
	switch {
	case m.n < minSamples:
		r.Reason = fmt.Sprintf("warming up: %d of %d samples", m.n, minSamples)
	case time.Duration(m.last-m.first) < need:
		r.Reason = fmt.Sprintf("warming up: %s of %s history", time.Duration(m.last-m.first).Round(time.Minute), need)
	default:
		r.Ready = true
	}
	return r
}

const minSamples = 100

func (m *Model) ready() bool {
	return m.n >= minSamples && m.last-m.first >= int64(m.spec.warmUp)
}

// Update learns from one sample and returns what the model thought of it before learning.
// NaN and ±Inf are rejected (ErrNonFinite), as are samples not after the previous one
// (ErrOutOfOrder); both are counted and leave the model unchanged, and the returned Result
// then carries the model's expectation for t with a zero Score.
func (m *Model) Update(t time.Time, v float64) (Result, error) {
	ts := t.UnixNano()
	if math.IsNaN(v) || math.IsInf(v, 0) {
		m.nonFinite++
		return m.Predict(t), ErrNonFinite
	}
	if m.n > 0 && ts <= m.last {
		m.outOfOrder++
		return m.Predict(t), ErrOutOfOrder
	}
	if m.spec.cfg.Log {
		if v < 0 {
			m.nonFinite++
			return m.Predict(t), ErrOutOfRange
		}
		v = math.Log1p(v)
	}
	if m.n == 0 {
		m.first, m.last, m.lastV, m.n, m.centred = ts, ts, v, 1, ts
		m.levels, m.slow, m.slowAtCentre = [3]float64{v, v, v}, v, v
		m.vMin, m.vMax = v, v
		return Result{Baseline: m.out(v), Lower: m.out(v), Upper: m.out(v)}, nil
	}
	return m.update(ts, v), nil
}

// UpdateAll runs Update over a batch and appends one Result per sample to dst. Rejected
// samples (NaN, ±Inf, out of order) yield the model's expectation with a NaN Deviation.
// The results are exactly those of calling Update for each sample in turn.
func (m *Model) UpdateAll(ts []time.Time, vs []float64, dst []Result) []Result {
	for i := range ts {
		r, err := m.Update(ts[i], vs[i])
		if err != nil {
			r.Deviation = math.NaN()
		}
		dst = append(dst, r)
	}
	return dst
}

// Predict returns the model's expectation and band for time t without learning anything.
func (m *Model) Predict(t time.Time) Result {
	if m.n == 0 {
		nan := math.NaN()
		return Result{Baseline: nan, Lower: nan, Upper: nan, Deviation: nan}
	}
	ts := t.UnixNano()
	b := m.baselineAt(ts)
	s := m.scaleAt(ts)
	k := m.spec.k
	return Result{Baseline: m.out(b), Lower: m.out(b - k*s), Upper: m.out(b + k*s), Ready: m.ready()}
}

// out maps a value of the model's space back to the series' units, clamped to its valid range.
func (m *Model) out(v float64) float64 {
	if m.spec.cfg.Log {
		v = math.Expm1(v)
	}
	return min(max(v, m.spec.min), m.spec.max)
}

// slot positions ------------------------------------------------------------------------------

// slot is a time's place in a profile: the two neighbouring points and the weight of the
// second one (the profile is linearly interpolated between its points).
type slot struct {
	i0, i1 int
	w      float32
}

func slotOf(ts, slotNS int64, slots int) slot {
	period := slotNS * int64(slots)
	off := ((ts-mondayEpochNS)%period + period) % period
	i0 := int(off / slotNS)
	i1 := i0 + 1
	if i1 == slots {
		i1 = 0
	}
	return slot{i0, i1, float32(off%slotNS) / float32(slotNS)}
}

func dailySlot(ts int64) slot  { return slotOf(ts, dailySlotNS, dailySlots) }
func weeklySlot(ts int64) slot { return slotOf(ts, weeklySlotNS, weeklySlots) }

// at is the profile's value at the slot.
func at(p []float32, s slot) float64 { return float64(p[s.i0]*(1-s.w) + p[s.i1]*s.w) }

func hourOfDay(ts int64) int {
	return int(((ts%dayNS + dayNS) % dayNS) / int64(time.Hour))
}

func (m *Model) dailyAt(ts int64) float64  { return at(m.daily[:], dailySlot(ts)) }
func (m *Model) weeklyAt(ts int64) float64 { return at(m.weekly[:], weeklySlot(ts)) }

// levelIndex selects the fast level that matches the seasonal components in use.
func (m *Model) levelIndex() int {
	switch {
	case m.flags&flagWeekly != 0:
		return 2
	case m.flags&flagDaily != 0:
		return 1
	}
	return 0
}

// seasonal is the part of the profiles d (daily) and w (weekly) in use.
func (m *Model) seasonal(d, w float64) float64 {
	switch m.levelIndex() {
	case 2:
		return d + w
	case 1:
		return d
	}
	return 0
}

// baselineAt is the published expectation at ts: level, the seasonal components in use and
// the damped trend extrapolated from the last sample.
func (m *Model) baselineAt(ts int64) float64 { return m.baselineFrom(m.last, ts) }

// trendSum is the damped trend's contribution d nanoseconds after the last sample: the sum
// over the h = d/step steps ahead of trend·φ^i, φ the damping per step.
func (m *Model) trendSum(d int64) float64 {
	if m.step == 0 || m.trend == 0 {
		return 0
	}
	ld := m.spec.logDamping
	if ld == 0 {
		return m.trend * float64(d) / float64(m.step)
	}
	phi := math.Exp(ld * float64(m.step) / float64(dayNS))
	return m.trend * phi * -math.Expm1(ld*float64(d)/float64(dayNS)) / (1 - phi)
}

// scaleAt is the robust sigma of the residuals expected at ts, with floors.
func (m *Model) scaleAt(ts int64) float64 {
	s := m.spread
	if m.flags&flagDaily != 0 && m.last-m.first >= 3*dayNS && m.spread > 0 {
		f := float64(m.slotSpread[hourOfDay(ts)]) / m.spread
		s *= min(max(f, tuneSlotSpreadMin), tuneSlotSpreadMax)
	}
	s *= sigmaPerMAD
	return max(s, m.floor())
}

// evidence is the mean absolute error (around the slow level) of the components in use.
func (m *Model) evidence() float32 {
	switch m.levelIndex() {
	case 2:
		return m.errBoth
	case 1:
		return m.errDaily
	}
	return m.errNone
}

// floor keeps near-constant and near-zero series from firing on noise: a fraction of the
// level, half the series' resolution, and a tiny absolute value.
func (m *Model) floor() float64 {
	f := max(tuneRelFloor*math.Abs(m.slow), tuneDispFloor*float64(m.evidence()))
	if !math.IsInf(m.quantum, 1) {
		f = max(f, tuneQuantumFloor*m.quantum)
	}
	return max(f, 1e-9)
}

// sigmaPerMAD converts a mean absolute deviation into a normal sigma.
const sigmaPerMAD = 1.2533141373155001

// Sizeof returns the bytes a model occupies (excluding the shared Spec).
func Sizeof() int { return int(sizeofModel) }

// Interface guard for the size bound stated in the package docs.
var _ = [1]struct{}{}[sizeofModel/4097] // fails to compile if a Model exceeds 4 KiB

func (m *Model) String() string {
	return fmt.Sprintf("anomaly.Model{n=%d level=%g spread=%g daily=%t weekly=%t trend=%t}",
		m.n, m.levels[m.levelIndex()], m.spread, m.flags&flagDaily != 0, m.flags&flagWeekly != 0, m.flags&flagTrend != 0)
}
