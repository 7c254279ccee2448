//go:build kizashitrace

package anomaly

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The trace sees every scored sample once, from the model that scored it, and says what the
// score says: X/(X+2.7) is the Result's score, and the channel that carried a spike is the
// spike's.
func TestTraceIsWhatTheScoreSaw(t *testing.T) {
	ts, vs := series(1440*3, time.Minute, 0.5, dailySine)
	spike := len(vs) - 100
	vs[spike] += 40
	m, err := New(Config{})
	require.NoError(t, err)
	other, err := New(Config{})
	require.NoError(t, err)
	var traces []Trace
	TraceHook = func(mm *Model, tr *Trace) {
		if mm == m {
			traces = append(traces, *tr)
		}
	}
	defer func() { TraceHook = nil }()
	_, err = other.Update(ts[0], vs[0]) // another model's samples are its own
	require.NoError(t, err)
	ready, at := 0, -1
	for i := range vs {
		r, err := m.Update(ts[i], vs[i])
		require.NoError(t, err)
		if !r.Ready {
			continue
		}
		ready++
		require.Len(t, traces, ready, "one trace per scored sample (sample %d)", i)
		tr := traces[ready-1]
		require.Equal(t, ts[i].UnixNano(), tr.Time)
		require.Equal(t, vs[i], tr.Value)
		require.InDelta(t, r.Score, tr.X/(tr.X+tuneScoreHalf), 1e-12, "sample %d", i)
		if i == spike {
			at = ready - 1
		}
	}
	require.Positive(t, ready)
	require.GreaterOrEqual(t, at, 0, "the spike was scored")
	tr := traces[at]
	require.Greater(t, max(tr.Spike, tr.Beyond), 5.0, "the spike's evidence is the spike's or beyond the range: %+v", tr)
}
