package alertmsg

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/prometheus/alertmanager/template"
)

// Limits bound what Decode reads and keeps.
type Limits struct {
	// MaxBytes bounds the body; a longer one is ErrTooLarge (<= 0:
	// DefaultMaxBodyBytes).
	MaxBytes int64
	// MaxAlerts bounds the alerts kept; later ones are read, counted in
	// Message.Dropped and not kept (<= 0: all are kept).
	MaxAlerts int
}

// DefaultMaxBodyBytes bounds a body when Limits.MaxBytes is not set.
const DefaultMaxBodyBytes = 256 << 20

// ErrTooLarge is returned when the body exceeds Limits.MaxBytes.
var ErrTooLarge = errors.New("notification body too large")

// ReadError is a failure to read the body (the client stalled past the
// server's read deadline, or went away), not a malformed notification.
type ReadError struct{ Err error }

func (e *ReadError) Error() string { return "read notification: " + e.Err.Error() }

// Unwrap returns the read error.
func (e *ReadError) Unwrap() error { return e.Err }

// Raw is a notification body as stored: Encoding "" is the JSON as received,
// "gzip" the same compressed.
type Raw struct {
	Body     []byte
	Encoding string
}

// EncodingGzip marks a gzip-compressed Raw body.
const EncodingGzip = "gzip"

// compressAbove is the size from which a body is kept compressed: the
// bodies of alert storms compress 10-60 times (one group of 100,000 alerts:
// 28 MB of JSON, 0.4 MB gzipped, 0.1 s), everyday ones stay readable as is.
const compressAbove = 64 << 10

// Decode reads one notification from r as a stream, one alert at a time,
// and validates it. m.Raw keeps the body as received (gzipped above 64 KiB).
// Errors are ErrTooLarge, a *ReadError when r failed, or else describe a
// malformed notification (a final 4xx for Alertmanager).
func Decode(r io.Reader, lim Limits) (*Message, error) {
	if lim.MaxBytes <= 0 {
		lim.MaxBytes = DefaultMaxBodyBytes
	}
	src := &source{r: r, left: lim.MaxBytes}
	m, err := decode(src, lim.MaxAlerts)
	switch {
	case src.tooLarge:
		return nil, ErrTooLarge
	case src.err != nil:
		return nil, &ReadError{Err: src.err}
	case err != nil:
		return nil, err
	}
	if m.Raw, err = src.raw.finish(); err != nil {
		return nil, err
	}
	return m, nil
}

// Parse decodes and validates one notification body, keeping every alert.
func Parse(body []byte) (*Message, error) {
	return Decode(bytes.NewReader(body), Limits{MaxBytes: int64(len(body))})
}

func decode(r io.Reader, maxAlerts int) (*Message, error) {
	dec := json.NewDecoder(r)
	if err := expect(dec, '{'); err != nil {
		return nil, err
	}
	var m Message
	// The envelope's fields are decoded where they come: Alertmanager sends
	// some before the alerts and some after.
	envelope := []struct {
		name string
		dst  any
	}{
		{"version", &m.Version}, {"groupKey", &m.GroupKey}, {"truncatedAlerts", &m.TruncatedAlerts},
		{"receiver", &m.Receiver}, {"status", &m.Status}, {"notification_reason", &m.NotificationReason},
		{"groupLabels", &m.GroupLabels}, {"commonLabels", &m.CommonLabels}, {"commonAnnotations", &m.CommonAnnotations},
		{"routeLabels", &m.RouteLabels}, {"externalURL", &m.ExternalURL},
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("decode notification: %w", err)
		}
		key, _ := tok.(string)
		// encoding/json matches field names without regard to case.
		if strings.EqualFold(key, "alerts") {
			// Like encoding/json, the last of repeated keys wins.
			m.Alerts, m.Dropped = nil, 0
			if err := decodeAlerts(dec, &m, maxAlerts); err != nil {
				return nil, err
			}
			continue
		}
		var dst any = &json.RawMessage{} // unknown fields are read and ignored
		for _, f := range envelope {
			if f.name == key {
				dst = f.dst
				break
			}
			if strings.EqualFold(f.name, key) {
				dst = f.dst
			}
		}
		if err := dec.Decode(dst); err != nil {
			return nil, fmt.Errorf("decode notification: %s: %w", key, err)
		}
	}
	if err := expect(dec, '}'); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("decode notification: trailing data after JSON object")
	}
	m.sanitize()
	if err := m.Validate(); err != nil {
		return nil, err
	}
	m.normalize()
	return &m, nil
}

// decodeAlerts reads the alerts array (or null), keeping at most maxAlerts.
func decodeAlerts(dec *json.Decoder, m *Message, maxAlerts int) error {
	tok, err := dec.Token()
	if err != nil {
		return fmt.Errorf("decode notification: alerts: %w", err)
	}
	if tok == nil {
		return nil
	}
	if d, ok := tok.(json.Delim); !ok || d != '[' {
		return fmt.Errorf("decode notification: alerts must be an array, not %v", tok)
	}
	for i := 0; dec.More(); i++ {
		if maxAlerts > 0 && len(m.Alerts) >= maxAlerts {
			// Read past it without building it: an object decoded into an
			// empty struct is only scanned.
			var skip struct{}
			if err := dec.Decode(&skip); err != nil {
				return fmt.Errorf("decode notification: alert %d: %w", i, err)
			}
			m.Dropped++
			continue
		}
		var a template.Alert
		if err := dec.Decode(&a); err != nil {
			return fmt.Errorf("decode notification: alert %d: %w", i, err)
		}
		m.Alerts = append(m.Alerts, a)
	}
	return expect(dec, ']')
}

func expect(dec *json.Decoder, want json.Delim) error {
	tok, err := dec.Token()
	if err != nil {
		return fmt.Errorf("decode notification: %w", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != want {
		return fmt.Errorf("decode notification: expected %q, found %v", want, tok)
	}
	return nil
}

// source reads the body for the decoder: it stops at the size limit, keeps
// the first read error of r apart from malformed JSON, and copies what it
// reads into raw.
type source struct {
	r        io.Reader
	left     int64
	tooLarge bool
	err      error
	raw      rawSink
}

func (s *source) Read(p []byte) (int, error) {
	if s.left <= 0 {
		// One byte more tells a body of exactly the limit from a longer one.
		var one [1]byte
		n, err := s.r.Read(one[:])
		if n > 0 {
			s.tooLarge = true
			return 0, ErrTooLarge
		}
		return 0, s.fail(err)
	}
	if int64(len(p)) > s.left {
		p = p[:s.left]
	}
	n, err := s.r.Read(p)
	s.left -= int64(n)
	if werr := s.raw.write(p[:n]); werr != nil {
		s.err = werr
		return n, werr
	}
	return n, s.fail(err)
}

func (s *source) fail(err error) error {
	if err != nil && err != io.EOF && s.err == nil {
		s.err = err
	}
	return err
}

// rawSink keeps a body: as is up to compressAbove bytes, gzipped beyond.
type rawSink struct {
	buf bytes.Buffer
	gz  *gzip.Writer
	out *bytes.Buffer
}

func (r *rawSink) write(p []byte) error {
	if r.gz == nil && r.buf.Len()+len(p) <= compressAbove {
		r.buf.Write(p)
		return nil
	}
	if r.gz == nil {
		r.out = &bytes.Buffer{}
		gz, err := gzip.NewWriterLevel(r.out, gzip.BestSpeed)
		if err != nil {
			return fmt.Errorf("compress notification: %w", err)
		}
		r.gz = gz
		if _, err := r.gz.Write(r.buf.Bytes()); err != nil {
			return fmt.Errorf("compress notification: %w", err)
		}
		r.buf = bytes.Buffer{}
	}
	if _, err := r.gz.Write(p); err != nil {
		return fmt.Errorf("compress notification: %w", err)
	}
	return nil
}

func (r *rawSink) finish() (Raw, error) {
	if r.gz == nil {
		return Raw{Body: r.buf.Bytes()}, nil
	}
	if err := r.gz.Close(); err != nil {
		return Raw{}, fmt.Errorf("compress notification: %w", err)
	}
	return Raw{Body: r.out.Bytes(), Encoding: EncodingGzip}, nil
}

// JSON returns the body of a Raw record as JSON (decompressed).
func (r Raw) JSON() ([]byte, error) {
	switch r.Encoding {
	case "":
		return r.Body, nil
	case EncodingGzip:
		zr, err := gzip.NewReader(bytes.NewReader(r.Body))
		if err != nil {
			return nil, fmt.Errorf("decompress notification: %w", err)
		}
		b, err := io.ReadAll(zr)
		if err != nil {
			return nil, fmt.Errorf("decompress notification: %w", err)
		}
		return b, nil
	}
	return nil, fmt.Errorf("unknown notification encoding %q", r.Encoding)
}
