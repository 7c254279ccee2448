package service

import (
	"context"

	"github.com/kizashi-dev/kizashi/webhook/i18n"
	"github.com/kizashi-dev/kizashi/webhook/incident"
	"github.com/kizashi-dev/kizashi/webhook/sanitize"
	"github.com/kizashi-dev/kizashi/webhook/store"
)

// tenants is what a configuration tells about its tenants (config.Config has it).
type tenants interface{ HasTenant(name string) bool }

// CreateManual opens an incident a person reports by hand (a phone call, an e-mail) in the
// caller's tenant (an operator names it), with its journal line and outbox entry in one
// transaction.
func (s *Service) CreateManual(ctx context.Context, c Caller, m incident.Manual) (*incident.Incident, error) {
	if c.ReadOnly {
		return nil, i18n.Errorf("create incident: %w: read-only role", ErrForbidden)
	}
	if !c.Operator {
		m.Tenant = c.Tenant
	}
	for _, f := range []*string{&m.Tenant, &m.Title, &m.Description, &m.Channel, &m.CI, &m.Category, &m.AssignmentGroup} {
		*f = sanitize.Text(*f, 0)
	}
	rules := s.Rules()
	if ts, ok := rules.(tenants); m.Tenant == "" || ok && !ts.HasTenant(m.Tenant) {
		return nil, i18n.Errorf("create incident: %w: unknown tenant %q", incident.ErrInvalid, m.Tenant)
	}
	now := s.now()
	in, entries, err := incident.NewManual(now, rules.Policy(m.Tenant), sanitize.Text(c.Name, 0), m)
	if err != nil {
		return nil, i18n.Errorf("create incident: %w", err)
	}
	if !c.SeesGroup(in.AssignmentGroup) {
		return nil, i18n.Errorf("create incident: %w: an operator limited to assignment groups opens incidents of its groups or unassigned ones, not of %q", ErrForbidden, in.AssignmentGroup)
	}
	err = s.Store.Update(ctx, func(ctx context.Context, tx store.Tx) error {
		in.ID, in.Version = 0, 0
		if err := tx.CreateIncident(ctx, in); err != nil {
			return err
		}
		es := make([]incident.Entry, len(entries))
		for i, e := range entries {
			e.IncidentID = in.ID
			es[i] = e
		}
		stamp(es, c)
		return record(ctx, tx, in, es, incident.EventCreated, now)
	})
	if err != nil {
		return nil, i18n.Errorf("create incident: %w", err)
	}
	if s.Metrics != nil {
		s.Metrics.IncidentsOpened.WithLabelValues(in.Tenant, prio(in.Priority)).Inc()
	}
	return in, nil
}
