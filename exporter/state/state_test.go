package state_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"

	"github.com/kizashi-dev/kizashi/exporter/state"
)

type entry struct {
	raw  model.Metric
	snap string
}

func write(t *testing.T, dir string, entries []entry) {
	t.Helper()
	w, err := state.Create(dir, "q")
	require.NoError(t, err)
	for _, e := range entries {
		require.NoError(t, w.Add(e.raw, []byte(e.snap)))
	}
	require.NoError(t, w.Commit())
}

func read(t *testing.T, dir string) ([]entry, error) {
	t.Helper()
	var out []entry
	_, err := state.Read(dir, "q", func(raw model.Metric, snap []byte) {
		out = append(out, entry{raw, string(snap)})
	})
	return out, err
}

func TestRoundTripAndDamage(t *testing.T) {
	entries := []entry{
		{model.Metric{"__name__": "up", "job": "a"}, "first"},
		{model.Metric{}, ""},
		{model.Metric{"x": "y\n\"z"}, string(make([]byte, 5000))},
	}
	for _, tc := range []struct {
		name   string
		damage func(b []byte) []byte
		want   int
		err    string
	}{
		{"intact", func(b []byte) []byte { return b }, 3, ""},
		{"missing", nil, 0, ""},
		{"bad header", func(b []byte) []byte { b[0] = 'X'; return b }, 0, "bad header"},
		{"flipped byte in the last record", func(b []byte) []byte { b[len(b)-100] ^= 1; return b }, 2, "record 2: checksum mismatch"},
		{"truncated", func(b []byte) []byte { return b[:len(b)-100] }, 2, "record 2: unexpected EOF"},
		{"empty", func([]byte) []byte { return nil }, 0, "bad header"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if tc.damage != nil {
				write(t, dir, entries)
				b, err := os.ReadFile(state.Path(dir, "q"))
				require.NoError(t, err)
				require.NoError(t, os.WriteFile(state.Path(dir, "q"), tc.damage(b), 0o600))
			}
			got, err := read(t, dir)
			if tc.err != "" {
				require.ErrorIs(t, err, state.ErrCorrupt)
				require.ErrorContains(t, err, tc.err)
			} else {
				require.NoError(t, err)
			}
			require.Len(t, got, tc.want)
			for i := range got {
				require.Equal(t, entries[i], got[i])
			}
		})
	}
}

func TestAtomicReplace(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, []entry{{model.Metric{"a": "1"}, "old"}})
	w, err := state.Create(dir, "q")
	require.NoError(t, err)
	require.NoError(t, w.Add(model.Metric{"a": "2"}, []byte("new")))
	// Until Commit, readers see the previous file.
	got, err := read(t, dir)
	require.NoError(t, err)
	require.Equal(t, "old", got[0].snap)
	require.NoError(t, w.Abort())
	got, err = read(t, dir)
	require.NoError(t, err)
	require.Equal(t, "old", got[0].snap)
	files, err := filepath.Glob(filepath.Join(dir, "*"))
	require.NoError(t, err)
	require.Equal(t, []string{state.Path(dir, "q")}, files, "no temporary file left")
}
