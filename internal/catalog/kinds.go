package catalog

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/kizashi-dev/kizashi/internal/randdist"
)

// Kind names a family of series.
type Kind string

// The kinds of series (see the package documentation for what each one models).
const (
	Smooth    Kind = "smooth"     // request rate: smooth daily shape, lower weekends
	OnOff     Kind = "onoff"      // business hours, batch windows, cron bursts: square edges
	HeavyTail Kind = "heavytail"  // flat level, Student-t or Laplace noise
	Counts    Kind = "counts"     // Poisson counts, mean ~3 per minute, daily rhythm
	CPU       Kind = "cpu"        // mean-reverting random walk in [0,100] with a daily rhythm
	Rate1m    Kind = "rate1m"     // rate(x[1m]) of a counter scraped every 15 s
	Rate5m    Kind = "rate5m"     // rate(x[5m]) of the same
	Rate10m   Kind = "rate10m"    // rate(x[10m]) of the same
	Sparse    Kind = "sparse"     // occasional events, 95%+ zeros
	Weekly    Kind = "weeklystep" // weekend level and shape differ: shop hours, weekend batches
)

// Kinds returns every kind in report order.
func Kinds() []Kind {
	return []Kind{Smooth, OnOff, HeavyTail, Counts, CPU, Rate1m, Rate5m, Rate10m, Sparse, Weekly}
}

// ParseKind returns the kind with the given name.
func ParseKind(s string) (Kind, error) {
	if k := Kind(s); slices.Contains(Kinds(), k) {
		return k, nil
	}
	return "", fmt.Errorf("unknown kind %q (want one of %v)", s, Kinds())
}

// rangeMS is the rate() range of a counter-rate kind (0 for the others).
func (k Kind) rangeMS() int64 {
	switch k {
	case Rate1m:
		return 60_000
	case Rate5m:
		return 300_000
	case Rate10m:
		return 600_000
	}
	return 0
}

// Time of day and week in the series' own time zone.
const (
	minute = 60
	hour   = 3600
	day    = 24 * hour
	week   = 7 * day
)

// zone is a series' time zone: its offset from UTC (seconds), which changes to off1 at the
// instant at (unix seconds; never for the fixed zones of the default catalogue), and its
// holidays (local days since 1970-01-01), which are Sundays to every kind.
type zone struct {
	name          string // IANA name; empty for a fixed offset
	off0, off1    int64
	at            int64
	holidays      []int64
	holidayRanges []string // the holidays as the engine's settings spell them
}

// hours is the zone's offset (before its change) in hours, for the series' description.
func (z zone) hours() float64 { return float64(z.off0) / hour }

// fixed is a zone whose offset never changes.
func fixed(off int64) zone { return zone{off0: off, off1: off, at: math.MaxInt64} }

// local is a time (unix seconds) in a series' time zone: hour of day in [0,24) and weekday
// (0 Monday .. 6 Sunday; a holiday is a Sunday).
func local(t int64, z zone) (h float64, wd int) {
	lt := t + z.off0
	if t >= z.at {
		lt = t + z.off1
	}
	d := lt / day
	if lt%day < 0 {
		d--
	}
	s := lt - d*day
	wd = int((d+3)%7+7) % 7 // 1970-01-01 was a Thursday
	if slices.Contains(z.holidays, d) {
		wd = 6
	}
	return float64(s) / hour, wd
}

// weekend is 1 on Saturday and Sunday and 0 on weekdays, with linear two-hour transitions
// centred on midnight (traffic does not step at midnight).
func weekend(t int64, tz zone) float64 {
	h, wd := local(t, tz)
	in := func(wd int) float64 {
		if wd >= 5 {
			return 1
		}
		return 0
	}
	switch {
	case h >= 23: // blend towards the next day
		return in(wd) + (in((wd+1)%7)-in(wd))*(h-23)/2
	case h < 1:
		return in(wd) + (in((wd+6)%7)-in(wd))*(1-h)/2
	}
	return in(wd)
}

// zones are the time zones series live in: UTC, Japan, central Europe, US east, India.
var zones = []int64{0, 9 * hour, 1 * hour, -5 * hour, 5*hour + 30*minute}

// gen is one series of a kind: its parameters and noise state.
type gen interface {
	// expected is the noise-free value at t (unix seconds) when nothing fails: the normal
	// that failures are defined against (the rate kinds: the arrival intensity per second).
	expected(t int64) float64
	// draw returns the observation at t for the expected value mu (as changed by a failure)
	// with its noise scaled by noise in standard deviation (1 normally), and advances the
	// noise state. The rate kinds never call it (see counterGen).
	draw(t int64, mu, noise float64) float64
	// spike returns the value of a spike sample whose normal draw was v: single for a
	// one-sample spike, else one minute of a ten-minute one.
	spike(f *rand.Rand, t int64, mu, v float64, single bool) float64
	// mean is the series' typical level: the mean of expected over a week.
	mean() float64
	setMean(float64)
	// String describes the parameters (for -v).
	String() string
}

// base holds what every kind has.
type base struct {
	r   *rand.Rand // noise
	tz  zone
	avg float64
}

func (b *base) mean() float64     { return b.avg }
func (b *base) setMean(m float64) { b.avg = m }

// weekMean computes the mean of expected over the week from start.
func weekMean(g gen, start int64) float64 {
	s := 0.0
	for t := start; t < start+week; t += minute {
		s += g.expected(t)
	}
	return s / (week / minute)
}

// tripled is the default spike: the metric triples.
func tripled(v float64) float64 { return 3 * v }

// newGen draws the parameters of one series of kind k.
func newGen(c Case, p, noise *rand.Rand, start int64, z *zone) gen {
	b := base{r: noise}
	if z == nil {
		b.tz = fixed(zones[p.IntN(len(zones))])
	} else {
		b.tz = *z
	}
	k, idx := c.Kind, c.Index
	var g gen
	switch k {
	case Smooth:
		g = newSmooth(p, b)
	case OnOff:
		g = newOnOff(p, b, idx)
	case HeavyTail:
		g = newHeavyTail(p, b, idx)
	case Counts:
		g = newCounts(p, b)
	case CPU:
		g = newCPU(p, b)
	case Rate1m, Rate5m, Rate10m:
		cg := newCounter(p, b)
		if idx%4 == 3 && c.Failure != Flatten && c.Failure != Phase {
			cg.flat() // a quarter count at a constant rate; no pattern to flatten or shift
		}
		g = cg
	case Sparse:
		g = newSparse(p, b)
	case Weekly:
		g = newWeekly(p, b, idx)
	default:
		panic("catalog: unknown kind " + string(k))
	}
	g.setMean(weekMean(g, start))
	return g
}

// dailyShape is 1 + a1·cos(2π(h-p1)/24) + a2·cos(4π(h-p2)/24): a daily peak with a secondary
// half-day harmonic (morning and afternoon humps).
type dailyShape struct{ a1, p1, a2, p2 float64 }

func newDailyShape(p *rand.Rand, a1lo, a1hi float64) dailyShape {
	return dailyShape{a1: uniform(p, a1lo, a1hi), p1: uniform(p, 12, 17), a2: uniform(p, 0, 0.2), p2: uniform(p, 9, 13)}
}

func (s dailyShape) at(h float64) float64 {
	return 1 + s.a1*math.Cos(2*math.Pi*(h-s.p1)/24) + s.a2*math.Cos(4*math.Pi*(h-s.p2)/24)
}

// multNoise is the noise of a rate-like series: a slow drift of the level (days), a wander
// (tens of minutes: users come and go in sessions), and a short-memory sample-to-sample wobble,
// all multiplicative. A failure's noise scale applies to the wobble.
type multNoise struct {
	drift, wander drift
	fast          ar1
}

func newMultNoise(p, r *rand.Rand, driftSD, fastLo, fastHi float64) multNoise {
	return multNoise{drift: newDrift(r, driftSD, 2*day, minute),
		wander: newDrift(r, uniform(p, 0.01, 0.04), uniform(p, 15, 90)*minute, minute),
		fast:   newAR1(r, uniform(p, 0.3, 0.8), uniform(p, fastLo, fastHi))}
}

func (n multNoise) String() string {
	return fmt.Sprintf("wander %.3f/%.0fm, noise %.3f φ %.2f", n.wander.sd, n.wander.tau/minute, n.fast.sd, n.fast.phi)
}

func (n *multNoise) apply(r *rand.Rand, mu, noise float64) float64 {
	return max(mu*math.Exp(n.drift.next(r)+n.wander.next(r))*(1+noise*n.fast.next(r)), 0)
}

// smooth: request rate with a smooth daily shape and lower weekends.
type smooth struct {
	base
	level, wkd float64
	shape      dailyShape
	noise      multNoise
}

func newSmooth(p *rand.Rand, b base) *smooth {
	return &smooth{base: b, level: logUniform(p, 20, 2000), wkd: uniform(p, 0.55, 0.9),
		shape: newDailyShape(p, 0.35, 0.65), noise: newMultNoise(p, b.r, 0.04, 0.02, 0.06)}
}

func (s *smooth) expected(t int64) float64 {
	h, _ := local(t, s.tz)
	return s.level * s.shape.at(h) * (1 - (1-s.wkd)*weekend(t, s.tz))
}

func (s *smooth) draw(_ int64, mu, noise float64) float64 { return s.noise.apply(s.r, mu, noise) }
func (s *smooth) spike(_ *rand.Rand, _ int64, _, v float64, _ bool) float64 {
	return tripled(v)
}
func (s *smooth) String() string {
	return fmt.Sprintf("level %.4g, weekend ×%.2f, daily ±%.2f peak %.1fh, %s, tz %+.1fh",
		s.level, s.wkd, s.shape.a1, s.shape.p1, s.noise, s.tz.hours())
}

// onOff: a high level inside windows and a low one outside, with edges from one sample to the
// next. Variant 0 business hours (weekdays), 1 a daily batch window, 2 cron bursts at fixed
// times of day.
type onOff struct {
	base
	variant   int
	hi, lo    float64
	windows   [][2]float64 // [start, end) local hours; business hours: weekdays only
	noise     multNoise
	weekdays  bool
	variantID string
}

func newOnOff(p *rand.Rand, b base, idx int) *onOff {
	o := &onOff{base: b, variant: idx % 3, hi: logUniform(p, 50, 5000)}
	o.lo = o.hi * uniform(p, 0.05, 0.2)
	switch o.variant {
	case 0:
		start := 8 + 0.5*float64(p.IntN(4))
		end := 17 + 0.5*float64(p.IntN(5))
		o.windows, o.weekdays, o.variantID = [][2]float64{{start, end}}, true, "business hours"
	case 1:
		start := 0.25 * float64(p.IntN(24)) // 00:00-05:45
		dur := uniform(p, 1.5, 3)
		o.windows, o.variantID = [][2]float64{{start, start + math.Round(dur*12)/12}}, "batch window"
	default:
		n := 3 + p.IntN(4)
		for len(o.windows) < n {
			start := float64(p.IntN(24*12)) / 12 // on a 5-minute grid
			w := [2]float64{start, start + float64(10+p.IntN(21))/60}
			if w[1] > 24 || slices.ContainsFunc(o.windows, func(x [2]float64) bool { return w[0] < x[1]+1 && x[0] < w[1]+1 }) {
				continue // keep bursts an hour apart and within the day
			}
			o.windows = append(o.windows, w)
		}
		o.variantID = "cron bursts"
	}
	o.noise = newMultNoise(p, b.r, 0.03, 0.03, 0.07)
	return o
}

func (o *onOff) expected(t int64) float64 {
	h, wd := local(t, o.tz)
	if o.weekdays && wd >= 5 {
		return o.lo
	}
	for _, w := range o.windows {
		if h >= w[0] && h < w[1] {
			return o.hi
		}
	}
	return o.lo
}

func (o *onOff) draw(_ int64, mu, noise float64) float64 { return o.noise.apply(o.r, mu, noise) }
func (o *onOff) spike(_ *rand.Rand, _ int64, _, v float64, _ bool) float64 {
	return tripled(v)
}
func (o *onOff) String() string {
	return fmt.Sprintf("%s %v, on %.4g, off %.4g, %s, tz %+.1fh", o.variantID, o.windows, o.hi, o.lo,
		o.noise, o.tz.hours())
}

// heavyTail: a flat level with heavy-tailed noise: Student-t with 3 or 4 degrees of freedom, or
// Laplace.
type heavyTail struct {
	base
	level, scale, nu float64 // nu 0: Laplace
}

func newHeavyTail(p *rand.Rand, b base, idx int) *heavyTail {
	h := &heavyTail{base: b, level: logUniform(p, 10, 1000), nu: []float64{3, 4, 0}[idx%3]}
	h.scale = h.level * uniform(p, 0.01, 0.03)
	return h
}

func (h *heavyTail) expected(int64) float64 { return h.level }

func (h *heavyTail) draw(_ int64, mu, noise float64) float64 {
	e := laplace(h.r)
	if h.nu > 0 {
		e = studentT(h.r, h.nu)
	}
	return mu + noise*h.scale*e
}

func (h *heavyTail) spike(_ *rand.Rand, _ int64, _, v float64, _ bool) float64 { return tripled(v) }
func (h *heavyTail) String() string {
	dist := fmt.Sprintf("t(%g)", h.nu)
	if h.nu == 0 {
		dist = "Laplace"
	}
	return fmt.Sprintf("level %.4g, %s noise scale %.3g", h.level, dist, h.scale)
}

// counts: Poisson counts per minute (errors, jobs) with a daily rhythm and lower weekends.
type counts struct {
	base
	level, amp, peak, wkd float64
	drift                 drift
}

func newCounts(p *rand.Rand, b base) *counts {
	return &counts{base: b, level: uniform(p, 1.5, 5), amp: uniform(p, 0.3, 0.7), peak: uniform(p, 11, 16),
		wkd: uniform(p, 0.5, 1), drift: newDrift(b.r, 0.05, 2*day, minute)}
}

func (c *counts) expected(t int64) float64 {
	h, _ := local(t, c.tz)
	return c.level * (1 + c.amp*math.Cos(2*math.Pi*(h-c.peak)/24)) * (1 - (1-c.wkd)*weekend(t, c.tz))
}

// draw: noise scales the variance of the counts by noise² (a Gamma-Poisson mixture).
func (c *counts) draw(_ int64, mu, noise float64) float64 {
	return overdispersed(c.r, mu*c.drift.factor(c.r), noise*noise)
}

// spike: ten minutes at three times the expected count; a single minute at ten times the
// series' mean (three times is within Poisson noise: P(X >= 9 | mean 3) = 0.4%, several times a
// day).
func (c *counts) spike(f *rand.Rand, _ int64, mu, _ float64, single bool) float64 {
	if single {
		return poisson(f, 10*c.avg)
	}
	return poisson(f, 3*mu)
}

func (c *counts) String() string {
	return fmt.Sprintf("mean %.2f/min, daily ±%.2f peak %.1fh, weekend ×%.2f, tz %+.1fh", c.level, c.amp, c.peak, c.wkd, c.tz.hours())
}

// cpu: utilisation in percent: a daily rhythm plus a mean-reverting random walk (an
// Ornstein-Uhlenbeck deviation with a time constant of minutes) and jitter, clamped to [0,100].
type cpu struct {
	base
	floor, amp, peak, power, wkd float64
	walk                         ar1
	jitter                       float64
}

func newCPU(p *rand.Rand, b base) *cpu {
	tau := uniform(p, 5, 30) // minutes
	return &cpu{base: b, floor: uniform(p, 10, 40), amp: uniform(p, 5, 30), peak: uniform(p, 11, 16),
		power: uniform(p, 1, 3), wkd: uniform(p, 0.5, 1),
		walk: newAR1(b.r, math.Exp(-1/tau), uniform(p, 2, 6)), jitter: uniform(p, 0.3, 1.5)}
}

func (c *cpu) expected(t int64) float64 {
	h, _ := local(t, c.tz)
	bump := math.Pow((1+math.Cos(2*math.Pi*(h-c.peak)/24))/2, c.power)
	return c.floor + c.amp*bump*(1-(1-c.wkd)*weekend(t, c.tz))
}

func (c *cpu) draw(_ int64, mu, noise float64) float64 {
	return min(max(mu+noise*(c.walk.next(c.r)+c.jitter*c.r.NormFloat64()), 0), 100)
}

func (c *cpu) spike(_ *rand.Rand, _ int64, _, v float64, _ bool) float64 { return min(tripled(v), 100) }
func (c *cpu) String() string {
	return fmt.Sprintf("floor %.1f%%, daily +%.1f%% peak %.1fh, walk sd %.1f φ %.3f, tz %+.1fh", c.floor, c.amp, c.peak,
		c.walk.sd, c.walk.phi, c.tz.hours())
}

// counterGen: a counter incremented by Poisson arrivals whose intensity (per second) has a
// smooth daily shape and lower weekends, with a slow drift and a short-memory wobble; it is
// scraped every 15 s and restarts (resets to 0) about every 4 days. See counterSeries.
type counterGen struct {
	base
	level, wkd float64
	shape      dailyShape
	drift      drift
	wander     drift
	fast       ar1
	offsetMS   int64 // scrape offset within the 15 s interval
	resetEvery float64
}

const scrapeMS = 15_000

func newCounter(p *rand.Rand, b base) *counterGen {
	return &counterGen{base: b, level: logUniform(p, 0.5, 200), wkd: uniform(p, 0.5, 0.9),
		shape:    newDailyShape(p, 0.3, 0.6),
		drift:    newDrift(b.r, 0.04, 2*day, scrapeMS/1000),
		wander:   newDrift(b.r, uniform(p, 0.01, 0.04), uniform(p, 15, 90)*minute, scrapeMS/1000),
		fast:     newAR1(b.r, 0.9, uniform(p, 0.02, 0.05)),
		offsetMS: 1 + p.Int64N(scrapeMS-2), resetEvery: 4 * day}
}

// flat makes the counter count at a constant rate (internal traffic, heartbeats, scrapes).
func (c *counterGen) flat() { c.shape, c.wkd = dailyShape{}, 1 }

func (c *counterGen) expected(t int64) float64 {
	h, _ := local(t, c.tz)
	return c.level * c.shape.at(h) * (1 - (1-c.wkd)*weekend(t, c.tz))
}

func (c *counterGen) draw(int64, float64, float64) float64 {
	panic("catalog: counters are scraped, not drawn")
}
func (c *counterGen) spike(*rand.Rand, int64, float64, float64, bool) float64 {
	panic("catalog: counter spikes are arrivals")
}

// increment draws the arrivals of one scrape interval whose intensity is mu per second, with
// their variance scaled by noise² (a Gamma-Poisson mixture on top of the wobble).
func (c *counterGen) increment(mu, noise float64) float64 {
	m := mu * scrapeMS / 1000 * math.Exp(c.drift.next(c.r)+c.wander.next(c.r)) * max(1+c.fast.next(c.r), 0)
	if noise == 1 || !(m > 0) {
		return poisson(c.r, m)
	}
	// Normal variance m + m²σ² (Poisson plus wobble); the mixture adds (noise²-1) times that.
	s2 := c.fast.sd * c.fast.sd
	extra := (noise*noise - 1) * (1/m + s2) // relative variance to add: 1/k of a Gamma(k,1/k)
	k := 1 / extra
	return poisson(c.r, m*randdist.Gamma(c.r, k)/k)
}

func (c *counterGen) String() string {
	return fmt.Sprintf("%.4g/s, daily ±%.2f peak %.1fh, weekend ×%.2f, wander %.3f/%.0fm, scrape offset %.3fs, tz %+.1fh",
		c.level, c.shape.a1, c.shape.p1, c.wkd, c.wander.sd, c.wander.tau/minute, float64(c.offsetMS)/1000, c.tz.hours())
}

// sparse: occasional events (0.5-4% of minutes, slightly more by day), each a small count.
type sparse struct {
	base
	p, amp, peak, sizeLam float64
}

func newSparse(p *rand.Rand, b base) *sparse {
	return &sparse{base: b, p: uniform(p, 0.005, 0.04), amp: uniform(p, 0, 0.3), peak: uniform(p, 11, 16),
		sizeLam: uniform(p, 0, 1.5)}
}

func (s *sparse) meanSize() float64 { return 1 + s.sizeLam }

func (s *sparse) expected(t int64) float64 {
	h, _ := local(t, s.tz)
	return s.p * (1 + s.amp*math.Cos(2*math.Pi*(h-s.peak)/24)) * s.meanSize()
}

// draw: an event with probability mu/meanSize, of size 1+Poisson.
func (s *sparse) draw(_ int64, mu, _ float64) float64 {
	u, size := s.r.Float64(), 1+poisson(s.r, s.sizeLam)
	if u < mu/s.meanSize() {
		return size
	}
	return 0
}

// spike: ten minutes with an event in every minute, three times the mean size; a single event
// of ten times the mean size.
func (s *sparse) spike(f *rand.Rand, _ int64, _, _ float64, single bool) float64 {
	if single {
		return math.Round(10 * s.meanSize())
	}
	return 3 * (1 + poisson(f, s.sizeLam))
}

func (s *sparse) String() string {
	return fmt.Sprintf("events %.2f%% of minutes, size 1+Poisson(%.2f), tz %+.1fh", 100*s.p, s.sizeLam, s.tz.hours())
}

// weekly: the weekend differs in level and shape. Variant 0: shop hours (weekdays open
// 9/10-19/21, Saturday 10-22 busier, Sunday 11-19 or closed), with 30-minute ramps at opening
// and closing. Variant 1: weekday request-rate shape, weekends quieter by day with a heavy
// batch from 01:00 to 06:00.
type weekly struct {
	base
	variant            int
	level, lo          float64
	open, close        float64
	sat, sun           float64 // weekend levels relative to weekdays (sun 0: closed)
	shape              dailyShape
	wkdDay, batch      float64
	batchFrom, batchTo float64
	noise              multNoise
}

func newWeekly(p *rand.Rand, b base, idx int) *weekly {
	w := &weekly{base: b, variant: idx % 2, level: logUniform(p, 20, 2000)}
	if w.variant == 0 {
		w.lo = w.level * uniform(p, 0.02, 0.1)
		w.open, w.close = 9+float64(p.IntN(2)), 19+float64(p.IntN(3))
		w.sat, w.sun = uniform(p, 1.3, 1.8), uniform(p, 1.1, 1.5)
		if p.Float64() < 0.3 {
			w.sun = 0
		}
	} else {
		w.shape = newDailyShape(p, 0.35, 0.6)
		w.wkdDay, w.batch = uniform(p, 0.3, 0.6), uniform(p, 2, 4)
		w.batchFrom, w.batchTo = 1, 6
	}
	w.noise = newMultNoise(p, b.r, 0.04, 0.02, 0.06)
	return w
}

// ramp is 0 before a, 1 after b, linear between.
func ramp(x, a, b float64) float64 { return min(max((x-a)/(b-a), 0), 1) }

func (w *weekly) expected(t int64) float64 {
	h, wd := local(t, w.tz)
	if w.variant == 0 {
		open, closeAt, lvl := w.open, w.close, 1.0
		switch wd {
		case 5:
			open, closeAt, lvl = 10, 22, w.sat
		case 6:
			open, closeAt, lvl = 11, 19, w.sun
		}
		in := min(ramp(h, open, open+0.5), 1-ramp(h, closeAt-0.5, closeAt))
		// Lunch and evening humps inside opening hours.
		shape := 1 + 0.25*math.Exp(-sq((h-12.5)/1.2)) + 0.3*math.Exp(-sq((h-18)/1.5))
		return w.lo + (w.level*lvl*shape-w.lo)*in*b2f(lvl > 0)
	}
	v := w.level * w.shape.at(h)
	if wd < 5 {
		return v
	}
	in := min(ramp(h, w.batchFrom, w.batchFrom+1.0/6), 1-ramp(h, w.batchTo-1.0/6, w.batchTo))
	return v*w.wkdDay + in*w.level*w.batch
}

func sq(x float64) float64 { return x * x }

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func (w *weekly) draw(_ int64, mu, noise float64) float64 { return w.noise.apply(w.r, mu, noise) }
func (w *weekly) spike(_ *rand.Rand, _ int64, _, v float64, _ bool) float64 {
	return tripled(v)
}
func (w *weekly) String() string {
	if w.variant == 0 {
		return fmt.Sprintf("shop %.0f-%.0fh, level %.4g, closed %.4g, Sat ×%.2f, Sun ×%.2f, %s, tz %+.1fh", w.open, w.close,
			w.level, w.lo, w.sat, w.sun, w.noise, w.tz.hours())
	}
	return fmt.Sprintf("weekend batch ×%.2f 01-06h, weekend days ×%.2f, level %.4g, %s, tz %+.1fh", w.batch, w.wkdDay,
		w.level, w.noise, w.tz.hours())
}
