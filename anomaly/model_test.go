package anomaly

import (
	"encoding"
	"encoding/binary"
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var t0 = time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC) // a Monday

// series generates n samples every step from f, with deterministic Gaussian noise.
func series(n int, step time.Duration, noise float64, f func(i int, t time.Time) float64) ([]time.Time, []float64) {
	rng := rand.New(rand.NewPCG(1, 2))
	ts := make([]time.Time, n)
	vs := make([]float64, n)
	for i := range n {
		ts[i] = t0.Add(time.Duration(i) * step)
		vs[i] = f(i, ts[i]) + noise*rng.NormFloat64()
	}
	return ts, vs
}

func dailySine(i int, t time.Time) float64 {
	h := float64(t.Hour()) + float64(t.Minute())/60
	return 100 + 20*math.Sin(2*math.Pi*h/24)
}

func run(t *testing.T, cfg Config, ts []time.Time, vs []float64) (*Model, []Result) {
	t.Helper()
	m, err := New(cfg)
	require.NoError(t, err)
	return m, m.UpdateAll(ts, vs, nil)
}

func TestDailySineLearnedWithinThreePeriods(t *testing.T) {
	const perDay = 288
	ts, vs := series(perDay*6, 5*time.Minute, 0.5, dailySine)
	m, rs := run(t, Config{}, ts, vs)
	require.True(t, m.Readiness().Daily, "daily seasonality detected")
	// From the fourth day on, the baseline follows the sine and the score stays low.
	var maxErr, maxScore float64
	over := 0
	for i := 3 * perDay; i < len(rs); i++ {
		maxErr = max(maxErr, math.Abs(rs[i].Baseline-dailySine(i, ts[i])))
		maxScore = max(maxScore, rs[i].Score)
		if rs[i].Score >= 0.5 {
			over++
		}
		require.True(t, rs[i].Lower <= rs[i].Baseline && rs[i].Baseline <= rs[i].Upper)
	}
	require.Less(t, maxErr, 3.5, "baseline within 3.5 (amplitude 20, noise 0.5)")
	// Calibration: on learned noise about 1e-3 of samples reach 0.5, 1e-4 or fewer 0.75.
	require.Less(t, maxScore, 0.75, "no alarm on a clean pattern")
	require.Less(t, over, 6, "rare crossings of 0.5 (%d samples)", 3*perDay)
	require.Less(t, rs[len(rs)-1].Upper-rs[len(rs)-1].Lower, 10.0, "band narrows to the noise")
}

func TestStepChangeScoresHighThenRelevels(t *testing.T) {
	const perDay = 288
	shiftAt := 3 * perDay
	ts, vs := series(perDay*5, 5*time.Minute, 1, func(i int, _ time.Time) float64 {
		if i >= shiftAt {
			return 80
		}
		return 50
	})
	m, rs := run(t, Config{}, ts, vs)
	var peak float64
	for i := shiftAt; i < shiftAt+3; i++ {
		peak = max(peak, rs[i].Score)
	}
	require.Greater(t, peak, 0.6, "a 30-sigma step is anomalous at once (alert threshold 0.5)")
	require.Greater(t, rs[shiftAt].Deviation, 10.0)
	// One re-levelling, or two when the first takes a 30-sigma step as at most 20 sigmas (the
	// shift is measured on residuals clipped as the spread's are, so one spike cannot throw it).
	require.GreaterOrEqual(t, m.Stats().LevelShifts, uint64(1))
	require.LessOrEqual(t, m.Stats().LevelShifts, uint64(2))
	// Re-levelled within a few samples, not days: an hour later the score is low again.
	for i := shiftAt + 12; i < len(rs); i++ {
		require.Less(t, rs[i].Score, 0.5, "sample %d after the shift", i-shiftAt)
	}
	require.InDelta(t, 80, rs[len(rs)-1].Baseline, 1.5)
}

func TestConstantSeriesNeverFires(t *testing.T) {
	for _, v := range []float64{0, 1, 42.5, -3, 1e9} {
		ts, vs := series(2000, time.Minute, 0, func(int, time.Time) float64 { return v })
		_, rs := run(t, Config{}, ts, vs)
		for i, r := range rs {
			require.Zero(t, r.Score, "value %g sample %d", v, i)
			require.Equal(t, v, r.Baseline)
		}
	}
}

func TestNearZeroCountsDoNotFireOnSingleUnits(t *testing.T) {
	// Mostly 0 with an occasional 1: the series' resolution keeps the band open.
	ts, vs := series(3000, time.Minute, 0, func(i int, _ time.Time) float64 {
		if i%97 == 0 {
			return 1
		}
		return 0
	})
	_, rs := run(t, Config{}, ts, vs)
	_, fired := fires(rs, 2000, len(rs))
	require.False(t, fired, "no alert")
	for i := 2000; i < len(rs); i++ {
		require.Less(t, rs[i].Score, 0.65, "sample %d", i)
	}
}

func TestNonFiniteAndOutOfOrderRejected(t *testing.T) {
	m, err := New(Config{})
	require.NoError(t, err)
	_, err = m.Update(t0, 1)
	require.NoError(t, err)
	before, err := m.MarshalBinary()
	require.NoError(t, err)
	for _, v := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		r, err := m.Update(t0.Add(time.Minute), v)
		require.ErrorIs(t, err, ErrNonFinite)
		require.Zero(t, r.Score)
	}
	_, err = m.Update(t0, 2)
	require.ErrorIs(t, err, ErrOutOfOrder)
	_, err = m.Update(t0.Add(-time.Hour), 2)
	require.ErrorIs(t, err, ErrOutOfOrder)
	st := m.Stats()
	require.EqualValues(t, 3, st.NonFinite)
	require.EqualValues(t, 2, st.OutOfOrder)
	require.EqualValues(t, 1, st.Samples)
	after, err := m.MarshalBinary()
	require.NoError(t, err)
	// Only the counters differ: the learned state is untouched.
	require.Equal(t, len(before), len(after))
}

func TestGapDoesNotCorruptProfile(t *testing.T) {
	// Two days of data, a 12-hour gap, then more: the slots the gap covered keep their values.
	ts, vs := series(288*6, 5*time.Minute, 0.3, dailySine)
	var gts []time.Time
	var gvs []float64
	for i := range ts {
		if i >= 288*3 && i < 288*3+144 {
			continue
		}
		gts, gvs = append(gts, ts[i]), append(gvs, vs[i])
	}
	spec, err := Compile(Config{})
	require.NoError(t, err)
	m := spec.New()
	first := 288 * 3 // first sample after the gap
	m.UpdateAll(gts[:first], gvs[:first], nil)
	var before [coarseSlots]float64
	for i := range before {
		before[i] = m.prof(profCoarse).get(i)
	}
	rs := m.UpdateAll(gts[first:first+1], gvs[first:first+1], nil)
	require.EqualValues(t, 1, m.Stats().Gaps)
	// Only the two profile points around the new sample moved; the slots the gap covered kept
	// what earlier days taught them.
	// (A daily re-centring may shift every point by the same amount.)
	coarse := m.prof(profCoarse)
	shift := coarse.get(coarseSlots/4) - before[coarseSlots/4] // 06:00, far from the new sample at 12:00
	changed := 0
	for i := range before {
		if math.Abs(coarse.get(i)-before[i]-shift) > 1e-3 {
			changed++
		}
	}
	require.LessOrEqual(t, changed, 2)
	rs = append(rs, m.UpdateAll(gts[first+1:], gvs[first+1:], nil)...)
	for i, r := range rs {
		require.Less(t, r.Score, 0.75, "sample %d after the gap", i)
	}
}

func TestBatchEqualsStreaming(t *testing.T) {
	ts, vs := series(3000, 5*time.Minute, 2, dailySine)
	vs[1500] = math.NaN()
	vs[2000] += 50
	_, batch := run(t, Config{}, ts, vs)
	m, err := New(Config{})
	require.NoError(t, err)
	for i := range ts {
		r, err := m.Update(ts[i], vs[i])
		if err != nil {
			r.Deviation = math.NaN()
		}
		require.Equal(t, math.Float64bits(batch[i].Score), math.Float64bits(r.Score), "row %d", i)
		require.Equal(t, batch[i].Baseline, r.Baseline, "row %d", i)
	}
}

func TestClampToValidRange(t *testing.T) {
	ts, vs := series(2000, time.Minute, 3, func(int, time.Time) float64 { return 1 })
	_, rs := run(t, Config{Min: Float(0)}, ts, vs)
	require.True(t, math.IsNaN(rs[0].Lower) && math.IsNaN(rs[0].Upper), "no band from one sample")
	for _, r := range rs[1:] {
		require.GreaterOrEqual(t, r.Lower, 0.0)
	}
}

func TestSensitivityWidensBand(t *testing.T) {
	ts, vs := series(2000, time.Minute, 3, func(int, time.Time) float64 { return 50 })
	_, lo := run(t, Config{Sensitivity: Float(0.1)}, ts, vs)
	_, hi := run(t, Config{Sensitivity: Float(0.9)}, ts, vs)
	last := len(ts) - 1
	require.Greater(t, lo[last].Upper-lo[last].Lower, 2*(hi[last].Upper-hi[last].Lower))

	// 0 is the widest band (±6 sigmas), not the default (±3): nil is the default.
	_, zero := run(t, Config{Sensitivity: Float(0)}, ts, vs)
	_, def := run(t, Config{}, ts, vs)
	_, half := run(t, Config{Sensitivity: Float(0.5)}, ts, vs)
	require.Equal(t, half[last], def[last])
	require.InDelta(t, 2*(def[last].Upper-def[last].Lower), zero[last].Upper-zero[last].Lower, 1e-9)
}

func TestReadinessExplainsWhy(t *testing.T) {
	m, err := New(Config{})
	require.NoError(t, err)
	require.Contains(t, m.Readiness().Reason, "0 of 100 samples")
	ts, vs := series(200, time.Minute, 1, func(int, time.Time) float64 { return 5 })
	m.UpdateAll(ts, vs, nil)
	r := m.Readiness()
	require.False(t, r.Ready)
	require.Contains(t, r.Reason, "history")
	ts, vs = series(1500, time.Minute, 1, func(int, time.Time) float64 { return 5 })
	m2, _ := run(t, Config{}, ts, vs)
	require.True(t, m2.Readiness().Ready)
	require.Empty(t, m2.Readiness().Reason)
}

func TestForecastFollowsSeasonAndLearnsIntervals(t *testing.T) {
	ts, vs := series(24*21, time.Hour, 1, dailySine)
	m, _ := run(t, Config{Step: time.Hour}, ts, vs)
	last := ts[len(ts)-1]
	for _, h := range []time.Duration{time.Hour, 6 * time.Hour, 24 * time.Hour} {
		f := m.Forecast(h)
		want := dailySine(0, last.Add(h))
		require.InDelta(t, want, f.Value, 3, "horizon %s", h)
		require.Less(t, f.Lower, want)
		require.Greater(t, f.Upper, want)
		require.Less(t, f.Upper-f.Lower, 15.0, "interval learned from errors of about 1")
	}
	require.Len(t, m.Forecasts(nil), 3)
	require.Len(t, m.Path(nil, time.Hour, 48), 48)
}

func TestBreachETA(t *testing.T) {
	ts, vs := series(24*14, time.Hour, 0.5, dailySine)
	m, _ := run(t, Config{Step: time.Hour}, ts, vs)
	last := ts[len(ts)-1]
	eta, ok := m.BreachETA(110, 48*time.Hour)
	require.True(t, ok)
	require.Less(t, eta, 24*time.Hour, "the daily peak comes within a day")
	// The sine first reaches 110 (sin = 0.5) 2h after midnight.
	at := last.Add(eta)
	require.InDelta(t, 110, dailySine(0, at), 5, "crossing at %s", at)
	_, ok = m.BreachETA(1000, 48*time.Hour)
	require.False(t, ok, "never reached")
	eta, ok = m.DropETA(85, 48*time.Hour)
	require.True(t, ok, "downward crossing of a lower limit")
	require.InDelta(t, 85, dailySine(0, last.Add(eta)), 5)
	eta, ok = m.BreachETA(50, 48*time.Hour)
	require.True(t, ok)
	require.Zero(t, eta, "already above an upper limit")
	_, ok = m.DropETA(-1000, 48*time.Hour)
	require.False(t, ok)
}

func TestCompileRejectsBadConfig(t *testing.T) {
	for name, cfg := range map[string]Config{
		"negative step":    {Step: -time.Second},
		"sensitivity":      {Sensitivity: Float(1.5)},
		"damping":          {Damping: 2},
		"min above max":    {Min: Float(5), Max: Float(1)},
		"nan min":          {Min: Float(math.NaN())},
		"horizons order":   {Horizons: []time.Duration{time.Hour, time.Minute}},
		"horizon too long": {Horizons: []time.Duration{365 * 24 * time.Hour}},
		"weekly no daily":  {Daily: Off, Weekly: On},
		"bad mode":         {Trend: Mode(9)},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Compile(cfg)
			require.Error(t, err)
		})
	}
}

func TestParseMode(t *testing.T) {
	for in, want := range map[string]Mode{"": Auto, "auto": Auto, "on": On, "off": Off, "true": On, "false": Off} {
		got, err := ParseMode(in)
		require.NoError(t, err)
		require.Equal(t, want, got)
		if in != "" && in != "true" && in != "false" {
			require.Equal(t, in, got.String())
		}
	}
	_, err := ParseMode("sometimes")
	require.Error(t, err)
}

// TestModeText: Mode is text for encoding/json, YAML and flags, and reads back what it writes.
func TestModeText(t *testing.T) {
	var _ encoding.TextMarshaler = Auto
	var _ encoding.TextUnmarshaler = new(Mode)
	for _, m := range []Mode{Auto, Off, On} {
		b, err := json.Marshal(m)
		require.NoError(t, err)
		require.Equal(t, `"`+m.String()+`"`, string(b))
		var back Mode = 99
		require.NoError(t, json.Unmarshal(b, &back))
		require.Equal(t, m, back)
	}
	_, err := Mode(7).MarshalText()
	require.Error(t, err)
	m := On
	require.ErrorContains(t, m.UnmarshalText([]byte("sometimes")), `unknown mode "sometimes" (want auto, on or off)`)
	require.Equal(t, On, m, "a bad text changes nothing")
	require.ErrorContains(t, json.Unmarshal([]byte(`{"m":"maybe"}`), &struct{ M Mode }{}), "unknown mode")
}

func TestSnapshotRoundTrip(t *testing.T) {
	spec, err := Compile(Config{})
	require.NoError(t, err)
	// With a level shift shortly before the snapshot, so that all the state is in use.
	ts, vs := series(3000, 5*time.Minute, 2, func(i int, t time.Time) float64 {
		if i >= 1990 {
			return dailySine(i, t) + 40
		}
		return dailySine(i, t)
	})
	a := spec.New()
	a.UpdateAll(ts[:2000], vs[:2000], nil)
	require.NotZero(t, a.lastShift)
	snap, err := a.MarshalBinary()
	require.NoError(t, err)
	b, err := spec.Restore(snap)
	require.NoError(t, err)
	// Every field but the derived rate cache is restored (the cache is refilled by the next
	// Update).
	ac := *a
	ac.rates = rateCache{}
	require.Equal(t, &ac, b, "every field restored")
	// The restored model continues exactly like the original.
	ra := a.UpdateAll(ts[2000:], vs[2000:], nil)
	rb := b.UpdateAll(ts[2000:], vs[2000:], nil)
	require.Equal(t, ra, rb)
	require.Equal(t, a.Forecasts(nil), b.Forecasts(nil))

	// Another sensitivity restores; another structure does not.
	other, err := Compile(Config{Sensitivity: Float(0.9)})
	require.NoError(t, err)
	_, err = other.Restore(snap)
	require.NoError(t, err)
	weekly, err := Compile(Config{Weekly: Off})
	require.NoError(t, err)
	_, err = weekly.Restore(snap)
	require.ErrorIs(t, err, ErrIncompatible)
}

func TestSnapshotCorruptionDetected(t *testing.T) {
	spec, err := Compile(Config{})
	require.NoError(t, err)
	m := spec.New()
	ts, vs := series(500, time.Minute, 1, dailySine)
	m.UpdateAll(ts, vs, nil)
	snap, err := m.MarshalBinary()
	require.NoError(t, err)
	for i := 0; i < len(snap); i += 7 {
		bad := append([]byte(nil), snap...)
		bad[i] ^= 0x40
		_, err := spec.Restore(bad)
		require.Error(t, err, "flipped byte %d", i)
	}
	for _, n := range []int{0, 3, 9, len(snap) / 2, len(snap) - 1} {
		_, err := spec.Restore(snap[:n])
		require.ErrorIs(t, err, ErrSnapshot, "truncated to %d", n)
	}
	v2 := append([]byte(nil), snap...)
	v2[4] = snapshotVersion + 1
	_, err = spec.Restore(v2)
	require.True(t, errors.Is(err, ErrSnapshot) || errors.Is(err, ErrIncompatible))
}

func FuzzRestore(f *testing.F) {
	spec, err := Compile(Config{})
	require.NoError(f, err)
	m := spec.New()
	ts, vs := series(400, time.Minute, 1, dailySine)
	m.UpdateAll(ts, vs, nil)
	snap, err := m.MarshalBinary()
	require.NoError(f, err)
	f.Add(snap)
	f.Add([]byte("KZAS"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := spec.Restore(data)
		if err != nil {
			require.True(t, errors.Is(err, ErrSnapshot) || errors.Is(err, ErrIncompatible), "%v", err)
			return
		}
		// Whatever restored must keep working without panics or NaN baselines.
		res, err := r.Update(r.LastTime().Add(time.Minute), 1)
		require.NoError(t, err)
		require.False(t, math.IsNaN(res.Score))
		r.Forecasts(nil)
	})
}

func TestLogTransform(t *testing.T) {
	// A daily pattern whose swing is proportional to its level: multiplicative.
	mult := func(tt time.Time) float64 {
		h := float64(tt.Hour()) + float64(tt.Minute())/60
		return 1000 * math.Exp(0.5*math.Sin(2*math.Pi*h/24))
	}
	ts, vs := series(288*5, 5*time.Minute, 0, func(_ int, tt time.Time) float64 { return mult(tt) })
	m, rs := run(t, Config{Log: true}, ts, vs)
	last := rs[len(rs)-1]
	require.InDelta(t, vs[len(vs)-1], last.Baseline, 0.05*vs[len(vs)-1], "baseline in the series' units")
	require.Greater(t, last.Upper-last.Baseline, last.Baseline-last.Lower, "band asymmetric in the series' units")
	require.GreaterOrEqual(t, last.Lower, 0.0)
	f := m.Forecast(6 * time.Hour)
	require.InDelta(t, mult(ts[len(ts)-1].Add(6*time.Hour)), f.Value, 150)
	_, err := m.Update(ts[len(ts)-1].Add(time.Minute), -1)
	require.ErrorIs(t, err, ErrOutOfRange)
	require.EqualValues(t, 1, m.Stats().NonFinite)
	// Snapshots of a log model do not restore into a linear one.
	snap, err := m.MarshalBinary()
	require.NoError(t, err)
	lin, err := Compile(Config{})
	require.NoError(t, err)
	_, err = lin.Restore(snap)
	require.ErrorIs(t, err, ErrIncompatible)
}

func TestSustainedAnomalyStaysAboveAlertThreshold(t *testing.T) {
	// Ten quiet hours, then the series triples for five samples: an incident must not teach
	// the model that incidents are normal, so every one of them stays above 0.65.
	ts, vs := series(2*600+5, 30*time.Second, 0.2, func(i int, _ time.Time) float64 {
		if i >= 1200 {
			return 30
		}
		return 10
	})
	_, rs := run(t, Config{Daily: Off, Weekly: Off, WarmUp: 30 * time.Minute}, ts, vs)
	for i := 1200; i < len(rs); i++ {
		require.Greater(t, rs[i].Score, 0.65, "sample %d of the incident", i-1200)
	}
}

func TestLevelShiftAtOneMinuteStepLastsForAnAlert(t *testing.T) {
	// A daily pattern sampled every minute; at 03:10 on the fourth day (night: the band is at
	// its narrowest) the series triples, or drops by 70%, and stays there. The score stays
	// above the alert threshold (0.65) for its first eight samples — so a rule with `for: 2m`
	// fires, and one with `for: 5m` too — and the model re-levels within the hour instead of
	// alarming for days.
	for _, factor := range []float64{3, 0.3} {
		shiftAt := 3*1440 + 190
		ts, vs := series(shiftAt+120, time.Minute, 0.3, func(i int, tt time.Time) float64 {
			v := dailySine(i, tt)
			if i >= shiftAt {
				v *= factor
			}
			return v
		})
		m, rs := run(t, Config{}, ts, vs)
		for i := shiftAt + 1; i < shiftAt+9; i++ {
			require.Greater(t, rs[i].Score, 0.65, "factor %g: sample %d after the shift", factor, i-shiftAt)
		}
		require.GreaterOrEqual(t, m.Stats().LevelShifts, uint64(1), "factor %g", factor)
		for i := shiftAt + 60; i < len(rs); i++ {
			require.Less(t, rs[i].Score, 0.5, "factor %g: an hour later (sample %d)", factor, i-shiftAt)
		}
	}
}

// FuzzUpdateSnapshot: whatever finite values a model learns from, its state stays valid: its
// snapshot restores, and the restored model scores the next sample as the original does.
func FuzzUpdateSnapshot(f *testing.F) {
	spec, err := Compile(Config{})
	require.NoError(f, err)
	enc := func(vs ...float64) []byte {
		var b []byte
		for _, v := range vs {
			b = binary.LittleEndian.AppendUint64(b, math.Float64bits(v))
		}
		return b
	}
	f.Add(enc(1, 2, 3, 0, 0, 0, 0, 5))
	f.Add(enc(1e25, 1.1e25, 0, 1e300, -1e300, 3, 1e30, -1e30))
	f.Add(enc(0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2))
	f.Fuzz(func(t *testing.T, data []byte) {
		m := spec.New()
		at := t0
		var vs []float64
		for len(data) >= 8 {
			v := math.Float64frombits(binary.LittleEndian.Uint64(data))
			data = data[8:]
			if math.IsNaN(v) || math.IsInf(v, 0) {
				continue
			}
			vs = append(vs, v)
		}
		// Repeated so that the model gets past its warm-up on short inputs.
		for i := 0; len(vs) > 0 && i < 3*1440; i++ {
			at = at.Add(time.Minute)
			v := vs[i%len(vs)]
			if _, err := m.Update(at, v); math.Abs(v) > MaxValue {
				require.ErrorIs(t, err, ErrOutOfRange)
			} else {
				require.NoError(t, err)
			}
		}
		b, err := m.MarshalBinary()
		require.NoError(t, err)
		r, err := spec.Restore(b)
		require.NoError(t, err, "the snapshot of a model fed finite values")
		next := at.Add(time.Minute)
		want, _ := m.Update(next, 1)
		got, _ := r.Update(next, 1)
		require.Equal(t, want.Score, got.Score)
	})
}

func TestConstantSeriesSnapshotRestores(t *testing.T) {
	// A series that never changed (up, a configured limit) has no resolution yet (+Inf): its
	// snapshot restores (it was rejected as non-finite state).
	ts, vs := series(2000, time.Minute, 0, func(int, time.Time) float64 { return 1 })
	m, _ := run(t, Config{}, ts, vs)
	require.True(t, math.IsInf(m.quantum, 1))
	b, err := m.MarshalBinary()
	require.NoError(t, err)
	r, err := m.Spec().Restore(b)
	require.NoError(t, err)
	require.True(t, math.IsInf(r.quantum, 1))
}

func TestValuesBeyondMaxValueRejected(t *testing.T) {
	ts, vs := series(500, time.Minute, 1, dailySine)
	m, _ := run(t, Config{}, ts, vs)
	before, err := m.MarshalBinary()
	require.NoError(t, err)
	at := m.LastTime()
	for _, v := range []float64{2 * MaxValue, -math.MaxFloat64, math.MaxFloat64} {
		at = at.Add(time.Minute)
		_, err := m.Update(at, v)
		require.ErrorIs(t, err, ErrOutOfRange, "%g", v)
	}
	require.EqualValues(t, 3, m.Stats().NonFinite)
	m.nonFinite = 0
	after, err := m.MarshalBinary()
	require.NoError(t, err)
	require.Equal(t, before, after, "the model is unchanged")
	_, err = m.Update(at.Add(time.Minute), MaxValue)
	require.NoError(t, err, "MaxValue itself is accepted")
}

// A component the Config turns On is published once its candidates are eligible, whether or
// not the data shows it helps; Auto publishes what the data shows.
func TestForcedComponentsArePublished(t *testing.T) {
	const perDay = 288
	ts, vs := series(9*perDay, 5*time.Minute, 2, dailySine) // a daily pattern, no weekly one
	for name, tc := range map[string]struct {
		cfg  Config
		want func(c uint8) bool
	}{
		"weekly on":   {Config{Weekly: On}, isWeekly},
		"weekly auto": {Config{}, func(c uint8) bool { return c == candCoarse || c == candFine }},
	} {
		t.Run(name, func(t *testing.T) {
			m, _ := run(t, tc.cfg, ts, vs)
			require.True(t, tc.want(m.cand), "candidate published: %d", m.cand)
		})
	}
	flatTs, flat := series(3*perDay, 5*time.Minute, 2, func(int, time.Time) float64 { return 100 })
	for name, tc := range map[string]struct {
		cfg  Config
		want bool
	}{"daily on": {Config{Daily: On}, true}, "daily auto": {Config{}, false}} {
		t.Run(name, func(t *testing.T) {
			m, _ := run(t, tc.cfg, flatTs, flat)
			require.Equal(t, tc.want, m.cand != candNone, "candidate published: %d", m.cand)
		})
	}
}
