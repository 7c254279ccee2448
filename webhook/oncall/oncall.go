// Package oncall computes who is on call: a Schedule hands a shift from one
// member to the next every day or every week at a wall-clock time of its time
// zone (so a hand-off at 09:00 stays at 09:00 across daylight-saving
// changes), and overrides replace whoever is on call for a time range. It
// exports a schedule's shifts as iCalendar (RFC 5545, see ical.go).
// Members are contact names (see package notify): the lead maps them to user
// accounts later.
package oncall

import (
	"fmt"
	"slices"
	"time"
)

// Hand-off periods.
const (
	Daily  = "daily"
	Weekly = "weekly"
)

// Override puts Contact on call in [From, To).
type Override struct {
	Contact  string
	From, To time.Time
}

// Schedule is a rotation with overrides.
type Schedule struct {
	Name     string
	Location *time.Location
	// Members take turns in this order.
	Members []string
	// Period is Daily or Weekly.
	Period string
	// Handoff is the wall-clock time of the hand-off (since midnight).
	Handoff time.Duration
	// Start is the first shift's date (its year, month and day in
	// Location); with Weekly the hand-offs fall on its weekday.
	Start     time.Time
	Overrides []Override
}

// Validate checks s.
func (s *Schedule) Validate() error {
	if s.Name == "" {
		return fmt.Errorf("schedule: name is required")
	}
	if s.Location == nil {
		return fmt.Errorf("schedule %s: time zone is required", s.Name)
	}
	if len(s.Members) == 0 {
		return fmt.Errorf("schedule %s: members are required", s.Name)
	}
	if s.Period != Daily && s.Period != Weekly {
		return fmt.Errorf("schedule %s: hand-off must be daily or weekly, not %q", s.Name, s.Period)
	}
	if s.Handoff < 0 || s.Handoff >= 24*time.Hour {
		return fmt.Errorf("schedule %s: hand-off time must be within a day", s.Name)
	}
	if s.Start.IsZero() {
		return fmt.Errorf("schedule %s: start is required", s.Name)
	}
	for i, o := range s.Overrides {
		if o.Contact == "" || !o.To.After(o.From) {
			return fmt.Errorf("schedule %s: override %d: a contact and a range whose end is after its start are required", s.Name, i+1)
		}
	}
	return nil
}

// Shift is one person's time on call, [Start, End).
type Shift struct {
	Contact    string
	Start, End time.Time
	// Override is set for a shift of an override.
	Override bool
}

// civil is a date without a zone.
type civil struct {
	y int
	m time.Month
	d int
}

func dateOf(t time.Time) civil { y, m, d := t.Date(); return civil{y, m, d} }

// days counts days from a to b (negative when b is before a).
func days(a, b civil) int {
	ua := time.Date(a.y, a.m, a.d, 12, 0, 0, 0, time.UTC)
	ub := time.Date(b.y, b.m, b.d, 12, 0, 0, 0, time.UTC)
	return int(ub.Sub(ua).Hours() / 24)
}

func floorDiv(a, b int) int {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

func (s *Schedule) period() int {
	if s.Period == Weekly {
		return 7
	}
	return 1
}

// handoffAt is the hand-off instant on a date (a wall time that a DST gap
// skips is taken as time.Date does: moved forward).
func (s *Schedule) handoffAt(c civil) time.Time {
	h := int(s.Handoff / time.Hour)
	m := int(s.Handoff % time.Hour / time.Minute)
	return time.Date(c.y, c.m, c.d, h, m, 0, 0, s.Location)
}

// shiftIndex is the index of the rotation shift that holds t, and its date.
func (s *Schedule) shiftIndex(t time.Time) (int, civil) {
	local := t.In(s.Location)
	c := dateOf(local)
	if local.Before(s.handoffAt(c)) {
		c = dateOf(time.Date(c.y, c.m, c.d-1, 12, 0, 0, 0, time.UTC))
	}
	start := dateOf(s.Start.In(s.Location))
	return floorDiv(days(start, c), s.period()), start
}

func (s *Schedule) shiftStart(i int, start civil) time.Time {
	return s.handoffAt(dateOf(time.Date(start.y, start.m, start.d+i*s.period(), 12, 0, 0, 0, time.UTC)))
}

func (s *Schedule) member(i int) string {
	n := len(s.Members)
	return s.Members[((i%n)+n)%n]
}

// Rotation returns the rotation's shift (overrides not applied) at t.
func (s *Schedule) Rotation(t time.Time) Shift {
	i, start := s.shiftIndex(t)
	return Shift{Contact: s.member(i), Start: s.shiftStart(i, start), End: s.shiftStart(i+1, start)}
}

// At returns who is on call at t: the latest-listed override covering t,
// else the rotation.
func (s *Schedule) At(t time.Time) Shift {
	for i := len(s.Overrides) - 1; i >= 0; i-- {
		o := s.Overrides[i]
		if !t.Before(o.From) && t.Before(o.To) {
			return Shift{Contact: o.Contact, Start: o.From, End: o.To, Override: true}
		}
	}
	return s.Rotation(t)
}

// Shifts returns the final shifts (overrides applied) that overlap [from,
// to), in order and clipped to the range; adjacent pieces of one person are
// not merged (a rotation hand-off to the same person stays two shifts).
func (s *Schedule) Shifts(from, to time.Time) []Shift {
	if !to.After(from) {
		return nil
	}
	// Boundaries: rotation hand-offs and override edges.
	cuts := []time.Time{from, to}
	for t := from; t.Before(to); {
		r := s.Rotation(t)
		if r.End.Before(to) {
			cuts = append(cuts, r.End)
		}
		if !r.End.After(t) { // cannot happen with a valid schedule; never loop forever
			break
		}
		t = r.End
	}
	for _, o := range s.Overrides {
		for _, c := range []time.Time{o.From, o.To} {
			if c.After(from) && c.Before(to) {
				cuts = append(cuts, c)
			}
		}
	}
	slices.SortFunc(cuts, func(a, b time.Time) int { return a.Compare(b) })
	cuts = slices.CompactFunc(cuts, func(a, b time.Time) bool { return a.Equal(b) })
	var out []Shift
	for i := 0; i+1 < len(cuts); i++ {
		a := s.At(cuts[i])
		sh := Shift{Contact: a.Contact, Start: cuts[i], End: cuts[i+1], Override: a.Override}
		if n := len(out); n > 0 && out[n-1].Contact == sh.Contact && out[n-1].Override == sh.Override && out[n-1].End.Equal(sh.Start) &&
			(sh.Override || !s.isHandoff(sh.Start)) {
			out[n-1].End = sh.End
			continue
		}
		out = append(out, sh)
	}
	return out
}

func (s *Schedule) isHandoff(t time.Time) bool { return s.Rotation(t).Start.Equal(t) }
