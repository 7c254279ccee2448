//go:build kizashitrace

package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestWindowAroundTheOnset(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, run([]string{"-case", "counts/drop0/0", "-from", "-2", "-to", "6", "-every", "2"}, &out))
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	require.True(t, strings.HasPrefix(lines[0], "# counts/drop0/0 seed 1: "), lines[0])
	require.True(t, strings.HasPrefix(lines[1], "step\trel\t"), lines[1])
	// Every second step of the window, and the steps whose evidence reaches the alert's.
	var rels []string
	for _, l := range lines[2:] {
		rels = append(rels, strings.Split(l, "\t")[1])
	}
	require.Subset(t, rels, []string{"-2", "0", "2", "4", "6"})
	for _, r := range rels {
		require.Contains(t, []string{"-2", "-1", "0", "1", "2", "3", "4", "5", "6"}, r, "outside the window")
	}
}

func TestCSV(t *testing.T) {
	p := filepath.Join(t.TempDir(), "s.csv")
	var b strings.Builder
	b.WriteString("timestamp,value\n")
	for i := range 2 * 1440 {
		fmt.Fprintf(&b, "%d,%d\n", 1396310400+60*i, 10+i%7) // unix seconds
	}
	require.NoError(t, os.WriteFile(p, []byte(b.String()), 0o600))
	var out bytes.Buffer
	err := run([]string{"-csv", p, "-from", "-5", "-to", "0", "-every", "1"}, &out)
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	require.Equal(t, "# "+p+": 2880 samples", lines[0])
	require.Len(t, lines, 2+6, "the last six steps: %s", out.String())
	require.True(t, strings.HasPrefix(lines[len(lines)-1], "2879\t0\t2014-04-02T23:59(Wed)\t12\t"), lines[len(lines)-1])
}

func TestBadArguments(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"-case", "cpu/flatten"},
		{"-case", "nosuch/flatten/0"},
		{"-case", "cpu/nosuch/0"},
		{"-case", "cpu/flatten/x"},
		{"-case", "cpu/flatten/0", "-csv", "x.csv"},
		{"-case", "cpu/flatten/0", "-every", "0"},
	} {
		require.Error(t, run(args, &bytes.Buffer{}), "%q", args)
	}
}

// TestCalendarWindow: a series of the calendar catalogue, its model in the series' zone with
// -zoned: the model in Berlin, after the clocks changed there, fires less often than one in
// UTC on the same on/off control.
func TestCalendarWindow(t *testing.T) {
	count := func(args ...string) (int, string) {
		var out bytes.Buffer
		require.NoError(t, run(append([]string{"-case", "onoff/none/3", "-calendar", "-fa"}, args...), &out))
		lines := strings.Split(strings.TrimSpace(out.String()), "\n")
		return len(lines), lines[0]
	}
	utc, first := count()
	require.True(t, strings.HasPrefix(first, "# onoff/none/3 seed 1: "), first)
	zoned, first := count("-zoned")
	require.Equal(t, "# the model in Europe/Berlin, holidays []", first)
	require.Less(t, zoned+10, utc, "steps at the alert's evidence: %d in Berlin, %d in UTC", zoned, utc)
}

// The re-levellings of a flattening (a staircase of confirmed shifts, each absorbed into the
// level) show in the trace: the count of re-levellings grows within the window and the
// published candidate's unabsorbed shift is set.
func TestRelevellingsInTheWindow(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, run([]string{"-case", "smooth/flatten/3", "-from", "0", "-to", "240", "-every", "20", "-min", "99"}, &out))
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	header := strings.Split(lines[1], "\t")
	require.Equal(t, []string{"unabsorbed", "shifts"}, header[len(header)-2:])
	first, last := -1, -1
	unabsorbed := false
	for _, l := range lines[2:] {
		f := strings.Split(l, "\t")
		require.Len(t, f, len(header), l)
		var n int
		_, err := fmt.Sscan(f[len(f)-1], &n)
		require.NoError(t, err)
		if first < 0 {
			first = n
		}
		require.GreaterOrEqual(t, n, last, "the count of re-levellings never falls")
		last = n
		unabsorbed = unabsorbed || f[len(f)-2] != "0"
	}
	require.Greater(t, last, first, "the flattening is re-levelled within the window")
	require.True(t, unabsorbed, "a confirmed shift the slow level has not caught up with")
}
