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
	tuneLevelTau      = 3 * 3600e9       // fast level memory (ns)
	tuneLevelAlphaMin = 0.02             // ... at least this much per sample
	tuneSlowTau       = 36 * 3600e9      // memory of the slow level the daily profiles learn against (ns)
	tuneWeeklySlowTau = 14 * 24 * 3600e9 // ... and the weekly one (ns)
	tuneDailyGamma    = 0.35             // share of the daily profile renewed per day
	tuneWeeklyGamma   = 0.3              // share of the weekly profile renewed per week
	tuneClip          = 3.0              // residuals are clipped at ± this many sigmas before learning
	tuneRevertTau     = 12 * 3600e9      // ahead of the last sample the fast level reverts to the slow one (ns)

	// Which components are published: evidence from their errors.
	tuneEvidenceTau        = 7 * 24 * 3600e9 // memory of the candidates' errors (ns)
	tuneEvidenceMin        = 12 * 3600e9     // ... which must cover this much time before they are judged (ns)
	tuneSwitchBetter       = 0.9             // a more complex baseline is published when its error is below this share
	tuneSwitchSimpler      = 1.0             // ... a simpler one when its error is no higher
	tuneAltErr             = 1.25            // the weekly baseline is a plausible alternative while its error is below this share
	tuneTrendBeta          = 0.3             // share of the day's slope error the trend corrects
	tuneTrendEvidenceAlpha = 0.1             // learning rate of the trend evidence
	tuneTrendMinEvidence   = 6               // resolved longest-horizon forecasts before the trend is judged
	tuneTrendOn            = 0.9             // the trend is published when it cuts the longest-horizon error to this share
	tuneTrendOff           = 0.97            // ... and withdrawn when it no longer cuts it below this

	// Residual spread and its floors.
	tuneSpreadTau      = 96 * 3600e9 // residual spread memory (ns)
	tuneSpreadMin      = 0.003       // ... at least this much per sample
	tuneSpreadClip     = 20.0        // residuals are clipped at ± this many sigmas for the spread
	tuneSlotScaleMax   = 20.0        // bounds of the per-slot spread factor (and its inverse)
	tuneSlotScalePrior = 30.0        // the factor is shrunk towards 1 as if this many samples said so
	tuneScaleGamma     = 0.3         // share of a slot's spread renewed per visit
	tuneRelFloor       = 1e-3        // scale floor relative to |level|
	tuneDispFloor      = 0.2         // scale floor relative to the error of the model in use
	tuneQuantumFloor   = 0.5         // scale floor in units of the series' resolution

	// Level shifts.
	tuneCusumDrift  = 1.0        // CUSUM allowance (sigmas)
	tuneCusumLimit  = 12.0       // CUSUM decision limit (sigmas)
	tuneShiftMinAge = 10 * 60e9  // ... and a shift must have lasted this long (ns) before re-levelling
	tuneUndoAge     = 1 * 3600e9 // for this long after a re-levelling the old level still counts as normal for the score (ns)
	tuneWanderShift = 2.0        // a re-levelling smaller than this many sigmas is the wander followed: the slow drift still judges it

	// Score.
	tuneShortAlpha     = 0.3       // weight of the newest surprisal in the short window
	tuneTailQ          = 0.9       // the tail fit starts at this quantile of the short window
	tuneLongSamples    = 10000     // memory of the tail fit (samples)
	tuneTailMin        = 0.05      // floor on the mean excess
	tuneTailMaxShape   = 0.5       // the fitted tail shape is at most this
	tuneTailCap        = 30.0      // tail learning caps a value at u + this many mean excesses
	tuneTailTeach      = 4.0       // values more surprising than this (-log10 p) teach the tail proportionally less
	tuneScoreHalf      = 2.7       // score = X/(X+tuneScoreHalf): 0.5 at a tail probability of 10^-2.7
	tuneDriftAlpha     = 0.1       // weight of the newest residual in the drift window
	tuneDriftWeight    = 1.5       // weight of the drift channel's surprisal in the sum
	tuneVolAlpha       = 0.02      // weight of the newest |residual| in the spread window
	tuneSpreadZClip    = 6.0       // ... clipped at this many sigmas
	tuneVolRatio       = 3.0       // the volatility channel tests for this rise of the innovations' variance
	tuneVolCap         = 30.0      // ... whose CUSUM is capped here (a likelihood ratio of e^30)
	tuneVolClip        = 3.0       // ... an innovation counting as at most this many sigmas
	tuneVolSuspect     = 5.0       // ... a raised noise is suspected from this CUSUM (a likelihood ratio of e^5)
	tuneVolSuspectFor  = 14400e9   // ... and the references do not learn from it for this long at most (4 h, ns)
	tuneVolMinAge      = 30 * 60e9 // ... and a raised noise is news once it has lasted this long (ns)
	tuneSumOffset      = 1.5       // surprisal taken off the channels' sum: they are not independent
	tuneCalRate        = 300       // the sum is calibrated at its own 1-in-this-many level (score 0.5; nominal)
	tuneCalDecade      = 1.6       // ... and each decade of rarity beyond it adds this much (-log10 p)
	tuneCalCap         = 3.0       // ... learning caps a sum at that level + this many mean excesses
	tuneCalMinSamples  = 1440      // ... and learns at most as fast as from this many samples
	tuneSpatialTol     = 0.05      // a value beyond the range seen by this share of it is a spatial anomaly
	tuneSpatialZ       = 3.0       // ... when it is also this many sigmas off the baseline
	tuneSpatialX       = 6.0       // ... and it counts as this much surprisal (-log10 p)
	tuneSpatialSlope   = 10.0      // ... plus this much per range beyond the tolerance
	tuneJumpTol        = 0.5       // a first difference this share beyond the largest seen is a jump (then as spatial)
	tuneMaxRho         = 0.99      // the residuals' autocorrelation is taken as at most this
	tuneInnovRho       = 0.8       // from this autocorrelation the spike channel judges the residual's innovation (see innovation)
	tuneStuckMinAge    = 5 * 60e9  // a run of identical values counts once it lasts this long (ns)
	tuneShiftRun       = 3         // this many samples off the baseline on one side make a spike a level shift
	tuneStepClip       = 6.0       // the steps CUSUM counts a first difference as at most this many sigmas
	tuneStepK          = 3.0       // ... less this allowance (see steps)
	tuneStepCap        = 511       // ... and its sum is at most this (16 bits)
	tuneCountMax       = 30.0      // a series of non-negative integers whose level is at most this is a series of counts (see zeros)
	tuneZerosTau       = 30 * 60e9 // the evidence of a run of zeros is that of about its last this long (ns)
	tunePatternTau     = 3600e9    // memory of the fit of the residual on the pattern (ns)
	tuneRepeatFloor    = 1e-3      // repeat probability assumed at least this
	tuneRepeatLearnMax = 3         // runs longer than this do not teach the repeat rate
	tuneHold           = 1.0       // evidence (-log10 p) lost per step at most
	tuneHoldPer        = 60e9      // ... or per this much of a longer step (ns): the alert's evaluation interval
	tuneHoldFrom       = 8.0       // ... from this much, only (an extreme sample: 10^-8)
	tuneHoldStepX      = 5.0       // ... or a sample that steps beyond the largest step seen and scores this much (0.65)

	// Slow drift (see update and score).
	tuneSlowDriftTau        = 90 * 60e9 // memory of the slow drift channel's mean residual (ns)
	tuneSlowDriftLearnAfter = dayNS     // ... whose spread and tail are learned from this long after the warm-up (ns)
	tuneSlowDriftJudgeAfter = dayNS     // ... and which is judged from this long after that, and after a re-levelling (ns)
	tuneSlowDriftTeach      = 2.5       // ... whose values more surprising than this (-log10 p) teach its tail proportionally less
	tuneSlowDriftClip       = 2.0       // ... whose residuals are clipped at tuneClip sigmas or this many of its root mean squares times tuneClip

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
	m.rates.update(dt, ts-m.first, m.step, m.spec.logDamping)
	if m.step > 0 && dt > m.step*3/2 {
		m.missed += float32(dt/m.step - 1) // steps without a sample
	}
	if d := math.Abs(v - m.lastV); d > 0 && d < m.quantum {
		m.quantum = d
	}

	// What the model expected before seeing v.
	lt := m.spec.local(ts)
	prof := m.profiles(lt)
	// The slow level always carries the damped trend (unless it is off), so that the evidence
	// can tell whether publishing it helps; tr is the part published.
	// The slow levels always carry their damped trends (unless off), so that the evidence can
	// tell whether publishing it helps; tr is the part published.
	var trS [numCand]float64
	// The trends move to their daily targets gradually over the day, so that the baseline's
	// slope does not jump at the daily re-centring.
	if g := min(float64(dt)/float64(dayNS), 1); m.spec.cfg.Trend != Off {
		for i := range m.trends {
			m.trends[i] += g * (m.trendTargets[i] - m.trends[i])
		}
	}
	if m.spec.cfg.Trend != Off {
		f := m.rates.trend
		for i := range trS {
			trS[i] = m.trends[i] * f
		}
	}
	tr := 0.0
	if m.flags&flagTrend != 0 {
		tr = trS[m.cand]
	}
	c := m.cand
	base := m.levels[c] + tr + prof[c]
	s := m.scaleAt(lt)
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
			spatial = beyondSeen(out/r - tuneSpatialTol)
		}
	}
	m.vMin, m.vMax = min(m.vMin, v), max(m.vMax, v)
	// A value that the weekly profile explains is not news while the weekly baseline is still
	// a plausible alternative to the one published (the second weekend of a series, say).
	zs := z
	if w, ok := m.bestWeekly(); ok && !isWeekly(c) && m.errs[w] < tuneAltErr*m.errs[c] {
		if zw := (v - m.levels[w] - tr - prof[w]) / s; math.Abs(zw) < math.Abs(zs) {
			zs = zw
		}
	}
	// Soon after a re-levelling, a sample back at the level from before it is the end of a
	// burst, not news: it is scored against whichever of the two levels it is nearer.
	if m.justRelevelled(ts) {
		if zb := (e + float64(m.lastShift)) / s; math.Abs(zb) < math.Abs(zs) {
			zs = zb
		}
	}
	// The noise is judged in first differences relative to the baseline's level for series that
	// never went negative (their noise grows with their level: a weekend batch at three times
	// the weekday level is three times as noisy), as they are (Log: already relative) otherwise.
	// The last value counts as that level too (a step to a new level is judged at once against
	// it), except in a series of counts: there it is one draw of a few, and the large draws of
	// a noise that has grown would shrink the next differences by as much as they are larger.
	norm := 1.0
	if !m.spec.cfg.Log && m.vMin >= 0 {
		last := math.Abs(m.lastV)
		if m.lowCounts() {
			last = 0
		}
		norm = max(math.Abs(m.slows[c]+prof[c]), math.Abs(base), last, m.floor())
	}
	slow := m.learnSlowDrift(v, s, &trS, &prof)
	zeros := m.zeros(ts, v, base, e, dt)
	res.Score, res.Reason = m.score(ts, lt, zs, spatial, v, (v-m.lastV)/norm, norm, slow, zeros, ready)
	// Samples far off the baseline on the same side in a row: past a few, a spike is a shift.
	switch {
	case zs > tuneClip:
		m.devRun = max(m.devRun, 0) + 1
	case zs < -tuneClip:
		m.devRun = min(m.devRun, 0) - 1
	default:
		m.devRun = 0
	}
	m.devRun = min(max(m.devRun, -100), 100)
	// Upwards, a burst of ten minutes is still a spike; downwards, a few samples are a drop.
	upRun := int8(tuneShiftRun)
	if m.step > 0 {
		upRun = int8(min(max(int64(tuneShiftMinAge)/m.step, tuneShiftRun), 100))
	}
	if res.Reason == ReasonSpike && (m.devRun >= upRun || m.devRun <= -tuneShiftRun) {
		res.Reason = ReasonLevelShift
	}
	if res.Reason == ReasonLevelShift || res.Reason == ReasonSpike {
		// A deviation that follows the shape of the daily or weekly pattern (the pattern
		// flattened, late, or its peak missing) is a change of the pattern.
		if m.patternFollows() {
			res.Reason = ReasonPatternChange
		}
	}
	m.learnPatternFit(e, c, prof[c])

	// Learning, with residuals clipped so that outliers do not move anything much.
	lim := tuneClip * s
	if m.n < 20 {
		lim = math.Inf(1)
	}
	// Each candidate's slow level and profile learn from the deviation of v from the other,
	// clipped at the candidate's own scale (the published band may be narrow where a pattern
	// has sharp edges still to learn); the first day is the daily pattern's first sight and the
	// first week the weekly one's: their slow levels hold still meanwhile.
	m.learnEvidence(ts, v, &trS, &prof)
	m.learnScale(ts, lt, min(max(e, -tuneSpreadClip*s), tuneSpreadClip*s))
	m.learnCandidates(ts, lt, v, &trS, &prof, lim)
	if ts-m.centred >= dayNS {
		m.recentre(ts)
	}
	alpha := m.rates.alpha
	var resid [numCand]float64
	for i := range m.levels {
		r := v - m.levels[i] - tr - prof[i]
		resid[i] = min(max(r, -tuneSpreadClip*s), tuneSpreadClip*s)
		m.levels[i] += tr + alpha*min(max(r, -lim), lim)
	}
	m.levelShift(z, &resid, ready)
	// A confirmed shift is part of the level until the slow level has caught up with it: no
	// more of it is left than the fast level's lead over the slow one, on the same side.
	for i, o := range m.unabsorbed {
		if g := float32(m.levels[i] - m.slows[i]); o > 0 {
			m.unabsorbed[i] = max(min(o, g), 0)
		} else if o < 0 {
			m.unabsorbed[i] = min(max(o, g), 0)
		}
	}

	m.learnHorizons(ts, v, ready)
	m.last, m.lastV = ts, v
	m.n++
	m.updateEligible()
	m.choose()
	return res
}

// justRelevelled reports whether ts is within tuneUndoAge of the last re-levelling, while the
// level from before it still counts as normal (update's score, zeros).
func (m *Model) justRelevelled(ts int64) bool {
	return m.lastShift != 0 && ts-m.shiftAt < int64(tuneUndoAge)
}

// rateCache holds the learning rates that depend only on the interval dt between samples and
// on how many days and weeks the model has seen (the share of a profile renewed per period is
// faster in the first periods): with a regular step they are computed once a day, not at every
// sample. It is derived state: not in snapshots.
type rateCache struct {
	dt, stepNS                                               int64
	days, weeks                                              int64
	alpha, slow, weeklySlow, spread, evidence, pattern       float64
	slowDrift, slowDriftFloor                                float64 // of a step at most (steps without a sample carry no evidence); a/(2-a)
	trend, coarse, fine, weekly, smooth, dayScale, weekScale float64
}

func (c *rateCache) update(dt, age, step int64, ld float64) {
	days, weeks := age/dayNS, age/weekNS
	if c.dt == dt && c.days == days && c.weeks == weeks && c.stepNS == step {
		return
	}
	c.dt, c.days, c.weeks, c.stepNS = dt, days, weeks, step
	ew := func(tau float64) float64 { return -math.Expm1(-float64(dt) / tau) }
	// A profile renews the share g of itself per period whatever the step: a sample corrects
	// its point(s) by 1-(1-g)^(min(dt,slot)/slot) of the residual.
	renew := func(g float64, slotNS int64) float64 {
		return -math.Expm1(math.Log1p(-g) * float64(min(dt, slotNS)) / float64(slotNS))
	}
	gd := min(max(tuneDailyGamma, 1/float64(days+1)), 0.99)
	gw := min(max(tuneWeeklyGamma, 1/float64(weeks+1)), 0.99)
	gs := min(max(tuneScaleGamma, 1/float64(days+1)), 0.99)
	gws := min(max(tuneScaleGamma, 1/float64(weeks+1)), 0.99)
	c.alpha = max(ew(tuneLevelTau), tuneLevelAlphaMin)
	c.slow = max(ew(tuneSlowTau), 1e-4)
	c.weeklySlow = max(ew(tuneWeeklySlowTau), 1e-5)
	c.spread = max(ew(tuneSpreadTau), tuneSpreadMin)
	c.evidence = ew(tuneEvidenceTau)
	c.pattern = ew(tunePatternTau)
	d := dt
	if step > 0 {
		d = min(dt, step)
	}
	c.slowDrift = -math.Expm1(-float64(d) / tuneSlowDriftTau)
	c.slowDriftFloor = c.slowDrift / (2 - c.slowDrift)
	c.coarse, c.fine = renew(gd, coarseSlotNS), renew(gd, fineSlotNS)
	c.weekly, c.smooth = renew(gw, weeklySlotNS), renew(gw, smoothSlotNS)
	c.dayScale, c.weekScale = renew(gs, dayNS/dayScaleSlots), renew(gws, weekScaleNS)
	c.trend = trendFactor(dt, step, ld)
}

// learnCandidates moves each candidate's slow level and profile. A profile renews the share g
// of itself per period whatever the step: a sample corrects its point(s) by
// 1-(1-g)^(min(dt,slot)/slot) of the residual. In the first periods g is 1/(periods seen+1), so
// a clean pattern is learned within a few periods; then the tuned rate.
func (m *Model) learnCandidates(ts int64, lt localNS, v float64, trS, prof *[numCand]float64, lim float64) {
	age := ts - m.first
	rc := &m.rates
	as, asw := rc.slow, rc.weeklySlow
	for i := range m.slows {
		m.slows[i] += trS[i]
		dev := v - m.slows[i]
		l := max(lim, tuneClip*sigmaPerMAD*float64(m.errs[i]))
		firstSight := m.firstSight(i, age)
		if firstSight {
			l = math.Inf(1)
		}
		r := min(max(dev-prof[i], -l), l)
		switch i {
		case candCoarse:
			nlms(m.prof(profCoarse), coarseSlot(lt), rc.coarse*r, ts, profCoarse)
		case candFine:
			m.prof(profFine).addDithered(fineSlot(lt), rc.fine*r, dither(ts, profFine))
		case candWeekly:
			m.prof(profWeekly).addDithered(weeklySlot(lt), rc.weekly*r, dither(ts, profWeekly))
		case candWeeklySmooth:
			nlms(m.prof(profSmooth), smoothSlot(lt), rc.smooth*r, ts, profSmooth)
		}
		if !firstSight {
			if isWeekly(uint8(i)) {
				m.slows[i] += asw * r
			} else {
				m.slows[i] += as * r
			}
		}
	}
}

// firstSight reports whether candidate i's profile is still seeing its first period (its
// slow level holds still meanwhile).
func (m *Model) firstSight(i int, age int64) bool {
	return i != candNone && age < dayNS || isWeekly(uint8(i)) && age < weekNS
}

// nlms moves the profile's linear interpolation at the slot by delta, sharing it between the
// two neighbouring points as normalised LMS does.
func nlms(p prof16, s slot, delta float64, ts int64, k uint64) {
	w := float64(s.w)
	norm := (1-w)*(1-w) + w*w
	p.addDithered(s.i0, delta*(1-w)/norm, dither(ts, k))
	p.addDithered(s.i1, delta*w/norm, dither(ts, k+numProf))
}

// learnScale learns the spread of the published residual: globally, and per time of day and
// of week (each renewing tuneScaleGamma of itself per visit, faster in the first visits).
func (m *Model) learnScale(ts int64, lt localNS, e float64) {
	a := math.Abs(e)
	beta := m.rates.spread
	if m.n < 30 {
		beta = max(beta, 1/float64(m.n))
	}
	m.spread += beta * (a - m.spread)
	learn := func(pi, i int, r float64) {
		p := m.prof(pi)
		if p.q[i] == 0 {
			p.setPositive(i, m.spread)
		}
		x := p.get(i)
		p.addDithered(i, r*(a-x), dither(ts, uint64(pi)))
		if x > 0 && p.q[i] <= 0 {
			p.q[i] = 1
		}
	}
	learn(profDayScale, dayScaleSlot(lt), m.rates.dayScale)
	learn(profWeekScale, weekScaleSlot(lt), m.rates.weekScale)
}

// recentre moves the mean of each profile into its levels, keeping each candidate's
// decomposition identifiable, and learns the trend. O(slots), once a day.
func (m *Model) recentre(ts int64) {
	// Each damped trend is learned once a day from the slope its slow level actually took over
	// the day (Holt at a daily scale): it does not chase the pattern or short excursions.
	if m.spec.cfg.Trend != Off && m.step > 0 && ts-m.first >= 2*dayNS {
		for i := range m.trends {
			if m.firstSight(i, ts-m.first-dayNS) {
				continue
			}
			slope := (m.slows[i] - m.slowsAtCentre[i]) / float64(ts-m.centred) * float64(m.step)
			m.trendTargets[i] += tuneTrendBeta * (slope - m.trendTargets[i])
		}
	}
	for i, pi := range [numCand]int{candCoarse: profCoarse, candFine: profFine, candWeekly: profWeekly, candWeeklySmooth: profSmooth} {
		if i == candNone || m.firstSight(i, ts-m.first) {
			continue
		}
		// The mean taken off is a whole number of units, so that the points lose nothing and
		// what the levels gain is exactly what the profile lost.
		p := m.prof(pi)
		sum := 0
		for _, q := range p.q {
			sum += int(q)
		}
		mean := math.Round(float64(sum)/float64(len(p.q))) * float64(*p.unit)
		for j := range p.q {
			p.set(j, p.get(j)-mean)
		}
		m.levels[i] += mean
		m.slows[i] += mean
	}
	for i := range numProf {
		m.prof(i).normalise()
	}
	m.centred, m.slowsAtCentre = ts, m.slows
}

// learnEvidence tracks each candidate's error around its slow level (all over the same
// span): how well its profile explains the series. The fast levels are left out: they would
// credit any baseline with what they catch up within hours.
func (m *Model) learnEvidence(ts int64, v float64, trS, prof *[numCand]float64) {
	if ts-m.first < dayNS {
		return
	}
	m.evN++
	beta := float32(max(m.rates.evidence, 1/float64(m.evN)))
	for i := range m.errs {
		e := float32(math.Abs(v - m.slows[i] - trS[i] - prof[i]))
		m.errs[i] += beta * (e - m.errs[i])
	}
}

// updateEligible admits a candidate once its profile has seen a whole period, and restarts
// the evidence then so that every candidate is judged over the same span.
func (m *Model) updateEligible() {
	c := m.spec.cfg
	span := m.last - m.first
	el := uint8(1 << candNone)
	if c.Daily != Off && span >= dayNS {
		el |= 1<<candCoarse | 1<<candFine
		if c.Weekly != Off && span >= weekNS {
			el |= 1<<candWeekly | 1<<candWeeklySmooth
		}
	}
	if el != m.eligible {
		m.eligible = el
		m.evN = 0
	}
}

// choose publishes the candidate with the lowest error, once the evidence covers enough time,
// switching only for a clear improvement (simpler candidates win ties). Components the Config
// forces on or off are respected. The trend is judged on the longest horizon's forecasts.
func (m *Model) choose() {
	c := m.spec.cfg
	if m.step > 0 && int64(m.evN)*m.step >= int64(tuneEvidenceMin) {
		best := m.cand
		for i := range uint8(numCand) {
			if !m.allowed(i) {
				continue
			}
			need := float32(tuneSwitchBetter) // a more complex baseline must be clearly better
			if i < m.cand {
				need = tuneSwitchSimpler
			}
			if m.errs[i] < need*m.errs[best] || (best == m.cand && !m.allowed(best)) {
				best = i
			}
		}
		if best != m.cand {
			m.cand = best
			m.spread = float64(m.errs[best])
		}
	}
	if c.Trend == Auto && len(m.spec.horizons) > 0 && m.horizons[len(m.spec.horizons)-1].count >= tuneTrendMinEvidence {
		if m.flags&flagTrend == 0 && m.errTrend < tuneTrendOn*m.errFlat {
			m.flags |= flagTrend
		} else if m.flags&flagTrend != 0 && m.errTrend > tuneTrendOff*m.errFlat {
			m.flags &^= flagTrend
		}
	}
}

// allowed reports whether the Config lets candidate i be published: an eligible one, with a
// daily profile if Daily is On, and a weekly one if Weekly is On once they are eligible.
func (m *Model) allowed(i uint8) bool {
	c := m.spec.cfg
	return m.eligible&(1<<i) != 0 && !(c.Daily == On && i == candNone) &&
		!(c.Weekly == On && m.eligible&(1<<candWeekly) != 0 && !isWeekly(i))
}

// levelShift detects a lasting change of level (two-sided CUSUM on the standardised
// residual) and re-levels the model to it instead of alarming for days.
func (m *Model) levelShift(z float64, res *[numCand]float64, ready bool) {
	zc := float32(min(max(z, -6), 6))
	m.cusumPos = max(0, m.cusumPos+zc-tuneCusumDrift)
	m.cusumNeg = max(0, m.cusumNeg-zc-tuneCusumDrift)
	// Each candidate's mean residual since each side of the CUSUM last left zero: the size of
	// the shift as that candidate sees it (nothing, for one whose profile explains the change).
	for i, c := range [2]float32{m.cusumPos, m.cusumNeg} {
		if c == 0 {
			m.shiftSum[i], m.shiftN[i] = [numCand]float32{}, 0
			continue
		}
		for j := range res {
			m.shiftSum[i][j] += float32(res[j])
		}
		if m.shiftN[i] < math.MaxUint16 {
			m.shiftN[i]++
		}
	}
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
			// A re-levelling of less than tuneWanderShift sigmas is the series' wander followed
			// (a random walk is re-levelled several times a day; a slow leak a few times an
			// hour): the slow drift still judges it against the slow level, so that the steps of
			// a leak add up there. A larger one is news at once, and then part of the level.
			shift := m.shiftSum[i][m.cand] / float32(m.shiftN[i])
			s := m.scaleAt(m.spec.local(m.last))
			wander := math.Abs(float64(shift)) < tuneWanderShift*s
			for j := range m.levels {
				if m.firstSight(j, m.last-m.first) {
					continue
				}
				sj := m.shiftSum[i][j] / float32(m.shiftN[i])
				m.levels[j] += float64(sj)
				if !wander {
					m.unabsorbed[j] += sj
				}
			}
			if !wander {
				m.slowDrift = [numCand]float32{} // the shift is news no more
			}
			m.lastShift, m.shiftAt = shift, m.last
			if math.Abs(float64(shift)) >= tuneClip*s {
				m.bigShiftAt = m.last
			}
			m.cusumPos, m.cusumNeg = 0, 0
			m.shiftSum, m.shiftN = [2][numCand]float32{}, [2]uint16{}
			m.shifts++
			return
		}
	}
}

// score turns the standardised residual into a calibrated anomaly score. Channels each judge
// one view of the recent residuals against their own long-run distribution:
//   - the surprisal of the residual (-log10 of its two-sided normal tail probability) averaged
//     over a short exponential window, but no more than the newest sample's own: evidence
//     builds over a few samples and falls as soon as the series is back to normal (on strongly
//     autocorrelated residuals, of what is new in each residual: see innovation);
//   - the mean signed residual over a longer window, for small sustained drifts a single
//     residual does not show, standardised by its own observed spread (so that autocorrelated
//     series, such as rates over overlapping windows, are not judged as independent noise) and
//     judged separately upwards and downwards (counts and bounded series are skewed);
//   - the mean |residual| over a longer still window, for changes of spread or spike density;
//   - runs of identical values, against how often the series repeats itself: a stuck value;
//   - a run of zeros in a series of low counts, against its chance (see zeros);
//   - a raised noise (see volatility);
//   - the mean residual around the slow level over the last hour or two (see learnSlowDrift),
//     for a drop, a ramp or a late pattern the fast level has already followed: halved low
//     counts, a slow leak;
//   - a sudden lasting jump: a step between two samples beyond the largest of about the last
//     week, after which the series stays on the far side (see jump);
//   - first differences that add up the same way beyond the series' step noise (see steps);
//   - a value beyond the whole range seen (see update).
//
// Each is judged by a streaming peaks-over-threshold tail (tailFit). The first three -log10
// tail probabilities are combined as if independent (Fisher's method: the sum S of three has
// P = 10^-S·(1+l+l²/2), l = S·ln 10), less an offset for their dependence; the others count on
// their own. The evidence then decays by at most tuneHold per step (per minute of a longer
// step), so that a single extreme sample keeps the score up for the minutes an alert's `for:`
// clause needs: at a step of a minute, three evaluations; at five minutes the sample's own
// score already lasts five evaluations, and holding it into the next sample only adds rows
// above the threshold after the event (NAB: `Twitter_volume_KO`, 2 of them). The score is
// X/(X+tuneScoreHalf) with X the combined -log10(p): graded at the top (no ties at 1), and
// the same threshold means about the same rarity on every series (TestScoreCalibration).
func (m *Model) score(ts int64, lt localNS, z, spatial, v, d, norm, slow, X8 float64, ready bool) (float64, Reason) {
	sur := min(log10Tail2(math.Abs(m.innovation(z))), 50)
	m.short += tuneShortAlpha * (float32(sur) - m.short)
	// The short mean, but no more than the newest sample's own surprisal: a sustained anomaly
	// keeps its evidence, and once the series is back to normal this channel drops at once
	// instead of decaying with the window.
	X1 := min(m.tail.judge(m.short, m.n), m.tail.level(float32(sur)))
	// The tail of single samples' surprisal, to tell an extreme sample (see the hold below).
	m.pointTail.judge(float32(sur), m.n)
	// The drift window's mean is standardised by its spread under AR(1) residuals, with the
	// residuals' lag-1 autocorrelation learned from the series (a rate over a window longer
	// than the step, a random walk, a smooth series sampled fast): residuals that follow each
	// other are not independent evidence.
	zc := float32(min(max(z, -tuneClip), tuneClip))
	a := float32(1 / min(float64(m.n), tuneLongSamples))
	m.zz += a * (zc*zc - m.zz)
	m.zlag += a * (zc*m.lastZ - m.zlag)
	m.lastZ = zc
	rho := m.rho()
	m.drift += tuneDriftAlpha * (zc - m.drift)
	b := (1 - tuneDriftAlpha) * rho
	y := math.Abs(float64(m.drift)) / math.Sqrt(tuneDriftAlpha/(2-tuneDriftAlpha)*(1+b)/(1-b))
	X2 := m.driftTail.judge(float32(min(log10Tail2(y), 50)), m.n)
	m.vol += tuneVolAlpha * (float32(min(math.Abs(z), tuneSpreadZClip)) - m.vol)
	X3 := m.volTail.judge(m.vol, m.n)
	vs, u := m.volatility(lt, d, norm)
	X9 := m.steps(ts, u)
	X5 := min(m.volSTail.judge(vs, m.n), float64(vs)/math.Ln10)
	X7, step := m.jump(ts, v, z, ready)
	if m.volM <= 0 || m.step > 0 && int64(m.volN)*m.step < int64(tuneVolMinAge) {
		// A change of the noise is a change once it has lasted half an hour (the ramps at the
		// edges of a weekly pattern, which no hourly reference learns, last minutes), and
		// while it lasts (the recent samples still favour it): the few samples of an edge
		// leave the sum up for a while, but not the recent evidence.
		X5 = 0
	}
	X4 := m.stuck(v, ready)
	X6 := m.slowDriftEvidence(ts, slow, ready)
	if !ready {
		m.held = 0
		return 0, ReasonNone
	}
	// The channels' sum, less what three chances at a tail cost, is calibrated on the series'
	// own history (see calFit); the separate tests are not.
	sum := X1 + tuneDriftWeight*X2 + X3
	l := sum * math.Ln10
	X := max(m.cal.judge(sum-math.Log10(1+l+l*l/2)-tuneSumOffset, m.n), spatial, X4, X5, X6, X7, X8, X9)
	// The reason is the channel that carries the most evidence.
	r, top := ReasonSpike, X1
	if x := tuneDriftWeight * X2; x > top {
		r, top = ReasonLevelShift, x
	}
	if X6 > top {
		r, top = ReasonLevelShift, X6
	}
	// A jump or steps: upwards a burst until it has lasted (see update), downwards a drop.
	if X7 > top {
		r, top = burstOrDrop(m.jumpD < 0), X7
	}
	if X9 > top {
		r, top = burstOrDrop(m.stepS < 0), X9
	}
	if X3 > top {
		r, top = ReasonVarianceChange, X3
	}
	if X5 > top {
		r, top = ReasonVarianceChange, X5
	}
	if X4 > top {
		r, top = ReasonQuiet, X4
	}
	if X8 > top {
		r, top = ReasonQuiet, X8
	}
	if spatial >= top {
		r = ReasonBeyondRange
	}
	// The evidence of an extreme sample is held for a few minutes, losing tuneHold per step
	// (per tuneHoldPer of a longer step).
	// Extreme is judged with the tail's heavy-tail-aware fit, so that the outliers of
	// heavy-tailed noise do not count as extreme; or by a value beyond the range seen; or by a
	// step into the sample beyond the largest step seen (see jump), once the sample's own
	// evidence reaches tuneHoldStepX: a spike of three times a weekday's value on a series whose
	// weekend batches start with steep ramps (which make the residuals' tail heavy, so that the
	// spike is not extreme to it) is still held for the alert; a sudden dip the score did not
	// think much of (a temperature sensor's, scored 0.48) does not hold the hours after it up.
	// A channel above the evidence held (the return of a spike is a large step too) does not
	// end the hold: it goes on decaying underneath.
	loss := tuneHold
	if m.step > tuneHoldPer {
		loss *= float64(m.step) / tuneHoldPer
	}
	if h := float64(m.held) - loss; h > X {
		X, r = h, Reason(m.heldReason)
		m.held = float32(h)
	} else {
		m.held = float32(max(h, 0))
	}
	if X < tuneHoldStepX {
		step = 0
	}
	if max(m.pointTail.extreme(float32(sur)), spatial, X4, step) >= tuneHoldFrom {
		m.held, m.heldReason = tuneHoldFrom, uint8(r)
	}
	if tracing {
		c := m.cand
		traceSample(m, &channelTrace{Time: ts, Value: v, Spike: X1, Drift: X2, Spread: X3, Stuck: X4, Zeros: X8, Noise: X5,
			SlowDrift: X6, Jump: X7, Beyond: spatial, Steps: X9, Sum: sum, X: X, Candidate: c, Level: m.levels[c],
			SlowLevel: m.slows[c], SlowDriftSigmas: slow, SlowDriftMeanSquare: float64(m.slowVar), NoiseCUSUM: float64(m.volS), Scale: m.scaleAt(lt),
			Unabsorbed: float64(m.unabsorbed[c]), Shifts: uint32(m.shifts)})
	}
	s := X / (X + tuneScoreHalf)
	if s < ReasonMinScore {
		return s, ReasonNone
	}
	return s, r
}

// innovation is what the spike channel judges of the standardised residual z: z itself, or,
// where the residuals are strongly autocorrelated (their learned lag-1 autocorrelation ρ at
// least tuneInnovRho: a rate over a window longer than the step, a random walk that the fast
// level follows, a smooth series sampled fast), its innovation (z − ρ·z_prev)/√(1−ρ²) when that
// is smaller, z_prev the previous residual (clipped at tuneClip). A high residual that follows
// a high residual is then mostly the previous one carried over: a burst of a counter seen
// through rate(x[5m]) lasts five samples, and judged on z it counted five times. The first
// sample of a change has a small z_prev and is judged on z, so drops and spikes are seen as
// before. tuneInnovRho is the lag-1 autocorrelation of a rate over five steps (five
// increments, four shared). Whitening every series (tried) lost NAB on both folds, and the lower
// the threshold the more false alarms at the steps of a weekly pattern that the weekly
// profile's 30-minute bins miss (BENCHMARKS.md).
func (m *Model) innovation(z float64) float64 {
	rho := m.rho()
	if rho < tuneInnovRho {
		return z
	}
	if zi := (z - rho*float64(m.lastZ)) / math.Sqrt(1-rho*rho); math.Abs(zi) < math.Abs(z) {
		return zi
	}
	return z
}

// rho is the residuals' learned lag-1 autocorrelation, in [0, tuneMaxRho] (0 before any is
// learned).
func (m *Model) rho() float64 {
	if m.zz <= 0 {
		return 0
	}
	return min(max(float64(m.zlag/m.zz), 0), tuneMaxRho)
}

// burstOrDrop is the reason of a sudden change: a drop downwards, a spike upwards (score).
func burstOrDrop(down bool) Reason {
	if down {
		return ReasonLevelShift
	}
	return ReasonSpike
}

// jump judges a sudden lasting change: a first difference beyond the largest of the last
// week or so (by tuneJumpTol of it), landing off the baseline (z; a jump back to it is a
// recovery), after which the series stays beyond that much of the value before it. It is
// evidence from the second sample on the far side, for up to tuneShiftMinAge, as a value beyond
// the range seen is (spatial): a CPU that halves in one step while its wander alone moves it
// by as much within hours. A single sample beyond it and back (a glitch) is not judged: that
// is the point channels' to judge. Judged from a day after the largest step started learning.
// It also returns the evidence of this sample's own step when that is beyond the largest (0
// otherwise), for the hold of an extreme sample (see score).
func (m *Model) jump(ts int64, v, z float64, ready bool) (X, step float64) {
	d := v - m.lastV
	ad := math.Abs(d)
	if m.jumpX > 0 {
		if m.step > 0 && ts-m.jumpAt > int64(tuneShiftMinAge) || (v-m.jumpFrom)*math.Copysign(1, float64(m.jumpD)) < float64(m.jumpLim) {
			m.jumpX = 0 // over, or back
		} else {
			X = float64(m.jumpX)
		}
	}
	if m.jumpMax == 0 {
		m.jumpSince = ts // learning starts (a new model, or one restored from a snapshot without it)
	}
	if j := float64(m.jumpMax); ready && ts-m.jumpSince >= dayNS && math.Abs(z) > tuneSpatialZ && ad > (1+tuneJumpTol)*j && ad > m.quantum {
		m.jumpX = float32(beyondSeen(ad/j - 1 - tuneJumpTol))
		m.jumpFrom, m.jumpD, m.jumpLim, m.jumpAt = m.lastV, float32(d), float32((1+tuneJumpTol)*j), ts
		step = float64(m.jumpX)
	}
	m.jumpMax = float32(max(float64(m.jumpMax)*(1-1/tuneLongSamples), ad))
	return X, step
}

// beyondSeen is the evidence (-log10 p) of a value, or a step, beyond the largest seen by the
// given multiple of it past the tolerance: as in HTM's spatial anomalies. At most 1000, as the
// other channels (a range of 1e-300 seen before a value of 1 is no more evidence than that, and
// an infinite one made the score NaN).
func beyondSeen(multiple float64) float64 { return min(tuneSpatialX+tuneSpatialSlope*multiple, 1000) }

// volatility is a CUSUM of the log-likelihood ratio of a rise of the noise's variance by
// tuneVolRatio. The noise is seen in the first differences d of the series, which a wander (a
// random walk, a rate over a window longer than the step) hardly moves, and judged against
// their learned mean square at that time of day (per 15 minutes, like the scale: a series
// that is noisier at its peak is not news at its peak). Each difference adds the log of the ratio of
// its likelihoods under the raised and the learned variance (d² clipped at tuneVolClip² times
// the learned mean square, so that one outlier or a sharp edge of the pattern weighs as much
// as a few noisy samples at most); the sum restarts at 0 whenever the learned variance is the
// likelier, and is capped at tuneVolCap. Under the learned variance it stays small, and a
// tripled noise raises it by about 0.45 a sample. Each 15 minutes learn only while they last
// (renewing a share of themselves per visit, as the scale does), so a lasting change of the
// noise stays news at every new time of day until it has been seen there; and not while the
// channel suspects a young change (see suspectsVolatility).
func (m *Model) volatility(ts localNS, d, norm float64) (cusum float32, u float64) {
	fl := m.floor() / norm
	pd, pw := &m.diffScale[dayScaleSlot(ts)], &m.diffWeek[weekScaleSlot(ts)]
	od, ow := logGet(*pd), logGet(*pw)
	ref := max(od, ow, fl*fl)
	w := min(d*d/ref, tuneVolClip*tuneVolClip)
	hold := m.suspectsVolatility()
	learn := func(p *uint16, old, rate float64) {
		if old == 0 {
			// First visit: start from the residuals' spread, above what the differences of a
			// wandering series show, so that learning moves down, not up into false alarms.
			logSet(p, max(d*d, 2*m.spread*m.spread/(norm*norm)))
		} else if !hold {
			logSet(p, old+rate*(min(d*d, tuneVolClip*tuneVolClip*max(old, fl*fl))-old))
		}
	}
	learn(pd, od, m.rates.dayScale)
	learn(pw, ow, m.rates.weekScale)
	const r = tuneVolRatio
	llr := 0.5*(1-1/r)*w - halfLnVolRatio
	if od == 0 {
		// No reference at this time of day yet (a new model's first day, or a model restored
		// from a snapshot older than the channel): no evidence either way.
		llr = 0
	}
	// Clipped differences of one sign in a row are a ramp or an edge of the pattern, not noise.
	side := int8(0)
	if w >= tuneVolClip*tuneVolClip {
		side = int8(math.Copysign(1, d))
		if side == m.volSide {
			llr = 0
		}
	}
	m.volSide = side
	if od > 0 {
		u = d / math.Sqrt(ref)
	}
	m.volS = float32(min(max(0, float64(m.volS)+llr), tuneVolCap))
	m.volM += tuneShortAlpha * (float32(llr) - m.volM)
	if m.volS == 0 {
		m.volN = 0
	} else if m.volN < math.MaxUint16 {
		m.volN++
	}
	return m.volS, u
}

// halfLnVolRatio is ln(tuneVolRatio)/2 (volatility: math.Log is not folded at compile time).
var halfLnVolRatio = 0.5 * math.Log(tuneVolRatio)

// steps judges a series that moves step after step the same way beyond its own step noise:
// a rate over a window falling as the window fills with a drop (rate(x[10m]) halves over ten
// steps, each a small share of the band around a wandering baseline but many times its usual
// step), or a random walk that breaks away. u is the first difference standardised by its
// learned spread at this time of day (see volatility). A two-sided CUSUM counts each step as
// at most tuneStepClip sigmas, less an allowance of tuneStepK: one step beyond the allowance
// (an edge of the pattern, a spike and its return) adds little, a run of them adds up. Its two
// sides are kept as one signed sum (the up side's if positive, the down side's if negative: a
// step that starts the other side ends this one but for the rare step between, which keeps
// the larger), in 1/64 sigma up to tuneStepCap. The CUSUM is judged by its own tail, from a day
// after the warm-up and 2·tuneCalMinSamples samples (the tail has learned the series' own runs
// by then: tweets rise in bursts of several steps).
func (m *Model) steps(ts int64, u float64) float64 {
	uc := min(max(u, -tuneStepClip), tuneStepClip)
	s := float64(m.stepS) / 64
	pos := max(0, max(s, 0)+uc-tuneStepK)
	neg := max(0, max(-s, 0)-uc-tuneStepK)
	if pos >= neg {
		s = min(pos, tuneStepCap)
	} else {
		s = -min(neg, tuneStepCap)
	}
	m.stepS = int16(math.Round(s * 64))
	if m.stepN < math.MaxUint16 {
		m.stepN++
	}
	X := m.stepTail.judge(float32(math.Abs(s)), uint32(m.stepN))
	if ts-m.first < int64(m.spec.warmUp)+dayNS || m.stepN < 2*tuneCalMinSamples {
		return 0
	}
	return X
}

// suspectsVolatility reports whether the volatility channel suspects a raised noise that is
// still young: its CUSUM above tuneVolSuspect, having left 0 less than tuneVolSuspectFor ago.
// The references of the first differences do not learn meanwhile: learning from the change
// as it is judged (a third of a slot's reference renewed within its quarter of an hour) wore
// its evidence down before it had lasted an hour. A lasting change is learned once it is
// older, at the usual pace; a series without a known step learns always. Before two weeks of
// history the references are not trusted to hold one: each hour of the week has been seen
// once at most (a second weekend, quieter than the weekdays the daily references learned, is
// not a raised noise to hold on to).
func (m *Model) suspectsVolatility() bool {
	return m.volS > tuneVolSuspect && m.step > 0 && int64(m.volN)*m.step < int64(tuneVolSuspectFor) &&
		m.last-m.first >= twoWeeksNS
}

// learnSlowDrift moves each candidate's slow drift and returns the one judged. The slow drift
// is the residual around the candidate's slow level (plus any confirmed shift of at least
// tuneWanderShift sigmas the slow level has not caught up with: the smaller ones are the
// wander, or the steps of a leak), in sigmas, averaged over tuneSlowDriftTau of wall time (a
// step without a sample counts as one step: it carries no evidence). The fast level follows a
// lasting drop or a ramp within the hour, the slow level does not. The published candidate's
// is judged, or the weekly one's while that is a plausible alternative (see zs in update) and
// the nearer to normal.
//
// Each residual is clipped, so that one outlier moves the mean by little: at tuneClip sigmas
// (as for learning), or at tuneClip times tuneSlowDriftClip root mean squares of the slow drift
// where that is wider. A series whose wander is as large as its sample noise (a request rate
// seen through rate(x[1m])) has a slow drift of about one sigma when all is well: clipped at
// 3 sigmas, its mean could never read more than 3 of its own spreads, however far a ramp or a
// flattening took the series (an outlier then moves it by 6 sigmas over 90 samples: a
// fifteenth of its spread).
func (m *Model) learnSlowDrift(v, s float64, trS, prof *[numCand]float64) float64 {
	a, is := m.rates.slowDrift, 1/s
	lim := tuneClip * max(1, tuneSlowDriftClip*math.Sqrt(float64(m.slowVar)))
	for i := range m.slowDrift {
		r := min(max((v-m.slows[i]-float64(m.unabsorbed[i])-trS[i]-prof[i])*is, -lim), lim)
		m.slowDrift[i] += float32(a * (r - float64(m.slowDrift[i])))
	}
	c := m.cand
	slow := float64(m.slowDrift[c])
	if w, ok := m.bestWeekly(); ok && !isWeekly(c) && m.errs[w] < tuneAltErr*m.errs[c] && math.Abs(float64(m.slowDrift[w])) < math.Abs(slow) {
		slow = float64(m.slowDrift[w])
	}
	return slow
}

// slowDriftEvidence judges the slow drift (see learnSlowDrift): -log10 of its tail
// probability, 0 while it is not judged.
//
// The slow drift is standardised by its learned mean square, but no less than independent
// residuals would give (a series whose residuals sit still between rare events, such as a
// mostly-zero count, is not held to the precision of its quiet spells), and judged by its
// own tail. Both are learned only from tuneSlowDriftLearnAfter after the warm-up, once the
// profiles the drift is measured against have settled, and judged from a day after that:
// learned from the first days, they would be too wide for later and too quick to alarm once
// they narrow. The mean square learns from at most tuneClip² of itself, so that a drift
// does not teach it that drifts are normal. Its tail, likewise, learns proportionally less
// from values beyond 10^-tuneSlowDriftTeach than the other channels' tails do from theirs (from
// 10^-tuneTailTeach): a value of the slow drift is a mean of the last hour or two, so a lasting
// failure is a hundred such values in a row, and taught at the usual rate they widened the
// tail by half within three hours of a halved count (the score fell while the failure lasted).
// When it is judged: see judgesSlowDrift.
func (m *Model) slowDriftEvidence(ts int64, slow float64, ready bool) float64 {
	if !ready || ts-m.first < int64(m.spec.warmUp)+tuneSlowDriftLearnAfter {
		return 0
	}
	m.slowN++
	ref := max(float64(m.slowVar), m.rates.slowDriftFloor)
	X := 0.0
	if m.slowVar > 0 {
		x := m.slowTail.judgeTeaching(float32(min(log10Tail2(math.Abs(slow)/math.Sqrt(ref)), 50)), m.slowN, tuneSlowDriftTeach)
		if m.judgesSlowDrift(ts) {
			X = x
		}
	}
	a := 1 / min(float64(m.slowN), tuneLongSamples)
	m.slowVar += float32(a * (min(slow*slow, tuneClip*tuneClip*ref) - float64(m.slowVar)))
	return X
}

// judgesSlowDrift reports whether the slow drift is judged at ts: from a day after it started
// learning (see slowDriftEvidence), on a series with a known step; not for a day after a
// re-levelling by more than tuneClip sigmas (the re-levelled model relearns its level and its
// pattern meanwhile: a tripled series has a tripled pattern), while a smaller one is the
// series' wander being followed (a random walk is re-levelled several times a day, which
// silenced the channel for good); nor, on a series that may have a weekly pattern, before two
// weeks of history (until the weekly candidates have been judged, a weekend is a drift).
func (m *Model) judgesSlowDrift(ts int64) bool {
	if m.step <= 0 || int64(m.slowN)*m.step < tuneSlowDriftJudgeAfter {
		return false
	}
	if m.bigShiftAt != 0 && ts-m.bigShiftAt < tuneSlowDriftJudgeAfter {
		return false
	}
	return m.spec.cfg.Weekly == Off || ts-m.first >= twoWeeksNS
}

// logGet and logSet keep a positive value in 16 bits: its base-2 logarithm in steps of 1/256
// (0.27%), from 2^-128 to 2^128; 0 is unset (logGet returns 0).
func logGet(q uint16) float64 {
	if q == 0 {
		return 0
	}
	// 2^((q-32768)/256) as math.Exp2 computes it (TestLogGetIsExp2 checks every q): the
	// fraction's power from a table, the whole power of two exactly (q's range stays within
	// normal floats).
	i := int(q) - 32768
	return exp2Frac[i&255] * math.Float64frombits(uint64(1023+(i>>8))<<52)
}

// exp2Frac holds 2^(j/256) for j = 0..255 (logGet).
var exp2Frac = func() (t [256]float64) {
	for j := range t {
		t[j] = math.Exp2(float64(j) / 256)
	}
	return t
}()

func logSet(q *uint16, v float64) {
	if !(v > 0) {
		*q = 1
		return
	}
	// A normal v = f·2^e, f in [1, 2), is stored as 256e plus the thresholds 2^((k+1/2)/256)
	// at or below f: those below the start of the 512th of [1, 2) that f is in, from a table,
	// and the one within it, if any (a 512th is narrower than the gap between two). Within
	// 2^-40 of a threshold, and for subnormal or infinite v, as math.Log2 computes it (its
	// rounding error is far smaller): TestLogSetIsLog2 checks both to the bit. math.Log2 was
	// 4% of Update.
	b := math.Float64bits(v)
	e := int64(b >> 52)
	if e == 0 || e == 0x7ff {
		logSetExact(q, v)
		return
	}
	mant := b & (1<<52 - 1)
	j := uint64(logSetBins[mant>>43])
	if j < 256 && logSetThr[j] <= mant {
		j++
	}
	const margin = 1 << 12 // 2^-40 of f
	if j > 0 && mant-logSetThr[j-1] < margin || j < 256 && logSetThr[j]-mant < margin {
		logSetExact(q, v)
		return
	}
	*q = uint16(min(max((e-1023)*256+int64(j)+32768, 1), math.MaxUint16))
}

// logSetExact is logSet through math.Log2.
func logSetExact(q *uint16, v float64) {
	*q = uint16(min(max(math.Round(math.Log2(v)*256)+32768, 1), math.MaxUint16))
}

// logSetThr holds the mantissas (the 52 bits below the leading 1) of 2^((k+1/2)/256) for k =
// 0..255, where round(256·log2 f) steps from k to k+1; logSetBins, for each 512th of [1, 2), the
// thresholds below its start (logSet).
var logSetThr, logSetBins = func() (thr [256]uint64, bins [512]uint16) {
	for k := range thr {
		thr[k] = math.Float64bits(math.Exp2((float64(k)+0.5)/256)) & (1<<52 - 1)
	}
	for i := range bins {
		n := 0
		for n < 256 && thr[n] < uint64(i)<<43 {
			n++
		}
		bins[i] = uint16(n)
	}
	return thr, bins
}()

// learnPatternFit tracks, over about the last hour, the regression of the published residual e
// on the profile in use p (its mean is re-centred to zero daily): a residual that is minus the
// pattern (the pattern flattened) or a shifted copy of it (late) correlates with it.
func (m *Model) learnPatternFit(e float64, c uint8, p float64) {
	if c == candNone {
		m.patEP, m.patPP, m.patEE = 0, 0, 0
		return
	}
	a := float32(m.rates.pattern)
	m.patEP += a * (sat32(e*p) - m.patEP)
	m.patPP += a * (sat32(p*p) - m.patPP)
	m.patEE += a * (sat32(e*e) - m.patEE)
}

// sat32 is x as a float32, saturated at ±1e37: squares of values in the series' units
// overflow a float32 beyond about 1e19 (and then turned the state NaN).
func sat32(x float64) float32 { return float32(min(max(x, -1e37), 1e37)) }

// patternFollows reports whether the recent residuals follow the pattern's shape: they
// explain at least half their own variance by a negative multiple of it, and the pattern
// moved meanwhile by more than the residuals' noise.
func (m *Model) patternFollows() bool {
	if m.patPP <= 0 || m.patEE <= 0 {
		return false
	}
	beta := m.patEP / m.patPP
	return beta < 0 && m.patEP*m.patEP >= 0.5*m.patPP*m.patEE && float64(m.patPP) > m.spread*m.spread
}

// stuck judges the current run of identical values by how often the series repeats itself:
// -log10 of the probability of a run at least this long, from how often a value repeated the
// previous one after a change and how often a repeat went on (counts over the last
// tuneLongSamples samples). They are kept separately for the
// series' floor (its minimum: zero for counts) and for other values, so that a sparse series'
// runs of zeros stay normal while a stuck non-zero value does not. While the model learns (not
// ready), every run teaches, so a series that is constant from the start is normal; later a
// run longer than any completed before teaches nothing, so a stuck series never learns that
// being stuck is normal.
func (m *Model) stuck(v float64, ready bool) float64 {
	c := 0
	if v <= m.vMin {
		c = 1
	}
	rep := v == m.lastV
	k := 0 // after a change
	if m.run > 0 {
		k = 1 // after a repeat
	}
	keep := float32(1 - 1/tuneLongSamples)
	for i := range m.repTrials {
		for j := range m.repTrials[i] {
			m.repTrials[i][j] *= keep
			m.repHits[i][j] *= keep
		}
	}
	if !ready || m.run <= m.maxRun {
		m.repTrials[c][k]++
		if rep {
			m.repHits[c][k]++
		}
	}
	if !rep {
		m.maxRun = max(m.maxRun, m.run)
		m.run = 0
		return 0
	}
	m.run = min(m.run+1, math.MaxUint16)
	if m.vMin == m.vMax {
		return 0 // a series that has only ever had one value is not stuck, it is constant
	}
	if m.step > 0 && int64(m.run)*m.step < int64(tuneStuckMinAge) {
		return 0 // a value held for less than a few minutes is not stuck yet, however fast the step
	}
	// The chance of the first repeat, and of run-1 more in a row: Beta-binomial predictive
	// probabilities, so that a chance learned from few runs is not taken as certain (a series
	// constant since its start stays unremarkable).
	// The continuation's prior is centred on the chance of a first repeat (with the weight
	// of two observations): a series that hardly repeats is not assumed to stay stuck once it
	// repeats.
	h0, t0 := float64(m.repHits[c][0]), float64(m.repTrials[c][0])
	h1, t1 := float64(m.repHits[c][1]), float64(m.repTrials[c][1])
	p0 := (h0 + 1) / (t0 + 2)
	a, b := 2*p0, 2*(1-p0)
	more := float64(m.run - 1)
	lg := func(x float64) float64 { y, _ := math.Lgamma(x); return y }
	lp := math.Log(p0) + lg(h1+a+more) - lg(h1+a) - lg(t1+a+b+more) + lg(t1+a+b)
	return min(-lp/math.Ln10, 1000)
}

// zeros judges a run of zeros in a series of counts: non-negative integers (every sample so
// far) at a low level (errors, jobs or requests a minute), where a zero is an ordinary
// outcome and a run of them is not. Its evidence is -log10 of the chance of the run's last
// half hour or so (tuneZerosTau): the product of each zero's chance under the baseline's
// expected count, older zeros counting less. The counts are taken as negative binomial with
// the baseline as their mean and the variance the series shows around it (its dispersion D,
// the mean squared residual over the mean expected count, learned over about a week): a
// zero's chance is D^(-λ/(D-1)), e^-λ for Poisson counts (D ≤ 1), and much more for bursty
// ones (tweets a minute), so that a series whose baseline misses a lot is not taken as sure of
// its counts. Judging the recent run rather than the whole of it keeps long runs of zeros
// between clustered events normal (a baseline at their mean gives each zero a chance just
// under 1, and hundreds of them in a row a small one). A drop to zero where 3 errors a minute
// are expected is about 10^-5 in four samples, where the other channels need tens of minutes
// to tell it from the noise of a Poisson count (its spread is the level's square root); above
// tuneCountMax they see a zero at once (5 sigmas and more off), and the channel is left out.
func (m *Model) zeros(ts int64, v, base, e float64, dt int64) float64 {
	if m.spec.cfg.Log || v < 0 || v != math.Trunc(v) || v > 1<<53 {
		m.flags |= flagNotCount // (every float64 beyond 2^53 is an integer: that says nothing)
	}
	if m.flags&flagNotCount != 0 {
		return 0
	}
	lam := max(base, 0)
	if m.justRelevelled(ts) {
		// Soon after a re-levelling, the level from before it is still normal (as in update):
		// zeros after a burst that re-levelled the series are its end.
		lam = max(min(lam, base-float64(m.lastShift)), 0)
	}
	a := float32(1 / min(float64(m.n), tuneLongSamples))
	m.countE2 += a * (sat32(e*e) - m.countE2)
	m.countLam += a * (sat32(lam) - m.countLam)
	if v != 0 {
		m.zeroRun = 0
		return 0
	}
	if !m.lowCounts() {
		return 0
	}
	nats := lam // -ln of a zero's chance
	if d := float64(m.countE2 / max(m.countLam, 1e-9)); d > 1 {
		nats = lam * math.Log(d) / (d - 1)
	}
	m.zeroRun = m.zeroRun*float32(math.Exp(-float64(dt)/tuneZerosTau)) + float32(nats)
	return min(float64(m.zeroRun)/math.Ln10, 1000)
}

// lowCounts reports whether the series is one of counts (no sample so far was negative or
// not an integer) whose level is at most tuneCountMax: Poisson-like noise of a size with the
// level's square root, where one sample says little of the level.
func (m *Model) lowCounts() bool {
	return m.flags&flagNotCount == 0 && m.slows[m.cand] <= tuneCountMax
}

// tailQLevel is -log10 of the tail probability at the tail fit's threshold (1 - tuneTailQ),
// computed once: math.Log10 of a constant is not folded by the compiler, and every tail fit
// of every update needs it.
var tailQLevel = -math.Log10(1 - tuneTailQ)

// tailFit is a streaming peaks-over-threshold fit of a value's upper tail (as in SPOT): its
// 90% quantile u, and a generalised Pareto distribution of the excesses over u fitted by the
// method of moments (mean excess and mean squared excess). Light tails come out exponential
// (shape 0: the surprisal of Gaussian noise), heavy ones (Student-t noise, bursts) with a
// positive shape, so that the rarity of extreme values is not overstated.
type tailFit struct{ u, excess, excess2 float32 }

// shape and scale of the fitted generalised Pareto distribution.
func (t *tailFit) gpd() (xi, sigma float64) {
	m1, m2 := float64(t.excess), float64(t.excess2)
	v := m2 - m1*m1
	if v <= m1*m1 {
		return 0, m1 // lighter than exponential: taken as exponential
	}
	r := m1 * m1 / v
	xi = min(0.5*(1-r), tuneTailMaxShape)
	return xi, 0.5 * m1 * (1 + r)
}

// level is -log10 of the tail probability of x under the exponential tail of the mean
// excess: sensitive, and what the score uses.
func (t *tailFit) level(x float32) float64 {
	if x <= t.u {
		return tailQLevel * float64(x/t.u)
	}
	return tailQLevel + float64(x-t.u)/float64(t.excess)/math.Ln10
}

// extreme is -log10 of the tail probability of x under the generalised Pareto fit: it does not
// overstate the rarity of the outliers of heavy-tailed noise.
func (t *tailFit) extreme(x float32) float64 {
	xi, sigma := t.gpd()
	if x <= t.u || xi < 1e-3 {
		return t.level(x)
	}
	return tailQLevel + math.Log10(1+xi*float64(x-t.u)/sigma)/xi
}

// judge returns -log10 of the tail probability of x, and then learns from x.
func (t *tailFit) judge(x float32, n uint32) float64 { return t.judgeTeaching(x, n, tuneTailTeach) }

// judgeTeaching is judge, with values more surprising than teach (-log10 p) teaching the tail
// proportionally less.
func (t *tailFit) judgeTeaching(x float32, n uint32, teach float64) float64 {
	if t.u == 0 && t.excess == 0 {
		// Start from the values of Gaussian residuals.
		t.u, t.excess, t.excess2 = 1, 0.5, 0.5
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
		w := eta / (1 - tuneTailQ) * float32(min(1, teach/X))
		t.excess += w * (ex - t.excess)
		t.excess2 += w * (ex*ex - t.excess2)
		t.u += tuneTailQ / (1 - tuneTailQ) * eta * t.excess
	} else {
		t.u -= eta * t.excess
	}
	t.u = max(t.u, 0.01)
	t.excess = max(t.excess, tuneTailMin)
	t.excess2 = max(t.excess2, t.excess*t.excess)
	return X
}

// log10Tail2 is -log10(2Q(z)) for z >= 0, without underflow for large z. Below tail2Max it
// is read from a table (tail2Table), within 1e-12 of the exact value (TestHermiteTables):
// three calls of math.Erfc and math.Log10 were a sixth of Update's time.
func log10Tail2(z float64) float64 {
	if z < tail2Max {
		return tail2Table.at(z)
	}
	return log10Tail2Exact(z)
}

// log10Tail2Exact is log10Tail2 computed directly.
func log10Tail2Exact(z float64) float64 {
	if z < 8 {
		return log10Tail2Erfc(z)
	}
	return (z*z/2 + math.Log(z*math.Sqrt(math.Pi/2))) / math.Ln10
}

// log10Tail2Erfc is -log10(2Q(z)) by math.Erfc (it underflows beyond z of about 37).
func log10Tail2Erfc(z float64) float64 { return -math.Log10(math.Erfc(z / math.Sqrt2)) }
