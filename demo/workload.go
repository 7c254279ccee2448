package demo

import (
	"fmt"
	"hash/fnv"
	"io"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Metric names of the demo workload.
const (
	SessionsMetric = "demo_active_sessions"
	DiskMetric     = "demo_disk_used_bytes"
)

// DiskCapacity is the size of the demo's volumes: the exporter's breach threshold.
const DiskCapacity = 100e9

// Series is one series of the demo workload.
type Series struct {
	Metric string
	Labels map[string]string // without job and instance, which the scrape adds

	base   float64 // sessions at the daily peak of a weekday; disk: bytes used at the anchor
	growth float64 // disk: bytes per day
	peak   float64 // sessions: hour of the daily peak
	seed   uint64  // of the noise
}

// Key returns metric{labels} with sorted labels, as in the exposition format.
func (s *Series) Key() string { return s.Metric + formatLabels(s.Labels, nil) }

func newSeries(s *Series) *Series {
	h := fnv.New64a()
	_, _ = io.WriteString(h, s.Key())
	s.seed = h.Sum64()
	return s
}

// Workload is the demo's small service: two tenants' checkout and search sessions (daily and
// weekly seasonality with noise) and their disk usage (growing, with a daily cleanup), served
// at /metrics. Values are a function of time only, so the history loaded into Prometheus and
// the live values follow the same pattern. A fault, once injected, triples acme's checkout
// sessions.
type Workload struct {
	// Anchor is the time the disk sizes are relative to (the demo's start).
	Anchor time.Time
	// Step is the resolution of the noise (the scrape interval).
	Step   time.Duration
	Series []*Series
	// Job and Instance are the labels the scrape adds (history carries them too).
	Job, Instance string

	mu         sync.Mutex
	faultStart time.Time
	faultEnd   time.Time
}

// FaultFactor multiplies acme's checkout sessions during the fault (a bot storm).
const FaultFactor = 3

// NewWorkload returns the demo workload anchored at anchor, with noise changing every step.
func NewWorkload(anchor time.Time, step time.Duration) *Workload {
	sess := func(tenant, service string, base, peak float64) *Series {
		return newSeries(&Series{Metric: SessionsMetric, Labels: map[string]string{"tenant": tenant, "service": service}, base: base, peak: peak})
	}
	disk := func(tenant string, used, growth float64) *Series {
		return newSeries(&Series{Metric: DiskMetric, Labels: map[string]string{"tenant": tenant, "volume": "orders"}, base: used, growth: growth})
	}
	return &Workload{
		Anchor: anchor, Step: step, Job: "shop", Instance: "shop-1",
		Series: []*Series{
			sess("acme", "checkout", 420, 14),
			sess("acme", "search", 900, 11),
			sess("globex", "checkout", 260, 15.5),
			sess("globex", "search", 610, 20),
			// acme fills its volume in about four days, globex in months.
			disk("acme", 95e9, 2e9),
			disk("globex", 40e9, 0.25e9),
		},
	}
}

// FaultSeries reports whether s is the series the fault hits.
func FaultSeries(s *Series) bool {
	return s.Metric == SessionsMetric && s.Labels["tenant"] == "acme" && s.Labels["service"] == "checkout"
}

// InjectFault starts the fault at t, for d (0: until the end).
func (w *Workload) InjectFault(t time.Time, d time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.faultStart = t
	w.faultEnd = time.Time{}
	if d > 0 {
		w.faultEnd = t.Add(d)
	}
}

// Faulty reports whether the fault is active at t.
func (w *Workload) Faulty(t time.Time) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return !w.faultStart.IsZero() && !t.Before(w.faultStart) && (w.faultEnd.IsZero() || t.Before(w.faultEnd))
}

// Value returns the normal value of s at t (without the fault).
func (w *Workload) Value(s *Series, t time.Time) float64 {
	bucket := t.Truncate(w.Step)
	n := noise(s.seed, bucket)
	switch s.Metric {
	case DiskMetric:
		days := t.Sub(w.Anchor).Hours() / 24
		used := s.base + s.growth*days
		// Most writes happen in business hours; a cleanup at 03:00 frees a tenth of a day's growth.
		used += 0.4 * s.growth * (dayShape(t, 13) - 0.5)
		used += s.growth * 0.001 * n
		return math.Max(0, used)
	default:
		v := s.base * dayShape(t, s.peak) * weekFactor(t)
		return math.Max(0, math.Round(v*(1+0.04*n)))
	}
}

// ValueNow returns the value of s at t, with the fault if it is active.
func (w *Workload) ValueNow(s *Series, t time.Time) float64 {
	v := w.Value(s, t)
	if FaultSeries(s) && w.Faulty(t) {
		v = math.Round(v * FaultFactor)
	}
	return v
}

// dayShape is a smooth daily profile in (0.12, 1]: quiet at night, peaking at peak (local time).
func dayShape(t time.Time, peak float64) float64 {
	h := float64(t.Hour()) + float64(t.Minute())/60 + float64(t.Second())/3600
	d := math.Abs(h - peak)
	if d > 12 {
		d = 24 - d
	}
	return 0.12 + 0.88*math.Exp(-d*d/(2*3.2*3.2))
}

// weekFactor: weekends are quieter. The factor changes smoothly over the six hours around
// midnight, as real traffic does (a step would teach the models that jumps are normal).
func weekFactor(t time.Time) float64 {
	day := func(d time.Weekday) float64 {
		switch d {
		case time.Saturday:
			return 0.55
		case time.Sunday:
			return 0.45
		case time.Friday:
			return 0.9
		}
		return 1
	}
	h := float64(t.Hour()) + float64(t.Minute())/60 + float64(t.Second())/3600
	today := day(t.Weekday())
	var other, w float64 // the neighbouring day's factor and its weight
	switch {
	case h < 3:
		other, w = day((t.Weekday()+6)%7), 0.5*(1-h/3)
	case h > 21:
		other, w = day((t.Weekday()+1)%7), 0.5*(h-21)/3
	default:
		return today
	}
	w = 0.5 - 0.5*math.Cos(w*math.Pi) // smooth at the ends of the transition
	return (1-w)*today + w*other
}

// noise is a deterministic, roughly normal value for a series (its seed) at a time.
func noise(seed uint64, t time.Time) float64 {
	// splitmix64 of the seed and the time, then four uniforms (Irwin-Hall), centred and
	// scaled to unit variance.
	x := seed ^ uint64(t.UnixMilli())*0x9e3779b97f4a7c15
	var sum float64
	for range 4 {
		x += 0x9e3779b97f4a7c15
		z := x
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
		z = (z ^ (z >> 27)) * 0x94d049bb133111eb
		z ^= z >> 31
		sum += float64(z>>11) / (1 << 53)
	}
	return (sum - 2) / math.Sqrt(4.0/12)
}

// History calls yield for every sample of every series from start (inclusive) to end
// (exclusive), every step, series after series, in time order within a series: the order
// promtool's OpenMetrics import wants.
func (w *Workload) History(start, end time.Time, yield func(s *Series, t time.Time, v float64) error) error {
	start = start.Truncate(w.Step)
	for _, s := range w.Series {
		for t := start; t.Before(end); t = t.Add(w.Step) {
			if err := yield(s, t, w.Value(s, t)); err != nil {
				return err
			}
		}
	}
	return nil
}

// WriteOpenMetrics writes the history from start to end as OpenMetrics text for
// `promtool tsdb create-blocks-from openmetrics` (timestamps in seconds), with the job and
// instance labels the live scrape adds.
func (w *Workload) WriteOpenMetrics(out io.Writer, start, end time.Time) error {
	extra := map[string]string{"job": w.Job, "instance": w.Instance}
	var (
		buf    []byte
		family string
		prefix string
		cur    *Series
	)
	err := w.History(start, end, func(s *Series, t time.Time, v float64) error {
		if s != cur {
			cur = s
			if s.Metric != family {
				family = s.Metric
				buf = append(buf, "# TYPE "+family+" gauge\n"...)
			}
			prefix = s.Metric + formatLabels(s.Labels, extra) + " "
		}
		buf = append(buf, prefix...)
		buf = strconv.AppendFloat(buf, v, 'g', -1, 64)
		buf = append(buf, ' ')
		buf = strconv.AppendFloat(buf, float64(t.UnixMilli())/1000, 'f', -1, 64)
		buf = append(buf, '\n')
		if len(buf) > 64<<10 {
			if _, err := out.Write(buf); err != nil {
				return fmt.Errorf("write history: %w", err)
			}
			buf = buf[:0]
		}
		return nil
	})
	if err != nil {
		return err
	}
	buf = append(buf, "# EOF\n"...)
	if _, err := out.Write(buf); err != nil {
		return fmt.Errorf("write history: %w", err)
	}
	return nil
}

// ServeHTTP serves the live values at /metrics in the text exposition format.
func (w *Workload) ServeHTTP(rw http.ResponseWriter, _ *http.Request) {
	now := time.Now()
	var b strings.Builder
	family := ""
	for _, s := range w.Series {
		if s.Metric != family {
			family = s.Metric
			help := "Sessions open on the demo shop's service."
			if family == DiskMetric {
				help = "Bytes used on the demo shop's volume."
			}
			fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s gauge\n", family, help, family)
		}
		fmt.Fprintf(&b, "%s%s %s\n", s.Metric, formatLabels(s.Labels, nil), strconv.FormatFloat(w.ValueNow(s, now), 'g', -1, 64))
	}
	rw.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	_, _ = io.WriteString(rw, b.String())
}

// labelValueEscaper escapes a label value for the exposition formats.
var labelValueEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)

// formatLabels writes {a="b",...} with the labels of a and b sorted; b may be nil.
func formatLabels(a, b map[string]string) string {
	keys := make([]string, 0, len(a)+len(b))
	all := make(map[string]string, len(a)+len(b))
	for _, m := range []map[string]string{a, b} {
		for k, v := range m {
			if _, ok := all[k]; !ok {
				keys = append(keys, k)
			}
			all[k] = v
		}
	}
	if len(keys) == 0 {
		return ""
	}
	sort.Strings(keys)
	var sb strings.Builder
	sb.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString(k)
		sb.WriteString(`="`)
		sb.WriteString(labelValueEscaper.Replace(all[k]))
		sb.WriteByte('"')
	}
	sb.WriteByte('}')
	return sb.String()
}
