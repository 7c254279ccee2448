package source

import (
	"bytes"
	"math"
	"strconv"
	"sync"

	"github.com/prometheus/common/model"
)

// The instant answer of every live cycle is, from Prometheus, always spelled the same way:
// {"status":"success","data":{"resultType":"vector","result":[{"metric":{...},"value":[t,"v"]},...]}}
// without white space or escapes in most label values. fastInstant reads exactly that, with
// no allocation for the label names and the label values that many series share (job,
// tenant, the metric name: see interner), and gives up on anything else (an escape, another
// key, a histogram, a warning, too many samples), which decodeInstant then reads with the
// general decoder. Both are checked against each other by FuzzFastInstant.

const (
	fastHead = `{"status":"success","data":{"resultType":"vector","result":[`
	fastTail = `]}}`
)

// fastInstant decodes body if it is a plain vector answer (ok false: read it otherwise).
// in may be nil (no interning).
func fastInstant(body []byte, maxSamples int, in *interner) (vec model.Vector, ok bool) {
	b, ok := bytes.CutPrefix(body, []byte(fastHead))
	if !ok {
		return nil, false
	}
	b = bytes.TrimRight(b, " \t\r\n")
	if b, ok = bytes.CutSuffix(b, []byte(fastTail)); !ok {
		return nil, false
	}
	p := fastParser{b: b, in: in}
	vec = model.Vector{}
	if len(p.b) == 0 {
		return vec, true
	}
	if in != nil && in.lastLen > 0 {
		vec = make(model.Vector, 0, in.lastLen)
	}
	for {
		if maxSamples > 0 && len(vec) >= maxSamples {
			return nil, false
		}
		s, ok := p.sample()
		if !ok {
			return nil, false
		}
		vec = append(vec, s)
		if len(p.b) == 0 {
			break
		}
		if !p.byte(',') {
			return nil, false
		}
	}
	if in != nil {
		in.lastLen = len(vec)
	}
	return vec, true
}

type fastParser struct {
	b  []byte
	in *interner
}

func (p *fastParser) byte(c byte) bool {
	if len(p.b) == 0 || p.b[0] != c {
		return false
	}
	p.b = p.b[1:]
	return true
}

func (p *fastParser) literal(s string) bool {
	var ok bool
	p.b, ok = bytes.CutPrefix(p.b, []byte(s))
	return ok
}

// str reads a string without escapes or control characters (ok false for any other).
func (p *fastParser) str() ([]byte, bool) {
	if !p.byte('"') {
		return nil, false
	}
	for i, c := range p.b {
		switch {
		case c == '"':
			s := p.b[:i]
			p.b = p.b[i+1:]
			return s, true
		case c == '\\' || c < 0x20:
			return nil, false
		}
	}
	return nil, false
}

// sample reads {"metric":{...},"value":[t,"v"]}.
func (p *fastParser) sample() (*model.Sample, bool) {
	if !p.literal(`{"metric":{`) {
		return nil, false
	}
	s := &model.Sample{Metric: make(model.Metric, 8)}
	if !p.byte('}') {
		for {
			name, ok := p.str()
			if !ok || !p.byte(':') {
				return nil, false
			}
			value, ok := p.str()
			if !ok {
				return nil, false
			}
			n := p.in.name(name)
			s.Metric[model.LabelName(n)] = model.LabelValue(p.in.value(n, value))
			if p.byte('}') {
				break
			}
			if !p.byte(',') {
				return nil, false
			}
		}
	}
	if !p.literal(`,"value":[`) {
		return nil, false
	}
	end := bytes.IndexByte(p.b, ',')
	if end <= 0 {
		return nil, false
	}
	for _, c := range p.b[:end] {
		if (c < '0' || c > '9') && c != '.' && c != '-' && c != '+' && c != 'e' && c != 'E' {
			return nil, false
		}
	}
	if err := s.Timestamp.UnmarshalJSON(p.b[:end]); err != nil {
		return nil, false
	}
	p.b = p.b[end+1:]
	v, ok := p.str()
	if !ok || !p.literal(`]}`) {
		return nil, false
	}
	f, err := strconv.ParseFloat(string(v), 64)
	if err != nil && !math.IsInf(f, 0) {
		return nil, false
	}
	s.Value = model.SampleValue(f)
	return s, true
}

// interner shares the strings of label names, and of the values of the label names that have
// few of them (job, tenant, the metric name: at most maxValues each), between the series of an
// answer and from one answer to the next. Its memory is bounded: at most maxNames names, and
// a label name that turns out to have more values (instance) stops being interned.
type interner struct {
	mu      sync.Mutex // held for a whole answer; an answer read while it is held is not interned
	names   map[string]string
	values  map[string]map[string]string // by name; nil: too many values, not interned
	lastLen int                          // samples of the last answer, a capacity hint
}

const (
	maxNames  = 256
	maxValues = 64
)

func newInterner() *interner {
	return &interner{names: map[string]string{}, values: map[string]map[string]string{}}
}

// name returns b as a string, shared.
func (in *interner) name(b []byte) string {
	if in == nil {
		return string(b)
	}
	if s, ok := in.names[string(b)]; ok {
		return s
	}
	s := string(b)
	if len(in.names) < maxNames {
		in.names[s] = s
		in.values[s] = map[string]string{}
	}
	return s
}

// value returns b, a value of the label name, as a string, shared if name has few values.
func (in *interner) value(name string, b []byte) string {
	if in == nil {
		return string(b)
	}
	vs := in.values[name]
	if vs == nil {
		return string(b)
	}
	if s, ok := vs[string(b)]; ok {
		return s
	}
	s := string(b)
	if len(vs) >= maxValues {
		in.values[name] = nil // many values: each series has its own
		return s
	}
	vs[s] = s
	return s
}
