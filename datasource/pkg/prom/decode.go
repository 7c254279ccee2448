package prom

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unsafe"

	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
)

// decodeMatrix decodes a query_range answer ({"status","data":{"resultType","result"},
// "warnings","errorType","error"}). It is a small hand-written parser for this one shape: the
// general decoders validate and copy the whole body several times, which costs more than the
// anomaly engine itself. hint is the expected number of samples per series.
func decodeMatrix(b []byte, hint int) (out []Series, warnings []string, err error) {
	p := &parser{b: b}
	var (
		status, errType, errMsg string
		resultType              string
		sawResult               bool
	)
	err = p.object(func(key string) error {
		switch key {
		case "status":
			status, err = p.str()
			return err
		case "errorType":
			errType, err = p.str()
			return err
		case "error":
			errMsg, err = p.str()
			return err
		case "warnings":
			return p.array(func() error {
				w, err := p.str()
				warnings = append(warnings, w)
				return err
			})
		case "data":
			return p.object(func(key string) error {
				switch key {
				case "resultType":
					resultType, err = p.str()
					return err
				case "result":
					sawResult = true
					return p.array(func() error {
						s, err := p.series(hint)
						out = append(out, s)
						return err
					})
				}
				return p.skip()
			})
		}
		return p.skip()
	})
	if err != nil {
		return nil, nil, fmt.Errorf("decode query_range answer: %w", err)
	}
	if status != "success" {
		if errType == "" && errMsg == "" {
			return nil, nil, fmt.Errorf("decode query_range answer: status %q", status)
		}
		return nil, nil, &v1.Error{Type: v1.ErrorType(errType), Msg: errMsg}
	}
	if sawResult && resultType != "matrix" {
		return nil, nil, fmt.Errorf("query_range: got a %s result, want a matrix", resultType)
	}
	return out, warnings, nil
}

type parser struct {
	b []byte
	i int
}

var errSyntax = errors.New("invalid JSON")

func (p *parser) ws() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *parser) expect(c byte) error {
	p.ws()
	if p.i >= len(p.b) || p.b[p.i] != c {
		return fmt.Errorf("%w: want %q at offset %d", errSyntax, c, p.i)
	}
	p.i++
	return nil
}

// peek returns the next non-space byte (0 at the end).
func (p *parser) peek() byte {
	p.ws()
	if p.i >= len(p.b) {
		return 0
	}
	return p.b[p.i]
}

// object calls field for each key; field must consume the value.
func (p *parser) object(field func(key string) error) error {
	if err := p.expect('{'); err != nil {
		return err
	}
	if p.peek() == '}' {
		p.i++
		return nil
	}
	for {
		key, err := p.rawStr()
		if err != nil {
			return err
		}
		if err := p.expect(':'); err != nil {
			return err
		}
		if err := field(unsafeString(key)); err != nil {
			return err
		}
		switch p.peek() {
		case ',':
			p.i++
		case '}':
			p.i++
			return nil
		default:
			return fmt.Errorf("%w: want , or } at offset %d", errSyntax, p.i)
		}
	}
}

// array calls elem for each element; elem must consume it.
func (p *parser) array(elem func() error) error {
	if p.peek() == 'n' { // null
		return p.skip()
	}
	if err := p.expect('['); err != nil {
		return err
	}
	if p.peek() == ']' {
		p.i++
		return nil
	}
	for {
		if err := elem(); err != nil {
			return err
		}
		switch p.peek() {
		case ',':
			p.i++
		case ']':
			p.i++
			return nil
		default:
			return fmt.Errorf("%w: want , or ] at offset %d", errSyntax, p.i)
		}
	}
}

// rawStr returns the bytes of a string without escapes, or unquotes one with escapes.
func (p *parser) rawStr() ([]byte, error) {
	if err := p.expect('"'); err != nil {
		return nil, err
	}
	start, escaped := p.i, false
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case '\\':
			escaped = true
			p.i += 2
			continue
		case '"':
			s := p.b[start:p.i]
			p.i++
			if !escaped {
				return s, nil
			}
			u, err := strconv.Unquote(`"` + string(s) + `"`)
			if err != nil {
				return nil, fmt.Errorf("%w: string at offset %d: %v", errSyntax, start, err)
			}
			return []byte(u), nil
		}
		p.i++
	}
	return nil, fmt.Errorf("%w: unterminated string at offset %d", errSyntax, start)
}

func (p *parser) str() (string, error) {
	b, err := p.rawStr()
	return string(b), err
}

// skip consumes one value of any type.
func (p *parser) skip() error {
	switch c := p.peek(); c {
	case '{':
		return p.object(func(string) error { return p.skip() })
	case '[':
		return p.array(p.skip)
	case '"':
		_, err := p.rawStr()
		return err
	default:
		start := p.i
		for p.i < len(p.b) {
			switch p.b[p.i] {
			case ',', '}', ']', ' ', '\t', '\n', '\r':
				if p.i == start {
					return fmt.Errorf("%w: value expected at offset %d", errSyntax, p.i)
				}
				return nil
			}
			p.i++
		}
		if p.i == start {
			return fmt.Errorf("%w: value expected at offset %d", errSyntax, p.i)
		}
		return nil
	}
}

// series decodes {"metric":{...},"values":[[t,"v"],...]} (histograms are skipped).
func (p *parser) series(hint int) (Series, error) {
	s := Series{Metric: model.Metric{}}
	err := p.object(func(key string) error {
		switch key {
		case "metric":
			return p.object(func(name string) error {
				name = strings.Clone(name) // the key aliases the body
				v, err := p.str()
				s.Metric[model.LabelName(name)] = model.LabelValue(v)
				return err
			})
		case "values":
			s.Samples = make([]model.SamplePair, 0, hint)
			return p.array(func() error {
				if err := p.expect('['); err != nil {
					return err
				}
				ts, err := p.timestamp()
				if err != nil {
					return err
				}
				if err := p.expect(','); err != nil {
					return err
				}
				raw, err := p.rawStr()
				if err != nil {
					return err
				}
				v, err := parseValue(raw)
				if err != nil {
					return fmt.Errorf("%w: sample value %q: %v", errSyntax, raw, err)
				}
				s.Samples = append(s.Samples, model.SamplePair{Timestamp: ts, Value: model.SampleValue(v)})
				return p.expect(']')
			})
		}
		return p.skip()
	})
	return s, err
}

// timestamp parses seconds with up to millisecond decimals ("1700000000.123") into a model.Time.
func (p *parser) timestamp() (model.Time, error) {
	p.ws()
	start := p.i
	var sec, ms int64
	neg := false
	if p.i < len(p.b) && p.b[p.i] == '-' {
		neg = true
		p.i++
	}
	digits := 0
	for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
		sec = sec*10 + int64(p.b[p.i]-'0')
		p.i++
		digits++
	}
	if p.i < len(p.b) && p.b[p.i] == '.' {
		p.i++
		scale := int64(100)
		for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
			ms += int64(p.b[p.i]-'0') * scale
			scale /= 10
			p.i++
		}
	}
	if p.i < len(p.b) && (p.b[p.i] == 'e' || p.b[p.i] == 'E') || digits == 0 {
		// Unusual form: let strconv decide.
		for p.i < len(p.b) && p.b[p.i] != ',' && p.b[p.i] != ']' {
			p.i++
		}
		f, err := strconv.ParseFloat(string(p.b[start:p.i]), 64)
		if err != nil {
			return 0, fmt.Errorf("%w: timestamp at offset %d: %v", errSyntax, start, err)
		}
		return model.Time(math.Round(f * 1000)), nil
	}
	t := sec*1000 + ms
	if neg {
		t = -t
	}
	return model.Time(t), nil
}

func parseValue(b []byte) (float64, error) {
	switch string(b) { // no allocation: the compiler compares in place
	case "NaN":
		return math.NaN(), nil
	case "+Inf", "Inf":
		return math.Inf(1), nil
	case "-Inf":
		return math.Inf(-1), nil
	}
	return strconv.ParseFloat(unsafeString(b), 64)
}

// unsafeString views b as a string without copying, for callees that do not keep it
// (strconv.ParseFloat, switch statements, map look-ups that copy).
func unsafeString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}
