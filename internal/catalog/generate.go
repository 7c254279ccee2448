package catalog

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/kizashi-dev/kizashi/anomaly"
)

// Options size the catalogue.
type Options struct {
	// Seed of every random stream (the catalogue is a pure function of it and the sizes).
	Seed uint64
	// Days of history of a control series; a failure starts in the last week and the series
	// ends Judge after it. At least 8.
	Days int
	// PerCell is the number of series of each kind x failure cell, Controls the number of
	// failure-free series of each kind.
	PerCell, Controls int
	// Warmup is the history after which false alarms and the score's rarity are counted (the
	// exporter's default training_window: it backfills that much before it alerts).
	Warmup time.Duration
	// Calendar places every series in a zone whose calendar moves within its weeks
	// (calendarZones): the clocks change (Berlin, New York, Sydney) or Golden Week's holidays
	// come (Tokyo), 14 to 21 days after it starts, after the warm-up and before the failure
	// week. Series.Zone and Series.Holidays say so, for a detector told the series' zone.
	Calendar bool `json:",omitempty"`
}

// DefaultOptions are the catalogue's published sizes.
func DefaultOptions() Options {
	return Options{Seed: 1, Days: 28, PerCell: 8, Controls: 16, Warmup: 7 * 24 * time.Hour}
}

func (o Options) validate() error {
	switch {
	case o.Days < 8:
		return fmt.Errorf("days %d: at least 8 (a week of history before the failure week)", o.Days)
	case o.PerCell < 0 || o.Controls < 0:
		return errors.New("series counts must not be negative")
	case o.Warmup < 0 || o.Warmup >= time.Duration(o.Days-7)*24*time.Hour:
		return fmt.Errorf("warm-up %s: must end before the failure week (day %d)", o.Warmup, o.Days-7)
	}
	return nil
}

// Case identifies one series of the catalogue.
type Case struct {
	Kind    Kind
	Failure Failure
	Index   int
}

func (c Case) String() string { return fmt.Sprintf("%s/%s/%d", c.Kind, c.Failure, c.Index) }

// Series is a generated series: one value per Step from Start.
type Series struct {
	Case
	Start  time.Time
	Step   time.Duration
	Values []float64
	// Onset is the index of the first step the failure affects (-1 for a control).
	Onset int
	// End is the number of steps judged: len(Values) for a control, Onset + Judge/Step for a
	// failure. Steps from len(Values) to End have no sample (a vanished series).
	End int
	// Params describes the series (for -v).
	Params string
	// Zone is the IANA name of the series' time zone and Holidays its holidays (dates and
	// ranges as anomaly.ParseHolidays reads them), with Options.Calendar; empty otherwise.
	Zone     string
	Holidays []string
}

// calendarZones are Options.Calendar's zones: 2026's clock changes (spring in Berlin and New
// York, autumn in Sydney) and Japan's Golden Week (2026-04-29, 05-03 to 05-06; no clock change
// there).
var calendarZones = []zone{
	{name: "Europe/Berlin", off0: hour, off1: 2 * hour, at: time.Date(2026, 3, 29, 1, 0, 0, 0, time.UTC).Unix()},
	{name: "America/New_York", off0: -5 * hour, off1: -4 * hour, at: time.Date(2026, 3, 8, 7, 0, 0, 0, time.UTC).Unix()},
	{name: "Australia/Sydney", off0: 11 * hour, off1: 10 * hour, at: time.Date(2026, 4, 4, 16, 0, 0, 0, time.UTC).Unix()},
	withHolidays(fixed(9*hour), "Asia/Tokyo", "2026-04-29", "2026-05-03..2026-05-06"),
}

// withHolidays is z named name with the holidays given as the engine's settings spell them.
func withHolidays(z zone, name string, ranges ...string) zone {
	hs, err := anomaly.ParseHolidays(ranges)
	if err != nil {
		panic(err) // the catalogue's own constants
	}
	z.name, z.holidayRanges = name, ranges
	for _, h := range hs {
		z.holidays = append(z.holidays, localDay(h.Date()))
	}
	return z
}

// moves is when z's calendar moves (unix seconds): its clocks' change, or the local midnight
// that starts its first holiday.
func (z zone) moves() int64 {
	if z.off0 != z.off1 {
		return z.at
	}
	return z.holidays[0]*day - z.off0
}

// localDay is the day of a date since 1970-01-01.
func localDay(y int, m time.Month, d int) int64 {
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / day
}

// base date: a Monday, 2026-01-05 00:00 UTC; each series starts up to a week later.
var epoch = time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC).Unix()

const stepSeconds = 60

// redraws is how many times a failure series whose parameters leave its failure no meaningful
// onset in the last week is drawn again (see Generate).
const redraws = 20

// errNoOnset: the series' parameters leave the failure no meaningful onset (placeOnset).
var errNoOnset = errors.New("no meaningful onset found in the last week")

// Generate builds the series of case c. A failure is only meaningful where it visibly changes
// the series (placeOnset); when the parameters drawn for a failure series leave it no such
// onset (cron bursts too short for a flattening to show within the judged hours, say), the
// series is drawn again from the streams of "kind/failure/index#r", r = 1, 2, ...: the cell
// then holds series on which the failure means something, as the onset rule intends.
func Generate(o Options, c Case) (*Series, error) {
	s, _, _, err := generate(o, c)
	return s, err
}

// generate is Generate, returning the series' generator and failure plan too.
func generate(o Options, c Case) (*Series, gen, *plan, error) {
	key := c.String()
	for r := 1; ; r++ {
		s, g, pl, err := build(o, c, key)
		if !errors.Is(err, errNoOnset) || r > redraws {
			return s, g, pl, err
		}
		key = fmt.Sprintf("%s#%d", c, r)
	}
}

// build builds the series of case c from the random streams of key (Generate: the case's own),
// and returns its generator and failure plan too.
func build(o Options, c Case, key string) (*Series, gen, *plan, error) {
	if err := o.validate(); err != nil {
		return nil, nil, nil, err
	}
	if r, ok := excluded(c.Kind, c.Failure); ok {
		return nil, nil, nil, fmt.Errorf("%s: excluded: %s", c, r)
	}
	if _, err := ParseKind(string(c.Kind)); err != nil {
		return nil, nil, nil, err
	}
	if _, err := ParseFailure(string(c.Failure)); err != nil {
		return nil, nil, nil, err
	}
	p := newRand(o.Seed, key, streamParams)
	var z *zone
	var start int64
	if o.Calendar {
		cz := calendarZones[p.IntN(len(calendarZones))]
		z = &cz
		start = cz.moves() - 21*day + p.Int64N(7*24*60)*minute
	} else {
		start = epoch + p.Int64N(7*24*60)*minute
	}
	g := newGen(c, p, newRand(o.Seed, key, streamNoise), start, z)
	pl := plan{f: c.Failure}
	end := o.Days * day / stepSeconds
	onset := -1
	if c.Failure != None {
		t, err := placeOnset(o, c, key, g, start)
		if err != nil {
			return nil, nil, nil, err
		}
		onset = int((t - start) / stepSeconds)
		pl.start = t
		st := expectedStats(g, start)
		switch c.Failure {
		case Flatten:
			pl.flat = dailyMean(g, t)
		case Ramp:
			pl.ramp = rampSize(c.Kind, st)
		case Stuck:
			pl.armed = c.Kind == Sparse
		}
		if c.Kind.rangeMS() > 0 {
			pl.start -= minute // the counter's change shows in the rate from the next step
		}
		end = onset + judge/stepSeconds
	}
	s := &Series{Case: c, Start: time.Unix(start, 0).UTC(), Step: time.Minute, Onset: onset, End: end,
		Params: g.String()}
	if z != nil {
		s.Zone, s.Holidays = z.name, z.holidayRanges
	}
	f := newRand(o.Seed, key, streamFailure)
	if cg, ok := g.(*counterGen); ok {
		samples, _ := scrape(cg, &pl, c.Kind.rangeMS(), start, end)
		s.Values = rates(samples, evalTimes(start, end), c.Kind.rangeMS(), make([]float64, 0, end))
		return s, g, &pl, nil
	}
	s.Values = make([]float64, 0, end)
	for i := 0; i < s.End || pl.armed; i++ {
		t := start + int64(i)*stepSeconds
		if i >= (o.Days+7)*day/stepSeconds {
			return nil, nil, nil, fmt.Errorf("%s: no event to get stuck at", c)
		}
		if pl.armed && t >= pl.start && i > 0 && s.Values[i-1] != 0 {
			// Stuck on Sparse: the series freezes at the next event, not at 0.
			pl.armed, pl.start = false, t
			s.Onset, s.End = i, i+judge/stepSeconds
		}
		mu, noise, m := pl.at(g, t)
		v := g.draw(t, mu, noise)
		switch m {
		case zero:
			v = 0
		case stuck:
			v = s.Values[s.Onset-1]
		case spikeSingle, spikeBurst:
			v = g.spike(f, t, mu, v, m == spikeSingle)
		case gone:
			return s, g, &pl, nil
		}
		s.Values = append(s.Values, v)
	}
	return s, g, &pl, nil
}

// placeOnset picks the failure's onset (unix seconds, on a step) in the last week of the
// series, where the failure is meaningful for the class (see the package documentation).
func placeOnset(o Options, c Case, key string, g gen, start int64) (int64, error) {
	r := newRand(o.Seed, key, streamOnset)
	st := expectedStats(g, start)
	from := start + int64(o.Days-7)*day
	for range 5000 {
		t := from + r.Int64N(week/stepSeconds)*stepSeconds
		ok := true
		switch c.Failure {
		case Drop50, Drop0, Spike10, Spike1, Variance, Stuck:
			ok = active(g, st, t)
		case Flatten:
			m := dailyMean(g, t)
			ok = visible(g, st, t, func(int64) float64 { return m })
		case Phase:
			ok = visible(g, st, t, func(u int64) float64 { return g.expected(u - phaseShift) })
		}
		if ok {
			return t, nil
		}
	}
	return 0, fmt.Errorf("%s: %w", c, errNoOnset)
}

// scrape scrapes the counter every 15 s from a range and a minute before the first step to the
// last one (or until it vanishes), and counts its resets.
func scrape(g *counterGen, pl *plan, rangeMS, start int64, end int) (samples []sample, resets int) {
	startMS := start * 1000
	lastMS := startMS + int64(end-1)*stepSeconds*1000
	r := g.r
	counter := math.Floor(uniform(r, 0, 1e6)) // the counter has been counting for a while
	nextReset := startMS + int64(-math.Log(1-r.Float64())*g.resetEvery*1000)
	samples = make([]sample, 0, (lastMS-startMS)/scrapeMS+rangeMS/scrapeMS+6)
	for ts := startMS - rangeMS - 60_000 + g.offsetMS; ts <= lastMS; ts += scrapeMS {
		mid := (ts - scrapeMS/2) / 1000
		mu, noise, m := pl.at(g, mid)
		if m == gone {
			break
		}
		if ts >= nextReset { // the process restarted: the counter starts again from 0
			counter = 0
			resets++
			nextReset += int64(-math.Log(1-r.Float64()) * g.resetEvery * 1000)
		}
		switch m {
		case spikeSingle, spikeBurst:
			mu *= 3
		case zero:
			mu = 0
		}
		counter += g.increment(mu, noise)
		samples = append(samples, sample{T: ts, F: counter})
	}
	return samples, resets
}

// evalTimes are the times of the steps in milliseconds.
func evalTimes(start int64, end int) []int64 {
	evals := make([]int64, end)
	for i := range evals {
		evals[i] = (start + int64(i)*stepSeconds) * 1000
	}
	return evals
}
