package deliver

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kizashi-dev/kizashi/webhook/channel/fanout"
	"github.com/kizashi-dev/kizashi/webhook/forward"
	"github.com/kizashi-dev/kizashi/webhook/incident"
	"github.com/kizashi-dev/kizashi/webhook/notify"
	"github.com/kizashi-dev/kizashi/webhook/oncall"
	"github.com/kizashi-dev/kizashi/webhook/oncallview"
	"github.com/kizashi-dev/kizashi/webhook/publicid"
	"github.com/kizashi-dev/kizashi/webhook/store"
)

// ReminderTenant is who a tenant reminds of due customer updates.
type ReminderTenant struct {
	People People
	// Coordinator: the major incident's coordinator (the contact named like it, or whose
	// User is it).
	Coordinator bool
	// Schedules: whoever is on call in each.
	Schedules []string
	Contacts  []string
}

// ReminderConfig is the reminders' setup.
type ReminderConfig struct {
	Tenants map[string]*ReminderTenant
	// ExternalURL is the service-desk page's base URL (links in messages).
	ExternalURL string
}

// Reminders reminds people of customer updates of major incidents, once per due time.
type Reminders struct {
	Runner
	// Due lists the major incidents whose customer update is due (problem.Desk.DueUpdates
	// of every tenant).
	Due      func(ctx context.Context) ([]store.MajorIncident, error)
	Incident func(ctx context.Context, tenant string, id int64) (*incident.Incident, error)
	Config   func() *ReminderConfig
	// IDs maps incident ids to public ids (nil: identity).
	IDs *publicid.Codec
}

// ReminderKey is the key of the reminder of m's update due now.
func ReminderKey(m store.MajorIncident) store.DeliveryKey {
	return store.DeliveryKey{Kind: KindReminder, Tenant: m.Tenant, Subject: strconv.FormatInt(m.IncidentID, 10),
		Period: m.NextUpdateDue.UTC().Format(time.RFC3339)}
}

// Tick reminds of the updates due now that were not reminded of yet. It returns the
// reminders finished.
func (e *Reminders) Tick(ctx context.Context) (int, error) {
	e.defaults()
	cfg := e.Config()
	if cfg == nil || len(cfg.Tenants) == 0 {
		return 0, nil
	}
	due, err := e.Due(ctx)
	if err != nil {
		return 0, err
	}
	var (
		errs []error
		n    int
	)
	for _, m := range due {
		t := cfg.Tenants[m.Tenant]
		if t == nil || m.NextUpdateDue.IsZero() {
			continue
		}
		done, err := e.once(ctx, ReminderKey(m), m.NextUpdateDue, e.Now(), func(d *store.Delivery) (bool, error) {
			return e.remind(ctx, cfg, t, m, d)
		})
		if err != nil {
			errs = append(errs, err)
		}
		if done {
			n++
		}
	}
	return n, errors.Join(errs...)
}

// recipients resolves who is reminded now, in order, without repeats.
func (t *ReminderTenant) recipients(schedules map[string]*oncall.Schedule, coordinator string, now time.Time) (names, problems []string) {
	add := func(n string) {
		if !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	if t.Coordinator {
		found := ""
		if _, ok := t.People.Contacts[coordinator]; ok {
			found = coordinator
		} else {
			for _, n := range slices.Sorted(maps.Keys(t.People.Contacts)) {
				if c := t.People.Contacts[n]; c.User != "" && c.User == coordinator {
					found = n
					break
				}
			}
		}
		if found != "" {
			add(found)
		} else {
			problems = append(problems, "coordinator "+coordinator+" is no contact")
		}
	}
	for _, s := range t.Schedules {
		sch := schedules[s]
		if sch == nil {
			problems = append(problems, "unknown schedule "+s)
			continue
		}
		add(sch.At(now).Contact)
	}
	for _, c := range t.Contacts {
		add(c)
	}
	return names, problems
}

// remind runs one claimed reminder; true when it finished (sent or failed for good).
func (e *Reminders) remind(ctx context.Context, cfg *ReminderConfig, t *ReminderTenant, m store.MajorIncident, d *store.Delivery) (bool, error) {
	key := d.DeliveryKey
	now := e.Now()
	in, err := e.Incident(ctx, m.Tenant, m.IncidentID)
	if err != nil {
		return false, errors.Join(err, e.Store.RetryDelivery(ctx, key, e.Owner, err.Error(), now.Add(time.Minute)))
	}
	schedules := t.People.Schedules
	if stored, err := oncallview.Stored(ctx, e.Store, m.Tenant, now); err != nil {
		e.Log.Warn("on-call overrides not read: the schedules' own apply", "tenant", m.Tenant, "err", err)
	} else {
		schedules = oncallview.Merge(schedules, stored)
	}
	names, problems := t.recipients(schedules, m.Coordinator, now)
	msg := notify.Message{Tenant: in.Tenant, IncidentID: e.IDs.Public(publicid.Incident, in.ID), Title: in.Title, Priority: in.Priority,
		State: string(in.State), CI: in.CI, CreatedAt: in.CreatedAt, UpdateDue: m.NextUpdateDue,
		DedupKey: forward.CorrelationID("kizashi-update", in.Tenant, in.ID)}
	msg.URL = notify.IncidentURL(cfg.ExternalURL, msg.IncidentID)
	o, err := fanout.Send(ctx, t.People.Contacts, t.People.Channels, names, d.Delivered, msg,
		func(dk string) error { return e.Store.MarkDelivery(ctx, key, e.Owner, dk) },
		func(dk, _ string, err error) {
			if err != nil {
				e.Log.Warn("update reminder delivery failed", "tenant", in.Tenant, "incident", in.ID, "to", dk, "err", err)
			}
		})
	if err != nil {
		return false, err
	}
	sent, retryable := o.Sent, o.Retryable
	problems = append(problems, o.Problems...)
	if len(retryable) > 0 && d.Attempts+1 < e.MaxAttempts {
		e.Metrics.count(in.Tenant, KindReminder, "retried")
		return false, e.Store.RetryDelivery(ctx, key, e.Owner, strings.Join(retryable, "; "), now.Add(backoff(d.Attempts)))
	}
	problems = append(problems, retryable...)
	var b strings.Builder
	fmt.Fprintf(&b, "customer update due at %s: ", m.NextUpdateDue.UTC().Format(time.RFC3339))
	outcome := store.DeliverySent
	if len(sent) > 0 {
		fmt.Fprintf(&b, "reminded %s", strings.Join(sent, ", "))
	} else {
		b.WriteString("nobody reminded")
		outcome = store.DeliveryFailed
	}
	if len(problems) > 0 {
		fmt.Fprintf(&b, "; failed: %s", strings.Join(problems, "; "))
	}
	j := []incident.Entry{{Tenant: in.Tenant, IncidentID: in.ID, At: now, Actor: Actor, Kind: KindJournal, Message: b.String()}}
	ok, err := e.Store.FinishDelivery(ctx, key, e.Owner, outcome, b.String(), strings.Join(problems, "; "), now, j)
	if err != nil {
		return false, err
	}
	if !ok {
		e.Log.Warn("update reminder lease lost", "tenant", in.Tenant, "incident", in.ID)
		return false, nil
	}
	e.Metrics.count(in.Tenant, KindReminder, outcome)
	return true, nil
}
