package backtest

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
)

// LineError is an error about one line of one input file. Its message reads
// `path:line: what went wrong`, as compilers and linters print them.
type LineError struct {
	File string
	Line int // 1-based; 0 when the error is about the whole file
	Err  error
}

func (e *LineError) Error() string {
	if e.Line <= 0 {
		return fmt.Sprintf("%s: %v", e.File, e.Err)
	}
	return fmt.Sprintf("%s:%d: %v", e.File, e.Line, e.Err)
}

func (e *LineError) Unwrap() error { return e.Err }

// representable reports whether the engine, which works in int64 unix nanoseconds, can
// represent t (years 1678 to 2262).
func representable(t time.Time) bool {
	sec := t.Unix()
	return sec > math.MinInt64/int64(time.Second) && sec < math.MaxInt64/int64(time.Second)
}

// ParseTimestamp parses the timestamps backtest input may carry:
//
//   - RFC 3339, with or without fractional seconds, with or without a zone (then UTC):
//     2014-04-01T00:05:00Z, 2014-04-01T00:05:00.250+02:00, 2014-04-01T00:05:00;
//   - `2006-01-02 15:04:05` (NAB's format, read as UTC; fractional seconds and a zone allowed);
//   - unix seconds, integer or fractional (up to nanoseconds): 1396310700, 1396310700.25.
func ParseTimestamp(s string) (time.Time, error) { return ParseTimestampIn(s, time.UTC) }

// ParseTimestampIn is ParseTimestamp with the times that carry no zone read as times of day in
// loc (nil: UTC): a spreadsheet's local times, with the backtest's timezone. In a zone whose
// clocks change, such a time in the hour that repeats in autumn is read as one of its two
// instants and a time in the hour skipped in spring as normalised by time.Date; RFC 3339 with
// an offset, or unix seconds, say which.
func ParseTimestampIn(s string, loc *time.Location) (time.Time, error) {
	if loc == nil {
		loc = time.UTC
	}
	if s == "" {
		return time.Time{}, errors.New("empty timestamp")
	}
	if isUnixSeconds(s) {
		return parseUnixSeconds(s)
	}
	// Fractional seconds are accepted after the seconds field by time.Parse even when a
	// layout omits them; layouts without a zone are read in loc, the others keep their own.
	for _, layout := range [...]string{
		time.RFC3339Nano,
		"2006-01-02T15:04:05",
		"2006-01-02 15:04:05",
		"2006-01-02 15:04:05Z07:00",
	} {
		t, err := time.ParseInLocation(layout, s, loc)
		if err == nil {
			if !representable(t) {
				return time.Time{}, fmt.Errorf("timestamp %q: out of range (years 1678 to 2262)", s)
			}
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("timestamp %q: want RFC 3339, \"2006-01-02 15:04:05\" or unix seconds", s)
}

// isUnixSeconds reports whether s looks like [-]digits[.digits].
func isUnixSeconds(s string) bool {
	if s[0] == '-' || s[0] == '+' {
		s = s[1:]
	}
	digits, dots := 0, 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			digits++
		case c == '.':
			dots++
		default:
			return false
		}
	}
	return digits > 0 && dots <= 1
}

func parseUnixSeconds(s string) (time.Time, error) {
	neg := false
	body := s
	switch body[0] {
	case '-':
		neg = true
		body = body[1:]
	case '+':
		body = body[1:]
	}
	intPart, frac, _ := strings.Cut(body, ".")
	var sec int64
	if intPart != "" {
		v, err := strconv.ParseInt(intPart, 10, 64)
		if err != nil || v > math.MaxInt64/int64(time.Second)-1 {
			return time.Time{}, fmt.Errorf("timestamp %q: unix seconds out of range", s)
		}
		sec = v
	}
	if len(frac) > 9 {
		frac = frac[:9] // below a nanosecond: truncated
	}
	var nsec int64
	if frac != "" {
		v, err := strconv.ParseInt(frac, 10, 64)
		if err != nil {
			return time.Time{}, fmt.Errorf("timestamp %q: %w", s, err)
		}
		for i := len(frac); i < 9; i++ {
			v *= 10
		}
		nsec = v
	}
	ns := sec*int64(time.Second) + nsec
	if neg {
		ns = -ns
	}
	return time.Unix(0, ns).UTC(), nil
}

// ParseValue parses a sample value. NaN, ±Inf and numbers beyond float64 are errors.
func ParseValue(s string) (float64, error) {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		var ne *strconv.NumError
		if errors.As(err, &ne) {
			err = ne.Err
		}
		return 0, fmt.Errorf("parse value %q: %w", s, err)
	}
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("value %q: not a finite number", s)
	}
	return v, nil
}

// Row is one sample of a `timestamp,value` CSV file.
type Row struct {
	Line  int       // line number in the file (1-based)
	Raw   string    // the timestamp field exactly as it appears in the input
	Time  time.Time // Raw, parsed (UTC)
	Value float64
}

// Reader reads `timestamp,value` CSV files: a header line (any names; the first two columns
// are used, further columns are ignored), then one sample per line. Blank lines are skipped.
type Reader struct {
	// Location is the zone the timestamps without one are read in (nil: UTC; see
	// ParseTimestampIn). The backtest sets it to its timezone.
	Location *time.Location

	cr   *csv.Reader
	name string
	rows int
}

// NewReader reads the header of a `timestamp,value` file; name is used in error messages.
// A file without a header (its first line is already a sample) or without any line is an error.
func NewReader(r io.Reader, name string) (*Reader, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	cr.TrimLeadingSpace = true
	rd := &Reader{cr: cr, name: name}
	rec, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, &LineError{File: name, Err: errors.New("empty file (want a header line timestamp,value)")}
	}
	if err != nil {
		return nil, rd.csvError(err)
	}
	line, _ := cr.FieldPos(0)
	if len(rec) < 2 {
		return nil, &LineError{File: name, Line: line, Err: fmt.Errorf("header %q: want at least two columns (timestamp,value)", strings.Join(rec, ","))}
	}
	rec[0] = strings.TrimPrefix(rec[0], "\uFEFF") // byte order mark
	if _, err := ParseTimestamp(strings.TrimSpace(rec[0])); err == nil {
		if _, err := ParseValue(strings.TrimSpace(rec[1])); err == nil {
			return nil, &LineError{File: name, Line: line, Err: errors.New("missing header line (want timestamp,value before the first sample)")}
		}
	}
	return rd, nil
}

// Next returns the next sample, or io.EOF after the last one. A header-only file yields an
// error rather than io.EOF: a file without samples is not a usable input.
func (r *Reader) Next() (Row, error) {
	rec, err := r.cr.Read()
	if errors.Is(err, io.EOF) {
		if r.rows == 0 {
			return Row{}, &LineError{File: r.name, Err: errors.New("no samples after the header")}
		}
		return Row{}, io.EOF
	}
	if err != nil {
		return Row{}, r.csvError(err)
	}
	line, _ := r.cr.FieldPos(0)
	if len(rec) < 2 {
		return Row{}, &LineError{File: r.name, Line: line, Err: fmt.Errorf("%d column(s): want timestamp,value", len(rec))}
	}
	t, err := ParseTimestampIn(strings.TrimSpace(rec[0]), r.Location)
	if err != nil {
		return Row{}, &LineError{File: r.name, Line: line, Err: err}
	}
	v, err := ParseValue(strings.TrimSpace(rec[1]))
	if err != nil {
		return Row{}, &LineError{File: r.name, Line: line, Err: err}
	}
	r.rows++
	return Row{Line: line, Raw: rec[0], Time: t, Value: v}, nil
}

// csvError turns an encoding/csv error into a LineError naming the line.
func (r *Reader) csvError(err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return &LineError{File: r.name, Line: pe.Line, Err: pe.Err}
	}
	line, _ := r.cr.FieldPos(0)
	return &LineError{File: r.name, Line: line, Err: fmt.Errorf("read: %w", err)}
}

// appendFloat formats v compactly (shortest representation that parses back to the same
// float64); NaN and ±Inf, which only stand for "no value", are written as an empty field.
func appendFloat(b []byte, v float64) []byte {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return b
	}
	return strconv.AppendFloat(b, v, 'g', -1, 64)
}

// appendField appends s as one CSV field, quoted when it needs to be.
func appendField(b []byte, s string) []byte {
	if !strings.ContainsAny(s, "\",\r\n") && (s == "" || (s[0] != ' ' && s[0] != '\t')) {
		return append(b, s...)
	}
	b = append(b, '"')
	b = append(b, bytes.ReplaceAll([]byte(s), []byte(`"`), []byte(`""`))...)
	return append(b, '"')
}
