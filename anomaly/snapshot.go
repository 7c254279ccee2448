package anomaly

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"
)

// Snapshot format (little endian):
//
//	magic "KZAS" | version u8 | spec fingerprint u32 | horizons u8 | state ... | CRC-32 (IEEE) of all before
//
// The fingerprint covers what gives the state its meaning (step, components, horizons, time
// zone); a snapshot taken under another sensitivity, valid range or list of holidays (a few
// days learned as Sundays or not) restores fine. Version 4 stores the profiles in 16 bits a
// point (a float32 unit, then an int16 per point); version 3, which stored them as float32,
// still restores (its profiles are quantised as they are read).
// Version 5 adds the volatility channel's state, version 6 the calibration of the channels' sum
// (calFit), version 7 the slow drift channel and the confirmed shifts the slow levels have not
// caught up with, version 8 the time of the last large re-levelling, version 9 the jump
// channel's state, version 10 the runs of zeros of a series of counts (flagNotCount in the
// flags), version 11 the steps channel's state; an older snapshot restores
// with what it lacks unlearned, which the model learns again as a new model does.
const (
	snapshotMagic   = "KZAS"
	snapshotVersion = 11
	snapshotSize    = 4096
)

// snapshotOldest is the oldest format version Restore reads.
const snapshotOldest = 3

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
	if s.zone != nil {
		// Profiles learned in another time zone are misplaced by the difference (a snapshot
		// taken in UTC, which has no zone, keeps the fingerprint it had before zones).
		b = append(b, 'Z')
		b = append(b, s.cfg.Location.String()...)
	}

	return crc32.ChecksumIEEE(b)
}

// since is state that a version of the format added: encoded and validated as its parts, read
// only from a snapshot of that version or later (left at zero, unlearned, from an older one).
type since struct {
	version uint8
	parts   []any
}

// fields visits every part of the model's state in snapshot order. Encoding, decoding and
// validation all walk this one list, so they cannot disagree.
func (m *Model) fields(f func(p any)) {
	for _, p := range []any{
		&m.step, &m.first, &m.last, &m.centred, &m.lastV,
		&m.n, &m.nonFinite, &m.outOfOrder, &m.gaps, &m.shifts, &m.missed,
		m.levels[:], m.slows[:], m.trends[:], m.trendTargets[:], m.slowsAtCentre[:], &m.spread, &m.quantum,
		m.prof(profCoarse), m.prof(profFine), m.prof(profWeekly), m.prof(profSmooth), m.prof(profDayScale), m.prof(profWeekScale),
		m.errs[:], &m.evN, &m.cand, &m.eligible, &m.errTrend, &m.errFlat, &m.flags,
		&m.cusumPos, &m.cusumNeg, m.shiftSum[0][:], m.shiftSum[1][:], m.shiftN[:], &m.lastShift, &m.shiftAt,
		&m.short, &m.patEP, &m.patPP, &m.patEE, &m.devRun, &m.zz, &m.zlag, &m.lastZ, &m.drift, &m.vol, m.repHits[0][:], m.repHits[1][:], m.repTrials[0][:], m.repTrials[1][:], &m.maxRun, &m.run, &m.held, &m.heldReason,
		&m.vMin, &m.vMax,
	} {
		f(p)
	}
	for _, t := range []*tailFit{&m.tail, &m.pointTail, &m.driftTail, &m.volTail} {
		f(&t.u)
		f(&t.excess)
		f(&t.excess2)
	}
	f(since{5, []any{m.diffScale[:], m.diffWeek[:], &m.volS, &m.volN, &m.volM, &m.volSide,
		&m.volSTail.u, &m.volSTail.excess, &m.volSTail.excess2}})
	f(since{6, []any{&m.cal.u, &m.cal.excess}})
	f(since{7, []any{m.slowDrift[:], &m.slowVar, &m.slowN, &m.slowTail.u, &m.slowTail.excess, &m.slowTail.excess2,
		m.unabsorbed[:]}})
	f(since{8, []any{&m.bigShiftAt}})
	f(since{9, []any{&m.jumpMax, &m.jumpX, &m.jumpD, &m.jumpLim, &m.jumpFrom, &m.jumpAt, &m.jumpSince}})
	f(since{10, []any{&m.countE2, &m.countLam, &m.zeroRun}})
	f(since{11, []any{&m.stepS, &m.stepN, &m.stepTail.u, &m.stepTail.excess, &m.stepTail.excess2}})
	for i := range m.spec.horizons {
		h := &m.horizons[i]
		for _, p := range []any{h.target[:], h.pred[:], h.trendPart[:], &h.issued, &h.mae, &h.count} {
			f(p)
		}
	}
}

// AppendBinary appends the model's snapshot to b (encoding.BinaryAppender).
func (m *Model) AppendBinary(b []byte) ([]byte, error) {
	start := len(b)
	b = append(b, snapshotMagic...)
	b = append(b, snapshotVersion)
	b = binary.LittleEndian.AppendUint32(b, m.spec.fingerprint())
	b = append(b, byte(len(m.spec.horizons)))
	le := binary.LittleEndian
	var enc func(p any)
	enc = func(p any) {
		switch p := p.(type) {
		case *int64:
			b = le.AppendUint64(b, uint64(*p))
		case []int64:
			for _, v := range p {
				b = le.AppendUint64(b, uint64(v))
			}
		case *float64:
			b = le.AppendUint64(b, math.Float64bits(*p))
		case []float64:
			for _, v := range p {
				b = le.AppendUint64(b, math.Float64bits(v))
			}
		case *float32:
			b = le.AppendUint32(b, math.Float32bits(*p))
		case []float32:
			for _, v := range p {
				b = le.AppendUint32(b, math.Float32bits(v))
			}
		case *uint32:
			b = le.AppendUint32(b, *p)
		case *uint16:
			b = le.AppendUint16(b, *p)
		case *int16:
			b = le.AppendUint16(b, uint16(*p))
		case []uint16:
			for _, v := range p {
				b = le.AppendUint16(b, v)
			}
		case *uint8:
			b = append(b, *p)
		case *int8:
			b = append(b, uint8(*p))
		case since:
			for _, q := range p.parts {
				enc(q)
			}
		case prof16:
			b = le.AppendUint32(b, math.Float32bits(*p.unit))
			for _, v := range p.q {
				b = le.AppendUint16(b, uint16(v))
			}
		default:
			panic(fmt.Sprintf("anomaly: snapshot of %T", p))
		}
	}
	m.fields(enc)
	return binary.LittleEndian.AppendUint32(b, crc32.ChecksumIEEE(b[start:])), nil
}

// MarshalBinary returns the model's snapshot (encoding.BinaryMarshaler).
func (m *Model) MarshalBinary() ([]byte, error) {
	return m.AppendBinary(make([]byte, 0, snapshotSize))
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
	const head = len(snapshotMagic) + 1 + 4 + 1
	if len(data) < head+4 || string(data[:4]) != snapshotMagic {
		return fmt.Errorf("%w: no Kizashi model snapshot header", ErrSnapshot)
	}
	body, sum := data[:len(data)-4], binary.LittleEndian.Uint32(data[len(data)-4:])
	if crc32.ChecksumIEEE(body) != sum {
		return fmt.Errorf("%w: checksum mismatch", ErrSnapshot)
	}
	if v := data[4]; v < snapshotOldest || v > snapshotVersion {
		return fmt.Errorf("%w: format version %d, this build reads %d to %d", ErrIncompatible, v, snapshotOldest, snapshotVersion)
	}
	if fp := binary.LittleEndian.Uint32(data[5:9]); fp != m.spec.fingerprint() {
		return fmt.Errorf("%w: taken with another step, seasonality or horizon configuration", ErrIncompatible)
	}
	if nh := int(data[9]); nh != len(m.spec.horizons) {
		return fmt.Errorf("%w: %d horizons, want %d", ErrIncompatible, nh, len(m.spec.horizons))
	}
	d := decoder{b: body[head:], version: data[4]}
	n := &Model{spec: m.spec}
	n.fields(d.field)
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
	finite := true
	var check func(p any)
	check = func(p any) {
		switch p := p.(type) {
		case since:
			for _, q := range p.parts {
				check(q)
			}
		case *float64:
			// The resolution is +Inf until two different values were seen (a constant series).
			finite = finite && !math.IsNaN(*p) && (!math.IsInf(*p, 0) || p == &m.quantum && *p > 0)
		case []float64:
			for _, v := range p {
				finite = finite && !math.IsNaN(v) && !math.IsInf(v, 0)
			}
		case *float32:
			finite = finite && !math.IsNaN(float64(*p)) && !math.IsInf(float64(*p), 0)
		case []float32:
			for _, v := range p {
				finite = finite && !math.IsNaN(float64(v)) && !math.IsInf(float64(v), 0)
			}
		case prof16:
			finite = finite && isUnit(*p.unit)
		}
	}
	m.fields(check)
	switch {
	case m.step < 0 || m.last < m.first || m.shiftAt > m.last || m.bigShiftAt > m.last:
		return bad("timestamps")
	case math.IsNaN(m.quantum) || m.quantum <= 0:
		return bad("resolution")
	case !finite:
		return bad("non-finite state")
	case m.spread < 0:
		return bad("spread")
	case m.slowVar < 0:
		return bad("slow drift spread")
	case m.countE2 < 0 || m.countLam < 0 || m.zeroRun < 0:
		return bad("counts")
	case m.flags > flagTrend|flagNotCount || m.cand >= numCand || m.eligible >= 1<<numCand:
		return bad("flags")
	}
	return nil
}

// decoder reads what AppendBinary wrote; the first short read sets err and zeroes the rest.
type decoder struct {
	b       []byte
	version uint8
	err     error
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

func (d *decoder) field(p any) {
	le := binary.LittleEndian
	switch p := p.(type) {
	case since:
		if d.version >= p.version {
			for _, q := range p.parts {
				d.field(q)
			}
		}
	case *int64:
		if b := d.take(8); b != nil {
			*p = int64(le.Uint64(b))
		}
	case []int64:
		for i := range p {
			d.field(&p[i])
		}
	case *float64:
		if b := d.take(8); b != nil {
			*p = math.Float64frombits(le.Uint64(b))
		}
	case []float64:
		for i := range p {
			d.field(&p[i])
		}
	case *float32:
		if b := d.take(4); b != nil {
			*p = math.Float32frombits(le.Uint32(b))
		}
	case []float32:
		for i := range p {
			d.field(&p[i])
		}
	case *uint32:
		if b := d.take(4); b != nil {
			*p = le.Uint32(b)
		}
	case *uint16:
		if b := d.take(2); b != nil {
			*p = le.Uint16(b)
		}
	case *int16:
		if b := d.take(2); b != nil {
			*p = int16(le.Uint16(b))
		}
	case []uint16:
		for i := range p {
			d.field(&p[i])
		}
	case *uint8:
		if b := d.take(1); b != nil {
			*p = b[0]
		}
	case *int8:
		if b := d.take(1); b != nil {
			*p = int8(b[0])
		}
	case prof16:
		if d.version < 4 {
			// float32 points, quantised as they are read.
			var xs [weeklySlots]float32
			for i := range p.q {
				d.field(&xs[i])
				if x := float64(xs[i]); math.IsNaN(x) || math.IsInf(x, 0) {
					d.fail(fmt.Errorf("%w: invalid non-finite state", ErrSnapshot))
				}
			}
			if d.err == nil {
				p.load(xs[:len(p.q)])
			}
			return
		}
		d.field(p.unit)
		for i := range p.q {
			if b := d.take(2); b != nil {
				p.q[i] = int16(le.Uint16(b))
			}
		}
	}
}

func (d *decoder) fail(err error) {
	if d.err == nil {
		d.err = err
	}
}
