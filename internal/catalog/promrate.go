package catalog

// Prometheus' rate(), ported so that the counter-rate kinds are what a user's
// `rate(x[5m])` at a 1-minute step really returns: extrapolatedRate from
// prometheus/prometheus promql/functions.go (float samples, isCounter and isRate true, no
// offset, no anchored/smoothed modifiers, no created timestamps), with the range selector of
// Prometheus 3 (samples in (t-range, t]). Prometheus 2.x selected [t-range, t]; the catalogue's
// scrape times never fall on a range boundary, so both give the same samples. The one other
// difference from 2.x (the order of the zero-point and the extrapolation-threshold checks at
// the start of a series) only matters for a window that holds the first sample of the series,
// which the catalogue never scores.

// sample is a float sample as Prometheus stores it: a millisecond timestamp and a value.
type sample struct {
	T int64 // milliseconds
	F float64
}

// extrapolatedRate is Prometheus' rate() of the samples selected by a range of rangeMS
// milliseconds ending at evalMS. It returns false when there are fewer than two samples (the
// series then has no rate at that time).
func extrapolatedRate(samples []sample, evalMS, rangeMS int64) (float64, bool) {
	if len(samples) < 2 {
		return 0, false
	}
	rangeStart := evalMS - rangeMS
	rangeEnd := evalMS
	numSamplesMinusOne := len(samples) - 1
	firstT := samples[0].T
	lastT := samples[numSamplesMinusOne].T
	resultFloat := samples[numSamplesMinusOne].F - samples[0].F
	// Handle counter resets.
	for i, curr := range samples[1:] {
		if curr.F < samples[i].F {
			resultFloat += samples[i].F
		}
	}

	// Duration between first/last samples and boundary of range.
	durationToStart := float64(firstT-rangeStart) / 1000
	durationToEnd := float64(rangeEnd-lastT) / 1000

	sampledInterval := float64(lastT-firstT) / 1000
	averageDurationBetweenSamples := sampledInterval / float64(numSamplesMinusOne)

	// Extrapolate to a boundary when the first/last sample is within 110% of the average
	// interval of it, else by half an average interval.
	extrapolationThreshold := averageDurationBetweenSamples * 1.1
	if durationToStart >= extrapolationThreshold {
		durationToStart = averageDurationBetweenSamples / 2
	}
	// Counters cannot be negative: do not extrapolate below the counter's zero point.
	durationToZero := durationToStart
	if resultFloat > 0 && samples[0].F >= 0 {
		durationToZero = sampledInterval * (samples[0].F / resultFloat)
	}
	if durationToZero < durationToStart {
		durationToStart = durationToZero
	}

	if durationToEnd >= extrapolationThreshold {
		durationToEnd = averageDurationBetweenSamples / 2
	}

	factor := (sampledInterval + durationToStart + durationToEnd) / sampledInterval
	factor /= float64(rangeMS) / 1000
	return resultFloat * factor, true
}

// rates evaluates rate(x[rangeMS]) at evalMS[0], evalMS[1], ... (increasing) over the scraped
// counter samples (increasing timestamps). It stops at the first evaluation time with no rate
// once the samples have ended (a vanished series); times before the first rate are an error of
// the caller (the counter must start at least a range before the first evaluation).
func rates(samples []sample, evals []int64, rangeMS int64, dst []float64) []float64 {
	lo, hi := 0, 0
	for _, t := range evals {
		for hi < len(samples) && samples[hi].T <= t {
			hi++
		}
		for lo < hi && samples[lo].T <= t-rangeMS {
			lo++
		}
		r, ok := extrapolatedRate(samples[lo:hi], t, rangeMS)
		if !ok {
			break
		}
		dst = append(dst, r)
	}
	return dst
}
