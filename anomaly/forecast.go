package anomaly

import (
	"math"
	"time"
)

// Forecast returns the point forecast h after the last sample, with a 95% prediction interval
// learned from the model's own past errors at the configured horizons (interpolated between
// them; before any error was observed, widened from the one-step scale).
func (m *Model) Forecast(h time.Duration) Forecast {
	if m.n == 0 || h < 0 {
		nan := math.NaN()
		return Forecast{Horizon: h, Value: nan, Lower: nan, Upper: nan}
	}
	ts := m.last + int64(h)
	v := m.baselineAt(ts)
	half := tuneIntervalZ * sigmaPerMAD * m.horizonMAE(ts, int64(h))
	return Forecast{Horizon: h, Value: m.out(v), Lower: m.out(v - half), Upper: m.out(v + half)}
}

// Forecasts appends the forecasts at the configured horizons to dst.
func (m *Model) Forecasts(dst []Forecast) []Forecast {
	for _, h := range m.spec.horizons {
		dst = append(dst, m.Forecast(h))
	}
	return dst
}

// Path appends n forecasts spaced every step after the last sample to dst (for charts).
func (m *Model) Path(dst []Forecast, step time.Duration, n int) []Forecast {
	for i := 1; i <= n; i++ {
		dst = append(dst, m.Forecast(time.Duration(i)*step))
	}
	return dst
}

// BreachETA returns how long after the last sample the point forecast first reaches threshold
// from below, looking at most `within` ahead: threshold is an upper limit (disk usage, latency,
// queue length). A series whose last value is at or above it has ETA 0. ok is false when no
// crossing is forecast in that time.
func (m *Model) BreachETA(threshold float64, within time.Duration) (eta time.Duration, ok bool) {
	return m.eta(threshold, within, true)
}

// DropETA is BreachETA for a lower limit (free space, throughput): the time until the forecast
// first reaches threshold from above; 0 for a series at or below it.
func (m *Model) DropETA(threshold float64, within time.Duration) (eta time.Duration, ok bool) {
	return m.eta(threshold, within, false)
}

func (m *Model) eta(threshold float64, within time.Duration, upper bool) (time.Duration, bool) {
	if m.n == 0 || within <= 0 || math.IsNaN(threshold) {
		return 0, false
	}
	past := func(v float64) bool { return (upper && v >= threshold) || (!upper && v <= threshold) }
	if past(m.out(m.lastV)) {
		return 0, true
	}
	// Probe at the model's step (at least 1/512 of the window): O(512) at most.
	probe := max(time.Duration(m.step), within/512, time.Minute)
	prev := m.out(m.baselineAt(m.last))
	for d := probe; d <= within; d += probe {
		v := m.out(m.baselineAt(m.last + int64(d)))
		if past(v) {
			// Refine linearly inside the last probe interval.
			if v != prev && !past(prev) {
				f := (threshold - prev) / (v - prev)
				return d - probe + time.Duration(f*float64(probe)), true
			}
			return d, true
		}
		prev = v
	}
	return 0, false
}

// horizonMAE is the expected mean absolute error of a forecast dh ahead.
func (m *Model) horizonMAE(ts, dh int64) float64 {
	one := m.scaleAt(m.spec.local(ts)) / sigmaPerMAD
	prevH, prevE := int64(0), one
	for i, h := range m.spec.horizons {
		hs := &m.horizons[i]
		if hs.count < 3 {
			continue
		}
		e := max(float64(hs.mae), one)
		if dh <= int64(h) {
			f := float64(dh-prevH) / float64(int64(h)-prevH)
			return prevE + f*(e-prevE)
		}
		prevH, prevE = int64(h), e
	}
	// Beyond the last learned horizon: grow with the square root of time.
	if prevH == 0 {
		steps := 1.0
		if m.step > 0 {
			steps = max(float64(dh)/float64(m.step), 1)
		}
		return one * math.Sqrt(1+0.05*steps)
	}
	return prevE * math.Sqrt(float64(dh)/float64(prevH))
}

// learnHorizons scores the model's own earlier forecasts that have come due, and issues new
// ones, so that interval widths are learned from real errors at each horizon. Two forecasts
// per horizon are outstanding at most: O(horizons) work and bounded state.
func (m *Model) learnHorizons(ts int64, v float64, ready bool) {
	tol := max(m.step*3/2, int64(time.Minute))
	for i, h := range m.spec.horizons {
		hs := &m.horizons[i]
		for j := range hs.target {
			t := hs.target[j]
			if t == 0 || t > ts {
				continue
			}
			if ts-t <= tol {
				pred := hs.pred[j]
				if m.flags&flagTrend != 0 {
					pred += hs.trendPart[j]
				}
				e := float32(math.Abs(v - float64(pred)))
				if i == len(m.spec.horizons)-1 {
					m.learnTrendEvidence(v, hs.pred[j], hs.trendPart[j])
				}
				if hs.count < 10 {
					hs.mae += (e - hs.mae) / float32(hs.count+1)
				} else {
					hs.mae += tuneHorizonAlpha * (e - hs.mae)
				}
				if hs.count < math.MaxUint16 {
					hs.count++
				}
			}
			hs.target[j] = 0
		}
		if ts-hs.issued < int64(h)/pendingPerH || !ready {
			continue
		}
		for j := range hs.target {
			if hs.target[j] == 0 {
				hs.target[j] = ts + int64(h)
				// Issued from this sample's time (m.last still holds the previous one), in
				// the model's space, as v is.
				hs.pred[j] = float32(m.flatFrom(ts, ts+int64(h)))
				if m.spec.cfg.Trend != Off {
					hs.trendPart[j] = float32(m.trends[m.cand] * m.trendSum(int64(h)))
				}
				hs.issued = ts
				break
			}
		}
	}
}

// baselineFrom is the expectation at ts with the damped trend (when in use) extrapolated
// from origin.
func (m *Model) baselineFrom(origin, ts int64) float64 {
	b := m.flatFrom(origin, ts)
	if m.flags&flagTrend != 0 && ts > origin {
		b += m.trends[m.cand] * m.trendSum(ts-origin)
	}
	return b
}

// learnTrendEvidence compares the errors of the longest-horizon forecasts with and without
// the trend's part.
func (m *Model) learnTrendEvidence(v float64, flat, trend float32) {
	ef := float32(math.Abs(v - float64(flat)))
	et := float32(math.Abs(v - float64(flat+trend)))
	if m.errFlat == 0 {
		m.errFlat, m.errTrend = ef, et
		return
	}
	m.errFlat += tuneTrendEvidenceAlpha * (ef - m.errFlat)
	m.errTrend += tuneTrendEvidenceAlpha * (et - m.errTrend)
}

// flatFrom is the expectation at ts without the trend: the fast level reverting to the slow
// one, plus the profile in use.
func (m *Model) flatFrom(origin, ts int64) float64 {
	c := m.cand
	b := m.levels[c]
	if c != candNone {
		if ts > origin {
			// Ahead of the last sample the fast level reverts to the slow one (both exclude the
			// profile in use): short-lived excursions are not extrapolated for days.
			slow := m.slows[c]
			b = slow + (b-slow)*math.Exp(-float64(ts-origin)/tuneRevertTau)
		}
		b += m.profiles(m.spec.local(ts))[c]
	}
	return b
}
