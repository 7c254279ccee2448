package backtest

import (
	"context"
	"encoding/csv"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kizashi-dev/kizashi/anomaly"
)

// copyFile copies a testdata file to dst, creating directories.
func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	data, err := os.ReadFile(src)
	require.NoError(t, err)
	require.NoError(t, os.MkdirAll(filepath.Dir(dst), 0o755))
	require.NoError(t, os.WriteFile(dst, data, 0o644))
}

// readOutput reads a backtest output file as CSV records.
func readOutput(t *testing.T, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer func() { require.NoError(t, f.Close()) }()
	recs, err := csv.NewReader(f).ReadAll()
	require.NoError(t, err)
	return recs
}

// writeSeries writes a synthetic 5-minute series with a daily cycle and one spike.
func writeSeries(t testing.TB, path string, n int) {
	t.Helper()
	var b strings.Builder
	b.WriteString("timestamp,value\n")
	start := time.Date(2014, 4, 1, 0, 0, 0, 0, time.UTC)
	for i := range n {
		ts := start.Add(time.Duration(i) * 5 * time.Minute)
		v := 50 + 20*math.Sin(2*math.Pi*float64(i)/288) + float64(i%7)
		if i == n*3/4 {
			v += 200
		}
		fmt.Fprintf(&b, "%s,%g\n", ts.Format("2006-01-02 15:04:05"), v)
	}
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	require.NoError(t, os.WriteFile(path, []byte(b.String()), 0o644))
}

func TestRunTree(t *testing.T) {
	in, out := t.TempDir(), filepath.Join(t.TempDir(), "out")
	copyFile(t, "testdata/csv/good.csv", filepath.Join(in, "a", "good.csv"))
	copyFile(t, "testdata/csv/mixed.csv", filepath.Join(in, "a", "b", "mixed.csv"))
	copyFile(t, "testdata/csv/bad_value.csv", filepath.Join(in, "bad.csv"))
	copyFile(t, "testdata/csv/out_of_order.csv", filepath.Join(in, "c", "ooo.CSV"))
	writeSeries(t, filepath.Join(in, "big", "series.csv"), 3000)
	require.NoError(t, os.WriteFile(filepath.Join(in, "README.txt"), []byte("not a csv"), 0o644))

	sum, err := Run(context.Background(), Options{Input: in, Output: out, Workers: 2})
	var failed *FailedError
	require.ErrorAs(t, err, &failed)
	require.Len(t, failed.Failed, 1)
	require.Equal(t, filepath.Join(in, "bad.csv"), failed.Failed[0].Path)
	require.EqualError(t, failed.Failed[0].Err, filepath.Join(in, "bad.csv")+`:3: parse value "abc": invalid syntax`)
	require.Equal(t, "5 files, 3010 rows, 1 failed", sum.String())
	require.Contains(t, err.Error(), "bad.csv")

	// The bad file left nothing behind, not even a temporary file.
	_, err = os.Stat(filepath.Join(out, "bad.csv"))
	require.ErrorIs(t, err, os.ErrNotExist)
	entries, err := os.ReadDir(out)
	require.NoError(t, err)
	for _, e := range entries {
		require.False(t, strings.HasSuffix(e.Name(), ".tmp"), e.Name())
	}

	good := readOutput(t, filepath.Join(out, "a", "good.csv"))
	require.Equal(t, []string{"timestamp", "value", "baseline", "lower", "upper", "anomaly_score", "deviation", "reason"}, good[0])
	require.Len(t, good, 4)
	// One sample gives no band: lower and upper are empty.
	require.Equal(t, []string{"2014-04-01 00:00:00", "20", "20", "", "", "0", "0", ""}, good[1])
	require.Equal(t, "2014-04-01 00:05:00", good[2][0])
	require.Equal(t, "21.5", good[2][1])

	mixed := readOutput(t, filepath.Join(out, "a", "b", "mixed.csv"))
	require.Len(t, mixed, 5)
	require.Equal(t, []string{"2014-04-01T00:00:00Z", "2014-04-01T00:05:00.5+02:00", "1396311000", "1396311300.25"},
		[]string{mixed[1][0], mixed[2][0], mixed[3][0], mixed[4][0]})

	// The out-of-order row keeps its place, with the model's expectation and no deviation.
	ooo := readOutput(t, filepath.Join(out, "c", "ooo.CSV"))
	require.Len(t, ooo, 4)
	require.Equal(t, "2014-04-01 00:00:00", ooo[2][0])
	require.Equal(t, "0", ooo[2][5])
	require.Empty(t, ooo[2][6])
	require.NotEmpty(t, ooo[2][2])

	big := readOutput(t, filepath.Join(out, "big", "series.csv"))
	require.Len(t, big, 3001)
	for i, rec := range big[1:] {
		for j, f := range rec[1:7] {
			if i == 0 && (j == 2 || j == 3) {
				require.Empty(t, f, "no band from one sample")
				continue
			}
			v, err := strconv.ParseFloat(f, 64)
			require.NoError(t, err, "row %d col %d", i+1, j+1)
			require.False(t, math.IsNaN(v))
		}
		s, _ := strconv.ParseFloat(rec[5], 64)
		require.True(t, s >= 0 && s <= 1, "score %g", s)
		// The reason: empty below 0.5, a reason's name from it.
		if s < anomaly.ReasonMinScore {
			require.Empty(t, rec[7])
		} else {
			_, err := anomaly.ParseReason(rec[7])
			require.NoError(t, err)
			require.NotEqual(t, "none", rec[7])
		}
	}
	spike, _ := strconv.ParseFloat(big[1+2250][5], 64)
	require.Greater(t, spike, 0.5, "the spike scores high")
}

func TestRunSingleFile(t *testing.T) {
	out := filepath.Join(t.TempDir(), "x", "result.csv")
	sum, err := Run(context.Background(), Options{Input: "testdata/csv/good.csv", Output: out})
	require.NoError(t, err)
	require.Equal(t, "1 files, 3 rows, 0 failed", sum.String())
	require.Len(t, readOutput(t, out), 4)

	dir := t.TempDir()
	_, err = Run(context.Background(), Options{Input: "testdata/csv/good.csv", Output: dir})
	require.NoError(t, err)
	require.Len(t, readOutput(t, filepath.Join(dir, "good.csv")), 4, "into an existing directory")
}

func TestRunErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name    string
		opts    Options
		wantErr string
	}{
		{name: "missing input", opts: Options{Input: filepath.Join(dir, "nope"), Output: dir}, wantErr: "input: stat"},
		{name: "no csv", opts: Options{Input: dir, Output: filepath.Join(dir, "o")}, wantErr: "no *.csv files"},
		{name: "no output", opts: Options{Input: dir}, wantErr: "input and output are both required"},
		{name: "bad config", opts: Options{Input: dir, Output: dir, Config: anomaly.Config{Sensitivity: anomaly.Float(2)}},
			wantErr: "model config: sensitivity 2: must be in [0,1]"},
		{name: "bad file", opts: Options{Input: "testdata/csv/nan.csv", Output: filepath.Join(dir, "nan.csv")},
			wantErr: "1 file(s) failed: testdata/csv/nan.csv"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Run(context.Background(), tc.opts)
			require.ErrorContains(t, err, tc.wantErr)
		})
	}
}

func TestRunCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Run(ctx, Options{Input: "testdata/csv/good.csv", Output: filepath.Join(t.TempDir(), "o.csv")})
	require.ErrorIs(t, err, context.Canceled)
}

func TestRunEmitForecasts(t *testing.T) {
	in := filepath.Join(t.TempDir(), "s.csv")
	writeSeries(t, in, 600)
	out := filepath.Join(t.TempDir(), "o.csv")
	cfg := anomaly.Config{Horizons: []time.Duration{5 * time.Minute, time.Hour}}
	var progress strings.Builder
	_, err := Run(context.Background(), Options{Input: in, Output: out, Config: cfg, EmitForecasts: true,
		Progress: &progress, ProgressEvery: time.Millisecond})
	require.NoError(t, err)
	require.Contains(t, progress.String(), "files 1/1  rows 600  ")
	recs := readOutput(t, out)
	require.Equal(t, []string{"timestamp", "value", "baseline", "lower", "upper", "anomaly_score", "deviation", "reason",
		"forecast_5m", "forecast_1h"}, recs[0])
	require.Empty(t, recs[1][8], "no forecast before the first sample")
	require.NotEmpty(t, recs[2][8], "the 5m forecast made at the first sample")
	require.Empty(t, recs[12][9], "11 samples in: no 1h forecast due yet")
	require.NotEmpty(t, recs[13][9], "12 samples in: the 1h forecast made at the first sample")
	// On a regular series, forecast_5m is the one-step forecast: the model's baseline for the row.
	require.Equal(t, recs[400][2], recs[400][8])
}

func TestOutputHeader(t *testing.T) {
	require.Equal(t, "timestamp,value,baseline,lower,upper,anomaly_score,deviation,reason,forecast_30m,forecast_1h,forecast_1h30m,forecast_1d,forecast_1h0m30s",
		strings.Join(OutputHeader([]time.Duration{30 * time.Minute, time.Hour, 90 * time.Minute, 24 * time.Hour, time.Hour + 30*time.Second}), ","))
}

// BenchmarkBacktest replays a generated 10k-row series (CSV parse, model update, CSV write)
// and reports rows/s.
func BenchmarkBacktest(b *testing.B) {
	in := filepath.Join(b.TempDir(), "s.csv")
	writeSeries(b, in, 10000)
	out := filepath.Join(b.TempDir(), "o.csv")
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := Run(context.Background(), Options{Input: in, Output: out}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(10000*b.N)/b.Elapsed().Seconds(), "rows/s")
}

// TestReasonColumn: a spike in a regular series is written with its reason.
func TestReasonColumn(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "s.csv")
	var b strings.Builder
	b.WriteString("timestamp,value\n")
	start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 3000 {
		v := 100 + 5*math.Sin(float64(i)/7) + float64(i%5)
		if i == 2500 {
			v = 400
		}
		fmt.Fprintf(&b, "%s,%g\n", start.Add(time.Duration(i)*5*time.Minute).Format(time.RFC3339), v)
	}
	require.NoError(t, os.WriteFile(in, []byte(b.String()), 0o644))
	out := filepath.Join(dir, "o.csv")
	_, err := Run(context.Background(), Options{Input: in, Output: out, Config: anomaly.Config{}})
	require.NoError(t, err)
	recs := readOutput(t, out)
	require.Equal(t, "reason", recs[0][7])
	s, err := strconv.ParseFloat(recs[2501][5], 64)
	require.NoError(t, err)
	require.Greater(t, s, 0.65)
	require.Contains(t, []string{"spike", "beyond_range"}, recs[2501][7])
}

// A file of local times without a zone (a spreadsheet's export) and the same samples with
// their +09:00 offset give the same results under timezone Asia/Tokyo: the times without a
// zone are read as Tokyo's, so the holiday (a quiet weekday in the fourth week, read as a
// Sunday) falls on the day it is. Read as UTC, it came nine hours late.
func TestTimesWithoutAZoneAreTheTimezones(t *testing.T) {
	tokyo, err := time.LoadLocation("Asia/Tokyo")
	require.NoError(t, err)
	holidays, err := anomaly.ParseHolidays([]string{"2026-04-22"})
	require.NoError(t, err)
	in := t.TempDir()
	var local, offset strings.Builder
	local.WriteString("timestamp,value\n")
	offset.WriteString("timestamp,value\n")
	start := time.Date(2026, 3, 30, 0, 0, 0, 0, tokyo) // a Monday
	for i := range 4 * 7 * 288 {
		lt := start.Add(time.Duration(i) * 5 * time.Minute)
		v := 20 + float64(i%5) // nights, weekends and the holiday
		if wd := lt.Weekday(); wd != time.Saturday && wd != time.Sunday && lt.Format(time.DateOnly) != "2026-04-22" && lt.Hour() >= 9 && lt.Hour() < 18 {
			v = 100 + float64(i%7) // office hours
		}
		fmt.Fprintf(&local, "%s,%g\n", lt.Format("2006-01-02 15:04:05"), v)
		fmt.Fprintf(&offset, "%s,%g\n", lt.Format(time.RFC3339), v)
	}
	require.NoError(t, os.WriteFile(filepath.Join(in, "local.csv"), []byte(local.String()), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(in, "offset.csv"), []byte(offset.String()), 0o644))
	out := t.TempDir()
	_, err = Run(context.Background(), Options{Input: in, Output: out, Config: anomaly.Config{Location: tokyo, Holidays: holidays}})
	require.NoError(t, err)
	a, b := readOutput(t, filepath.Join(out, "local.csv")), readOutput(t, filepath.Join(out, "offset.csv"))
	require.Len(t, a, len(b))
	for i := 1; i < len(a); i++ {
		require.Equal(t, b[i][1:], a[i][1:], "row %d (%s, %s)", i, a[i][0], b[i][0])
	}
	require.True(t, strings.HasPrefix(a[1][0], "2026-03-30 00:00:00"), "the timestamps are written as they were read: %s", a[1][0])
}
