package anomaly

import (
	"encoding/binary"
	"hash/crc32"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestCalFitOneRarity feeds calFit sums of different tails (light and heavy exponential,
// and one with most of its mass at 0, as a sparse series' sum) and checks that, once learned,
// the calibrated evidence reaches the score's half point (X = tuneScoreHalf) and the alert
// threshold (X = 5, a score of 0.65) equally often on each (within 1.5 times). The levels are
// those of calFit's doc: the learning that lets an incident teach less (and caps its excess)
// puts them at about 1 in 240 and 1 in 2,800 rather than at tuneCalRate and a tuneCalDecade
// per decade of an exact exponential tail.
func TestCalFitOneRarity(t *testing.T) {
	sums := map[string]func(r *rand.Rand) float64{
		"light":  func(r *rand.Rand) float64 { return 0.3 * r.ExpFloat64() },
		"heavy":  func(r *rand.Rand) float64 { return 1.5 * r.ExpFloat64() },
		"sparse": func(r *rand.Rand) float64 { return float64(r.IntN(20)/19) * 2 * r.ExpFloat64() },
	}
	var halves, alerts []float64
	for name, sum := range sums {
		t.Run(name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(3, 4))
			var c calFit
			var n, half, alert int
			for i := range 400000 {
				X := c.judge(sum(rng), uint32(i+1))
				if i < 100000 {
					continue
				}
				n++
				if X > tuneScoreHalf {
					half++
				}
				if X > 5 {
					alert++
				}
			}
			p, q := float64(half)/float64(n), float64(alert)/float64(n)
			t.Logf("X > %.1f: 1 in %.0f, X > 5: 1 in %.0f", tuneScoreHalf, 1/p, 1/q)
			require.InDelta(t, 1.0/240, p, 1.0/240/3, "the half point")
			require.InDelta(t, 1.0/2800, q, 1.0/2800/2, "the alert threshold")
			halves, alerts = append(halves, p), append(alerts, q)
		})
	}
	require.Len(t, alerts, len(sums))
	require.Less(t, slices.Max(halves)/slices.Min(halves), 1.5)
	require.Less(t, slices.Max(alerts)/slices.Min(alerts), 1.5)
}

// TestCalFitStartsAsIdentity: a new model's sum is passed through until there is history.
func TestCalFitStartsAsIdentity(t *testing.T) {
	var c calFit
	for _, x := range []float64{0, 1, tuneScoreHalf, 4, 9} {
		d := c
		require.InDelta(t, x, d.judge(x, 1), 1e-6)
	}
}

// TestOlderSnapshotsRestoreWithNewStateUnlearned: snapshots of format 5 (before the
// calibration of the channels' sum), 6 (before the slow drift channel), 7 (before the time
// of the last large re-levelling), 8 (before the jump channel), 9 (before the zeros
// channel) and 10 (before the steps channel) restore, what they lack starts again unlearned, and the
// model goes on scoring.
func TestOlderSnapshotsRestoreWithNewStateUnlearned(t *testing.T) {
	// No horizons: the state the formats added is then the last of the snapshot, before the CRC.
	spec, err := Compile(Config{Horizons: []time.Duration{}})
	require.NoError(t, err)
	m := spec.New()
	ts, vs := series(288*9, 5*time.Minute, 2, dailySine)
	for i := range vs {
		vs[i] = math.Round(vs[i]) // a series of counts: the zeros channel learns its dispersion
	}
	m.UpdateAll(ts[:288*8], vs[:288*8], nil)
	require.NotZero(t, m.countLam, "the zeros channel learned")
	require.NotZero(t, m.cal.excess, "the calibration learned")
	require.NotZero(t, m.slowVar, "the slow drift channel learned")
	require.NotZero(t, m.stepN, "the steps channel learned")
	cur, err := m.MarshalBinary()
	require.NoError(t, err)
	require.EqualValues(t, snapshotVersion, cur[4])
	// Bytes of the state formats 11, 10, 9, 8 and 7 and later added.
	const from11 = 2 + 2 + 3*4                    // stepS, stepN, stepTail
	const from10 = 3*4 + from11                   // countE2, countLam, zeroRun
	const from9 = 4*4 + 3*8 + from10              // jumpMax, jumpX, jumpD, jumpLim, jumpFrom, jumpAt, jumpSince
	const from8 = 8 + from9                       // bigShiftAt
	const from7 = 5*4 + 4 + 4 + 3*4 + 5*4 + from8 // slowDrift, slowVar, slowN, slowTail, unabsorbed
	putSteps := func(r, m *Model) {
		r.stepS, r.stepN, r.stepTail = m.stepS, m.stepN, m.stepTail
	}
	putCounts := func(r, m *Model) {
		r.countE2, r.countLam, r.zeroRun = m.countE2, m.countLam, m.zeroRun
		putSteps(r, m)
	}
	putJump := func(r, m *Model) {
		r.jumpMax, r.jumpX, r.jumpD, r.jumpLim, r.jumpFrom, r.jumpAt, r.jumpSince = m.jumpMax, m.jumpX, m.jumpD, m.jumpLim, m.jumpFrom, m.jumpAt, m.jumpSince
		putCounts(r, m)
	}
	for _, c := range []struct {
		version byte
		cut     int                 // bytes of state the format lacks
		putBack func(r, m *Model)   // what it lacks, from the model
		lacks   func(r *Model) bool // the restored model has none of it
	}{
		{10, from11, putSteps, func(r *Model) bool { return r.stepN == 0 && r.stepTail == tailFit{} }},
		{9, from10, putCounts, func(r *Model) bool { return r.countE2 == 0 && r.countLam == 0 }},
		{8, from9, putJump, func(r *Model) bool { return r.jumpMax == 0 && r.jumpAt == 0 && r.jumpSince == 0 }},
		{7, from8, func(r, m *Model) { r.bigShiftAt = m.bigShiftAt; putJump(r, m) }, func(r *Model) bool { return r.bigShiftAt == 0 }},
		{6, from7, func(r, m *Model) {
			r.slowDrift, r.slowVar, r.slowN, r.slowTail, r.unabsorbed = m.slowDrift, m.slowVar, m.slowN, m.slowTail, m.unabsorbed
			r.bigShiftAt = m.bigShiftAt
			putJump(r, m)
		}, func(r *Model) bool {
			return r.slowDrift == [numCand]float32{} && r.slowVar == 0 && r.slowN == 0 && r.slowTail == tailFit{} && r.unabsorbed == [numCand]float32{}
		}},
		{5, from7 + 8, func(r, m *Model) {
			r.cal, r.slowDrift, r.slowVar, r.slowN, r.slowTail, r.unabsorbed = m.cal, m.slowDrift, m.slowVar, m.slowN, m.slowTail, m.unabsorbed
			r.bigShiftAt = m.bigShiftAt
			putJump(r, m)
		}, func(r *Model) bool { return r.cal == calFit{} && r.slowVar == 0 }},
	} {
		body := append([]byte(nil), cur[:len(cur)-4-c.cut]...) // without the CRC and the state
		body[4] = c.version
		old := binary.LittleEndian.AppendUint32(body, crc32.ChecksumIEEE(body))
		r, err := spec.Restore(old)
		require.NoError(t, err, "format %d", c.version)
		require.True(t, c.lacks(r), "format %d restores unlearned what it lacks", c.version)
		// Everything else restored: with what it lacks put back, the snapshot is the same.
		r2 := *r
		c.putBack(&r2, m)
		again, err := r2.MarshalBinary()
		require.NoError(t, err)
		require.Equal(t, cur, again, "format %d", c.version)
		for i, res := range r.UpdateAll(ts[288*8:], vs[288*8:], nil) {
			require.Less(t, res.Score, 0.65, "format %d: sample %d after the restore", c.version, i)
		}
		// A truncated current snapshot is rejected, not read as the older format.
		bad := append([]byte(nil), cur[:len(cur)-4-c.cut]...)
		_, err = spec.Restore(binary.LittleEndian.AppendUint32(bad, crc32.ChecksumIEEE(bad)))
		require.ErrorIs(t, err, ErrSnapshot, "format %d", c.version)
	}
}
