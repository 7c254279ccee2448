package service

import (
	"context"

	"github.com/kizashi-dev/kizashi/webhook/i18n"
	"github.com/kizashi-dev/kizashi/webhook/incident"
	"github.com/kizashi-dev/kizashi/webhook/sanitize"
	"github.com/kizashi-dev/kizashi/webhook/store"
)

// Relate links or merges (incident.RelLink, incident.RelMerge) incident id with target, both
// in the caller's scope, in one transaction (journal and outbox of both). The journal names
// the incidents as callers know them (Service.Name).
func (s *Service) Relate(ctx context.Context, c Caller, kind string, id, target int64, text string) error {
	if c.ReadOnly {
		return i18n.Errorf("%s incident %s: %w: read-only role", kind, s.name(id), ErrForbidden)
	}
	now := s.now()
	text = sanitize.Text(text, 0)
	err := s.Store.Update(ctx, func(ctx context.Context, tx store.Tx) error {
		src, err := tx.Incident(ctx, c.Scope(), id)
		if err != nil {
			return err
		}
		dst, err := tx.Incident(ctx, c.Scope(), target)
		if err != nil {
			return err
		}
		if !c.SeesGroup(src.AssignmentGroup) || !c.SeesGroup(dst.AssignmentGroup) {
			return store.ErrNotFound
		}
		mute := s.Rules().Policy(src.Tenant).MuteWindow
		entries, err := incident.Relate(kind, src, dst, sanitize.Text(c.Name, 0), s.name(src.ID), s.name(dst.ID), text, mute, now)
		if err != nil {
			return err
		}
		stamp(entries, c)
		for i, in := range []*incident.Incident{src, dst} {
			if err := tx.UpdateIncident(ctx, in); err != nil {
				return err
			}
			event := incident.EventUpdated
			if i == 0 && kind == incident.RelMerge {
				event = incident.EventClosed
			}
			if err := record(ctx, tx, in, entries[i:i+1], event, now); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return i18n.Errorf("%s incident %s: %w", kind, s.name(id), err)
	}
	return nil
}
