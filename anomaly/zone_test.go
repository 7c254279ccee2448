package anomaly

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func mustZone(t testing.TB, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	require.NoError(t, err)
	return loc
}

// A series that follows local time (office hours, a daily cycle of users) moves by an hour in
// UTC when the clocks change. In UTC every edge and slope of the pattern is then an hour off
// for the days the profiles take to re-learn it, and the shipped rule fires again and again;
// in the series' own time zone nothing changed.
func TestLocalPatternsKeepTheirPlaceAcrossDaylightSaving(t *testing.T) {
	for _, c := range []struct {
		zone    string
		change  time.Time
		kind    string
		minUTC  int // alerts in the week after the change, in UTC (at least)
		maxZone int // ... and in the series' time zone (at most)
	}{
		{"Europe/Berlin", time.Date(2026, 3, 29, 1, 0, 0, 0, time.UTC), "office", 5, 1},
		{"Europe/Berlin", time.Date(2026, 3, 29, 1, 0, 0, 0, time.UTC), "daily", 5, 1},
		{"America/New_York", time.Date(2026, 11, 1, 6, 0, 0, 0, time.UTC), "office", 5, 1},
		{"America/New_York", time.Date(2026, 11, 1, 6, 0, 0, 0, time.UTC), "daily", 5, 1},
	} {
		t.Run(c.zone+"/"+c.kind, func(t *testing.T) {
			loc := mustZone(t, c.zone)
			rng := rand.New(rand.NewPCG(3, 4))
			const week = 7 * 1440
			n := 7 * week
			start := c.change.Add(-5 * week * time.Minute)
			ts := make([]time.Time, n)
			vs := make([]float64, n)
			for i := range n {
				ts[i] = start.Add(time.Duration(i) * time.Minute)
				lt := ts[i].In(loc)
				if c.kind == "office" {
					vs[i] = officeLoad(rng, lt, 1)
				} else {
					h := float64(lt.Hour()) + float64(lt.Minute())/60
					vs[i] = 200 * (1 - 0.5*math.Cos(2*math.Pi*(h-3)/24)) * (1 + 0.03*rng.NormFloat64())
				}
			}
			at := int(c.change.Sub(start) / time.Minute)
			require.Equal(t, 5*week, at, "the change is five weeks in")
			_, utc := run(t, Config{}, ts, vs)
			m, local := run(t, Config{Location: loc}, ts, vs)
			require.True(t, m.Readiness().Daily, "the daily pattern is in use")
			require.LessOrEqual(t, alerts(local, at-week, at), 1, "the week before the change, local")
			require.LessOrEqual(t, alerts(utc, at-week, at), 1, "the week before the change, UTC")
			t.Logf("alerts in the week before the change: UTC %d, zone %d; the week after: UTC %d, zone %d; the second week after: zone %d",
				alerts(utc, at-week, at), alerts(local, at-week, at), alerts(utc, at, at+week), alerts(local, at, at+week), alerts(local, at+week, n))
			require.GreaterOrEqual(t, alerts(utc, at, at+week), c.minUTC, "the change fires in UTC (what the zone is for)")
			require.LessOrEqual(t, alerts(local, at, at+week), c.maxZone, "the week after the change, local")
			require.LessOrEqual(t, alerts(local, at+week, n), 1, "the second week after, local")
		})
	}
}

// The zone's offsets, tabulated once per Spec and searched per sample, are the ones Go's time
// package gives, at any instant from 1970 to 2200 and at each change.
func TestLocalTimeAgreesWithTheTimePackage(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	lo := time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	hi := time.Date(2199, 12, 31, 0, 0, 0, 0, time.UTC).UnixNano()
	for _, name := range []string{"Europe/Berlin", "America/New_York", "Asia/Tokyo", "Asia/Kolkata",
		"Australia/Lord_Howe", "Australia/Sydney", "America/Sao_Paulo", "Pacific/Chatham", "Etc/GMT+5", "UTC"} {
		loc := mustZone(t, name)
		s, err := Compile(Config{Location: loc})
		require.NoError(t, err)
		check := func(ts int64) {
			_, off := time.Unix(0, ts).In(loc).Zone()
			require.Equal(t, ts+int64(off)*1e9, int64(s.local(ts)), "%s at %s", name, time.Unix(0, ts).UTC())
		}
		for range 3000 {
			check(lo + rng.Int64N(hi-lo))
		}
		for i, z := range s.zone {
			if i > 0 {
				check(z.from - 1)
				check(z.from)
			}
		}
	}
	utc, err := Compile(Config{Location: time.UTC})
	require.NoError(t, err)
	require.Nil(t, utc.zone, "UTC needs no table")
	tokyo, err := Compile(Config{Location: mustZone(t, "Asia/Tokyo")})
	require.NoError(t, err)
	require.Len(t, tokyo.zone, 1, "Japan: no change since 1970")
}

// A model's profiles are placed in its time zone: a snapshot restores under the same zone (and
// UTC, named or not, is the same as none), not under another.
func TestSnapshotKeepsItsTimeZone(t *testing.T) {
	ts, vs := series(3000, time.Minute, 1, dailySine)
	berlin := mustZone(t, "Europe/Berlin")
	m, _ := run(t, Config{Location: berlin}, ts, vs)
	snap, err := m.AppendBinary(nil)
	require.NoError(t, err)
	same, err := Compile(Config{Location: mustZone(t, "Europe/Berlin")})
	require.NoError(t, err)
	_, err = same.Restore(snap)
	require.NoError(t, err)
	for _, other := range []*time.Location{nil, time.UTC, mustZone(t, "Europe/Paris")} {
		s, err := Compile(Config{Location: other})
		require.NoError(t, err)
		_, err = s.Restore(snap)
		require.ErrorIs(t, err, ErrIncompatible, "restored under %v", other)
	}
	plain, _ := run(t, Config{}, ts, vs)
	snap, err = plain.AppendBinary(nil)
	require.NoError(t, err)
	utc, err := Compile(Config{Location: time.UTC})
	require.NoError(t, err)
	_, err = utc.Restore(snap)
	require.NoError(t, err, "UTC is no zone")
}

// Golden Week: Japan's office hours stay quiet on four weekdays (2026-04-29, 05-04 to 05-06).
// A model that takes them for weekdays alerts on each (the busy hours gone); told they are
// holidays, its weekly profile reads them as Sundays. A real failure on an ordinary weekday
// after them is still caught.
func TestHolidaysAreReadAsSundays(t *testing.T) {
	tokyo := mustZone(t, "Asia/Tokyo")
	holidays, err := ParseHolidays([]string{"2026-04-29", "2026-05-03..2026-05-06"})
	require.NoError(t, err)
	require.Len(t, holidays, 5)
	start := time.Date(2026, 3, 30, 0, 0, 0, 0, tokyo) // a Monday, four weeks before
	rng := rand.New(rand.NewPCG(7, 8))
	const day = 1440
	n := 6 * 7 * day
	onset := 6*7*day - 2*day + 11*60 // the last Friday at 11:00: the value halves for an hour
	ts := make([]time.Time, n)
	vs := make([]float64, n)
	isHoliday := func(lt time.Time) bool {
		for _, h := range holidays {
			if y, m, d := lt.Date(); h.Year() == y && h.Month() == m && h.Day() == d {
				return true
			}
		}
		return false
	}
	for i := range n {
		ts[i] = start.Add(time.Duration(i) * time.Minute)
		lt := ts[i].In(tokyo)
		if isHoliday(lt) {
			vs[i] = 20 * (1 + 0.05*rng.NormFloat64()) // as on a Sunday
		} else {
			vs[i] = officeLoad(rng, lt, 1)
		}
		if i >= onset && i < onset+60 {
			vs[i] /= 2
		}
	}
	gw := int(time.Date(2026, 4, 29, 0, 0, 0, 0, tokyo).Sub(start) / time.Minute)
	end := int(time.Date(2026, 5, 7, 0, 0, 0, 0, tokyo).Sub(start) / time.Minute)
	_, plain := run(t, Config{Location: tokyo}, ts, vs)
	m, told := run(t, Config{Location: tokyo, Holidays: holidays}, ts, vs)
	require.True(t, m.Readiness().Weekly, "the weekly pattern is in use")
	t.Logf("alerts from 04-29 to 05-06: %d without the holidays, %d with them", alerts(plain, gw, end), alerts(told, gw, end))
	require.GreaterOrEqual(t, alerts(plain, gw, end), 3, "without the holidays each quiet weekday alerts")
	require.LessOrEqual(t, alerts(told, gw, end), 1, "with them")
	require.LessOrEqual(t, alerts(told, end, onset), 1, "the days back at work")
	at, ok := fires(told, onset, onset+60)
	require.True(t, ok, "the halving is caught")
	require.LessOrEqual(t, at-onset, 5, "within 5 steps")
}

func TestParseHolidays(t *testing.T) {
	hs, err := ParseHolidays([]string{" 2026-12-29..2027-01-03 ", "2026-05-04", " "})
	require.NoError(t, err)
	require.Len(t, hs, 7)
	require.Equal(t, "2027-01-03", hs[5].Format(time.DateOnly))
	for _, bad := range [][]string{{"2026-5-4"}, {"04/05/2026"}, {"2026-05-06..2026-05-04"}, {"2026-05-04.."}, {"1970-01-01..2200-01-01"}, {"2026-05-04\x00"}} {
		_, err := ParseHolidays(bad)
		require.Error(t, err, "%q", bad)
	}
	_, err = Compile(Config{Holidays: make([]time.Time, maxHolidays+1)})
	require.ErrorContains(t, err, "holidays")
	// The list does not change what a snapshot means: a new year's holidays keep the models.
	s1, err := Compile(Config{Holidays: hs})
	require.NoError(t, err)
	s2, err := Compile(Config{})
	require.NoError(t, err)
	require.Equal(t, s1.fingerprint(), s2.fingerprint())
}
