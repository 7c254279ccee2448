package anomaly

// channelTrace is what score made of one sample, channel by channel: the engine's developers'
// view of why a score is what it is (which channel carried it, which one stayed silent, and the
// state it was judged against). It is only filled in builds with the kizashitrace tag, where it
// is exported as Trace (see trace_on.go); in other builds tracing is a constant false and the
// code that fills it compiles away, so Update costs the same.
type channelTrace struct {
	// Time of the sample (ns since the epoch) and its value.
	Time  int64
	Value float64
	// Each channel's evidence, -log10 of its tail probability (see score): the short mean of
	// the residual's surprisal, the drift window, the mean |residual|, the run of identical
	// values, the run of zeros of a series of counts, the raised noise, the slow drift, the
	// sudden jump, the value beyond the range seen and the steps that add up (see steps).
	Spike, Drift, Spread, Stuck, Zeros, Noise, SlowDrift, Jump, Beyond, Steps float64
	// Sum is the first three channels' weighted sum before calibration; X the combined
	// evidence the score is X/(X+2.7) of, after the hold.
	Sum, X float64
	// The state they were judged against: the published candidate (0 none, 1 daily 15-minute,
	// 2 daily 5-minute, 3 weekly 30-minute, 4 weekly hourly), its fast and slow levels, the slow
	// drift in sigmas and its learned mean square, the volatility CUSUM (nats) and the scale
	// (one sigma of the residual at this time of day).
	Candidate           uint8
	Level, SlowLevel    float64
	SlowDriftSigmas     float64
	SlowDriftMeanSquare float64
	NoiseCUSUM          float64
	Unabsorbed          float64 // the published candidate's confirmed shift the slow level has not caught up with
	Shifts              uint32  // re-levellings so far
	Scale               float64
}
