// Package oncallview answers "who is on call now" from the configured
// schedules, for the REST API and the service-desk page alike.
package oncallview

import (
	"slices"
	"time"

	"github.com/kizashi-dev/kizashi/webhook/apitypes"
	"github.com/kizashi-dev/kizashi/webhook/config"
	"github.com/kizashi-dev/kizashi/webhook/oncall"
)

// ShiftOf describes a shift with its contact's names.
func ShiftOf(tp *config.TenantPeople, s oncall.Shift) apitypes.Shift {
	c := tp.Contacts[s.Contact]
	return apitypes.Shift{Contact: s.Contact, DisplayName: c.DisplayName, User: c.User, Start: s.Start.UTC(), End: s.End.UTC(), Override: s.Override}
}

// Now lists who is on call at now, and who is next, in every schedule of the tenants
// (sorted by tenant, then schedule).
func Now(c *config.Config, tenants []string, now time.Time) []apitypes.Schedule {
	out := []apitypes.Schedule{}
	for _, t := range tenants {
		tp := c.People(t)
		if tp == nil {
			continue
		}
		names := make([]string, 0, len(tp.Schedules))
		for n := range tp.Schedules {
			names = append(names, n)
		}
		slices.Sort(names)
		for _, n := range names {
			s := tp.Schedules[n]
			cur := s.At(now)
			out = append(out, apitypes.Schedule{Tenant: t, Name: n, TimeZone: s.Location.String(), Handoff: s.Period,
				Now: ShiftOf(tp, cur), Next: ShiftOf(tp, s.At(cur.End))})
		}
	}
	return out
}
