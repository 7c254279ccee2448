package anomaly

import "math"

// hermiteTable is a smooth function read from a table of its values and slopes by cubic
// Hermite interpolation: a few multiplications instead of math.Erfc, math.Log or math.Exp in
// Update. The error is of the order of the table step's fourth power times the function's
// fourth derivative (within 4e-12 for the tables below: TestHermiteTables).
type hermiteTable struct {
	lo, perUnit float64
	p           [][2]float64 // the value and the slope per table step at lo + i/perUnit
}

// newHermite tabulates f (with its derivative df) on [lo, hi] at perUnit points per unit.
func newHermite(lo, hi float64, perUnit int, f, df func(float64) float64) hermiteTable {
	n := int(math.Round((hi-lo)*float64(perUnit))) + 1
	h := hermiteTable{lo: lo, perUnit: float64(perUnit), p: make([][2]float64, n)}
	for i := range h.p {
		x := lo + float64(i)/float64(perUnit)
		h.p[i] = [2]float64{f(x), df(x) / float64(perUnit)}
	}
	return h
}

// at returns f(x) for lo <= x < hi; the caller keeps x there (a NaN would index out of range).
func (h *hermiteTable) at(x float64) float64 {
	u := (x - h.lo) * h.perUnit
	i := int(u)
	t := u - float64(i)
	p, q := h.p[i], h.p[i+1]
	t2 := t * t
	t3 := t2 * t
	return (2*t3-3*t2+1)*p[0] + (t3-2*t2+t)*p[1] + (-2*t3+3*t2)*q[0] + (t3-t2)*q[1]
}

var (
	// tail2Table: -log10(2Q(z)) on [0, 8], whose derivative is φ(z) / (Q(z) ln 10).
	tail2Table = newHermite(0, tail2Max, 128, log10Tail2Erfc, func(z float64) float64 {
		return math.Exp(-z*z/2) / math.Sqrt(2*math.Pi) / (math.Erfc(z/math.Sqrt2) / 2 * math.Ln10)
	})
	// lnTable: ln x on [1/2, 1], the mantissa of math.Frexp.
	lnTable = newHermite(0.5, 1, 512, math.Log, func(x float64) float64 { return 1 / x })
	// expTable: e^y on [-3, 3], beyond ±ln tuneSlotScaleMax.
	expTable = newHermite(-3, 3, 256, math.Exp, math.Exp)
)

// tail2Max is where log10Tail2 stops reading tail2Table.
const tail2Max = 8

// powSlot returns r^w for r in [1/tuneSlotScaleMax, tuneSlotScaleMax] and w in [0, 1] (the
// shrunk per-slot scale factor, see scaleAt).
func powSlot(r, w float64) float64 {
	if !(r >= 1/tuneSlotScaleMax && r <= tuneSlotScaleMax && w >= 0 && w <= 1) {
		return math.Pow(r, w) // outside the tables (NaN included): never in scaleAt
	}
	fr, e := math.Frexp(r)
	return expTable.at(w * (float64(e)*math.Ln2 + lnTable.at(fr)))
}
