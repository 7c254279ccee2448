package anomaly

import (
	"fmt"
	"math"
	"time"
)

// Profile resolutions. Every profile has a fixed number of points whatever the sample step:
// state stays bounded (see Sizeof) and a gap in the data leaves the slots it did not cover as
// they were. Daily patterns are learned twice, at 15-minute points linearly interpolated
// (smooth patterns, few samples per point) and at 5-minute steps (sharp edges: business hours,
// batch windows); the weekly pattern at 30-minute steps. Which one is used is decided by their
// errors (see candidates).
const (
	coarseSlots   = 96
	coarseSlotNS  = int64(24*time.Hour) / coarseSlots
	fineSlots     = 288
	fineSlotNS    = int64(24*time.Hour) / fineSlots
	weeklySlots   = 336
	weeklySlotNS  = int64(7*24*time.Hour) / weeklySlots
	smoothSlots   = 168
	smoothSlotNS  = int64(time.Hour)
	dayScaleSlots = 96 // residual scale per 15 minutes of the day
	weekScaleNS   = int64(time.Hour)
	weekScales    = 168 // ... and per hour of the week
	pendingPerH   = 2   // outstanding forecasts per horizon, for learning interval widths
	dayNS         = int64(24 * time.Hour)
	weekNS        = 7 * dayNS
	twoWeeksNS    = 2 * weekNS // from this much history, every hour of the week has been seen twice
	mondayEpochNS = 4 * dayNS  // 1970-01-05 was a Monday
)

// The baselines the model can publish: the fast level alone, or with one of the profiles.
// All of them learn all the time; the one whose recent one-step errors are lowest is used.
const (
	candNone         = iota // no seasonality
	candCoarse              // daily, 15-minute points, interpolated
	candFine                // daily, 5-minute steps
	candWeekly              // weekly, 30-minute steps
	candWeeklySmooth        // weekly, hourly points, interpolated
	numCand
)

// Result is what the model says about one sample (or, from Predict, about a time).
type Result struct {
	// Baseline is the expected value; Lower and Upper bound the normal band
	// (baseline ± k·scale, clamped to the valid range).
	Baseline, Lower, Upper float64
	// Score in [0,1): how abnormal the recent behaviour is, calibrated per series so that one
	// threshold means about the same on every series. s = X/(X+2.7), X the combined -log10 tail
	// probability of the score's channels under the series' own history, their sum calibrated
	// on the series' own history of it; on learned noise (Gaussian, Laplace, Student-t) about 1
	// sample in 125-215 reaches 0.5, 1 in 1,650-4,800 reaches 0.65 (the alert threshold) and 1
	// in 10,000 or fewer reaches 0.75 (TestScoreCalibration); on the failure catalogue's ten
	// kinds of normal series, 0.65 is reached by 1 sample in 1,200-3,000 (BENCHMARKS.md). 0
	// until ready.
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
	NonFinite   uint64 // NaN/Inf and out-of-range samples rejected
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
	missed                                 float32 // steps without a sample (for Missing)

	// Each candidate is a self-contained Holt-Winters-like model: a slow level its profile is
	// learned against, and a fast level that is published (both without its profile).
	levels        [numCand]float64
	slows         [numCand]float64
	trends        [numCand]float64 // damped trend of each slow level, per step
	trendTargets  [numCand]float64 // ... and what they move to (learned daily)
	slowsAtCentre [numCand]float64 // the slow levels at the last re-centring, for the trend
	spread        float64          // EW mean |residual| around the published baseline
	quantum       float64          // smallest non-zero change seen: the series' resolution

	// Profiles: deviations from the slow level at each time of day or week; in 16 bits a
	// point, each in its own unit (see prof16).
	coarse [coarseSlots]int16
	fine   [fineSlots]int16
	weekly [weeklySlots]int16
	smooth [smoothSlots]int16
	// EW mean |residual| per 15 minutes of the day and per hour of the week (0: not learned).
	dayScale  [dayScaleSlots]int16
	weekScale [weekScales]int16
	units     [numProf]float32 // the profiles' units, by prof* index
	// Mean square of the first differences per 15 minutes of the day and per hour of the
	// week (logGet; see volatility).
	diffScale [dayScaleSlots]uint16
	diffWeek  [weekScales]uint16

	// Evidence for the candidates: EW mean |one-step error|, over the same span for all
	// (restarted when a candidate becomes eligible), and how many samples it rests on.
	errs     [numCand]float32
	evN      uint32
	cand     uint8 // the candidate published
	eligible uint8 // candidates with enough history to be judged (bit set)
	flags    uint8
	devRun   int8 // samples in a row far above (+) or below (-) the baseline
	// Evidence for the trend: EW mean |error| of the longest-horizon forecasts with and without it.
	errTrend, errFlat float32

	// Level shifts: two-sided CUSUM of standardised residuals.
	cusumPos, cusumNeg float32
	shiftSum           [2][numCand]float32 // residual sums since the positive / negative CUSUM left zero
	shiftN             [2]uint16
	shiftAt            int64   // the time of the last re-levelling (unix ns)
	bigShiftAt         int64   // ... and of the last one by more than tuneClip sigmas (see judgesSlowDrift)
	lastShift          float32 // the last re-levelling

	// Score: short window of surprisal, longer windows of the residual and its size, and the
	// tail fit of each (90% quantile, mean excess).
	short, drift, vol   float32
	volS                float32       // volatility CUSUM (see volatility)
	volM                float32       // ... the recent mean of its steps
	volN                uint16        // ... the samples since it left 0
	volSide             int8          // ... and the sign of the last difference if it was clipped
	heldReason          uint8         // the reason of the evidence held (see held)
	repHits, repTrials  [2][2]float32 // repeats and chances, [others, the floor value][after a change, after a repeat]
	maxRun              uint16        // longest run of repeats completed
	run                 uint16        // repeats of the last value
	held                float32       // evidence published at the last step, for the hold
	tail, driftTail     tailFit
	pointTail           tailFit
	zz, zlag, lastZ     float32 // mean squared residual, mean product with the previous one, and that one (AR(1))
	patEP, patPP, patEE float32 // recent means of residual×pattern, pattern², residual² (see patternFollows)
	volTail, volSTail   tailFit
	jumpMax             float32 // the largest first difference seen, decaying over tuneLongSamples (see jump)
	jumpX, jumpD        float32 // the evidence of the last jump while it lasts, and its size
	jumpLim             float32 // ... how far from the value before it the series must stay
	jumpFrom            float64 // ... the value before it
	jumpAt              int64   // ... and its time
	jumpSince           int64   // when jumpMax started learning
	cal                 calFit  // the channels' sum: its own high level (about 1 in 240) and tail (see calFit)
	vMin, vMax          float64 // range of the values seen, for spatial anomalies

	// Slow drift (see update and score).
	slowDrift  [numCand]float32 // each candidate's mean residual around its slow level (see update)
	slowVar    float32          // ... the mean square of the one judged
	slowN      uint32           // ... the samples it has learned from
	slowTail   tailFit
	unabsorbed [numCand]float32 // confirmed shifts the slow levels have not caught up with yet

	// Runs of zeros in a series of counts (see zeros).
	countE2, countLam float32 // mean squared residual and mean expected count: the dispersion
	zeroRun           float32 // evidence of the current run of zeros (nats)

	// Steps: two-sided CUSUM of the standardised first differences (see steps), the samples
	// it has judged (at most 65535), and its tail.
	stepS    int16
	stepN    uint16
	stepTail tailFit

	horizons [maxHorizons]horizonState

	rates rateCache // derived from the step and age (see rateCache)
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
	flagTrend    uint8 = 1
	flagNotCount uint8 = 2 // a sample was negative or not an integer: not a series of counts (see zeros)
)

// New returns a fresh model for one series.
func (s *Spec) New() *Model {
	m := &Model{spec: s, step: int64(s.cfg.Step), quantum: math.Inf(1), eligible: 1 << candNone}
	if s.cfg.Trend == On {
		m.flags |= flagTrend
	}
	if s.cfg.Daily == On {
		m.cand = candCoarse
	}
	return m
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
	r := Readiness{Daily: m.cand != candNone, Weekly: isWeekly(m.cand), Trend: m.flags&flagTrend != 0}
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

// MaxValue is the largest magnitude of a sample Update accepts (ErrOutOfRange beyond it):
// far beyond any measurement (a byte counter of a zettabyte is 1e21), and small enough that the
// model's squares and its float32 state stay finite (a sentinel such as math.MaxFloat64 left
// every later baseline NaN).
const MaxValue = 1e30

func (m *Model) ready() bool {
	return m.n >= minSamples && m.last-m.first >= int64(m.spec.warmUp)
}

// Update learns from one sample and returns what the model thought of it before learning.
// NaN and ±Inf are rejected (ErrNonFinite), as are values beyond ±MaxValue (ErrOutOfRange)
// and samples not after the previous one (ErrOutOfOrder); all are counted and leave the model
// unchanged, and the returned Result then carries the model's expectation for t with a zero
// Score.
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
	if math.Abs(v) > MaxValue || m.spec.cfg.Log && v < 0 {
		m.nonFinite++
		return m.Predict(t), ErrOutOfRange
	}
	if m.spec.cfg.Log {
		v = math.Log1p(v)
	}
	if m.n == 0 {
		m.first, m.last, m.lastV, m.n, m.centred = ts, ts, v, 1, ts
		for i := range numCand {
			m.levels[i], m.slows[i], m.slowsAtCentre[i] = v, v, v
		}
		m.vMin, m.vMax = v, v
		// One sample says nothing about the spread: no band yet.
		return Result{Baseline: m.out(v), Lower: math.NaN(), Upper: math.NaN()}, nil
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

// Missing returns what to publish for a series that has no sample at t although it used to
// have one every step: the expectation for t, and a score (with ReasonVanished) that grows
// with the steps missed since the last sample, judged by how often the series has missed a
// step before (-log10 of that chance per step missed). A series that often skips steps
// scores low; one that never did reaches the alert threshold within two steps. The model
// learns nothing; zero score while not ready or before a whole step is missed.
func (m *Model) Missing(t time.Time) Result {
	r := m.Predict(t)
	ts := t.UnixNano()
	if !r.Ready || m.step <= 0 || ts-m.last < m.step*3/2 {
		return r
	}
	k := float64((ts - m.last) / m.step) // steps missed, counting this one
	p := (float64(m.missed) + 1) / (float64(m.n) + float64(m.missed) + 2)
	X := min(k*-math.Log10(p), 1000)
	r.Score = X / (X + tuneScoreHalf)
	if r.Score >= ReasonMinScore {
		r.Reason = ReasonVanished
	}
	return r
}

// Predict returns the model's expectation and band for time t without learning anything.
func (m *Model) Predict(t time.Time) Result {
	if m.n == 0 {
		nan := math.NaN()
		return Result{Baseline: nan, Lower: nan, Upper: nan, Deviation: nan}
	}
	ts := t.UnixNano()
	b := m.baselineAt(ts)
	s := m.scaleAt(m.spec.local(ts))
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

// slot is a time's place in an interpolated profile: the two neighbouring points and the
// weight of the second one.
type slot struct {
	i0, i1 int
	w      float32
}

// localNS is a time in the series' time zone (Config.Location): Unix nanoseconds plus the
// zone's offset at that instant, so that its days and weeks start at local midnight. The
// seasonal profiles are indexed by it; everything else (ages, steps, gaps) uses Unix time.
type localNS int64

// phase is t's offset in a period starting on a Monday at 00:00 local time.
func phase(t localNS, period int64) int64 { return ((int64(t)-mondayEpochNS)%period + period) % period }

func coarseSlot(ts localNS) slot {
	off := phase(ts, dayNS)
	i0 := int(off / coarseSlotNS)
	return slot{i0, (i0 + 1) % coarseSlots, float32(off%coarseSlotNS) / float32(coarseSlotNS)}
}

func fineSlot(ts localNS) int      { return int(phase(ts, dayNS) / fineSlotNS) }
func weeklySlot(ts localNS) int    { return int(phase(ts, weekNS) / weeklySlotNS) }
func dayScaleSlot(ts localNS) int  { return int(phase(ts, dayNS) / (dayNS / dayScaleSlots)) }
func weekScaleSlot(ts localNS) int { return int(phase(ts, weekNS) / weekScaleNS) }

// profiles returns each candidate's profile value at local time ts.
func (m *Model) profiles(ts localNS) [numCand]float64 {
	return [numCand]float64{0, m.prof(profCoarse).at(coarseSlot(ts)), m.prof(profFine).get(fineSlot(ts)),
		m.prof(profWeekly).get(weeklySlot(ts)), m.prof(profSmooth).at(smoothSlot(ts))}
}

func smoothSlot(ts localNS) slot {
	off := phase(ts, weekNS)
	i0 := int(off / smoothSlotNS)
	return slot{i0, (i0 + 1) % smoothSlots, float32(off%smoothSlotNS) / float32(smoothSlotNS)}
}

// isWeekly reports whether candidate c has a weekly profile.
func isWeekly(c uint8) bool { return c == candWeekly || c == candWeeklySmooth }

// bestWeekly is the eligible weekly candidate with the lower error (ok false: none eligible).
func (m *Model) bestWeekly() (uint8, bool) {
	c := uint8(candWeekly)
	if m.errs[candWeeklySmooth] < m.errs[candWeekly] {
		c = candWeeklySmooth
	}
	return c, m.eligible&(1<<c) != 0
}

// baselineAt is the published expectation at ts: level, the seasonal components in use and
// the damped trend extrapolated from the last sample.
func (m *Model) baselineAt(ts int64) float64 { return m.baselineFrom(m.last, ts) }

// trendSum is the damped trend's contribution d nanoseconds after the last sample, per unit
// of trend: the sum over the h = d/step steps ahead of φ^i, φ the damping per step.
func (m *Model) trendSum(d int64) float64 { return trendFactor(d, m.step, m.spec.logDamping) }

// trendFactor is trendSum for a step and log damping ld per day.
func trendFactor(d, step int64, ld float64) float64 {
	if step == 0 {
		return 0
	}
	if ld == 0 {
		return float64(d) / float64(step)
	}
	phi := math.Exp(ld * float64(step) / float64(dayNS))
	return phi * -math.Expm1(ld*float64(d)/float64(dayNS)) / (1 - phi)
}

// scaleAt is the robust sigma of the residuals expected at local time ts, with floors: the
// global spread times the learned factor of the time of day (or of week, with the weekly
// profile in use), shrunk towards 1 by how many samples it rests on.
func (m *Model) scaleAt(ts localNS) float64 {
	s := m.spread
	if s > 0 {
		age := m.last - m.first
		var local float64
		var perVisit float64
		switch {
		case isWeekly(m.cand) && age >= twoWeeksNS:
			local, perVisit = m.prof(profWeekScale).get(weekScaleSlot(ts)), float64(weekScaleNS)
		case m.cand != candNone && age >= 2*dayNS:
			local, perVisit = m.prof(profDayScale).get(dayScaleSlot(ts)), float64(dayNS/dayScaleSlots)
		}
		if local > 0 && m.step > 0 {
			r := min(max(local/s, 1/tuneSlotScaleMax), tuneSlotScaleMax)
			// Samples the slot's estimate rests on: per visit, times the visits in its memory.
			n := perVisit / float64(m.step) * (2 - tuneScaleGamma) / tuneScaleGamma
			s *= powSlot(r, n/(n+tuneSlotScalePrior)) // r shrunk towards 1 as if by tuneSlotScalePrior samples
		}
	}
	s *= sigmaPerMAD
	return max(s, m.floor())
}

// floor keeps near-constant and near-zero series from firing on noise: a fraction of the
// level, half the series' resolution, and a tiny absolute value.
func (m *Model) floor() float64 {
	f := max(tuneRelFloor*math.Abs(m.slows[m.cand]), tuneDispFloor*float64(m.errs[m.cand]))
	if !math.IsInf(m.quantum, 1) {
		f = max(f, tuneQuantumFloor*m.quantum)
	}
	return max(f, 1e-9)
}

// sigmaPerMAD converts a mean absolute deviation into a normal sigma.
const sigmaPerMAD = 1.2533141373155001

// Sizeof returns the bytes a model occupies (excluding the shared Spec).
func Sizeof() int { return int(sizeofModel) }

// Guard for the size bound: 100k series must fit the exporter in 1 GiB without a memory limit
// (issue 16, BENCHMARKS.md).
var _ = [1]struct{}{}[sizeofModel/4801] // fails to compile if a Model exceeds 4,800 bytes

func (m *Model) String() string {
	return fmt.Sprintf("anomaly.Model{n=%d baseline=%d level=%g spread=%g errors=%v trend=%t}",
		m.n, m.cand, m.levels[m.cand], m.spread, m.errs, m.flags&flagTrend != 0)
}
