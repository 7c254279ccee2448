package bizhours_test

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/kizashi-dev/kizashi/webhook/bizhours"
)

func mustLoc(t testing.TB, name string) *time.Location {
	l, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func cal(t testing.TB, zone string, week []string, holidays string) *bizhours.Calendar {
	t.Helper()
	w, err := bizhours.ParseWeek(week)
	if err != nil {
		t.Fatal(err)
	}
	h, err := bizhours.ParseHolidays(strings.NewReader(holidays))
	if err != nil {
		t.Fatal(err)
	}
	c, err := bizhours.New("test", mustLoc(t, zone), w, h)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestOfficeHoursWithHolidays(t *testing.T) {
	tokyo := mustLoc(t, "Asia/Tokyo")
	c := cal(t, "Asia/Tokyo", []string{"mon-fri 09:00-12:00,13:00-18:00"}, `
# Japanese holidays
2026-12-31 大晦日 (company)
2027-01-01	元日
`)
	at := func(mo time.Month, d, h, mi int) time.Time { return time.Date(2026, mo, d, h, mi, 0, 0, tokyo) }
	cases := []struct {
		name string
		from time.Time
		d    time.Duration
		want time.Time
	}{
		{"within the morning", at(12, 7, 9, 30), time.Hour, at(12, 7, 10, 30)},
		{"over lunch", at(12, 7, 11, 30), time.Hour, at(12, 7, 13, 30)},
		{"at night: from the next opening", at(12, 7, 23, 0), 4 * time.Hour, at(12, 8, 14, 0)},
		{"friday evening to monday", at(12, 4, 17, 0), 2 * time.Hour, at(12, 7, 10, 0)},
		{"saturday", at(12, 5, 3, 0), 8 * time.Hour, at(12, 7, 18, 0)},
		{"exactly the end of a day", at(12, 7, 9, 0), 8 * time.Hour, at(12, 7, 18, 0)},
		{"one minute more", at(12, 7, 9, 0), 8*time.Hour + time.Minute, at(12, 8, 9, 1)},
		{"over new year's holidays", at(12, 30, 17, 0), 2 * time.Hour, time.Date(2027, 1, 4, 10, 0, 0, 0, tokyo)},
		{"zero", at(12, 5, 3, 0), 0, at(12, 5, 3, 0)},
	}
	for _, tc := range cases {
		if got := c.Add(tc.from, tc.d); !got.Equal(tc.want) {
			t.Errorf("%s: Add(%s, %s) = %s, want %s", tc.name, tc.from, tc.d, got.In(tokyo), tc.want)
		}
		if tc.d > 0 {
			if got := c.Between(tc.from, tc.want); got != tc.d {
				t.Errorf("%s: Between = %s, want %s", tc.name, got, tc.d)
			}
		}
	}
	for _, o := range []struct {
		t    time.Time
		open bool
	}{
		{at(12, 7, 9, 0), true}, {at(12, 7, 8, 59), false}, {at(12, 7, 12, 0), false}, {at(12, 7, 17, 59), true},
		{at(12, 7, 18, 0), false}, {at(12, 5, 10, 0), false}, {at(12, 31, 10, 0), false}, {at(12, 30, 10, 0), true},
	} {
		if c.Open(o.t) != o.open {
			t.Errorf("Open(%s) = %t", o.t, !o.open)
		}
	}
	// The instant may come in any zone.
	if got := c.Add(at(12, 7, 9, 0).UTC(), time.Hour); !got.Equal(at(12, 7, 10, 0)) {
		t.Errorf("UTC input: %s", got)
	}
}

func TestMidnightCrossing(t *testing.T) {
	utc := time.UTC
	// A night desk: 22:00-06:00 starting sunday to thursday nights.
	c := cal(t, "UTC", []string{"sun-thu 22:00-06:00"}, "")
	sun := time.Date(2026, 12, 6, 0, 0, 0, 0, utc)
	if got := c.Add(sun, 3*time.Hour); !got.Equal(sun.Add(25 * time.Hour)) {
		t.Errorf("sunday night: %s", got)
	}
	fri := time.Date(2026, 12, 11, 5, 0, 0, 0, utc) // thursday's night ends friday 06:00
	if !c.Open(fri) || c.Open(fri.Add(2*time.Hour)) || c.Open(time.Date(2026, 12, 11, 23, 0, 0, 0, utc)) {
		t.Error("friday morning should be open until 06:00, friday night closed")
	}
	if got := c.Add(fri, 2*time.Hour); !got.Equal(time.Date(2026, 12, 13, 23, 0, 0, 0, utc)) {
		t.Errorf("friday 05:00 + 2h = %s, want sunday 23:00", got)
	}
	// A holiday closes the night that starts on it, not the one that ends on it.
	h := cal(t, "UTC", []string{"sun-thu 22:00-06:00"}, "2026-12-08\n")
	if !h.Open(time.Date(2026, 12, 8, 3, 0, 0, 0, utc)) || h.Open(time.Date(2026, 12, 8, 23, 0, 0, 0, utc)) {
		t.Error("holiday night")
	}
}

func TestDaylightSaving(t *testing.T) {
	berlin := mustLoc(t, "Europe/Berlin")
	c := cal(t, "Europe/Berlin", []string{"mon-sun 01:00-04:00"}, "")
	spring := time.Date(2026, 3, 29, 0, 0, 0, 0, berlin) // 02:00 -> 03:00
	if got := c.Between(spring, spring.Add(24*time.Hour)); got != 2*time.Hour {
		t.Errorf("spring day holds %s", got)
	}
	autumn := time.Date(2026, 10, 25, 0, 0, 0, 0, berlin) // 03:00 -> 02:00
	if got := c.Between(autumn, autumn.Add(25*time.Hour)); got != 4*time.Hour {
		t.Errorf("autumn day holds %s", got)
	}
	// 24x7 in a DST zone: business time is elapsed time.
	all := cal(t, "Europe/Berlin", []string{"mon-sun 00:00-24:00"}, "")
	for _, from := range []time.Time{spring.Add(-time.Hour), autumn.Add(30 * time.Minute)} {
		if got := all.Add(from, 5*time.Hour); !got.Equal(from.Add(5 * time.Hour)) {
			t.Errorf("24x7 from %s: %s", from, got)
		}
	}
	// A working day across the spring change.
	office := cal(t, "Europe/Berlin", []string{"mon-fri 09:00-17:00"}, "")
	fri := time.Date(2026, 3, 27, 16, 0, 0, 0, berlin)
	if got := office.Add(fri, 2*time.Hour); !got.Equal(time.Date(2026, 3, 30, 10, 0, 0, 0, berlin)) {
		t.Errorf("over the DST weekend: %s", got.In(berlin))
	}
}

func TestNilIsAroundTheClock(t *testing.T) {
	var c *bizhours.Calendar
	now := time.Date(2026, 12, 5, 3, 0, 0, 0, time.UTC)
	if !c.Open(now) || !c.Add(now, time.Hour).Equal(now.Add(time.Hour)) || c.Between(now, now.Add(time.Hour)) != time.Hour {
		t.Error("nil calendar is not 24x7")
	}
}

func TestAddAndBetweenAgree(t *testing.T) {
	c := cal(t, "America/New_York", []string{"mon-fri 08:30-12:00,13:00-17:30", "sat 10:00-14:00", "sun 23:00-01:00"}, "2026-11-26\n2026-12-25\n")
	r := rand.New(rand.NewPCG(1, 2))
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for range 2000 {
		from := base.Add(time.Duration(r.Int64N(int64(365 * 24 * time.Hour))))
		d := time.Duration(r.Int64N(int64(80 * time.Hour)))
		to := c.Add(from, d)
		if got := c.Between(from, to); got != d {
			t.Fatalf("Between(%s, Add(+%s) = %s) = %s", from, d, to, got)
		}
		if d > 0 && !c.Open(to.Add(-time.Nanosecond)) {
			t.Fatalf("Add(%s, %s) = %s ends outside business hours", from, d, to)
		}
	}
}

func TestParseErrors(t *testing.T) {
	for _, w := range [][]string{{"mon-fri"}, {"mon-fri 9:00-18:00"}, {"funday 09:00-10:00"}, {"mon 09:00-09:00"}, {"mon 24:00-01:00"}, {"mon 09:00-25:00"}, {"mon 09:60-10:00"}, {"mon 09:00"}} {
		if _, err := bizhours.ParseWeek(w); err == nil {
			t.Errorf("%q accepted", w)
		}
	}
	if _, err := bizhours.New("x", time.UTC, map[time.Weekday][]bizhours.Interval{}, nil); err == nil {
		t.Error("a calendar that is never open was accepted")
	}
	if w, err := bizhours.ParseWeek([]string{"mon 22:00-06:00", "tue 05:00-07:00"}); err != nil {
		t.Fatal(err)
	} else if _, err := bizhours.New("x", time.UTC, w, nil); err == nil {
		t.Error("a night overlapping the next morning was accepted")
	}
	if _, err := bizhours.New("x", nil, map[time.Weekday][]bizhours.Interval{1: {{0, time.Hour}}}, nil); err == nil {
		t.Error("a calendar without a zone was accepted")
	}
	_, err := bizhours.ParseHolidays(strings.NewReader("2026-01-01\n# ok\n2026-13-01 bad\n"))
	if err == nil || !strings.Contains(err.Error(), "line 3") {
		t.Errorf("holidays error: %v", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add("mon-fri 09:00-18:00", "2026-01-01 元日\n")
	f.Add("sun,sat 22:00-06:00", "# x\n\n2026-02-29\n")
	f.Fuzz(func(t *testing.T, week, holidays string) {
		w, err := bizhours.ParseWeek(strings.Split(week, "\n"))
		if err != nil {
			return
		}
		h, err := bizhours.ParseHolidays(strings.NewReader(holidays))
		if err != nil {
			return
		}
		c, err := bizhours.New("f", time.UTC, w, h)
		if err != nil {
			return
		}
		from := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
		to := c.Add(from, 90*time.Minute)
		if got := c.Between(from, to); got != 90*time.Minute && len(h) < 1000 {
			t.Fatalf("Between(Add) = %s", got)
		}
	})
}
