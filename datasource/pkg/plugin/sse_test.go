package plugin

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/data"
)

// What Grafana does with a data source's frames in an alert rule: its server-side
// expressions turn them into series or numbers (grafana/grafana pkg/expr, converter.go:
// ResultConverter.Convert for a data source that is not Prometheus, WideToMany,
// mathexp.SeriesFromFrame), reduce each series to a number (pkg/expr/mathexp/reduce.go, in
// the default strict mode: a null or NaN anywhere gives NaN), compare it with a threshold,
// and the rule's evaluation gives each label set a state (pkg/services/ngalert/eval: an
// error for duplicate label sets, NoData for a null, Normal for 0, Alerting otherwise).
// Grafana is not packaged for Debian and cannot run here: these steps are rewritten from its
// source, limited to what the plugin's frames go through (no dataplane frame types, which
// the plugin does not set).

// sseSeries is one series of a converted response: a time column and one value column.
type sseSeries struct {
	labels data.Labels
	times  []time.Time
	values []*float64
}

// sseNumber is one number of a reduced (or number-set) response.
type sseNumber struct {
	labels data.Labels
	value  *float64
}

// sseConvert is ResultConverter.Convert: a single frame that is a numeric table (one number
// column, string columns as labels) is a set of numbers; otherwise every frame must be a
// wide time series (one time column, number columns, no string column), each number column
// a series with the column's labels.
func sseConvert(frames data.Frames) ([]sseSeries, []sseNumber, error) {
	if len(frames) == 0 {
		return nil, nil, nil // no data
	}
	for _, f := range frames {
		if f.Meta != nil && f.Meta.Type != "" {
			return nil, nil, fmt.Errorf("frame %q has the dataplane type %s: not emulated", f.Name, f.Meta.Type)
		}
	}
	if len(frames) == 1 {
		f := frames[0]
		if len(f.Fields) == 0 {
			return nil, nil, nil
		}
		if f.TimeSeriesSchema().Type == data.TimeSeriesTypeNot && isNumberTable(f) {
			return nil, numberSet(f), nil
		}
	}
	var out []sseSeries
	for _, f := range frames {
		schema := f.TimeSeriesSchema()
		if schema.Type != data.TimeSeriesTypeWide {
			return nil, nil, fmt.Errorf("input data must be a wide series but got type %s (input refid)", schema.Type)
		}
		for _, vi := range schema.ValueIndices {
			s := sseSeries{labels: f.Fields[vi].Labels}
			for i := range f.Rows() {
				s.times = append(s.times, f.Fields[schema.TimeIndex].At(i).(time.Time))
				v, err := f.Fields[vi].NullableFloatAt(i)
				if err != nil {
					return nil, nil, fmt.Errorf("field %s: %w", f.Fields[vi].Name, err)
				}
				s.values = append(s.values, v)
			}
			out = append(out, s)
		}
	}
	return out, nil, nil
}

func isNumberTable(f *data.Frame) bool {
	numeric, other := 0, 0
	for _, fl := range f.Fields {
		switch t := fl.Type(); {
		case t.Numeric():
			numeric++
		case t == data.FieldTypeString || t == data.FieldTypeNullableString:
		default:
			other++
		}
	}
	return numeric == 1 && other == 0
}

func numberSet(f *data.Frame) []sseNumber {
	var out []sseNumber
	for i := range f.Rows() {
		n := sseNumber{labels: data.Labels{}}
		for j, fl := range f.Fields {
			if fl.Type().Numeric() {
				v, _ := f.FloatAt(j, i) // a null reads as NaN, as in Grafana's extractNumberSet
				n.value = &v
			} else if s, ok := f.ConcreteAt(j, i); ok {
				n.labels[fl.Name] = s.(string)
			}
		}
		out = append(out, n)
	}
	return out
}

// sseReduce is a Reduce expression in strict mode.
func sseReduce(series []sseSeries, fn string) []sseNumber {
	out := make([]sseNumber, 0, len(series))
	for _, s := range series {
		out = append(out, sseNumber{labels: s.labels, value: reduceStrict(s.values, fn)})
	}
	return out
}

func reduceStrict(vs []*float64, fn string) *float64 {
	nan := math.NaN()
	switch fn {
	case "count":
		c := float64(len(vs))
		return &c
	case "last":
		if len(vs) == 0 {
			return &nan
		}
		return vs[len(vs)-1]
	}
	if len(vs) == 0 && fn != "sum" && fn != "mean" {
		return &nan
	}
	var acc float64
	for i, v := range vs {
		if v == nil || math.IsNaN(*v) {
			return &nan
		}
		switch {
		case fn == "sum" || fn == "mean":
			acc += *v
		case fn == "max" && (i == 0 || *v > acc), fn == "min" && (i == 0 || *v < acc):
			acc = *v
		}
	}
	if fn == "mean" {
		acc /= float64(len(vs))
	}
	return &acc
}

// sseThreshold is a Threshold expression (gt or lt): 1 or 0, null stays null.
func sseThreshold(nums []sseNumber, op string, limit float64) []sseNumber {
	out := make([]sseNumber, 0, len(nums))
	for _, n := range nums {
		r := sseNumber{labels: n.labels}
		if n.value != nil {
			var b bool
			switch op {
			case "gt":
				b = *n.value > limit
			case "lt":
				b = *n.value < limit
			default:
				panic("threshold " + op)
			}
			v := 0.0
			if b {
				v = 1
			}
			r.value = &v
		}
		out = append(out, r)
	}
	return out
}

// alertStates is the rule's evaluation of its condition: a state per label set.
func alertStates(cond []sseNumber) (map[string]string, error) {
	out := map[string]string{}
	for _, n := range cond {
		key := n.labels.String()
		if _, dup := out[key]; dup {
			return nil, fmt.Errorf("frame cannot uniquely be identified by its labels: has duplicate results with labels {%s}", key)
		}
		switch {
		case n.value == nil:
			out[key] = "NoData"
		case *n.value == 0:
			out[key] = "Normal"
		default:
			out[key] = "Alerting"
		}
	}
	return out, nil
}

// evalRule evaluates the usual rule of three steps: A, the plugin's frames; B = reduce(A)
// (skipped when A is already a set of numbers); C = B gt|lt limit.
func evalRule(frames data.Frames, reducer, op string, limit float64) (map[string]string, error) {
	series, nums, err := sseConvert(frames)
	if err != nil {
		return nil, err
	}
	if nums == nil {
		nums = sseReduce(series, reducer)
	}
	return alertStates(sseThreshold(nums, op, limit))
}

// statesOf returns the states whose label set holds all of the pairs ("k=v").
func statesOf(states map[string]string, pairs ...string) []string {
	var out []string
	for labels, st := range states {
		have := strings.Split(labels, ", ")
		ok := true
		for _, p := range pairs {
			ok = ok && slices.Contains(have, p)
		}
		if ok {
			out = append(out, st)
		}
	}
	slices.Sort(out)
	return out
}
