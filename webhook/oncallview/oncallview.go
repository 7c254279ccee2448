// Package oncallview answers "who is on call now" from the configured schedules and the
// overrides made through the API (kept in the store), for the REST API, the service-desk
// page and the engines that notify the on-call alike.
package oncallview

import (
	"context"
	"maps"
	"slices"
	"time"

	"github.com/kizashi-dev/kizashi/webhook/apitypes"
	"github.com/kizashi-dev/kizashi/webhook/config"
	"github.com/kizashi-dev/kizashi/webhook/oncall"
	"github.com/kizashi-dev/kizashi/webhook/store"
)

// ShiftOf describes a shift with its contact's names.
func ShiftOf(tp *config.TenantPeople, s oncall.Shift) apitypes.Shift {
	c := tp.Contacts[s.Contact]
	return apitypes.Shift{Contact: s.Contact, DisplayName: c.DisplayName, User: c.User, Start: s.Start.UTC(), End: s.End.UTC(), Override: s.Override}
}

// Stored reads the overrides made through the API of a tenant that end after since; st
// may be any store (one that keeps no overrides has none).
func Stored(ctx context.Context, st any, tenant string, since time.Time) ([]store.OnCallOverride, error) {
	os, ok := st.(store.OnCallOverrides)
	if !ok {
		return nil, nil
	}
	return os.Overrides(ctx, tenant, since)
}

// Merge returns schedules with the stored overrides of their names added after the
// configuration's (so a stored override wins where both cover a time). schedules is not
// changed; a schedule without stored overrides is shared.
func Merge(schedules map[string]*oncall.Schedule, stored []store.OnCallOverride) map[string]*oncall.Schedule {
	if len(stored) == 0 {
		return schedules
	}
	out := maps.Clone(schedules)
	for _, o := range stored {
		s := out[o.Schedule]
		if s == nil {
			continue
		}
		if s == schedules[o.Schedule] {
			c := *s
			c.Overrides = slices.Clone(s.Overrides)
			s = &c
			out[o.Schedule] = s
		}
		s.Overrides = append(s.Overrides, oncall.Override{Contact: o.Contact, From: o.From, To: o.To})
	}
	return out
}

// People returns tp with the stored overrides merged into its schedules.
func People(tp *config.TenantPeople, stored []store.OnCallOverride) *config.TenantPeople {
	if tp == nil || len(stored) == 0 {
		return tp
	}
	c := *tp
	c.Schedules = Merge(tp.Schedules, stored)
	return &c
}

// Now lists who is on call at now, and who is next, in every schedule of the tenants
// (sorted by tenant, then schedule); stored gives each tenant's stored overrides (nil:
// none).
func Now(c *config.Config, tenants []string, now time.Time, stored map[string][]store.OnCallOverride) []apitypes.Schedule {
	out := []apitypes.Schedule{}
	for _, t := range tenants {
		tp := People(c.People(t), stored[t])
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
