package testenv

import (
	"bufio"
	"fmt"
	"io"
	"iter"
	"maps"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Sample is one value of one series at one time.
type Sample struct {
	Metric string            // metric name, e.g. "node_load1"
	Labels map[string]string // other labels; may be nil
	Time   time.Time
	Value  float64
}

var metricNameRE = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*$`)
var labelNameRE = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

func (s Sample) validate() error {
	if !metricNameRE.MatchString(s.Metric) {
		return fmt.Errorf("invalid metric name %q", s.Metric)
	}
	for k := range s.Labels {
		if !labelNameRE.MatchString(k) || k == "__name__" {
			return fmt.Errorf("metric %s: invalid label name %q", s.Metric, k)
		}
	}
	return nil
}

// writeSeries writes `name{a="b",...}` with sorted, escaped labels.
func writeSeries(w *bufio.Writer, metric string, labels map[string]string) {
	w.WriteString(metric)
	if len(labels) == 0 {
		return
	}
	w.WriteByte('{')
	for i, k := range slices.Sorted(maps.Keys(labels)) {
		if i > 0 {
			w.WriteByte(',')
		}
		w.WriteString(k)
		w.WriteString(`="`)
		w.WriteString(escapeLabelValue(labels[k]))
		w.WriteByte('"')
	}
	w.WriteByte('}')
}

var labelValueEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)

func escapeLabelValue(v string) string { return labelValueEscaper.Replace(v) }

func formatValue(v float64) string {
	switch {
	case math.IsNaN(v):
		return "NaN"
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// WriteOpenMetrics writes samples as OpenMetrics text, as promtool's
// `tsdb create-blocks-from openmetrics` reads it: timestamps in seconds
// (millisecond precision), no TYPE lines (series are "unknown", which
// PromQL treats like gauges), terminated by "# EOF".
// Each series' samples must come in increasing time order.
func WriteOpenMetrics(w io.Writer, samples iter.Seq[Sample]) error {
	bw := bufio.NewWriter(w)
	for s := range samples {
		if err := s.validate(); err != nil {
			return fmt.Errorf("write openmetrics: %w", err)
		}
		writeSeries(bw, s.Metric, s.Labels)
		ms := s.Time.UnixMilli()
		fmt.Fprintf(bw, " %s %d.%03d\n", formatValue(s.Value), ms/1000, ms%1000)
	}
	bw.WriteString("# EOF\n")
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write openmetrics: %w", err)
	}
	return nil
}

// Series returns the samples of one series from start, every step, with
// values from f(i, t) for i in [0, n): a shorthand for building History.
func Series(metric string, labels map[string]string, start time.Time, step time.Duration, n int, f func(i int, t time.Time) float64) iter.Seq[Sample] {
	return func(yield func(Sample) bool) {
		for i := range n {
			ts := start.Add(time.Duration(i) * step)
			if !yield(Sample{Metric: metric, Labels: labels, Time: ts, Value: f(i, ts)}) {
				return
			}
		}
	}
}
