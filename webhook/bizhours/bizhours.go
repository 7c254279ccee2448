// Package bizhours is a business-hours calendar for SLA clocks: a time zone,
// opening hours per weekday (wall-clock intervals; one crossing midnight
// belongs to the day it starts), and holidays (whole dates, closed). It
// counts business time in real elapsed time: on a daylight-saving day an
// interval 01:00-04:00 holds 2 or 4 hours, as the clock on the wall says.
// A nil *Calendar is open around the clock (24x7).
package bizhours

import (
	"bufio"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Interval is an opening interval of a day, [From, To) since midnight; To
// may be 24h (the end of the day), and an interval given with To before From
// crosses midnight (New stores it with To past 24h).
type Interval struct {
	From, To time.Duration
}

// Date is a calendar date.
type Date struct {
	Year  int
	Month time.Month
	Day   int
}

func (d Date) String() string { return fmt.Sprintf("%04d-%02d-%02d", d.Year, d.Month, d.Day) }

func dateOf(t time.Time) Date { y, m, d := t.Date(); return Date{y, m, d} }

func (d Date) add(n int) Date {
	return dateOf(time.Date(d.Year, d.Month, d.Day+n, 12, 0, 0, 0, time.UTC))
}

// Calendar is a business-hours calendar.
type Calendar struct {
	Name     string
	Location *time.Location
	// Week holds each weekday's intervals (index time.Sunday..time.Saturday),
	// sorted and not overlapping.
	Week     [7][]Interval
	Holidays map[Date]string
}

// maxDays bounds the search for open time (a calendar open a few hours a
// year still answers; one never open is refused by New).
const maxDays = 366 * 20

// New checks and normalises a calendar: intervals are sorted and merged; an
// interval crossing midnight stays with its first day (a holiday closes the
// night that starts on it) and must not overlap the next day's hours.
func New(name string, loc *time.Location, week map[time.Weekday][]Interval, holidays map[Date]string) (*Calendar, error) {
	if loc == nil {
		return nil, fmt.Errorf("calendar %s: time zone is required", name)
	}
	c := &Calendar{Name: name, Location: loc, Holidays: holidays}
	open := false
	for wd, ivs := range week {
		if wd < time.Sunday || wd > time.Saturday {
			return nil, fmt.Errorf("calendar %s: bad weekday %d", name, wd)
		}
		for _, iv := range ivs {
			if iv.From < 0 || iv.From >= 24*time.Hour || iv.To < 0 || iv.To > 24*time.Hour || iv.From == iv.To {
				return nil, fmt.Errorf("calendar %s: bad interval %s-%s on %s", name, clock(iv.From), clock(iv.To), wd)
			}
			if iv.To < iv.From || (iv.To == 0 && iv.From > 0) { // crosses midnight: belongs to its first day
				iv.To += 24 * time.Hour
			}
			c.Week[wd] = append(c.Week[wd], iv)
			open = true
		}
	}
	if !open {
		return nil, fmt.Errorf("calendar %s: no opening hours", name)
	}
	for wd := range c.Week {
		ivs := c.Week[wd]
		slices.SortFunc(ivs, func(a, b Interval) int { return int(a.From - b.From) })
		var merged []Interval
		for _, iv := range ivs {
			if n := len(merged); n > 0 && iv.From <= merged[n-1].To {
				merged[n-1].To = max(merged[n-1].To, iv.To)
				continue
			}
			merged = append(merged, iv)
		}
		c.Week[wd] = merged
	}
	for wd := range c.Week {
		if n := len(c.Week[wd]); n > 0 && c.Week[wd][n-1].To > 24*time.Hour {
			next := c.Week[(wd+1)%7]
			if len(next) > 0 && next[0].From < c.Week[wd][n-1].To-24*time.Hour {
				return nil, fmt.Errorf("calendar %s: %s's hours past midnight overlap %s's", name, time.Weekday(wd), time.Weekday((wd+1)%7))
			}
		}
	}
	return c, nil
}

// instant is the instant of a wall time on a date (24h: the next midnight).
func (c *Calendar) instant(d Date, off time.Duration) time.Time {
	for off >= 24*time.Hour {
		d = d.add(1)
		off -= 24 * time.Hour
	}
	return time.Date(d.Year, d.Month, d.Day, int(off/time.Hour), int(off%time.Hour/time.Minute), int(off%time.Minute/time.Second), 0, c.Location)
}

// spans calls f with the open spans of each day from t's date on, in order,
// until f returns false.
func (c *Calendar) spans(t time.Time, f func(start, end time.Time) bool) {
	d := dateOf(t.In(c.Location)).add(-1) // an interval of the day before may still run (DST folds)
	for range maxDays {
		if _, holiday := c.Holidays[d]; !holiday {
			wd := time.Date(d.Year, d.Month, d.Day, 12, 0, 0, 0, time.UTC).Weekday()
			for _, iv := range c.Week[wd] {
				s, e := c.instant(d, iv.From), c.instant(d, iv.To)
				if !e.After(s) {
					continue // an interval inside a skipped hour
				}
				if !f(s, e) {
					return
				}
			}
		}
		d = d.add(1)
	}
}

// Open reports whether t is within business hours.
func (c *Calendar) Open(t time.Time) bool {
	if c == nil {
		return true
	}
	open := false
	c.spans(t, func(s, e time.Time) bool {
		if s.After(t) {
			return false
		}
		if t.Before(e) {
			open = true
			return false
		}
		return true
	})
	return open
}

// Add returns the instant when d of business time has passed since t
// (d <= 0: t).
func (c *Calendar) Add(t time.Time, d time.Duration) time.Time {
	if c == nil || d <= 0 {
		return t.Add(max(d, 0))
	}
	left := d
	var out time.Time
	c.spans(t, func(s, e time.Time) bool {
		if !e.After(t) {
			return true
		}
		if s.Before(t) {
			s = t
		}
		if n := e.Sub(s); left <= n {
			out = s.Add(left)
			return false
		} else {
			left -= n
		}
		return true
	})
	if out.IsZero() {
		return t.Add(time.Duration(maxDays) * 24 * time.Hour) // never reached with real calendars
	}
	return out
}

// Between returns the business time in [a, b).
func (c *Calendar) Between(a, b time.Time) time.Duration {
	if !b.After(a) {
		return 0
	}
	if c == nil {
		return b.Sub(a)
	}
	var sum time.Duration
	c.spans(a, func(s, e time.Time) bool {
		if !s.Before(b) {
			return false
		}
		if s.Before(a) {
			s = a
		}
		if e.After(b) {
			e = b
		}
		if e.After(s) {
			sum += e.Sub(s)
		}
		return true
	})
	return sum
}

func clock(d time.Duration) string {
	return fmt.Sprintf("%02d:%02d", int(d/time.Hour), int(d%time.Hour/time.Minute))
}

var dayNames = map[string]time.Weekday{"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday}

// ParseClock parses "HH:MM" (00:00 to 24:00).
func ParseClock(s string) (time.Duration, error) {
	h, m, ok := strings.Cut(s, ":")
	if !ok || len(h) != 2 || len(m) != 2 {
		return 0, fmt.Errorf("bad time %q (want HH:MM)", s)
	}
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if err1 != nil || err2 != nil || hh < 0 || mm < 0 || mm > 59 || hh > 24 || (hh == 24 && mm != 0) {
		return 0, fmt.Errorf("bad time %q (want HH:MM)", s)
	}
	return time.Duration(hh)*time.Hour + time.Duration(mm)*time.Minute, nil
}

// ParseWeek parses lines such as "mon-fri 09:00-18:00", "sat 09:00-12:00,13:00-17:00",
// "sun,sat 22:00-06:00" (crossing midnight) or "mon-sun 00:00-24:00".
func ParseWeek(lines []string) (map[time.Weekday][]Interval, error) {
	week := map[time.Weekday][]Interval{}
	for _, l := range lines {
		days, hours, ok := strings.Cut(strings.TrimSpace(l), " ")
		if !ok {
			return nil, fmt.Errorf("hours %q: want DAYS HH:MM-HH:MM[,...]", l)
		}
		var wds []time.Weekday
		for _, part := range strings.Split(strings.ToLower(days), ",") {
			a, b, isRange := strings.Cut(part, "-")
			da, ok1 := dayNames[a]
			db, ok2 := dayNames[b]
			if !ok1 || (isRange && !ok2) {
				return nil, fmt.Errorf("hours %q: bad days %q (mon, tue, ..., sun; ranges as mon-fri)", l, part)
			}
			if !isRange {
				db = da
			}
			for d := da; ; d = (d + 1) % 7 {
				wds = append(wds, d)
				if d == db {
					break
				}
			}
		}
		for _, span := range strings.Split(strings.TrimSpace(hours), ",") {
			a, b, ok := strings.Cut(strings.TrimSpace(span), "-")
			if !ok {
				return nil, fmt.Errorf("hours %q: bad interval %q", l, span)
			}
			from, err := ParseClock(a)
			if err != nil {
				return nil, fmt.Errorf("hours %q: %w", l, err)
			}
			to, err := ParseClock(b)
			if err != nil {
				return nil, fmt.Errorf("hours %q: %w", l, err)
			}
			if from == 24*time.Hour || from == to {
				return nil, fmt.Errorf("hours %q: empty interval %q", l, span)
			}
			for _, wd := range wds {
				week[wd] = append(week[wd], Interval{from, to})
			}
		}
	}
	return week, nil
}

// ParseHolidays reads a holidays file: one date a line (YYYY-MM-DD), an
// optional name after white space, "#" comments and blank lines ignored.
// Errors name the line.
func ParseHolidays(r io.Reader) (map[Date]string, error) {
	out := map[Date]string{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	n := 0
	for sc.Scan() {
		n++
		l := sc.Text()
		if i := strings.IndexByte(l, '#'); i >= 0 {
			l = l[:i]
		}
		l = strings.TrimSpace(l)
		if l == "" {
			continue
		}
		ds, name, _ := strings.Cut(l, " ")
		if i := strings.IndexByte(ds, '\t'); i >= 0 {
			ds, name = ds[:i], ds[i+1:]+" "+name
		}
		t, err := time.Parse("2006-01-02", ds)
		if err != nil {
			return nil, fmt.Errorf("line %d: bad date %q (want YYYY-MM-DD)", n, ds)
		}
		out[dateOf(t)] = strings.TrimSpace(name)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("line %d: %w", n+1, err)
	}
	return out, nil
}
