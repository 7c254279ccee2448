package anomaly

import (
	"math"
	"unsafe"
)

const sizeofModel = unsafe.Sizeof(Model{})

// Tuning. One parameter set for every series, chosen on the NAB and M4 hourly dev halves
// (see BENCHMARKS.md); time constants are in wall time so irregular steps behave alike.
const (
	// Levels and profiles.
	tuneLevelTau      = 3 * 3600e9      // fast level memory (ns)
	tuneLevelAlphaMin = 0.02            // ... at least this much per sample
	tuneSlowTau       = 2 * 24 * 3600e9 // memory of the slow level the profiles learn against (ns)
	tuneDailyGamma    = 0.35            // share of the daily profile renewed per day
	tuneWeeklyGamma   = 0.3             // share of the weekly profile renewed per week
	tuneClip          = 3.0             // residuals are clipped at ± this many sigmas before learning
	tuneRevertTau     = 12 * 3600e9     // ahead of the last sample the fast level reverts to the slow one (ns)

	// Which components are published: evidence from their errors.
	tuneEvidenceSamples    = 500  // memory of the seasonal evidence (samples)
	tuneSeasonOn           = 0.85 // a profile is used when it cuts the error to this share
	tuneSeasonOff          = 0.95 // ... and dropped when it no longer cuts it below this
	tuneTrendBeta          = 0.15 // share of the day's slope error the trend corrects
	tuneTrendEvidenceAlpha = 0.1  // learning rate of the trend evidence
	tuneTrendMinEvidence   = 6    // resolved longest-horizon forecasts before the trend is judged
	tuneTrendOn            = 0.9  // the trend is published when it cuts the longest-horizon error to this share
	tuneTrendOff           = 0.97 // ... and withdrawn when it no longer cuts it below this

	// Residual spread and its floors.
	tuneSpreadTau     = 96 * 3600e9 // residual spread memory (ns)
	tuneSpreadMin     = 0.003       // ... at least this much per sample
	tuneSpreadClip    = 20.0        // residuals are clipped at ± this many sigmas for the spread
	tuneSlotSpreadMin = 0.7         // bounds of the per-hour spread factor
	tuneSlotSpreadMax = 1.5         //
	tuneRelFloor      = 1e-3        // scale floor relative to |level|
	tuneDispFloor     = 0.3         // scale floor relative to the error of the model in use
	tuneQuantumFloor  = 0.5         // scale floor in units of the series' resolution

	// Level shifts.
	tuneCusumDrift  = 1.0        // CUSUM allowance (sigmas)
	tuneCusumLimit  = 12.0       // CUSUM decision limit (sigmas)
	tuneShiftMinAge = 10 * 60e9  // ... and a shift must have lasted this long (ns) before re-levelling
	tuneUndoAge     = 1 * 3600e9 // for this long after a re-levelling the old level still counts as normal for the score (ns)

	// Score.
	tuneShortAlpha   = 0.3   // weight of the newest surprisal in the short window
	tuneTailQ        = 0.9   // the tail fit starts at this quantile of the short window
	tuneLongSamples  = 10000 // memory of the tail fit (samples)
	tuneTailMin      = 0.05  // floor on the mean excess
	tuneTailCap      = 30.0  // tail learning caps a value at u + this many mean excesses
	tuneTailTeach    = 4.0   // values more surprising than this (-log10 p) teach the tail proportionally less
	tuneScoreHalf    = 2.7   // score = X/(X+tuneScoreHalf): 0.5 at a tail probability of 10^-2.7
	tuneDriftAlpha   = 0.1   // weight of the newest residual in the drift window
	tuneDriftWeight  = 1.5   // weight of the drift channel's surprisal in the sum
	tuneVolAlpha     = 0.02  // weight of the newest |residual| in the spread window
	tuneVolClip      = 6.0   // ... clipped at this many sigmas
	tuneSumOffset    = 2.0   // surprisal taken off the channels' sum: they are not independent
	tuneSpatialTol   = 0.05  // a value beyond the range seen by this share of it is a spatial anomaly
	tuneSpatialZ     = 3.0   // ... when it is also this many sigmas off the baseline
	tuneSpatialX     = 6.0   // ... and it counts as this much surprisal (-log10 p)
	tuneSpatialSlope = 10.0  // ... plus this much per range beyond the tolerance

	// Forecasts.
	tuneHorizonAlpha = 0.1               // learning rate of the per-horizon error
	tuneIntervalZ    = 1.959963984540054 // 95% prediction intervals
)

// update is Update for a finite, in-order sample after the first one.
func (m *Model) update(ts int64, v float64) Result {
	dt := ts - m.last
	if m.spec.cfg.Step == 0 && (m.step == 0 || (m.n < 16 && dt < m.step)) {
		m.step = dt
	}
	if dt > 3*m.step {
		m.gaps++
	}
	if d := math.Abs(v - m.lastV); d > 0 && d < m.quantum {
		m.quantum = d
	}

	// What the model expected before seeing v.
	ds, ws := dailySlot(ts), weeklySlot(ts)
	d, w := at(m.daily[:], ds), at(m.weekly[:], ws)
	// The slow level always carries the damped trend (unless it is off), so that the evidence
	// can tell whether publishing it helps; tr is the part published.
	trS := 0.0
	if m.spec.cfg.Trend != Off {
		trS = m.trendSum(dt)
	}
	tr := 0.0
	if m.flags&flagTrend != 0 {
		tr = trS
	}
	base := m.levels[m.levelIndex()] + tr + m.seasonal(d, w)
	s := m.scaleAt(ts)
	k := m.spec.k
	res := Result{Baseline: m.out(base), Lower: m.out(base - k*s), Upper: m.out(base + k*s)}
	e := v - base
	z := e / s
	res.Deviation = z
	ready := m.ready()
	res.Ready = ready
	// A value beyond the whole range seen so far by more than a share of it (and off the
	// baseline) is evidence on its own, as in HTM's detector: the residual model may have
	// learned that spikes are common, but not spikes this large.
	spatial := 0.0
	if r := m.vMax - m.vMin; r > 0 && math.Abs(z) > tuneSpatialZ {
		if out := max(v-m.vMax, m.vMin-v); out > tuneSpatialTol*r && out > m.quantum {
			spatial = tuneSpatialX + tuneSpatialSlope*(out/r-tuneSpatialTol)
		}
	}
	m.vMin, m.vMax = min(m.vMin, v), max(m.vMax, v)
	// Soon after a re-levelling, a sample back at the level from before it is the end of a
	// burst, not news: it is scored against whichever of the two levels it is nearer.
	zs := z
	if m.lastShift != 0 && ts-m.shiftAt < int64(tuneUndoAge) {
		if zb := (e + float64(m.lastShift)) / s; math.Abs(zb) < math.Abs(z) {
			zs = zb
		}
	}
	res.Score, res.Reason = m.score(zs, spatial, ready)

	// Learning, with residuals clipped so that outliers do not move anything much.
	lim := tuneClip * s
	if m.n < 20 {
		lim = math.Inf(1)
	}
	// The seasonal profiles learn against a slow level, so a fast level cannot soak up the
	// pattern; they always learn (a component not in use yet is ready when the evidence turns
	// it on). The evidence compares the errors around the slow level with no profile, the
	// daily one and both. Three fast levels track the series with those removed; the one
	// matching the components in use is published.
	m.learnEvidence(v, d, w)
	// The profiles' own residuals are clipped at their own scale: the published band may be
	// narrow where the pattern has sharp edges still to learn.
	ls := max(lim, tuneClip*sigmaPerMAD*float64(m.errBoth))
	if ts-m.first < dayNS {
		ls = math.Inf(1) // the first day is the pattern's first sight: nothing to be robust against yet
	}
	es := min(max(v-m.slow-trS-d-w, -ls), ls)
	m.learnSpread(ts, min(max(e, -tuneSpreadClip*s), tuneSpreadClip*s), dt)
	// During the first day the slow level holds still, so the daily profile learns the day's
	// shape undistorted; the profiles are then re-centred into it once a day.
	if ts-m.first >= dayNS {
		as := max(1-math.Exp(-float64(dt)/tuneSlowTau), 1e-4)
		m.slow += trS + as*es
	}
	m.learnSeason(ts, ds, ws, es, dt)
	if ts-m.centred >= dayNS {
		m.recentre(ts)
	}
	alpha := max(1-math.Exp(-float64(dt)/tuneLevelTau), tuneLevelAlphaMin)
	for i, c := range [3]float64{0, d, d + w} {
		m.levels[i] += tr + alpha*min(max(v-m.levels[i]-tr-c, -lim), lim)
	}
	m.levelShift(z, e, ready)

	m.learnHorizons(ts, v, ready)
	m.last, m.lastV = ts, v
	m.n++
	m.updateFlags()
	return res
}

func (m *Model) learnSeason(ts int64, ds, ws slot, e float64, dt int64) {
	// A profile renews the share g of itself per period whatever the step: a sample corrects
	// the interpolated profile by 1-(1-g)^(min(dt,slot)/slot) of its residual, shared between
	// the two neighbouring points as normalised LMS does. In the first periods g is 1/(periods
	// seen+1), so a clean pattern is learned within a few periods; then the tuned rate.
	age := float64(ts - m.first)
	gd := min(max(tuneDailyGamma, 1/(math.Floor(age/float64(dayNS))+1)), 0.99)
	nlms(m.daily[:], ds, -math.Expm1(math.Log1p(-gd)*float64(min(dt, dailySlotNS))/float64(dailySlotNS))*e)
	// The weekly profile learns what the daily one leaves, from the second week on (in the
	// first week the two cannot be told apart).
	if age < float64(weekNS) {
		return
	}
	gw := max(tuneWeeklyGamma, min(0.5, 1/math.Floor(age/float64(weekNS))))
	nlms(m.weekly[:], ws, -math.Expm1(math.Log1p(-gw)*float64(min(dt, weeklySlotNS))/float64(weeklySlotNS))*e)
}

// nlms moves the profile's linear interpolation at the slot by delta.
func nlms(p []float32, s slot, delta float64) {
	norm := (1-s.w)*(1-s.w) + s.w*s.w
	p[s.i0] += float32(delta) * (1 - s.w) / norm
	p[s.i1] += float32(delta) * s.w / norm
}

func (m *Model) learnSpread(ts int64, e float64, dt int64) {
	a := float32(e)
	if a < 0 {
		a = -a
	}
	beta := max(1-math.Exp(-float64(dt)/tuneSpreadTau), tuneSpreadMin)
	if m.n < 30 {
		beta = max(beta, 1/float64(m.n))
	}
	m.spread += beta * (float64(a) - m.spread)
	h := hourOfDay(ts)
	// Each hour slot sees 1/24 of the samples: learn it 24 times faster, at most 0.5.
	bs := float32(min(beta*spreadSlots, 0.5))
	if m.slotSpread[h] == 0 {
		m.slotSpread[h] = float32(m.spread)
	}
	m.slotSpread[h] += bs * (a - m.slotSpread[h])
}

// recentre moves the mean of each profile into the slow level (and the daily profile's mean
// into the fast levels that include it), keeping the decomposition identifiable. O(slots),
// once a day.
func (m *Model) recentre(ts int64) {
	var sd, sw float64
	for _, x := range m.daily {
		sd += float64(x)
	}
	for _, x := range m.weekly {
		sw += float64(x)
	}
	md, mw := sd/dailySlots, sw/weeklySlots
	// The damped trend is the slow level's, learned once a day from the slope the slow level
	// actually took over the day (Holt at a daily scale): it does not chase the daily pattern
	// or short excursions.
	if m.spec.cfg.Trend != Off && m.step > 0 && ts-m.first >= 2*dayNS {
		slope := (m.slow - m.slowAtCentre) / float64(ts-m.centred) * float64(m.step)
		m.trend += tuneTrendBeta * (slope - m.trend)
	}
	for i := range m.daily {
		m.daily[i] -= float32(md)
	}
	for i := range m.weekly {
		m.weekly[i] -= float32(mw)
	}
	m.slow += md + mw
	m.levels[1] += md
	m.levels[2] += md + mw
	m.centred, m.slowAtCentre = ts, m.slow
}

// learnEvidence tracks the errors around the slow level of the three candidate models (no
// profile, daily, daily and weekly). It starts once the profiles have seen a whole day.
func (m *Model) learnEvidence(v, d, w float64) {
	if m.last-m.first < dayNS {
		return
	}
	beta := float32(1) / tuneEvidenceSamples
	if m.errNone == 0 {
		beta = 1
	}
	e0 := float32(math.Abs(v - m.slow))
	e1 := float32(math.Abs(v - m.slow - d))
	e2 := float32(math.Abs(v - m.slow - d - w))
	m.errNone += beta * (e0 - m.errNone)
	m.errDaily += beta * (e1 - m.errDaily)
	m.errBoth += beta * (e2 - m.errBoth)
}

func (m *Model) updateFlags() {
	c := m.spec.cfg
	span := m.last - m.first
	if c.Daily == Auto && span >= 2*dayNS {
		if m.flags&flagDaily == 0 && m.errDaily < tuneSeasonOn*m.errNone {
			m.flags |= flagDaily
			m.resetSpread(m.errDaily)
		} else if m.flags&flagDaily != 0 && m.errDaily > tuneSeasonOff*m.errNone {
			m.flags &^= flagDaily
			m.resetSpread(m.errNone)
		}
	}
	if c.Trend == Auto && len(m.spec.horizons) > 0 && m.horizons[len(m.spec.horizons)-1].count >= tuneTrendMinEvidence {
		if m.flags&flagTrend == 0 && m.errTrend < tuneTrendOn*m.errFlat {
			m.flags |= flagTrend
		} else if m.flags&flagTrend != 0 && m.errTrend > tuneTrendOff*m.errFlat {
			m.flags &^= flagTrend
		}
	}
	if m.flags&flagDaily == 0 {
		m.flags &^= flagWeekly // the weekly profile modulates the daily one
	} else if c.Weekly == Auto && span >= 2*weekNS {
		if m.flags&flagWeekly == 0 && m.errBoth < tuneSeasonOn*m.errDaily {
			m.flags |= flagWeekly
			m.resetSpread(m.errBoth)
		} else if m.flags&flagWeekly != 0 && m.errBoth > tuneSeasonOff*m.errDaily {
			m.flags &^= flagWeekly
			m.resetSpread(m.errDaily)
		}
	}
}

// resetSpread restarts the residual spread from the evidence of the components now in use.
func (m *Model) resetSpread(mad float32) {
	m.spread = float64(mad)
	for i := range m.slotSpread {
		m.slotSpread[i] = 0
	}
}

// levelShift detects a lasting change of level (two-sided CUSUM on the standardised
// residual) and re-levels the model to it instead of alarming for days.
func (m *Model) levelShift(z, e float64, ready bool) {
	zc := float32(min(max(z, -6), 6))
	m.cusumPos = max(0, m.cusumPos+zc-tuneCusumDrift)
	m.cusumNeg = max(0, m.cusumNeg-zc-tuneCusumDrift)
	// Mean residual since each side of the CUSUM last left zero: the size of the shift.
	track := func(c float32, sum *float32, n *uint16) {
		if c == 0 {
			*sum, *n = 0, 0
			return
		}
		*sum += float32(e)
		if *n < math.MaxUint16 {
			*n++
		}
	}
	track(m.cusumPos, &m.shiftSum[0], &m.shiftN[0])
	track(m.cusumNeg, &m.shiftSum[1], &m.shiftN[1])
	if !ready {
		return // while learning the first day the levels are expected to chase the pattern
	}
	// A shift is taken as lasting once it has also lasted a while in wall time: at fine steps
	// the score then stays up long enough for an alert's `for:` clause.
	minN := uint16(1)
	if m.step > 0 {
		minN = uint16(min(int64(tuneShiftMinAge)/m.step+1, math.MaxUint16))
	}
	for i, c := range [2]float32{m.cusumPos, m.cusumNeg} {
		if c > tuneCusumLimit && m.shiftN[i] >= minN {
			shift := float64(m.shiftSum[i] / float32(m.shiftN[i]))
			for j := range m.levels {
				m.levels[j] += shift
			}
			m.slow += shift
			m.cusumPos, m.cusumNeg = 0, 0
			m.shiftSum, m.shiftN = [2]float32{}, [2]uint16{}
			m.shifts++
			m.lastShift, m.shiftAt = float32(shift), m.last
			return
		}
	}
}

// score turns the standardised residual into a calibrated anomaly score. Three channels
// each judge one view of the recent residuals against its own long-run distribution:
//   - the surprisal of the residual (-log10 of its two-sided normal tail probability) averaged
//     over a short exponential window, but no more than the newest sample's own: evidence
//     builds over a few samples and falls as soon as the series is back to normal;
//   - the mean signed residual over a longer window, for small sustained drifts a single
//     residual does not show;
//   - the mean |residual| over a longer still window, for changes of spread or spike density.
//
// Each is judged by a streaming peaks-over-threshold tail (tailFit), and the -log10 tail
// probabilities are combined as if independent (Fisher's method: the sum S of three has
// P = 10^-S·(1+l+l²/2), l = S·ln 10), less an offset for their dependence. A spatial anomaly
// (see update) counts on its own. The score is X/(X+tuneScoreHalf) with X the combined
// -log10(p): graded at the top (no ties at 1), and the same threshold means about the same
// rarity on every series (TestScoreCalibration).
func (m *Model) score(z, spatial float64, ready bool) (float64, Reason) {
	sur := min(log10Tail2(math.Abs(z)), 50)
	m.short += tuneShortAlpha * (float32(sur) - m.short)
	// The short mean, but no more than the newest sample's own surprisal: a sustained anomaly
	// keeps its evidence, and once the series is back to normal this channel drops at once
	// instead of decaying with the window.
	X1 := min(m.tail.judge(m.short, m.n), m.tail.level(float32(sur)))
	// The drift window's mean is standardised by its spread under independent residuals.
	m.drift += tuneDriftAlpha * (float32(min(max(z, -tuneClip), tuneClip)) - m.drift)
	y := math.Abs(float64(m.drift)) / math.Sqrt(tuneDriftAlpha/(2-tuneDriftAlpha))
	X2 := m.driftTail.judge(float32(min(log10Tail2(y), 50)), m.n)
	m.vol += tuneVolAlpha * (float32(min(math.Abs(z), tuneVolClip)) - m.vol)
	X3 := m.volTail.judge(m.vol, m.n)
	if !ready {
		return 0, ReasonNone
	}
	sum := X1 + tuneDriftWeight*X2 + X3
	l := sum * math.Ln10
	X := max(sum-math.Log10(1+l+l*l/2)-tuneSumOffset, spatial)
	s := X / (X + tuneScoreHalf)
	if s < ReasonMinScore {
		return s, ReasonNone
	}
	// The reason is the channel that carries the most evidence.
	r, top := ReasonSpike, X1
	if x := tuneDriftWeight * X2; x > top {
		r, top = ReasonLevelShift, x
	}
	if X3 > top {
		r, top = ReasonVarianceChange, X3
	}
	if spatial >= top {
		r = ReasonBeyondRange
	}
	return s, r
}

// tailFit is a streaming peaks-over-threshold fit of a value's upper tail: its 90% quantile
// u and the mean excess over u (an exponential tail, as in SPOT). Heavier tails are learned
// through the mean excess, which recurring bursts raise.
type tailFit struct{ u, excess float32 }

// level is -log10 of the tail probability of x.
func (t *tailFit) level(x float32) float64 {
	if x <= t.u {
		return -math.Log10(1-tuneTailQ) * float64(x/t.u)
	}
	return -math.Log10(1-tuneTailQ) + float64(x-t.u)/float64(t.excess)/math.Ln10
}

// judge returns -log10 of the tail probability of x, p = 0.1·exp(-(x-u)/excess), and then
// learns from x.
func (t *tailFit) judge(x float32, n uint32) float64 {
	if t.u == 0 && t.excess == 0 {
		// Start from the values of Gaussian residuals.
		t.u, t.excess = 1, 0.5
	}
	X := t.level(x)
	// Learn the tail from a capped value, so an incident does not teach the model that
	// incidents are normal.
	eta := float32(1) / float32(min(float64(n), tuneLongSamples))
	xl := min(x, t.u+tuneTailCap*t.excess)
	if xl > t.u {
		ex := xl - t.u
		// The more surprising a value, the less it teaches: recurring bursts still make the
		// tail heavy, a single incident hardly moves it.
		w := eta / (1 - tuneTailQ) * float32(min(1, tuneTailTeach/X))
		t.excess += w * (ex - t.excess)
		t.u += tuneTailQ / (1 - tuneTailQ) * eta * t.excess
	} else {
		t.u -= eta * t.excess
	}
	t.u = max(t.u, 0.01)
	t.excess = max(t.excess, tuneTailMin)
	return X
}

// log10Tail2 is -log10(2Q(z)) for z >= 0, without underflow for large z.
func log10Tail2(z float64) float64 {
	if z < 8 {
		return -math.Log10(math.Erfc(z / math.Sqrt2))
	}
	return (z*z/2 + math.Log(z*math.Sqrt(math.Pi/2))) / math.Ln10
}
