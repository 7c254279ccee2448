package main

import (
	"log/slog"
	"math"
	"runtime/debug"
	"testing"

	"github.com/alecthomas/kingpin/v2"
	"github.com/pbnjay/memory"
	"github.com/stretchr/testify/require"
)

// TestRuntimeFlags: GOGC is 75 unless the environment sets it or the flag is given; GOMEMLIMIT
// is 0.9 of the memory limit (the container's, or the machine's), unless the environment sets
// it or --no-auto-gomemlimit; bad values are refused before anything is set.
func TestRuntimeFlags(t *testing.T) {
	logger := slog.New(slog.DiscardHandler)
	prevGC, prevLimit := debug.SetGCPercent(100), debug.SetMemoryLimit(math.MaxInt64)
	t.Cleanup(func() {
		debug.SetGCPercent(prevGC)
		debug.SetMemoryLimit(prevLimit)
	})
	gogc := func() int {
		v := debug.SetGCPercent(100)
		debug.SetGCPercent(v)
		return v
	}
	parse := func(args ...string) *runtimeFlags {
		app := kingpin.New("x", "")
		app.Terminate(nil)
		f := addRuntimeFlags(app.Command("serve", "").Default())
		_, err := app.Parse(args)
		require.NoError(t, err)
		return f
	}

	for _, c := range []struct {
		env  string
		args []string
		want int
	}{
		{"", nil, 75},
		{"150", nil, 150},
		{"150", []string{"--runtime.gogc=50"}, 50},
		{"", []string{"--runtime.gogc=200"}, 200},
	} {
		t.Setenv("GOGC", c.env)
		t.Setenv("GOMEMLIMIT", "")
		debug.SetGCPercent(100)
		if c.env != "" {
			debug.SetGCPercent(150) // what the runtime read from the environment
		}
		debug.SetMemoryLimit(math.MaxInt64)
		got, err := parse(append([]string{"--no-auto-gomemlimit"}, c.args...)...).apply(logger)
		require.NoError(t, err)
		require.Equal(t, c.want, got, "GOGC=%q %v", c.env, c.args)
		require.Equal(t, c.want, gogc())
		require.Equal(t, int64(math.MaxInt64), debug.SetMemoryLimit(-1), "--no-auto-gomemlimit")
	}

	t.Setenv("GOGC", "")
	_, err := parse().apply(logger)
	require.NoError(t, err)
	limit := debug.SetMemoryLimit(-1)
	require.Less(t, limit, int64(math.MaxInt64), "a limit is set")
	require.LessOrEqual(t, float64(limit), 0.9*float64(memory.TotalMemory())+1)

	debug.SetMemoryLimit(math.MaxInt64)
	t.Setenv("GOMEMLIMIT", "5GiB") // the runtime read it at start; Set leaves it alone
	_, err = parse().apply(logger)
	require.NoError(t, err)
	require.Equal(t, int64(math.MaxInt64), debug.SetMemoryLimit(-1))

	debug.SetGCPercent(100)
	for _, args := range [][]string{{"--runtime.gogc=0"}, {"--auto-gomemlimit.ratio=0"}, {"--auto-gomemlimit.ratio=1.5"}} {
		_, err := parse(args...).apply(logger)
		require.Error(t, err, "%v", args)
		require.Equal(t, 100, gogc(), "nothing set")
	}
}
