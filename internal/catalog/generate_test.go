package catalog

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestGenerateIsDeterministic(t *testing.T) {
	o := small()
	for _, k := range Kinds() {
		c := Case{k, Spike10, 2}
		a, err := Generate(o, c)
		require.NoError(t, err)
		b, err := Generate(o, c)
		require.NoError(t, err)
		require.Equal(t, a, b, "%s: same seed, same series", c)
		other, err := Generate(o, Case{k, Spike10, 3})
		require.NoError(t, err)
		require.NotEqual(t, a.Values[:1000], other.Values[:1000], "%s: another index is another series", c)
		o2 := o
		o2.Seed++
		reseeded, err := Generate(o2, c)
		require.NoError(t, err)
		require.NotEqual(t, a.Values[:1000], reseeded.Values[:1000], "%s: another seed, another catalogue", c)
	}
}

func TestGenerateRejects(t *testing.T) {
	o := small()
	for _, tc := range []struct {
		o    Options
		c    Case
		want string
	}{
		{o, Case{Sparse, Drop0, 0}, "excluded"},
		{o, Case{"nope", None, 0}, "unknown kind"},
		{o, Case{Smooth, "nope", 0}, "unknown failure"},
		{Options{Days: 7}, Case{Smooth, None, 0}, "at least 8"},
		{Options{Days: 9, Warmup: 2 * 24 * 3600e9}, Case{Smooth, None, 0}, "warm-up"},
	} {
		_, err := Generate(tc.o, tc.c)
		require.ErrorContains(t, err, tc.want, "%v", tc.c)
	}
}

// What every control of a kind looks like.
func TestControls(t *testing.T) {
	o := small()
	for _, k := range Kinds() {
		for i := range 3 {
			s, err := Generate(o, Case{k, None, i})
			require.NoError(t, err)
			require.Equal(t, -1, s.Onset)
			require.Equal(t, o.Days*24*60, s.End)
			require.Len(t, s.Values, s.End, "%s: a control has every sample", k)
			zeros := 0
			for _, v := range s.Values {
				require.False(t, math.IsNaN(v) || math.IsInf(v, 0))
				if v == 0 {
					zeros++
				}
				switch k {
				case Counts, Sparse:
					require.Equal(t, math.Floor(v), v, "%s counts", k)
					require.GreaterOrEqual(t, v, 0.0)
				case CPU:
					require.True(t, v >= 0 && v <= 100, "%s %g", k, v)
				case HeavyTail:
				default:
					require.GreaterOrEqual(t, v, 0.0, "%s", k)
				}
			}
			if k == Sparse {
				require.Greater(t, float64(zeros)/float64(len(s.Values)), 0.95, "sparse is 95%%+ zeros")
			} else {
				require.Less(t, float64(zeros)/float64(len(s.Values)), 0.5, "%s is not sparse", k)
			}
		}
	}
}

// Cases that every test of failures runs: one series of each cell.
func cells() []Case {
	var cs []Case
	for _, k := range Kinds() {
		for _, f := range Failures() {
			if _, ex := excluded(k, f); !ex {
				cs = append(cs, Case{k, f, 0})
				if !testing.Short() {
					cs = append(cs, Case{k, f, 1})
				}
			}
		}
	}
	return cs
}

// pair builds a failure series and the same series without the failure (same parameters, same
// noise until the onset).
func pair(t *testing.T, o Options, c Case) (f, ctl *Series, g gen, pl *plan) {
	t.Helper()
	f, g, pl, err := build(o, c, c.String())
	require.NoError(t, err)
	o.Days++ // the failure may end after the last day of a control
	ctl, _, _, err = build(o, Case{c.Kind, None, c.Index}, c.String())
	require.NoError(t, err)
	return f, ctl, g, pl
}

func mean(xs []float64) float64 {
	s := 0.0
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}

// diffVar is the variance of the first differences: the sample-to-sample noise, whatever the
// slow pattern.
func diffVar(xs []float64) float64 {
	d := make([]float64, len(xs)-1)
	for i := range d {
		d[i] = xs[i+1] - xs[i]
	}
	m := mean(d)
	s := 0.0
	for _, x := range d {
		s += (x - m) * (x - m)
	}
	return s / float64(len(d))
}

// exact kinds draw the same noise whatever the failure does to the expected value, so the
// failure can be checked sample by sample.
func exact(k Kind) bool {
	switch k {
	case Smooth, OnOff, HeavyTail, CPU, Weekly:
		return true
	}
	return false
}

// The failures change what they should, from the onset on, and nothing before it.
func TestFailuresChangeWhatTheyShould(t *testing.T) {
	o := small()
	for _, c := range cells() {
		t.Run(c.String(), func(t *testing.T) {
			f, ctl, g, pl := pair(t, o, c)
			on := f.Onset
			judgeSteps := judge / stepSeconds
			require.Positive(t, on)
			require.Equal(t, on+judgeSteps, f.End)
			require.GreaterOrEqual(t, on, (o.Days-7)*24*60, "the failure is in the last week")
			require.Equal(t, ctl.Values[:on], f.Values[:on], "nothing changes before the onset")
			rs := int(c.Kind.rangeMS() / 60_000) // a rate reflects a change fully after its range
			if c.Failure == Vanish {
				if rs == 0 {
					require.Len(t, f.Values, on)
				} else {
					require.True(t, len(f.Values) >= on && len(f.Values) < on+rs, "rate() lasts up to its range: %d", len(f.Values)-on)
				}
				return
			}
			require.Len(t, f.Values, f.End)
			fw, cw := f.Values[on:], ctl.Values[on:f.End]
			ts := func(i int) int64 { return f.Start.Unix() + int64(on+i)*stepSeconds }
			switch c.Failure {
			case Drop0:
				for _, v := range fw[max(rs-1, 0):] {
					require.Zero(t, v)
				}
			case Stuck:
				for _, v := range fw {
					require.Equal(t, f.Values[on-1], v)
				}
				require.NotZero(t, f.Values[on-1], "stuck at a value the series would have left")
			case Drop50:
				if exact(c.Kind) && c.Kind != CPU && c.Kind != HeavyTail {
					for i := range fw {
						require.InDelta(t, cw[i]/2, fw[i], 1e-9*cw[i])
					}
				}
				require.InDelta(t, 0.5, mean(fw[rs:])/mean(cw[rs:]), 0.12)
			case Spike10:
				if exact(c.Kind) {
					for i := range 10 {
						require.Equal(t, g.spike(nil, ts(i), 0, cw[i], false), fw[i])
					}
					require.Equal(t, cw[10:], fw[10:], "the spike lasts ten minutes")
				}
				peak := 0.0
				for _, v := range fw[:10+rs] {
					peak = max(peak, v)
				}
				require.Greater(t, peak, 1.6*mean(cw[:10+rs]), "a spike well above the series")
			case Spike1:
				if exact(c.Kind) {
					require.Equal(t, g.spike(nil, ts(0), 0, cw[0], true), fw[0])
					require.Equal(t, cw[1:], fw[1:], "one sample")
				}
				require.Greater(t, fw[0], 1.6*mean(cw[:60]))
			case Variance:
				ratio := diffVar(fw) / diffVar(cw)
				if exact(c.Kind) { // robust to the edges of on/off patterns
					ratio = sq(medianAbsDiff(fw) / medianAbsDiff(cw))
				}
				require.True(t, ratio > 2 && ratio < 4.5, "sample-to-sample variance ×3: ×%.2f", ratio)
			case Ramp:
				if c.Kind == Sparse { // the event rate grows: count events
					require.Greater(t, events(fw), 2*events(cw)+2, "events: %d, normally %d", events(fw), events(cw))
					break
				}
				// Linear from 0 to the ramp's size over the window: half of it on average.
				added := mean(fw) - mean(cw)
				require.InDelta(t, 1, added/(pl.ramp/2), 0.3,
					"the ramp adds its size by the end of the window: %.3g on average of %.3g", added, pl.ramp)
			case Flatten, Phase:
				// The failure follows its own expected values, not the normal ones.
				var ef, en []float64
				for i := range fw {
					mu, _, _ := pl.at(g, ts(i)-int64(min(rs, i+1)*stepSeconds/2))
					ef, en = append(ef, mu), append(en, g.expected(ts(i)))
				}
				fb, cb, efb, enb := blocks(fw[rs:]), blocks(cw[rs:]), blocks(ef[rs:]), blocks(en[rs:])
				require.Less(t, dist(fb, efb), dist(fb, enb))
				require.Less(t, dist(cb, enb), dist(cb, efb))
			}
		})
	}
}

// blocks are the means of 15-minute blocks (less noise to compare patterns).
func blocks(xs []float64) []float64 {
	var out []float64
	for i := 0; i+15 <= len(xs); i += 15 {
		out = append(out, mean(xs[i:i+15]))
	}
	return out
}

func medianAbsDiff(xs []float64) float64 {
	d := make([]float64, len(xs)-1)
	for i := range d {
		d[i] = math.Abs(xs[i+1] - xs[i])
	}
	return median(d)
}

func events(xs []float64) int {
	n := 0
	for _, x := range xs {
		if x != 0 {
			n++
		}
	}
	return n
}

// dist is the mean absolute difference of two series, relative to the second's mean.
func dist(a, b []float64) float64 {
	s := 0.0
	for i := range a {
		s += math.Abs(a[i] - b[i])
	}
	return s / float64(len(a)) / mean(b)
}

// Failures start where they mean something (see the package documentation).
func TestOnsetsAreMeaningful(t *testing.T) {
	o := small()
	for _, c := range cells() {
		s, g, _, err := build(o, c, c.String())
		require.NoError(t, err)
		t0 := s.Start.Unix() + int64(s.Onset)*stepSeconds
		st := expectedStats(g, s.Start.Unix())
		switch c.Failure {
		case Drop50, Drop0, Spike10, Spike1, Variance, Stuck:
			require.True(t, active(g, st, t0), "%s: active at the onset", c)
			if c.Kind == OnOff {
				require.Equal(t, g.(*onOff).hi, g.expected(t0), "%s: on/off series fail while on", c)
			}
		case Flatten, Phase:
			require.True(t, visible(g, st, t0, func(u int64) float64 {
				mu, _, _ := (&plan{f: c.Failure, start: t0, flat: dailyMean(g, t0)}).at(g, u)
				return mu
			}), "%s: the pattern differs visibly within the judging window", c)
		}
		if c.Kind == Sparse && c.Failure == Stuck {
			require.NotZero(t, s.Values[s.Onset-1], "sparse series get stuck at an event")
		}
	}
	// Onsets are spread over the day.
	hours := map[int]bool{}
	for i := range 24 {
		s, err := Generate(o, Case{Smooth, Ramp, i})
		require.NoError(t, err)
		hours[s.Start.Add(s.Step*time.Duration(s.Onset)).Hour()] = true
	}
	require.Greater(t, len(hours), 10, "onsets at many hours of the day: %v", hours)
}

func TestPlanAt(t *testing.T) {
	g := &heavyTail{level: 10}
	lin := linear{heavyTail: g}
	const t0 = 1_000_000
	for _, tc := range []struct {
		f        Failure
		t        int64
		mu, n    float64
		m        mode
		override func(*plan)
	}{
		{f: Drop50, t: t0 - 60, mu: lin.expected(t0 - 60), n: 1, m: normal},
		{f: Drop50, t: t0, mu: lin.expected(t0) / 2, n: 1, m: normal},
		{f: Drop0, t: t0 + 3600, mu: 0, n: 1, m: zero},
		{f: Stuck, t: t0, mu: lin.expected(t0), n: 1, m: stuck},
		{f: Stuck, t: t0, mu: lin.expected(t0), n: 1, m: normal, override: func(p *plan) { p.armed = true }},
		{f: Flatten, t: t0 + 60, mu: 42, n: 1, m: normal},
		{f: Spike10, t: t0 + 540, mu: lin.expected(t0 + 540), n: 1, m: spikeBurst},
		{f: Spike10, t: t0 + 600, mu: lin.expected(t0 + 600), n: 1, m: normal},
		{f: Spike1, t: t0, mu: lin.expected(t0), n: 1, m: spikeSingle},
		{f: Spike1, t: t0 + 60, mu: lin.expected(t0 + 60), n: 1, m: normal},
		{f: Variance, t: t0 + 60, mu: lin.expected(t0 + 60), n: math.Sqrt(3), m: normal},
		{f: Ramp, t: t0 + judge/2, mu: lin.expected(t0+judge/2) + 5, n: 1, m: normal},
		{f: Phase, t: t0 + 60, mu: lin.expected(t0 + 60 - 3*3600), n: 1, m: normal},
		{f: Vanish, t: t0, mu: lin.expected(t0), n: 1, m: gone},
		{f: None, t: t0, mu: lin.expected(t0), n: 1, m: normal},
	} {
		p := &plan{f: tc.f, start: t0, flat: 42, ramp: 10}
		if tc.override != nil {
			tc.override(p)
		}
		mu, n, m := p.at(lin, tc.t)
		require.Equal(t, []any{tc.mu, tc.n, tc.m}, []any{mu, n, m}, fmt.Sprintf("%s at %+d s", tc.f, tc.t-t0))
	}
}

// linear is a gen whose expected value grows with time.
type linear struct{ *heavyTail }

func (linear) expected(t int64) float64 { return float64(t) / 1000 }

func TestExclusionsAreExplained(t *testing.T) {
	ex := Exclusions()
	require.NotEmpty(t, ex)
	for _, e := range ex {
		require.NotEmpty(t, e.Reason)
		_, err := Generate(small(), Case{e.Kind, e.Failure, 0})
		require.ErrorContains(t, err, "excluded")
	}
	for _, k := range Kinds() {
		_, ex := excluded(k, None)
		require.False(t, ex, "every kind has controls")
		n := 0
		for _, f := range Failures() {
			if _, ex := excluded(k, f); !ex {
				n++
			}
		}
		require.GreaterOrEqual(t, n, 5, "%s keeps most classes", k)
	}
}

// A failure series whose parameters leave the failure no meaningful onset is drawn again
// (seed 2: onoff/flatten/5 is three cron bursts of 10-30 minutes, too short for a flattening
// to show within the judged hours) instead of failing the catalogue.
func TestGenerateRedrawsMeaninglessSeries(t *testing.T) {
	o := DefaultOptions()
	o.Seed = 2
	c := Case{OnOff, Flatten, 5}
	_, _, _, err := build(o, c, c.String())
	require.ErrorIs(t, err, errNoOnset, "the first draw has no meaningful onset")
	s, err := Generate(o, c)
	require.NoError(t, err)
	redrawn, g, _, err := build(o, c, c.String()+"#1")
	require.NoError(t, err, "the first redraw has one")
	require.Equal(t, redrawn, s)
	t0 := s.Start.Unix() + int64(s.Onset)*stepSeconds
	m := dailyMean(g, t0)
	require.True(t, visible(g, expectedStats(g, s.Start.Unix()), t0, func(int64) float64 { return m }))
	again, err := Generate(o, c)
	require.NoError(t, err)
	require.Equal(t, s, again, "redraws are deterministic")
}
