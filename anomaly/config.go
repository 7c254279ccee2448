// Package anomaly is Kizashi's engine: per series, a small streaming model that learns what
// normal looks like, scores how abnormal each new sample is, says why (Reason), and forecasts
// where the series is going.
//
// Normal is one of five candidate baselines, all learned all the time, each a small
// Holt-Winters model of its own (a slow level with a damped trend, a profile learned against
// it, and a fast level that is published): no profile; a daily profile at 15-minute points,
// interpolated (smooth patterns); a daily profile at 5-minute steps (business hours, batch
// windows, cron: sharp edges); a weekly profile at 30-minute steps (weekends, shop hours) and
// one at hourly points, interpolated. The one whose profile explains the series best around its
// slow level over the last week is published; while a weekly candidate is still a plausible
// alternative, a value it explains is not news (the second weekend of a new series). The
// residual's scale is learned per time of day or of week.
//
// The score combines, each judged against its own learned tail: the surprisal of the residual
// (short window), its mean (drift, standardised for the residuals' autocorrelation) and its
// size (spread); a run of identical values against how often the series repeats itself
// (stuck); a value beyond the range ever seen. An extreme single sample is held for the few
// steps an alert's `for:` clause needs. A lasting level change is re-levelled by a CUSUM after
// ten minutes. Missing reports a series that stopped sending samples.
//
// The package is pure computation: no I/O, no globals, no goroutines. A Model is not safe for
// concurrent use; use one model per series and per goroutine. A Spec (compiled Config) is
// immutable and shared by every model of a query.
//
// The same Update drives streaming use (one sample at a time), batch use (UpdateAll over a
// range-query result) and backfill, so every caller sees the same behaviour.
package anomaly

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// Mode switches an optional model component.
type Mode uint8

const (
	// Auto lets the model turn a component on once the data shows it helps (the default).
	Auto Mode = iota
	// Off never uses the component.
	Off
	// On always uses the component.
	On
)

func (m Mode) String() string {
	switch m {
	case Auto:
		return "auto"
	case Off:
		return "off"
	case On:
		return "on"
	}
	return fmt.Sprintf("Mode(%d)", uint8(m))
}

// MarshalText writes the mode as configuration files spell it: auto, off or on
// (encoding.TextMarshaler).
func (m Mode) MarshalText() ([]byte, error) {
	switch m {
	case Auto, Off, On:
		return []byte(m.String()), nil
	}
	return nil, fmt.Errorf("unknown mode %d", uint8(m))
}

// UnmarshalText parses "auto" (or empty), "on" (or "true") and "off" (or "false"): the one
// spelling of the mode that the exporter's configuration, the backtest's settings and flags,
// and the Grafana data source share (encoding.TextUnmarshaler).
func (m *Mode) UnmarshalText(b []byte) error {
	switch string(b) {
	case "", "auto":
		*m = Auto
	case "off", "false":
		*m = Off
	case "on", "true":
		*m = On
	default:
		return fmt.Errorf("unknown mode %q (want auto, on or off)", b)
	}
	return nil
}

// ParseMode is UnmarshalText as a function.
func ParseMode(s string) (Mode, error) {
	var m Mode
	err := m.UnmarshalText([]byte(s))
	return m, err
}

// Config holds the settings of a model. The zero value is usable: defaults apply to every
// zero field (see DefaultConfig).
type Config struct {
	// Step is the nominal interval between samples. Zero: learned from the first samples.
	Step time.Duration
	// Sensitivity in [0,1] sets the band width: 0 gives baseline ± 6 robust sigmas, 0.5 (the
	// default, also what nil means) ±3, 1 ±1.5. It does not change the anomaly score's
	// calibration. Set it with Float.
	Sensitivity *float64
	// Daily and Weekly select the seasonal profiles (Auto: used once the data shows them).
	Daily, Weekly Mode
	// Trend selects a damped additive trend of the slow level, learned once a day. Auto
	// publishes it only while it cuts the error of the longest-horizon forecasts.
	Trend Mode
	// Damping of the trend per day, in (0,1]; default 0.9 (the trend halves in ~6.6 days).
	Damping float64
	// Min and Max clamp the band and forecasts to the series' valid range (e.g. Min=0 for rates).
	Min, Max *float64
	// Log models log(1+v) instead of v: for non-negative series whose swings grow with their
	// level (request rates, traffic, queue lengths). Bands and forecasts come back in the
	// series' own units (and are asymmetric); samples below 0 are rejected (ErrOutOfRange).
	Log bool
	// Horizons are the forecast horizons whose prediction intervals the model learns.
	Horizons []time.Duration
	// WarmUp is how much history the model needs before it reports itself ready.
	// Zero: max(1 day, 100 samples) with Daily not Off, else 100 samples.
	WarmUp time.Duration
	// Location is the time zone whose days and weeks the seasonal profiles follow: with the
	// zone of the business a series serves, office hours that open at 09:00 local time stay
	// at their place in the profiles across daylight-saving changes, where in UTC the whole
	// pattern moves by an hour overnight and scores as a change for days. Nil: UTC.
	Location *time.Location
	// Holidays are days (each one's year, month and day, in Location; clock and zone ignored)
	// that the weekly profiles read and learn as Sundays: the office hours of a public
	// holiday look like a Sunday's, not like a weekday's hours gone quiet. The daily profiles
	// do not know weekdays and are unchanged. See ParseHolidays.
	Holidays []time.Time
}

// DefaultConfig returns the documented defaults (all that a zero Config also gets).
func DefaultConfig() Config {
	return Config{
		Sensitivity: Float(0.5),
		Damping:     0.9,
		Horizons:    []time.Duration{time.Hour, 6 * time.Hour, 24 * time.Hour},
	}
}

// Float returns a pointer to v, for Config.Sensitivity, Config.Min and Config.Max.
func Float(v float64) *float64 { return &v }

// Errors returned by Update and Restore. They are sentinel values: comparing them costs nothing
// and returning them does not allocate.
var (
	// ErrNonFinite: the sample was NaN or ±Inf; it was rejected and counted.
	ErrNonFinite = errors.New("anomaly: non-finite sample rejected")
	// ErrOutOfOrder: the sample's timestamp is not after the previous one; rejected and counted.
	ErrOutOfOrder = errors.New("anomaly: out-of-order sample rejected")
	// ErrOutOfRange: a sample beyond ±MaxValue, or below 0 with Config.Log; rejected and
	// counted as non-finite.
	ErrOutOfRange = errors.New("anomaly: sample out of range rejected (beyond ±1e30, or negative with the log transform)")
	// ErrSnapshot: the snapshot is corrupt, truncated or not ours.
	ErrSnapshot = errors.New("anomaly: invalid snapshot")
	// ErrIncompatible: the snapshot was taken with an incompatible version or configuration.
	ErrIncompatible = errors.New("anomaly: incompatible snapshot")
)

// Spec is a validated, compiled Config, shared by all models of one query.
type Spec struct {
	cfg      Config
	k        float64 // band half-width in robust sigmas
	horizons []time.Duration
	min, max float64
	warmUp   time.Duration // resolved: Config.WarmUp or its default
	// logDamping is log(Damping): the trend's damping over d is exp(logDamping·d/day).
	logDamping float64
	// zone is Location's offsets from UTC, by the instant from which each holds (sorted; the
	// first from the beginning of time); nil for UTC. zoneAt[b] is the span in force at the
	// start of the b-th 2^zoneShift ns from 1970 (about 208 days): a sample's span is found
	// from there in a step or two, not by a search.
	zone   []zoneSpan
	zoneAt []int32
	// holidays are Holidays as local days since 1970-01-01, sorted, each once.
	holidays []int64
}

// zoneSpan is an offset from UTC (ns) that holds from an instant (Unix ns) to the next span's.
type zoneSpan struct{ from, off int64 }

// zoneShift sizes the buckets of Spec.zoneAt: 2^54 ns, about 208 days.
const zoneShift = 54

// zoneIndex is Spec.zoneAt for spans: per bucket from 1970 to the last span, the span in force
// at its start.
func zoneIndex(spans []zoneSpan) []int32 {
	if len(spans) == 0 {
		return nil
	}
	n := max(spans[len(spans)-1].from, 0)>>zoneShift + 1
	idx := make([]int32, n)
	i := 0
	for b := range idx {
		for i+1 < len(spans) && spans[i+1].from <= int64(b)<<zoneShift {
			i++
		}
		idx[b] = int32(i)
	}
	return idx
}

// zoneSpans tabulates loc's offsets from 1970 to 2200 (Go's own rules: the zone database, then
// its rule for the years after it); nil for a zone that is UTC throughout.
func zoneSpans(loc *time.Location) []zoneSpan {
	if loc == nil {
		return nil
	}
	offset := func(t time.Time) int64 {
		_, off := t.Zone()
		return int64(off) * 1e9
	}
	var spans []zoneSpan
	end := time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)
	prev, exact := time.Time{}, true
	for t := time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC).In(loc); t.Before(end); {
		if off := offset(t); len(spans) == 0 || spans[len(spans)-1].off != off {
			from := t
			if !exact {
				// The offset changed somewhere in (prev, t]: find the second it did.
				lo, hi := prev.Unix(), t.Unix()
				for hi-lo > 1 {
					if h := lo + (hi-lo)/2; offset(time.Unix(h, 0).In(loc)) == off {
						hi = h
					} else {
						lo = h
					}
				}
				from = time.Unix(hi, 0)
			}
			spans = append(spans, zoneSpan{from.UnixNano(), off})
		}
		_, next := t.ZoneBounds()
		switch {
		case next.IsZero(): // the offset holds for ever
			t = end
		case !next.After(t):
			// Where Go's zone data gives way to the zone's rule, ZoneBounds can end a zone
			// before the instant asked about (the last days of leap years, Go 1.26): step a
			// day and find the change, if any, by bisection.
			prev, exact, t = t, false, t.Add(24*time.Hour)
		default:
			prev, exact, t = t, true, next.In(loc)
		}
	}
	if len(spans) == 1 && spans[0].off == 0 {
		return nil
	}
	spans[0].from = math.MinInt64
	return spans
}

// local is ts (Unix ns) in the configured time zone (see localNS).
// On a holiday it is the same time of the Sunday of that week (Monday to Sunday): the weekly
// slots are Sunday's, the daily ones those of the day's own time.
func (s *Spec) local(ts int64) localNS {
	lt := ts
	if z := s.zone; len(z) > 0 {
		i := 0
		if ts > 0 {
			i = int(s.zoneAt[min(ts>>zoneShift, int64(len(s.zoneAt)-1))])
		}
		for i+1 < len(z) && z[i+1].from <= ts {
			i++
		}
		lt += z[i].off
	}
	if len(s.holidays) > 0 {
		day := lt / dayNS
		if lt%dayNS < 0 {
			day--
		}
		if _, ok := slices.BinarySearch(s.holidays, day); ok {
			wd := ((day-4)%7 + 7) % 7 // 0 Monday … 6 Sunday (day 4, 1970-01-05, was a Monday)
			lt += (6 - wd) * dayNS
		}
	}
	return localNS(lt)
}

// maxHolidays bounds Config.Holidays (ranges expanded): ten years of every day.
const maxHolidays = 3660

// ParseHolidays reads holiday settings: dates (2026-05-04) and inclusive ranges of dates
// (2026-12-29..2027-01-03), at most maxHolidays days in all, blank items skipped; the one
// reading the exporter's configuration, the backtest and the Grafana data source share.
func ParseHolidays(list []string) ([]time.Time, error) {
	var out []time.Time
	for _, item := range list {
		if strings.TrimSpace(item) == "" {
			continue
		}
		from, to, isRange := strings.Cut(strings.TrimSpace(item), "..")
		a, err := time.Parse(time.DateOnly, strings.TrimSpace(from))
		b := a
		if err == nil && isRange {
			b, err = time.Parse(time.DateOnly, strings.TrimSpace(to))
		}
		if err != nil {
			return nil, fmt.Errorf("holiday %q: want a date such as 2026-05-04 or a range such as 2026-12-29..2027-01-03", item)
		}
		if b.Before(a) {
			return nil, fmt.Errorf("holiday %q: the range ends before it starts", item)
		}
		for d := a; !d.After(b); d = d.AddDate(0, 0, 1) {
			if len(out) == maxHolidays {
				return nil, fmt.Errorf("holidays: more than %d days", maxHolidays)
			}
			out = append(out, d)
		}
	}
	return out, nil
}

// Compile validates cfg, applies defaults and returns the Spec that models are made from.
func Compile(cfg Config) (*Spec, error) {
	d := DefaultConfig()
	if cfg.Sensitivity == nil {
		cfg.Sensitivity = d.Sensitivity
	} else {
		cfg.Sensitivity = Float(*cfg.Sensitivity) // the Spec must not share the caller's variable
	}
	if cfg.Damping == 0 {
		cfg.Damping = d.Damping
	}
	if cfg.Horizons == nil {
		cfg.Horizons = d.Horizons
	}
	switch {
	case cfg.Step < 0:
		return nil, fmt.Errorf("step %s: must not be negative", cfg.Step)
	case !(*cfg.Sensitivity >= 0 && *cfg.Sensitivity <= 1):
		return nil, fmt.Errorf("sensitivity %g: must be in [0,1]", *cfg.Sensitivity)
	case !(cfg.Damping > 0 && cfg.Damping <= 1):
		return nil, fmt.Errorf("damping %g: must be in (0,1]", cfg.Damping)
	case cfg.WarmUp < 0:
		return nil, fmt.Errorf("warm-up %s: must not be negative", cfg.WarmUp)
	case len(cfg.Horizons) > maxHorizons:
		return nil, fmt.Errorf("%d horizons: at most %d", len(cfg.Horizons), maxHorizons)
	}
	for _, m := range []Mode{cfg.Daily, cfg.Weekly, cfg.Trend} {
		if m > On {
			return nil, fmt.Errorf("invalid mode %d", m)
		}
	}
	if cfg.Weekly == On && cfg.Daily == Off {
		return nil, errors.New("weekly seasonality modulates the daily one: it needs daily on or auto")
	}
	s := &Spec{cfg: cfg, min: math.Inf(-1), max: math.Inf(1)}
	if cfg.Min != nil {
		if math.IsNaN(*cfg.Min) {
			return nil, errors.New("min: NaN")
		}
		s.min = *cfg.Min
	}
	if cfg.Max != nil {
		if math.IsNaN(*cfg.Max) {
			return nil, errors.New("max: NaN")
		}
		s.max = *cfg.Max
	}
	if s.min >= s.max {
		return nil, fmt.Errorf("min %g must be below max %g", s.min, s.max)
	}
	prev := time.Duration(0)
	for _, h := range cfg.Horizons {
		if h <= prev {
			return nil, fmt.Errorf("horizons must be positive and increasing, got %s after %s", h, prev)
		}
		if h > maxHorizon {
			return nil, fmt.Errorf("horizon %s: at most %s", h, maxHorizon)
		}
		prev = h
	}
	s.horizons = append([]time.Duration(nil), cfg.Horizons...)
	s.k = 1.5 * math.Exp2(2*(1-*cfg.Sensitivity))
	s.warmUp = cfg.WarmUp
	if s.warmUp == 0 && cfg.Daily != Off {
		s.warmUp = 24 * time.Hour // a day, to see the daily pattern once
	}
	s.logDamping = math.Log(cfg.Damping)
	s.zone = zoneSpans(cfg.Location)
	s.zoneAt = zoneIndex(s.zone)
	if len(cfg.Holidays) > maxHolidays {
		return nil, fmt.Errorf("holidays: %d days, at most %d", len(cfg.Holidays), maxHolidays)
	}
	for _, h := range cfg.Holidays {
		y, m, d := h.Date()
		s.holidays = append(s.holidays, time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix()/86400)
	}
	slices.Sort(s.holidays)
	s.holidays = slices.Compact(s.holidays)
	s.cfg.Holidays = slices.Clone(cfg.Holidays)
	return s, nil
}

// Config returns the configuration the Spec was compiled from, with defaults applied.
func (s *Spec) Config() Config { return s.cfg }

// Horizons returns the configured forecast horizons.
func (s *Spec) Horizons() []time.Duration { return s.horizons }

// New compiles cfg and returns a fresh model. Prefer Compile once and Spec.New per series.
func New(cfg Config) (*Model, error) {
	s, err := Compile(cfg)
	if err != nil {
		return nil, err
	}
	return s.New(), nil
}

const (
	maxHorizons = 8
	maxHorizon  = 30 * 24 * time.Hour
)
