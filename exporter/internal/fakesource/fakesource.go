// Package fakesource is an in-process registry.Source for tests and benchmarks: a fixed set of
// series whose values are a function of the series index and the time.
package fakesource

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/common/model"
)

// ErrDown is returned while the source is marked down.
var ErrDown = errors.New("fake source down")

// Source answers every expression with the same series.
type Source struct {
	mu     sync.RWMutex
	series []model.Metric
	value  func(i int, t time.Time) float64
	down   atomic.Bool

	// Has, when set, says whether series i has a sample at t (false: the answer leaves it out).
	Has func(i int, t time.Time) bool

	Instant, Range atomic.Int64 // queries answered
}

func (s *Source) has(i int, t time.Time) bool { return s.Has == nil || s.Has(i, t) }

// New returns a source of the series, valued by value.
func New(series []model.Metric, value func(i int, t time.Time) float64) *Source {
	return &Source{series: series, value: value}
}

// Many returns n series {__name__=name, instance="host-<i>", job="bench"}.
func Many(name string, n int) []model.Metric {
	out := make([]model.Metric, n)
	for i := range out {
		out[i] = model.Metric{model.MetricNameLabel: model.LabelValue(name), "job": "bench",
			"instance": model.LabelValue("host-" + strconv.Itoa(i))}
	}
	return out
}

// SetDown makes every query fail (true) or succeed again (false).
func (s *Source) SetDown(down bool) { s.down.Store(down) }

// SetSeries replaces the series.
func (s *Source) SetSeries(series []model.Metric) {
	s.mu.Lock()
	s.series = series
	s.mu.Unlock()
}

// Query returns one sample per series at t.
func (s *Source) Query(ctx context.Context, _ string, t time.Time) (model.Vector, error) {
	if s.down.Load() {
		return nil, ErrDown
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.Instant.Add(1)
	s.mu.RLock()
	defer s.mu.RUnlock()
	ts := model.TimeFromUnixNano(t.UnixNano())
	vec := make(model.Vector, 0, len(s.series))
	for i, m := range s.series {
		if !s.has(i, t) {
			continue
		}
		vec = append(vec, &model.Sample{Metric: m, Value: model.SampleValue(s.value(i, t)), Timestamp: ts})
	}
	return vec, nil
}

// QueryRange returns every series at every step of [start, end].
func (s *Source) QueryRange(ctx context.Context, _ string, start, end time.Time, step time.Duration) (model.Matrix, error) {
	if s.down.Load() {
		return nil, ErrDown
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.Range.Add(1)
	s.mu.RLock()
	defer s.mu.RUnlock()
	mat := make(model.Matrix, 0, len(s.series))
	for i, m := range s.series {
		ss := &model.SampleStream{Metric: m}
		for t := start; !t.After(end); t = t.Add(step) {
			if !s.has(i, t) {
				continue
			}
			ss.Values = append(ss.Values, model.SamplePair{Timestamp: model.TimeFromUnixNano(t.UnixNano()), Value: model.SampleValue(s.value(i, t))})
		}
		if len(ss.Values) > 0 {
			mat = append(mat, ss)
		}
	}
	return mat, nil
}
