package config

import (
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"
)

func TestProblems(t *testing.T) {
	c, err := Parse([]byte("{}\n"), t.TempDir())
	require.NoError(t, err)
	require.Equal(t, DefaultProblems, c.Problems)

	c, err = Parse([]byte("problems:\n  recurrences: 5\n  window: 30d\n  by_ci: false\n"), t.TempDir())
	require.NoError(t, err)
	require.Equal(t, Problems{Interval: model.Duration(time.Minute), Recurrences: 5, Window: model.Duration(30 * 24 * time.Hour), Flapping: true}, c.Problems)

	for body, want := range map[string]string{
		"problems:\n  recurrences: 1\n":              "line 2: problems.recurrences: must be 0 (off) or at least 2",
		"problems:\n  window: 0s\n":                  "line 2: problems.window: must be positive",
		"problems:\n  interval: 0s\n":                "line 2: problems.interval: must be at least 1s",
		"problems:\n  recurrences: 3\n  windw: 1d\n": "windw",
	} {
		_, err := Parse([]byte(body), t.TempDir())
		require.ErrorContains(t, err, want, body)
	}
	c, err = Parse([]byte("problems:\n  recurrences: 0\n  window: 0s\n"), t.TempDir())
	require.NoError(t, err, "recurrence proposals off")
	require.Zero(t, c.Problems.Recurrences)
}
