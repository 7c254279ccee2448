package backtest

import (
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestParseTimestamp(t *testing.T) {
	utc := func(s string) time.Time {
		tm, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			panic(err)
		}
		return tm.UTC()
	}
	for _, tc := range []struct {
		in      string
		want    time.Time
		wantErr string
	}{
		{in: "2014-04-01 00:05:00", want: utc("2014-04-01T00:05:00Z")},
		{in: "2014-04-01 00:05:00.125", want: utc("2014-04-01T00:05:00.125Z")},
		{in: "2014-04-01T00:05:00Z", want: utc("2014-04-01T00:05:00Z")},
		{in: "2014-04-01T00:05:00", want: utc("2014-04-01T00:05:00Z")},
		{in: "2014-04-01T02:05:00+02:00", want: utc("2014-04-01T00:05:00Z")},
		{in: "2014-04-01T00:05:00.123456789Z", want: utc("2014-04-01T00:05:00.123456789Z")},
		{in: "2014-04-01T00:05:00.5-01:00", want: utc("2014-04-01T01:05:00.5Z")},
		{in: "2014-04-01 02:05:00+02:00", want: utc("2014-04-01T00:05:00Z")},
		{in: "1396310700", want: utc("2014-04-01T00:05:00Z")},
		{in: "1396310700.25", want: utc("2014-04-01T00:05:00.25Z")},
		{in: "1396310700.", want: utc("2014-04-01T00:05:00Z")},
		{in: ".5", want: time.Unix(0, 5e8).UTC()},
		{in: "0", want: time.Unix(0, 0).UTC()},
		{in: "-1.5", want: time.Unix(-2, 5e8).UTC()},
		{in: "1396310700.1234567891", want: utc("2014-04-01T00:05:00.123456789Z")},
		{in: "", wantErr: "empty timestamp"},
		{in: "abc", wantErr: `timestamp "abc": want RFC 3339`},
		{in: "01/04/2014 00:10", wantErr: `timestamp "01/04/2014 00:10"`},
		{in: "2014-13-01 00:00:00", wantErr: "want RFC 3339"},
		{in: "1.2.3", wantErr: "want RFC 3339"},
		{in: ".", wantErr: "want RFC 3339"},
		{in: "99999999999999999999", wantErr: "out of range"},
		{in: "9300000000", wantErr: "out of range"},
		{in: "3000-01-01T00:00:00Z", wantErr: "out of range"},
		{in: "1e9", wantErr: "want RFC 3339"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseTimestamp(tc.in)
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			require.True(t, tc.want.Equal(got), "got %s, want %s", got, tc.want)
			require.Equal(t, time.UTC, got.Location())
		})
	}
}

// Times without a zone are the times of day of the given zone; the others keep their own.
func TestParseTimestampIn(t *testing.T) {
	tokyo, err := time.LoadLocation("Asia/Tokyo")
	require.NoError(t, err)
	berlin, err := time.LoadLocation("Europe/Berlin")
	require.NoError(t, err)
	for _, tc := range []struct {
		in   string
		loc  *time.Location
		want string // RFC 3339 in UTC
	}{
		{"2026-03-02 09:00:00", tokyo, "2026-03-02T00:00:00Z"},
		{"2026-03-02T09:00:00", tokyo, "2026-03-02T00:00:00Z"},
		{"2026-03-02 09:00:00.25", tokyo, "2026-03-02T00:00:00.25Z"},
		{"2026-03-02T09:00:00Z", tokyo, "2026-03-02T09:00:00Z"},
		{"2026-03-02T09:00:00+01:00", tokyo, "2026-03-02T08:00:00Z"},
		{"2026-03-02 09:00:00+09:00", tokyo, "2026-03-02T00:00:00Z"},
		{"1772409600", tokyo, "2026-03-02T00:00:00Z"},
		{"2026-03-02 09:00:00", nil, "2026-03-02T09:00:00Z"},
		{"2026-07-01 12:00:00", berlin, "2026-07-01T10:00:00Z"}, // summer time
		{"2026-12-01 12:00:00", berlin, "2026-12-01T11:00:00Z"},
	} {
		got, err := ParseTimestampIn(tc.in, tc.loc)
		require.NoError(t, err, tc.in)
		require.Equal(t, tc.want, got.Format(time.RFC3339Nano), "%s in %v", tc.in, tc.loc)
		require.Equal(t, time.UTC, got.Location())
	}
	// The hour Berlin's clocks skip and the one they repeat still read (as one instant each).
	// 02:30 is 00:30 UTC in summer time and 01:30 in winter time.
	for _, tc := range []struct {
		in     string
		around time.Time
	}{
		{"2026-03-29 02:30:00", time.Date(2026, 3, 29, 1, 0, 0, 0, time.UTC)},
		{"2026-10-25 02:30:00", time.Date(2026, 10, 25, 1, 0, 0, 0, time.UTC)},
	} {
		got, err := ParseTimestampIn(tc.in, berlin)
		require.NoError(t, err, tc.in)
		require.WithinDuration(t, tc.around, got, 30*time.Minute, tc.in)
	}
	_, err = ParseTimestampIn("2026-03-02 25:00:00", tokyo)
	require.ErrorContains(t, err, "want RFC 3339")
}

func TestParseValue(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    float64
		wantErr string
	}{
		{in: "20.0", want: 20},
		{in: "-1e-3", want: -0.001},
		{in: "42", want: 42},
		{in: "abc", wantErr: `parse value "abc": invalid syntax`},
		{in: "", wantErr: `parse value "": invalid syntax`},
		{in: "NaN", wantErr: `value "NaN": not a finite number`},
		{in: "-Inf", wantErr: `value "-Inf": not a finite number`},
		{in: "1e400", wantErr: `parse value "1e400": value out of range`},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseValue(tc.in)
			if tc.wantErr != "" {
				require.EqualError(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

// readAll reads every row of a testdata CSV file.
func readAll(t *testing.T, path string) ([]Row, error) {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer func() { require.NoError(t, f.Close()) }()
	return readRows(f, path)
}

func readRows(r io.Reader, name string) ([]Row, error) {
	rd, err := NewReader(r, name)
	if err != nil {
		return nil, err
	}
	var rows []Row
	for {
		row, err := rd.Next()
		if errors.Is(err, io.EOF) {
			return rows, nil
		}
		if err != nil {
			return rows, err
		}
		rows = append(rows, row)
	}
}

func TestReader(t *testing.T) {
	for _, tc := range []struct {
		file     string
		wantRows int
		wantErr  string // exact message
	}{
		{file: "good.csv", wantRows: 3},
		{file: "mixed.csv", wantRows: 4},
		{file: "bom_crlf.csv", wantRows: 1},
		{file: "out_of_order.csv", wantRows: 3}, // ordering is the model's concern
		{file: "empty.csv", wantErr: "testdata/csv/empty.csv: empty file (want a header line timestamp,value)"},
		{file: "header_only.csv", wantErr: "testdata/csv/header_only.csv: no samples after the header"},
		{file: "no_header.csv", wantErr: "testdata/csv/no_header.csv:1: missing header line (want timestamp,value before the first sample)"},
		{file: "bad_value.csv", wantErr: `testdata/csv/bad_value.csv:3: parse value "abc": invalid syntax`},
		{file: "bad_timestamp.csv", wantErr: `testdata/csv/bad_timestamp.csv:4: timestamp "01/04/2014 00:10": want RFC 3339, "2006-01-02 15:04:05" or unix seconds`},
		{file: "nan.csv", wantErr: `testdata/csv/nan.csv:2: value "NaN": not a finite number`},
		{file: "overflow.csv", wantErr: `testdata/csv/overflow.csv:2: parse value "1e400": value out of range`},
		{file: "one_column.csv", wantErr: "testdata/csv/one_column.csv:2: 1 column(s): want timestamp,value"},
		{file: "one_column_header.csv", wantErr: `testdata/csv/one_column_header.csv:1: header "timestamp": want at least two columns (timestamp,value)`},
		{file: "bad_quote.csv", wantErr: `testdata/csv/bad_quote.csv:2: extraneous or missing " in quoted-field`},
	} {
		t.Run(tc.file, func(t *testing.T) {
			rows, err := readAll(t, filepath.Join("testdata", "csv", tc.file))
			if tc.wantErr != "" {
				require.EqualError(t, err, tc.wantErr)
				var le *LineError
				require.ErrorAs(t, err, &le)
				return
			}
			require.NoError(t, err)
			require.Len(t, rows, tc.wantRows)
		})
	}
}

func TestReaderRows(t *testing.T) {
	rows, err := readAll(t, "testdata/csv/mixed.csv")
	require.NoError(t, err)
	require.Equal(t, []int{2, 3, 5, 6}, []int{rows[0].Line, rows[1].Line, rows[2].Line, rows[3].Line})
	require.Equal(t, "2014-04-01T00:05:00.5+02:00", rows[1].Raw)
	require.Equal(t, "1396311300.25", rows[3].Raw)
	require.Equal(t, 4.0, rows[3].Value)
	require.True(t, rows[3].Time.Equal(time.Unix(1396311300, 25e7)))
}

func TestAppendFloat(t *testing.T) {
	for _, tc := range []struct {
		in   float64
		want string
	}{
		{0, "0"}, {20, "20"}, {0.1, "0.1"}, {-2.5e-7, "-2.5e-07"}, {1e21, "1e+21"},
		{1.0 / 3, "0.3333333333333333"}, {math.NaN(), ""}, {math.Inf(1), ""},
	} {
		t.Run(tc.want, func(t *testing.T) {
			require.Equal(t, tc.want, string(appendFloat(nil, tc.in)))
		})
	}
}

func TestAppendField(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"2014-04-01 00:00:00", "2014-04-01 00:00:00"},
		{"a,b", `"a,b"`},
		{`say "hi"`, `"say ""hi"""`},
		{" lead", `" lead"`},
	} {
		t.Run(tc.in, func(t *testing.T) {
			require.Equal(t, tc.want, string(appendField(nil, tc.in)))
		})
	}
}

// fuzzZone is a zone without clock changes, nine hours ahead of UTC (as Asia/Tokyo).
var fuzzZone = time.FixedZone("JST", 9*3600)

func FuzzParseTimestamp(f *testing.F) {
	for _, s := range []string{
		"2014-04-01 00:05:00", "2014-04-01T00:05:00Z", "2014-04-01T00:05:00.5+02:00", "2014-04-01T00:05:00",
		"1396310700", "1396310700.25", "-1.5", ".", "", "9223372036", "99999999999999999999", "0001-01-01T00:00:00Z",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ts, err := ParseTimestamp(s)
		if err != nil {
			require.NotEmpty(t, err.Error())
			return
		}
		// Every accepted time is representable by the engine, and unix seconds round-trip.
		require.True(t, representable(ts), "%q -> %s", s, ts)
		require.Equal(t, time.UTC, ts.Location())
		// Read in a zone, the same text is the same instant, or (a time without a zone) the
		// same time of day there.
		if tz, err := ParseTimestampIn(s, fuzzZone); err == nil {
			require.Contains(t, []time.Duration{0, 9 * time.Hour}, ts.Sub(tz), "%q: %s, in +09:00 %s", s, ts, tz)
			require.Equal(t, time.UTC, tz.Location())
		}
		if isUnixSeconds(s) && !strings.Contains(s, ".") {
			sec, err := strconv.ParseInt(s, 10, 64)
			require.NoError(t, err)
			require.Equal(t, sec, ts.Unix())
			require.Zero(t, ts.Nanosecond())
		}
	})
}

func FuzzReadCSV(f *testing.F) {
	for _, name := range []string{
		"good.csv", "mixed.csv", "bom_crlf.csv", "out_of_order.csv", "no_header.csv", "bad_value.csv",
		"bad_timestamp.csv", "nan.csv", "one_column.csv", "bad_quote.csv", "header_only.csv",
	} {
		data, err := os.ReadFile(filepath.Join("testdata", "csv", name))
		require.NoError(f, err)
		f.Add(data)
	}
	f.Add([]byte(""))
	f.Add([]byte("t,v\n1,2\n\"3\",\"4\"\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		lines := strings.Count(string(data), "\n") + 1
		rows, err := readRows(strings.NewReader(string(data)), "fuzz.csv")
		if err != nil {
			var le *LineError
			require.ErrorAs(t, err, &le)
			require.Equal(t, "fuzz.csv", le.File)
			require.True(t, strings.HasPrefix(err.Error(), "fuzz.csv:"), err.Error())
			require.GreaterOrEqual(t, le.Line, 0)
			require.LessOrEqual(t, le.Line, lines)
		}
		prev := 1
		for _, r := range rows {
			require.Greater(t, r.Line, prev-1)
			require.LessOrEqual(t, r.Line, lines)
			require.False(t, math.IsNaN(r.Value) || math.IsInf(r.Value, 0))
			prev = r.Line
		}
	})
}
