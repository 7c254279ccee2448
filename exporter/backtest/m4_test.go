package backtest

import (
	"bytes"
	"context"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestReadM4(t *testing.T) {
	for _, tc := range []struct {
		name    string
		in      string
		want    []Series
		wantErr string
	}{
		{name: "m4 header and trailing blanks", in: `"V1","V2","V3","V4"` + "\n" + `"H1","605","586",""` + "\n" + `"H2","1.5","2","3"` + "\n",
			want: []Series{{ID: "H1", Values: []float64{605, 586}}, {ID: "H2", Values: []float64{1.5, 2, 3}}}},
		{name: "no header", in: "H7,1,2\n", want: []Series{{ID: "H7", Values: []float64{1, 2}}}},
		{name: "empty", in: "", wantErr: "m4.csv: no series"},
		{name: "header only", in: `"V1","V2"` + "\n", wantErr: "m4.csv: no series"},
		{name: "bad value", in: "\"V1\",\"V2\"\nH1,1,x,3\n", wantErr: `m4.csv:2: series H1 value 2: parse value "x": invalid syntax`},
		{name: "gap", in: "H1,1,,3\n", wantErr: `m4.csv:1: series H1 value 2: parse value "": invalid syntax`},
		{name: "no values", in: "H1,,\n", wantErr: "m4.csv:1: series H1 has no values"},
		{name: "duplicate", in: "H1,1\nH1,2\n", wantErr: "m4.csv:2: series H1 already on line 1"},
		{name: "empty id", in: ",1\n", wantErr: "m4.csv:1: empty series id"},
		{name: "bad quote", in: "\"H1,1\n", wantErr: `m4.csv:1: extraneous or missing " in quoted-field`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ReadM4(strings.NewReader(tc.in), "m4.csv")
			if tc.wantErr != "" {
				require.EqualError(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestM4RoundTrip(t *testing.T) {
	fcs := []Series{
		{ID: "H1", Values: []float64{1.0 / 3, 605, -2.5e-7}},
		{ID: "H22", Values: []float64{math.MaxFloat64, math.SmallestNonzeroFloat64, 0}},
	}
	var buf bytes.Buffer
	require.NoError(t, WriteM4(&buf, 3, fcs))
	require.True(t, strings.HasPrefix(buf.String(), "id,F1,F2,F3\nH1,0.3333333333333333,605,-2.5e-07\n"), buf.String())
	got, err := ReadM4(&buf, "forecasts.csv")
	require.NoError(t, err)
	require.Equal(t, fcs, got, "full precision survives the round trip")

	require.EqualError(t, WriteM4(&buf, 2, fcs), "series H1: 3 forecasts, want 2")
}

func TestForecast(t *testing.T) {
	// Two hourly series with a daily cycle, 10 days each.
	var b strings.Builder
	b.WriteString(`"V1","V2"` + "\n")
	for _, id := range []string{"H1", "H2"} {
		b.WriteString(`"` + id + `"`)
		for i := range 240 {
			v := 100 + 30*math.Sin(2*math.Pi*float64(i)/24)
			if id == "H2" {
				v *= 2
			}
			b.WriteString(`,"` + strconv.FormatFloat(v, 'f', 3, 64) + `"`)
		}
		b.WriteString(`,"",""` + "\n")
	}
	dir := t.TempDir()
	in := filepath.Join(dir, "train.csv")
	require.NoError(t, os.WriteFile(in, []byte(b.String()), 0o644))
	out := filepath.Join(dir, "fc", "forecasts.csv")

	require.NoError(t, Forecast(context.Background(), ForecastOptions{Input: in, Output: out, Horizon: 48, Step: time.Hour}))
	f, err := os.Open(out)
	require.NoError(t, err)
	defer func() { require.NoError(t, f.Close()) }()
	got, err := ReadM4(f, out)
	require.NoError(t, err)
	require.Len(t, got, 2)
	require.Equal(t, "H1", got[0].ID)
	require.Len(t, got[0].Values, 48)
	for _, s := range got {
		for _, v := range s.Values {
			require.False(t, math.IsNaN(v) || math.IsInf(v, 0))
		}
	}
	// The daily cycle carries on: the forecast 6h ahead (a peak) beats the one 18h ahead.
	require.Greater(t, got[0].Values[5], got[0].Values[17])
}

func TestForecastErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name    string
		opts    ForecastOptions
		wantErr string
	}{
		{name: "no horizon", opts: ForecastOptions{Input: "testdata/m4.csv", Output: filepath.Join(dir, "o"), Step: time.Hour},
			wantErr: "horizon 0: must be positive"},
		{name: "no step", opts: ForecastOptions{Input: "testdata/m4.csv", Output: filepath.Join(dir, "o"), Horizon: 4},
			wantErr: "step 0s: must be positive"},
		{name: "missing input", opts: ForecastOptions{Input: filepath.Join(dir, "nope.csv"), Output: filepath.Join(dir, "o"), Horizon: 4, Step: time.Hour},
			wantErr: "open input: open "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.ErrorContains(t, Forecast(context.Background(), tc.opts), tc.wantErr)
			_, err := os.Stat(filepath.Join(dir, "o"))
			require.ErrorIs(t, err, os.ErrNotExist)
		})
	}
}

func TestForecastTestdata(t *testing.T) {
	out := filepath.Join(t.TempDir(), "f.csv")
	require.NoError(t, Forecast(context.Background(), ForecastOptions{Input: "testdata/m4.csv", Output: out, Horizon: 3, Step: time.Hour}))
	data, err := os.ReadFile(out)
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	require.Len(t, lines, 3)
	require.Equal(t, "id,F1,F2,F3", lines[0])
	require.True(t, strings.HasPrefix(lines[1], "H1,"))
	require.True(t, strings.HasPrefix(lines[2], "H2,"))
}
