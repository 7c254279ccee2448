package catalog

import (
	"testing"
	"time"
	_ "time/tzdata" // the calendar zones by name on any machine

	"github.com/stretchr/testify/require"

	"github.com/kizashi-dev/kizashi/anomaly"
)

// The calendar zones' offsets and holidays are the real ones: the offsets Go's zone database
// gives either side of each change, and Japan's Golden Week of 2026.
func TestCalendarZonesAreReal(t *testing.T) {
	for _, cz := range calendarZones {
		loc, err := time.LoadLocation(cz.name)
		require.NoError(t, err)
		offAt := func(u int64) int64 {
			_, off := time.Unix(u, 0).In(loc).Zone()
			return int64(off)
		}
		if cz.off0 != cz.off1 {
			require.Equal(t, cz.off0, offAt(cz.at-1), cz.name)
			require.Equal(t, cz.off1, offAt(cz.at), cz.name)
			require.Equal(t, cz.moves(), cz.at, cz.name)
		} else {
			require.Equal(t, cz.off0, offAt(cz.moves()-30*day), cz.name)
			require.Equal(t, cz.off0, offAt(cz.moves()+30*day), cz.name, "no change of the clocks")
		}
		hs, err := anomaly.ParseHolidays(cz.holidayRanges)
		require.NoError(t, err)
		require.Len(t, cz.holidays, len(hs), cz.name)
		for i, h := range hs {
			require.Equal(t, localDay(h.Date()), cz.holidays[i], cz.name)
			_, wd := local(h.Unix()-cz.off0+12*hour, cz)
			require.Equal(t, 6, wd, "%s: a holiday is a Sunday", h.Format(time.DateOnly))
		}
		if len(hs) > 0 {
			// The holidays' week: the holiday a Sunday, the day before it a Tuesday.
			_, wd := local(hs[0].Unix()-cz.off0-12*hour, cz)
			require.Equal(t, 1, wd, "2026-04-28 was a Tuesday")
			require.Equal(t, hs[0].Add(-9*time.Hour).Unix(), cz.moves(), "Golden Week starts at midnight in Tokyo")
		}
	}
}

// With Options.Calendar every series lives in a calendar zone, its calendar moving between
// day 14 and day 21 (after the warm-up, before the failure week); the default catalogue does
// not change (its series keep fixed offsets).
func TestCalendarSeries(t *testing.T) {
	o := DefaultOptions()
	o.Calendar = true
	zones := map[string]int{}
	for _, k := range Kinds() {
		for i := range 4 {
			s, err := Generate(o, Case{k, None, i})
			require.NoError(t, err)
			require.NotEmpty(t, s.Zone)
			zones[s.Zone]++
			var change int64
			for _, cz := range calendarZones {
				if cz.name == s.Zone {
					change = cz.moves()
				}
			}
			days := float64(change-s.Start.Unix()) / day
			require.True(t, days >= 14 && days < 21, "%s: the change on day %.1f", s.Case, days)
			plain := o
			plain.Calendar = false
			p, err := Generate(plain, Case{k, None, i})
			require.NoError(t, err)
			require.Empty(t, p.Zone)
			require.Empty(t, p.Holidays)
		}
	}
	require.Len(t, zones, len(calendarZones), "every zone is drawn: %v", zones)
}

// On a calendar series of office hours the clocks' change moves the pattern in UTC and the
// holidays quiet it, as on real series: ZonedModels, told the zones, alerts less than the
// model in UTC.
func TestZonedModels(t *testing.T) {
	o := DefaultOptions()
	o.Calendar = true
	zoned, err := ZonedModels(anomaly.Config{})
	require.NoError(t, err)
	spec, err := anomaly.Compile(anomaly.Config{})
	require.NoError(t, err)
	plain := Models(spec)
	var faZoned, faPlain int
	for i := range 8 {
		s, err := Generate(o, Case{OnOff, None, i})
		require.NoError(t, err)
		a, err := Score(s, zoned(s), ShippedRule, o.Warmup)
		require.NoError(t, err)
		b, err := Score(s, plain(s), ShippedRule, o.Warmup)
		require.NoError(t, err)
		faZoned += a.FAEpisodes
		faPlain += b.FAEpisodes
	}
	t.Logf("false alarms on 8 on/off controls: %d in UTC, %d in their zones", faPlain, faZoned)
	require.Less(t, faZoned, faPlain)
	_, err = ZonedModels(anomaly.Config{Sensitivity: anomaly.Float(2)})
	require.Error(t, err)
}
