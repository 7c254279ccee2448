package anomaly

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"
)

// Snapshot format (little endian):
//
//	magic "KZAS" | version u8 | spec fingerprint u32 | state ... | CRC-32 (IEEE) of all before
//
// The fingerprint covers what gives the state its meaning (step, components, horizons); a
// snapshot taken under another sensitivity or valid range restores fine.
const (
	snapshotMagic   = "KZAS"
	snapshotVersion = 2
)

// fingerprint identifies the structural part of a Spec.
func (s *Spec) fingerprint() uint32 {
	var b []byte
	b = binary.LittleEndian.AppendUint64(b, uint64(s.cfg.Step))
	b = append(b, byte(s.cfg.Daily), byte(s.cfg.Weekly), byte(s.cfg.Trend))
	if s.cfg.Log {
		b = append(b, 'L')
	}
	for _, h := range s.horizons {
		b = binary.LittleEndian.AppendUint64(b, uint64(h))
	}
	return crc32.ChecksumIEEE(b)
}

// AppendBinary appends the model's snapshot to b (encoding.BinaryAppender).
func (m *Model) AppendBinary(b []byte) ([]byte, error) {
	start := len(b)
	b = append(b, snapshotMagic...)
	b = append(b, snapshotVersion)
	b = binary.LittleEndian.AppendUint32(b, m.spec.fingerprint())
	e := encoder{b}
	e.i64(m.step, m.first, m.last, m.centred)
	e.f64(m.lastV)
	e.u32(m.n, m.nonFinite, m.outOfOrder, m.gaps, m.shifts)
	e.f64(m.levels[0], m.levels[1], m.levels[2], m.trend, m.slow, m.slowAtCentre, m.spread, m.quantum)
	e.f32(m.daily[:]...)
	e.f32(m.weekly[:]...)
	e.f32(m.slotSpread[:]...)
	e.f32(m.errNone, m.errDaily, m.errBoth, m.errTrend, m.errFlat)
	e.b = append(e.b, m.flags)
	e.f32(m.cusumPos, m.cusumNeg)
	e.f32(m.shiftSum[:]...)
	e.b = binary.LittleEndian.AppendUint16(e.b, m.shiftN[0])
	e.b = binary.LittleEndian.AppendUint16(e.b, m.shiftN[1])
	e.f32(m.lastShift)
	e.i64(m.shiftAt)
	e.f32(m.short, m.drift, m.vol, m.tail.u, m.tail.excess, m.driftTail.u, m.driftTail.excess, m.volTail.u, m.volTail.excess)
	e.f64(m.vMin, m.vMax)
	e.b = append(e.b, byte(len(m.spec.horizons)))
	for i := range m.spec.horizons {
		h := &m.horizons[i]
		e.i64(h.target[:]...)
		e.f32(h.pred[:]...)
		e.f32(h.trendPart[:]...)
		e.i64(h.issued)
		e.f32(h.mae)
		e.b = binary.LittleEndian.AppendUint16(e.b, h.count)
	}
	b = e.b
	return binary.LittleEndian.AppendUint32(b, crc32.ChecksumIEEE(b[start:])), nil
}

// MarshalBinary returns the model's snapshot (encoding.BinaryMarshaler).
func (m *Model) MarshalBinary() ([]byte, error) {
	return m.AppendBinary(make([]byte, 0, 1600))
}

// Restore returns a model with the state of a snapshot taken by a model of a compatible Spec.
// Corrupt, truncated or foreign data returns ErrSnapshot, a snapshot of another format version
// or structural configuration returns ErrIncompatible; Restore never panics.
func (s *Spec) Restore(data []byte) (*Model, error) {
	m := s.New()
	if err := m.UnmarshalBinary(data); err != nil {
		return nil, err
	}
	return m, nil
}

// UnmarshalBinary replaces the model's state with a snapshot (encoding.BinaryUnmarshaler).
// On error the model is left unchanged.
func (m *Model) UnmarshalBinary(data []byte) error {
	const head = len(snapshotMagic) + 1 + 4
	if len(data) < head+4 || string(data[:4]) != snapshotMagic {
		return fmt.Errorf("%w: no Kizashi model snapshot header", ErrSnapshot)
	}
	body, sum := data[:len(data)-4], binary.LittleEndian.Uint32(data[len(data)-4:])
	if crc32.ChecksumIEEE(body) != sum {
		return fmt.Errorf("%w: checksum mismatch", ErrSnapshot)
	}
	if v := data[4]; v != snapshotVersion {
		return fmt.Errorf("%w: format version %d, this build reads %d", ErrIncompatible, v, snapshotVersion)
	}
	if fp := binary.LittleEndian.Uint32(data[5:9]); fp != m.spec.fingerprint() {
		return fmt.Errorf("%w: taken with another step, seasonality or horizon configuration", ErrIncompatible)
	}
	d := decoder{b: body[head:]}
	n := &Model{spec: m.spec}
	d.i64(&n.step, &n.first, &n.last, &n.centred)
	d.f64(&n.lastV)
	d.u32(&n.n, &n.nonFinite, &n.outOfOrder, &n.gaps, &n.shifts)
	d.f64(&n.levels[0], &n.levels[1], &n.levels[2], &n.trend, &n.slow, &n.slowAtCentre, &n.spread, &n.quantum)
	d.f32s(n.daily[:])
	d.f32s(n.weekly[:])
	d.f32s(n.slotSpread[:])
	d.f32(&n.errNone, &n.errDaily, &n.errBoth, &n.errTrend, &n.errFlat)
	n.flags = d.u8()
	d.f32(&n.cusumPos, &n.cusumNeg)
	d.f32s(n.shiftSum[:])
	n.shiftN[0], n.shiftN[1] = d.u16(), d.u16()
	d.f32(&n.lastShift)
	d.i64(&n.shiftAt)
	d.f32(&n.short, &n.drift, &n.vol, &n.tail.u, &n.tail.excess, &n.driftTail.u, &n.driftTail.excess, &n.volTail.u, &n.volTail.excess)
	d.f64(&n.vMin, &n.vMax)
	if nh := int(d.u8()); nh != len(m.spec.horizons) {
		return fmt.Errorf("%w: %d horizons, want %d", ErrIncompatible, nh, len(m.spec.horizons))
	}
	for i := range m.spec.horizons {
		h := &n.horizons[i]
		d.i64(&h.target[0], &h.target[1])
		d.f32s(h.pred[:])
		d.f32s(h.trendPart[:])
		d.i64(&h.issued)
		d.f32(&h.mae)
		h.count = d.u16()
	}
	if d.err == nil && len(d.b) != 0 {
		d.err = fmt.Errorf("%w: %d trailing bytes", ErrSnapshot, len(d.b))
	}
	if d.err != nil {
		return d.err
	}
	if err := n.validate(); err != nil {
		return err
	}
	*m = *n
	return nil
}

// validate rejects states that no sequence of Updates can produce, so that a snapshot that
// passed the checksum by chance cannot poison the model with NaN or nonsense.
func (m *Model) validate() error {
	bad := func(what string) error { return fmt.Errorf("%w: invalid %s", ErrSnapshot, what) }
	finite := func(vs ...float64) bool {
		for _, v := range vs {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return false
			}
		}
		return true
	}
	switch {
	case m.step < 0 || m.last < m.first:
		return bad("timestamps")
	case !finite(m.lastV, m.levels[0], m.levels[1], m.levels[2], m.trend, m.slow, m.slowAtCentre, m.spread, m.vMin, m.vMax) || m.spread < 0:
		return bad("level or spread")
	case math.IsNaN(m.quantum) || m.quantum <= 0:
		return bad("resolution")
	case m.flags > flagDaily|flagWeekly|flagTrend:
		return bad("flags")
	}
	groups := [][]float32{m.daily[:], m.weekly[:], m.slotSpread[:], m.shiftSum[:],
		{m.short, m.errNone, m.errDaily, m.errBoth, m.errTrend, m.errFlat, m.cusumPos, m.cusumNeg, m.lastShift, m.drift, m.vol, m.tail.u, m.tail.excess, m.driftTail.u, m.driftTail.excess, m.volTail.u, m.volTail.excess}}
	for i := range m.spec.horizons {
		groups = append(groups, m.horizons[i].pred[:], m.horizons[i].trendPart[:], []float32{m.horizons[i].mae})
	}
	for _, g := range groups {
		for _, v := range g {
			if !finite(float64(v)) {
				return bad("profile")
			}
		}
	}
	return nil
}

type encoder struct{ b []byte }

func (e *encoder) i64(vs ...int64) {
	for _, v := range vs {
		e.b = binary.LittleEndian.AppendUint64(e.b, uint64(v))
	}
}

func (e *encoder) u32(vs ...uint32) {
	for _, v := range vs {
		e.b = binary.LittleEndian.AppendUint32(e.b, v)
	}
}

func (e *encoder) f64(vs ...float64) {
	for _, v := range vs {
		e.b = binary.LittleEndian.AppendUint64(e.b, math.Float64bits(v))
	}
}

func (e *encoder) f32(vs ...float32) {
	for _, v := range vs {
		e.b = binary.LittleEndian.AppendUint32(e.b, math.Float32bits(v))
	}
}

// decoder reads what encoder wrote; the first short read sets err and zeroes the rest.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) take(n int) []byte {
	if d.err != nil {
		return nil
	}
	if len(d.b) < n {
		d.err = fmt.Errorf("%w: truncated", ErrSnapshot)
		return nil
	}
	p := d.b[:n]
	d.b = d.b[n:]
	return p
}

func (d *decoder) i64(ps ...*int64) {
	for _, p := range ps {
		if b := d.take(8); b != nil {
			*p = int64(binary.LittleEndian.Uint64(b))
		}
	}
}

func (d *decoder) u32(ps ...*uint32) {
	for _, p := range ps {
		if b := d.take(4); b != nil {
			*p = binary.LittleEndian.Uint32(b)
		}
	}
}

func (d *decoder) f64(ps ...*float64) {
	for _, p := range ps {
		if b := d.take(8); b != nil {
			*p = math.Float64frombits(binary.LittleEndian.Uint64(b))
		}
	}
}

func (d *decoder) f32(ps ...*float32) {
	for _, p := range ps {
		if b := d.take(4); b != nil {
			*p = math.Float32frombits(binary.LittleEndian.Uint32(b))
		}
	}
}

func (d *decoder) f32s(dst []float32) {
	for i := range dst {
		d.f32(&dst[i])
	}
}

func (d *decoder) u16() uint16 {
	if b := d.take(2); b != nil {
		return binary.LittleEndian.Uint16(b)
	}
	return 0
}

func (d *decoder) u8() uint8 {
	if b := d.take(1); b != nil {
		return b[0]
	}
	return 0
}
