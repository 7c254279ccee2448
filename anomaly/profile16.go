package anomaly

import "math"

// Profiles are 81% of a model in float32 (4,608 of 5,672 bytes), and a model per series is
// most of an exporter's memory. They are stored in 16 bits a point instead: point i is
// q[i]·unit, q an int16 and unit a power of two shared by the profile's points. A point is then
// exact to half a unit, and the unit is kept at 1/16,384 to 1/32,767 of the profile's largest
// point (6e-5 to 3e-5 of its amplitude, where float32 kept 6e-8 of each point's own value):
//   - a point that would not fit doubles the unit, halving every point (rounded: at most half
//     the new unit lost, once per doubling);
//   - at the daily re-centring the unit halves while the largest point stays under 16,384
//     (exact: the points double);
//   - learning steps round up or down at random in proportion to the remainder (stochastic
//     rounding, from a hash of the sample's time: deterministic), so that steps smaller than
//     a unit, frequent at fine sample steps, are kept on average instead of lost. Rounding to
//     the nearest unit cost two false alarms more in the evaluation (one on NAB, one on the
//     failure catalogue), this did not (BENCHMARKS.md).
//
// The error is relative to the amplitude of the pattern, not to the noise around it: a daily
// swing 1,000 times the residual's scale is stored to 0.03-0.06 of that scale. bfloat16 (8
// significant bits) would be 4 of it, IEEE float16 cannot hold values above 65,504 (bytes,
// requests); an integer against a unit of the profile has neither problem.
//
// The positive residual-scale profiles (dayScale, weekScale) use the same encoding, with 0
// meaning "not learned yet": a learned point is never rounded to 0 (at least one unit).
const (
	q16Max  = math.MaxInt16 // largest |point| in units
	q16Norm = 1 << 14       // after re-normalising, the largest |point| is at least this
	// Units are powers of two a float32 holds as a normal number, small enough that 32,767 of
	// them are finite in float32.
	q16MinExp = -126
	q16MaxExp = 127 - 15
)

// Indices of the profiles' units in Model.units.
const (
	profCoarse = iota
	profFine
	profWeekly
	profSmooth
	profDayScale
	profWeekScale
	numProf
)

// prof16 is a view of a profile stored in 16 bits a point: point i is q[i]·*unit.
type prof16 struct {
	q    []int16
	unit *float32
}

func (m *Model) prof(i int) prof16 {
	u := &m.units[i]
	switch i {
	case profCoarse:
		return prof16{m.coarse[:], u}
	case profFine:
		return prof16{m.fine[:], u}
	case profWeekly:
		return prof16{m.weekly[:], u}
	case profSmooth:
		return prof16{m.smooth[:], u}
	case profDayScale:
		return prof16{m.dayScale[:], u}
	default:
		return prof16{m.weekScale[:], u}
	}
}

// get returns point i.
func (p prof16) get(i int) float64 { return float64(p.q[i]) * float64(*p.unit) }

// at is the linear interpolation of the profile at slot s.
func (p prof16) at(s slot) float64 {
	w := float64(s.w)
	return (float64(p.q[s.i0])*(1-w) + float64(p.q[s.i1])*w) * float64(*p.unit)
}

// add moves point i by delta.
func (p prof16) add(i int, delta float64) { p.set(i, p.get(i)+delta) }

// set stores x at point i, rounded to the nearest unit; the unit grows (by doublings) until x
// fits. NaN is ignored; beyond float32's range the point saturates, as a float32 would have
// become infinite.
func (p prof16) set(i int, x float64) {
	if math.IsNaN(x) {
		return
	}
	u := float64(*p.unit)
	if u == 0 {
		if x == 0 {
			return
		}
		u = unitFor(math.Abs(x))
		*p.unit = float32(u)
	}
	r := math.Round(x / u)
	for math.Abs(r) > q16Max {
		if !p.grow() {
			r = math.Copysign(q16Max, r)
			break
		}
		u = float64(*p.unit)
		r = math.Round(x / u)
	}
	p.q[i] = int16(r)
}

// setPositive is set for a point of a positive profile, where 0 means not learned: a positive
// x is stored as at least one unit.
func (p prof16) setPositive(i int, x float64) {
	p.set(i, x)
	if x > 0 && p.q[i] <= 0 {
		p.q[i] = 1
	}
}

// unitFor is the unit that puts a magnitude a in [16,384, 32,768) units.
func unitFor(a float64) float64 {
	_, e := math.Frexp(a) // a = f·2^e, f in [0.5, 1)
	return math.Ldexp(1, min(max(e-15, q16MinExp), q16MaxExp))
}

// grow doubles the unit, halving every point (rounded half away from zero). false: the unit is
// already the largest.
func (p prof16) grow() bool {
	u := float64(*p.unit)
	if u >= math.Ldexp(1, q16MaxExp) {
		return false
	}
	for j, q := range p.q {
		if q >= 0 {
			p.q[j] = int16((int32(q) + 1) / 2)
		} else {
			p.q[j] = int16((int32(q) - 1) / 2)
		}
	}
	*p.unit = float32(2 * u)
	return true
}

// normalise halves the unit while the largest point stays under q16Norm units (exactly: the
// points double), so that a profile that shrank regains its precision; an all-zero profile
// forgets its unit.
func (p prof16) normalise() {
	peak := 0
	for _, q := range p.q {
		peak = max(peak, abs(int(q)))
	}
	if peak == 0 {
		*p.unit = 0
		return
	}
	u := float64(*p.unit)
	k := 0
	for peak<<k < q16Norm && u > math.Ldexp(1, q16MinExp) {
		k++
		u /= 2
	}
	if k == 0 {
		return
	}
	for j := range p.q {
		p.q[j] <<= k
	}
	*p.unit = float32(u)
}

// load quantises a whole profile of float values (a snapshot of format 3). A profile without
// a negative point is a residual scale (the others have a zero mean), whose learned points
// must stay positive.
func (p prof16) load(xs []float32) {
	peak, positive := 0.0, true
	for _, x := range xs {
		if !math.IsNaN(float64(x)) {
			peak = max(peak, math.Abs(float64(x)))
		}
		positive = positive && x >= 0
	}
	clear(p.q)
	*p.unit = 0
	if peak == 0 || math.IsInf(peak, 0) {
		return
	}
	*p.unit = float32(unitFor(peak))
	for i, x := range xs {
		if positive {
			p.setPositive(i, float64(x))
		} else {
			p.set(i, float64(x))
		}
	}
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// addDithered moves point i by delta, rounding up or down at random in proportion to the
// remainder (stochastic rounding): learning steps smaller than a unit are kept on average
// instead of lost. h chooses (a hash of the sample's time: deterministic).
func (p prof16) addDithered(i int, delta float64, h uint64) {
	u := float64(*p.unit)
	r := math.Floor(float64(p.q[i]) + delta*inverse(u) + float64(h>>11)/(1<<53))
	if u == 0 || math.IsNaN(r) || math.Abs(r) > q16Max {
		p.add(i, delta)
		return
	}
	p.q[i] = int16(r)
}

// dither is a hash of a sample's time and a point (splitmix64's finaliser).
func dither(ts int64, point uint64) uint64 {
	z := uint64(ts) + point*0x9e3779b97f4a7c15
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

// inverse is 1/u for a unit (a power of two, so exact) without a division: the exponent
// negated. For 0 it returns a huge finite value, which addDithered's checks catch.
func inverse(u float64) float64 { return math.Float64frombits(2046<<52 - math.Float64bits(u)) }

// isUnit reports whether u can be a profile's unit: 0 (never set) or a power of two in range.
func isUnit(u float32) bool {
	if u == 0 {
		return true
	}
	f, e := math.Frexp(float64(u))
	return f == 0.5 && e-1 >= q16MinExp && e-1 <= q16MaxExp
}
