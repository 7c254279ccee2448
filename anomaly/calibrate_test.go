package anomaly

import (
	"encoding/binary"
	"hash/crc32"
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

// TestSnapshotV5RestoresWithCalibrationUnlearned: a snapshot of format 5 (before the
// calibration of the channels' sum) restores, the calibration starts again from the identity,
// and the model goes on scoring.
func TestSnapshotV5RestoresWithCalibrationUnlearned(t *testing.T) {
	// No horizons: the calibration's state is then the last of the snapshot, before the CRC.
	spec, err := Compile(Config{Horizons: []time.Duration{}})
	require.NoError(t, err)
	m := spec.New()
	ts, vs := series(288*9, 5*time.Minute, 2, dailySine)
	m.UpdateAll(ts[:288*8], vs[:288*8], nil)
	require.NotZero(t, m.cal.excess, "the calibration learned")
	v6, err := m.MarshalBinary()
	require.NoError(t, err)
	require.EqualValues(t, 6, v6[4])
	body := append([]byte(nil), v6[:len(v6)-4-8]...) // without the CRC and the two float32s
	body[4] = 5
	v5 := binary.LittleEndian.AppendUint32(body, crc32.ChecksumIEEE(body))
	r, err := spec.Restore(v5)
	require.NoError(t, err)
	require.Zero(t, r.cal, "format 5 has no calibration")
	// Everything else restored: with the calibration put back, the snapshot is the same.
	r2 := *r
	r2.cal = m.cal
	again, err := r2.MarshalBinary()
	require.NoError(t, err)
	require.Equal(t, v6, again)
	for i, res := range r.UpdateAll(ts[288*8:], vs[288*8:], nil) {
		require.Less(t, res.Score, 0.65, "sample %d after the restore", i)
	}
	// A truncated format 6 snapshot is rejected, not read as format 5.
	bad := append([]byte(nil), v6[:len(v6)-4-8]...)
	_, err = spec.Restore(binary.LittleEndian.AppendUint32(bad, crc32.ChecksumIEEE(bad)))
	require.ErrorIs(t, err, ErrSnapshot)
}
