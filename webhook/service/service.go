// Package service is the application layer between the HTTP handlers and the
// store: it runs each notification and each service-desk action in one store
// transaction, asks the incident domain what to change and writes it, with
// the outbox entries and journal lines in the same transaction.
package service

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"time"

	"github.com/kizashi-dev/kizashi/webhook/alertmsg"
	"github.com/kizashi-dev/kizashi/webhook/i18n"
	"github.com/kizashi-dev/kizashi/webhook/incident"
	"github.com/kizashi-dev/kizashi/webhook/sanitize"
	"github.com/kizashi-dev/kizashi/webhook/store"
)

// Rules give the effective policy of a tenant and the correlation mode of a
// route (receiver). The configuration implements it.
type Rules interface {
	Policy(tenant string) incident.Policy
	Correlation(tenant, receiver string) incident.Correlation
}

// Service handles notifications and desk actions.
type Service struct {
	Store   store.Store
	Rules   func() Rules
	Metrics *Metrics
	Logger  *slog.Logger
	Now     func() time.Time
	// Name is how callers know an incident in messages (its public id, e.g. "#48213"): the
	// store's row id is never shown outside. Nil: "#" and the row id (tests).
	Name func(id int64) string
}

// name is how an error names incident id.
func (s *Service) name(id int64) string {
	if s.Name != nil {
		return s.Name(id)
	}
	return "#" + strconv.FormatInt(id, 10)
}

// Caller is who performs a desk action.
type Caller struct {
	Name     string
	Tenant   string // "" only for operators acting across tenants
	Operator bool
	// ReadOnly callers (customers) change nothing: Act answers ErrForbidden.
	ReadOnly bool
	// Person is set for a named user (the journal names a person), not a credential.
	Person bool
	// Groups, when not nil, limits an operator to the incidents of these assignment groups and
	// the unassigned ones: others answer ErrNotFound, as another tenant's do.
	Groups []string
}

// SeesGroup reports whether the caller sees the incidents of an assignment group.
func (c Caller) SeesGroup(group string) bool {
	return SeesGroup(c.Groups, group)
}

// SeesGroup reports whether a caller limited to groups (nil: not limited) sees the incidents of
// an assignment group: its own groups' and the unassigned ones ("").
func SeesGroup(groups []string, group string) bool {
	return groups == nil || group == "" || slices.Contains(groups, group)
}

// Scope is the tenant filter for the caller: "" means all tenants.
func (c Caller) Scope() string {
	if c.Operator {
		return ""
	}
	return c.Tenant
}

// IngestResult tells what a notification did.
type IngestResult struct {
	Duplicate bool
	Incidents []int64
	Heartbeat bool
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

// CorrelationKey of an alert on a route.
func CorrelationKey(mode incident.Correlation, receiver, groupKey, fingerprint string) string {
	if mode == incident.CorrelateFingerprint {
		return "fp:" + receiver + ":" + fingerprint
	}
	return "group:" + receiver + ":" + groupKey
}

type keyBatch struct {
	key    string
	alerts []incident.Alert
	// repeat: a repeated notification (duplicate) applied again, see hiddenWhileFiring.
	repeat bool
}

func batches(m *alertmsg.Message, mode incident.Correlation) []keyBatch {
	recv := m.ReceiverName()
	idx := map[string]int{}
	var out []keyBatch
	for _, a := range m.Alerts {
		k := CorrelationKey(mode, recv, m.GroupKey, a.Fingerprint)
		i, ok := idx[k]
		if !ok {
			i = len(out)
			idx[k] = i
			out = append(out, keyBatch{key: k})
		}
		out[i].alerts = append(out[i].alerts, incident.Alert{
			Fingerprint:  a.Fingerprint,
			Status:       a.Status,
			Labels:       a.Labels,
			Annotations:  a.Annotations,
			StartsAt:     a.StartsAt,
			EndsAt:       a.EndsAt,
			GeneratorURL: a.GeneratorURL,
		})
	}
	// A fixed order keeps concurrent transactions from deadlocking.
	slices.SortFunc(out, func(a, b keyBatch) int {
		switch {
		case a.key < b.key:
			return -1
		case a.key > b.key:
			return 1
		}
		return 0
	})
	return out
}

type effects struct {
	created   []*incident.Incident
	resolved  []*incident.Incident
	breaches  []breach
	heartbeat bool
}

type breach struct {
	tenant   string
	priority int
	target   string
}

// Ingest stores one authenticated notification and applies it, durably. When
// it returns nil the notification is committed (or was already stored). raw
// is the body as received; nil stores m.Raw (see alertmsg.Decode).
func (s *Service) Ingest(ctx context.Context, tenant string, m *alertmsg.Message, raw []byte) (IngestResult, error) {
	start := time.Now()
	now := s.now()
	rules := s.Rules()
	policy := rules.Policy(tenant)
	recv := m.ReceiverName()
	mode := rules.Correlation(tenant, recv)
	bs := batches(m, mode)
	keys := make([]string, len(bs))
	for i, b := range bs {
		keys[i] = b.key
	}
	body := m.Raw
	if raw != nil {
		body = alertmsg.Raw{Body: raw}
	}
	n := &store.Notification{
		Key: m.IdempotencyKey(tenant), Tenant: tenant, Receiver: recv, GroupKey: m.GroupKey, Status: m.Status,
		Reason: m.NotificationReason, Alerts: len(m.Alerts), Truncated: m.TruncatedAlerts + uint64(m.Dropped), ReceivedAt: now,
		Body: body.Body, BodyEncoding: body.Encoding,
	}
	var (
		res IngestResult
		eff effects
	)
	err := s.Store.Update(ctx, func(ctx context.Context, tx store.Tx) error {
		res, eff = IngestResult{}, effects{heartbeat: true}
		inserted, err := tx.InsertNotification(ctx, n)
		if err != nil {
			return err
		}
		if !inserted {
			res.Duplicate, res.Heartbeat = true, true
			if err := tx.RecordDuplicate(ctx, n.Key, now); err != nil {
				return err
			}
			// A repeat says the alerts still fire. An incident a person resolved,
			// closed or muted while they fired would otherwise stay hidden (a repeat
			// changes nothing): the desk sees it again.
			var touch []string
			for _, b := range bs {
				again, err := hiddenWhileFiring(ctx, tx, now, tenant, b)
				if err != nil {
					return err
				}
				if !again {
					touch = append(touch, b.key)
					continue
				}
				b.repeat = true
				id, err := s.applyKey(ctx, tx, now, policy, tenant, m, b, &eff)
				if err != nil {
					return fmt.Errorf("apply %s: %w", b.key, err)
				}
				if id != 0 {
					res.Incidents = append(res.Incidents, id)
				}
			}
			res.Heartbeat = eff.heartbeat
			return tx.TouchIncidents(ctx, tenant, touch, now)
		}
		for _, b := range bs {
			id, err := s.applyKey(ctx, tx, now, policy, tenant, m, b, &eff)
			if err != nil {
				return fmt.Errorf("apply %s: %w", b.key, err)
			}
			if id != 0 {
				res.Incidents = append(res.Incidents, id)
			}
		}
		res.Heartbeat = eff.heartbeat
		return nil
	})
	if err != nil {
		return IngestResult{}, fmt.Errorf("ingest notification: %w", err)
	}
	if s.Metrics != nil {
		s.Metrics.IngestDuration.Observe(time.Since(start).Seconds())
		if res.Duplicate {
			s.Metrics.Notifications.WithLabelValues(ResultDuplicate).Inc()
		} else {
			s.Metrics.Notifications.WithLabelValues(ResultAccepted).Inc()
		}
		for _, in := range eff.created {
			s.Metrics.IncidentsOpened.WithLabelValues(in.Tenant, prio(in.Priority)).Inc()
		}
		for _, in := range eff.resolved {
			s.observeResolved(in)
		}
		s.observeBreaches(eff.breaches)
	}
	return res, nil
}

// StillFiringGrace is how long after a person resolved, closed or canceled an
// incident whose alerts fired a repeat of their notification is not yet taken
// as proof that they still fire: Alertmanager's resolve may be on its way (its
// default group_interval is 5m).
const StillFiringGrace = 5 * time.Minute

// hiddenWhileFiring reports whether a repeated notification's firing alerts
// belong to an incident that no longer shows them although they still fire by
// our own record: resolved (by a person) while they fired, closed or canceled
// while they fired, or canceled as a false positive whose mute has ended, at
// least StillFiringGrace ago. A late repeat of a notification that a resolve
// followed changes nothing (the store's record of the alerts says they
// resolved), so resolves in flight are not undone.
func hiddenWhileFiring(ctx context.Context, tx store.Tx, now time.Time, tenant string, b keyBatch) (bool, error) {
	if !slices.ContainsFunc(b.alerts, incident.Alert.Firing) {
		return false, nil
	}
	cur, err := tx.OpenIncident(ctx, tenant, b.key)
	if err != nil {
		return false, err
	}
	if cur != nil {
		return cur.State == incident.StateResolved && cur.FiringAlerts > 0 && now.Sub(cur.ResolvedAt) >= StillFiringGrace, nil
	}
	prev, err := tx.LatestIncident(ctx, tenant, b.key)
	if err != nil || prev == nil {
		return false, err
	}
	muted := prev.State == incident.StateCanceled && now.Before(prev.MuteUntil)
	return prev.FiringAlerts > 0 && !muted && now.Sub(prev.ClosedAt) >= StillFiringGrace, nil
}

// observeResolved records the time to resolve of an incident just resolved.
func (s *Service) observeResolved(in *incident.Incident) {
	if s.Metrics == nil {
		return
	}
	s.Metrics.MTTR.WithLabelValues(in.Tenant, prio(in.Priority)).Observe(in.ResolvedAt.Sub(in.CreatedAt).Seconds())
}

func (s *Service) observeBreaches(bs []breach) {
	if s.Metrics == nil {
		return
	}
	for _, b := range bs {
		s.Metrics.SLABreaches.WithLabelValues(b.tenant, prio(b.priority), b.target).Inc()
	}
}

func (s *Service) applyKey(ctx context.Context, tx store.Tx, now time.Time, p incident.Policy, tenant string, m *alertmsg.Message, b keyBatch, eff *effects) (int64, error) {
	in := incident.Input{
		Tenant: tenant, CorrelationKey: b.key, Receiver: m.ReceiverName(), GroupKey: m.GroupKey,
		GroupLabels: m.GroupLabels, Reason: m.NotificationReason, Complete: m.Complete(),
		Truncated: m.TruncatedAlerts, Dropped: m.Dropped, Alerts: b.alerts, Repeat: b.repeat,
	}
	cur, err := tx.OpenIncident(ctx, tenant, b.key)
	if err != nil {
		return 0, err
	}
	if cur != nil {
		in.Current = cur
		if in.CurrentAlerts, err = tx.Alerts(ctx, cur.ID); err != nil {
			return 0, err
		}
	} else if in.Previous, err = tx.LatestIncident(ctx, tenant, b.key); err != nil {
		return 0, err
	}
	out := incident.Apply(now, p, in)
	if out.Heartbeat {
		if cur != nil {
			return cur.ID, tx.TouchIncidents(ctx, tenant, []string{b.key}, now)
		}
		return 0, nil
	}
	eff.heartbeat = false
	var entries []incident.Entry
	var outbox []store.OutboxItem
	if out.Superseded != nil {
		if err := tx.UpdateIncident(ctx, out.Superseded); err != nil {
			return 0, err
		}
	}
	target := out.Update
	if out.Create != nil {
		if err := tx.CreateIncident(ctx, out.Create); err != nil {
			return 0, err
		}
		target = out.Create
		eff.created = append(eff.created, out.Create)
	} else if target != nil {
		if err := tx.UpdateIncident(ctx, target); err != nil {
			return 0, err
		}
	}
	for _, e := range out.Entries {
		if e.IncidentID == 0 && target != nil {
			e.IncidentID = target.ID
		}
		entries = append(entries, e)
	}
	if len(out.Alerts) > 0 && target != nil {
		if err := tx.UpsertAlerts(ctx, target.ID, out.Alerts); err != nil {
			return 0, err
		}
	}
	if err := tx.AppendJournal(ctx, entries); err != nil {
		return 0, err
	}
	for _, ev := range out.Events {
		subject := target
		if ev == incident.EventClosed && out.Superseded != nil {
			subject = out.Superseded
		}
		if subject == nil {
			continue
		}
		if ev == incident.EventResolved {
			eff.resolved = append(eff.resolved, subject)
		}
		item, err := outboxItem(subject, ev, now)
		if err != nil {
			return 0, err
		}
		outbox = append(outbox, item)
	}
	if err := tx.Enqueue(ctx, outbox); err != nil {
		return 0, err
	}
	for _, k := range out.Breaches {
		eff.breaches = append(eff.breaches, breach{tenant, target.Priority, k})
	}
	if target == nil {
		return 0, nil
	}
	return target.ID, nil
}

// outboxPayload is what forwarders will receive; the correlation id lets a
// ticket system deduplicate.
type outboxPayload struct {
	Event          string `json:"event"`
	IncidentID     int64  `json:"incident_id"`
	Version        int64  `json:"version"`
	Tenant         string `json:"tenant"`
	CorrelationKey string `json:"correlation_key"`
	State          string `json:"state"`
	Priority       int    `json:"priority"`
	Title          string `json:"title"`
	At             string `json:"at"`
}

func outboxItem(in *incident.Incident, event string, now time.Time) (store.OutboxItem, error) {
	b, err := json.Marshal(outboxPayload{
		Event: event, IncidentID: in.ID, Version: in.Version, Tenant: in.Tenant, CorrelationKey: in.CorrelationKey,
		State: string(in.State), Priority: in.Priority, Title: in.Title, At: now.Format(time.RFC3339Nano),
	})
	if err != nil {
		return store.OutboxItem{}, fmt.Errorf("encode outbox payload: %w", err)
	}
	return store.OutboxItem{Tenant: in.Tenant, IncidentID: in.ID, Event: event, Payload: b, CreatedAt: now}, nil
}

// record appends the journal lines of a change of in and queues its outbox
// item for event, in the change's transaction.
func record(ctx context.Context, tx store.Tx, in *incident.Incident, entries []incident.Entry, event string, now time.Time) error {
	if err := tx.AppendJournal(ctx, entries); err != nil {
		return err
	}
	item, err := outboxItem(in, event, now)
	if err != nil {
		return err
	}
	return tx.Enqueue(ctx, []store.OutboxItem{item})
}

// ErrForbidden is returned when a caller acts outside its tenant.
var ErrForbidden = i18n.New("forbidden")

// Act performs a service-desk action and returns the updated incident.
func (s *Service) Act(ctx context.Context, c Caller, id int64, a incident.Action) (*incident.Incident, error) {
	if c.ReadOnly {
		return nil, i18n.Errorf("%s incident %s: %w: read-only role", a.Kind, s.name(id), ErrForbidden)
	}
	now := s.now()
	a = sanitizeAction(a)
	a.Actor = sanitize.Text(c.Name, 0)
	var (
		updated *incident.Incident
		res     incident.DeskResult
	)
	err := s.Store.Update(ctx, func(ctx context.Context, tx store.Tx) error {
		in, err := tx.Incident(ctx, c.Scope(), id)
		if err != nil {
			return err
		}
		if !c.SeesGroup(in.AssignmentGroup) {
			return store.ErrNotFound
		}
		p := s.Rules().Policy(in.Tenant)
		res, err = incident.Do(in, p, a, now)
		if err != nil {
			return err
		}
		stamp(res.Entries, c)
		if err := tx.UpdateIncident(ctx, in); err != nil {
			return err
		}
		if err := record(ctx, tx, in, res.Entries, res.Event, now); err != nil {
			return err
		}
		updated = in
		return nil
	})
	if err != nil {
		return nil, i18n.Errorf("%s incident %s: %w", a.Kind, s.name(id), err)
	}
	if s.Metrics != nil {
		pl := prio(updated.Priority)
		if res.Acknowledged {
			s.Metrics.MTTA.WithLabelValues(updated.Tenant, pl).Observe(updated.AcknowledgedAt.Sub(updated.CreatedAt).Seconds())
		}
		if res.Resolved {
			s.observeResolved(updated)
		}
		for _, k := range res.Breaches {
			s.observeBreaches([]breach{{updated.Tenant, updated.Priority, k}})
		}
	}
	return updated, nil
}

// stamp marks the journal lines the caller wrote with what the caller is: a named user or a
// credential's owner (the other lines are the system's).
func stamp(entries []incident.Entry, c Caller) {
	typ := incident.ActorTypeCredential
	if c.Person {
		typ = incident.ActorTypeUser
	}
	name := sanitize.Text(c.Name, 0)
	for i := range entries {
		if entries[i].Actor == name {
			entries[i].ActorType = typ
		}
	}
}

// sanitizeAction repairs the texts of a desk action, from the REST API's body
// or the page's form, before they reach the journal (see package sanitize).
// Lengths are the domain's to check (an over-long note is refused).
func sanitizeAction(a incident.Action) incident.Action {
	for _, f := range []*string{&a.Text, &a.Reason, &a.CloseCode, &a.AssignmentGroup, &a.Assignee} {
		*f = sanitize.Text(*f, 0)
	}
	return a
}

// Sweep applies time-driven rules (SLA breaches, auto-close) to the incidents
// that need it. It returns the number of incidents changed.
func (s *Service) Sweep(ctx context.Context, minCloseAfter time.Duration) (int, error) {
	now := s.now()
	cands, err := s.Store.SweepCandidates(ctx, now, now.Add(-minCloseAfter), 200)
	if err != nil {
		return 0, err
	}
	changed := 0
	for _, c := range cands {
		// The store may run the function more than once (a conflicting transaction is retried
		// on PostgreSQL): what it reports is reset on each run and counted after the commit.
		var bs []breach
		var did bool
		var resolved *incident.Incident
		err := s.Store.Update(ctx, func(ctx context.Context, tx store.Tx) error {
			bs, did, resolved = nil, false, nil
			in, err := tx.Incident(ctx, c.Tenant, c.ID)
			if err != nil {
				return err
			}
			before := in.State
			entries, breaches := incident.Sweep(in, s.Rules().Policy(in.Tenant), now)
			if len(entries) == 0 {
				return nil
			}
			if err := tx.UpdateIncident(ctx, in); err != nil {
				return err
			}
			if err := tx.AppendJournal(ctx, entries); err != nil {
				return err
			}
			for _, k := range breaches {
				bs = append(bs, breach{in.Tenant, in.Priority, k})
			}
			// Every change reaches the ticket systems now, SLA breaches included
			// (they must not wait for the incident's next change).
			{
				event := incident.EventSLABreach
				switch {
				case in.State == incident.StateResolved && before != in.State:
					event = incident.EventResolved
					resolved = in
				case in.State != before:
					event = incident.EventClosed
				case len(breaches) == 0:
					event = incident.EventUpdated
				}
				item, err := outboxItem(in, event, now)
				if err != nil {
					return err
				}
				if err := tx.Enqueue(ctx, []store.OutboxItem{item}); err != nil {
					return err
				}
			}
			did = true
			return nil
		})
		if err != nil {
			return changed, fmt.Errorf("sweep incident %d: %w", c.ID, err)
		}
		if did {
			changed++
		}
		if resolved != nil {
			s.observeResolved(resolved)
		}
		s.observeBreaches(bs)
	}
	return changed, nil
}
