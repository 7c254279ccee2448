package sqlstore

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/kizashi-dev/kizashi/webhook/incident"
	"github.com/kizashi-dev/kizashi/webhook/store"
)

// MaxLimit bounds a page of incidents.
const MaxLimit = 500

func (s *Store) timed(op string) func() {
	start := time.Now()
	return func() { s.observe(op, time.Since(start).Seconds()) }
}

// ListIncidents implements store.Store.
func (s *Store) ListIncidents(ctx context.Context, f store.Filter) ([]*incident.Incident, error) {
	defer s.timed("list")()
	var (
		where []string
		args  []any
	)
	if f.Tenant != "" {
		where, args = append(where, "tenant = ?"), append(args, f.Tenant)
	}
	if len(f.States) > 0 {
		ph := make([]string, len(f.States))
		for i, st := range f.States {
			ph[i] = "?"
			args = append(args, string(st))
		}
		where = append(where, "state IN ("+strings.Join(ph, ", ")+")")
	}
	if f.OpenOnly {
		where = append(where, "state NOT IN ('closed', 'canceled')")
	}
	if f.Priority > 0 {
		where, args = append(where, "priority = ?"), append(args, f.Priority)
	}
	if f.Assignee != "" {
		where, args = append(where, "assignee = ?"), append(args, f.Assignee)
	}
	if f.AssignmentGroup != "" {
		where, args = append(where, "assignment_group = ?"), append(args, f.AssignmentGroup)
	}
	if f.Groups != nil {
		cond := "assignment_group = ''"
		for _, g := range f.Groups {
			cond += " OR assignment_group = ?"
			args = append(args, g)
		}
		where = append(where, "("+cond+")")
	}
	if f.Search != "" {
		where, args = append(where, `LOWER(title) LIKE ? ESCAPE '\'`), append(args, "%"+likeEscape(strings.ToLower(f.Search))+"%")
	}
	if f.BeforeID > 0 {
		where, args = append(where, "id < ?"), append(args, f.BeforeID)
	}
	if !f.ActiveTo.IsZero() {
		where, args = append(where, "created_at <= ?"), append(args, TS(f.ActiveTo))
	}
	if !f.ActiveFrom.IsZero() {
		// The end of an incident is its resolution, else its closing (canceled ones); 0 = open.
		where = append(where, "(CASE WHEN resolved_at > 0 THEN resolved_at ELSE closed_at END = 0 OR "+
			"CASE WHEN resolved_at > 0 THEN resolved_at ELSE closed_at END >= ?)")
		args = append(args, TS(f.ActiveFrom))
	}
	limit := f.Limit
	if limit <= 0 || limit > MaxLimit {
		limit = MaxLimit
	}
	q := `SELECT ` + IncidentColumns + ` FROM incidents`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += fmt.Sprintf(" ORDER BY id DESC LIMIT %d", limit)
	rows, err := s.r.QueryContext(ctx, s.q(q), args...)
	if err != nil {
		return nil, fmt.Errorf("list incidents: %w", err)
	}
	out, err := scanIncidents(rows)
	if err != nil {
		return nil, fmt.Errorf("list incidents: %w", err)
	}
	return out, nil
}

// Incident implements store.Store.
func (s *Store) Incident(ctx context.Context, tenant string, id int64) (*incident.Incident, error) {
	defer s.timed("get")()
	q, args := qIncidentAny, []any{id}
	if tenant != "" {
		q, args = qIncidentTenant, []any{id, tenant}
	}
	rows, err := s.r.QueryContext(ctx, s.q(q), args...)
	if err != nil {
		return nil, fmt.Errorf("get incident %d: %w", id, err)
	}
	out, err := scanIncidents(rows)
	if err != nil {
		return nil, fmt.Errorf("get incident %d: %w", id, err)
	}
	if len(out) == 0 {
		return nil, store.ErrNotFound
	}
	return out[0], nil
}

// Alerts implements store.Store.
func (s *Store) Alerts(ctx context.Context, incidentID int64) ([]incident.Alert, error) {
	defer s.timed("alerts")()
	rows, err := s.r.QueryContext(ctx, s.q(qAlerts), incidentID)
	if err != nil {
		return nil, fmt.Errorf("list alerts: %w", err)
	}
	return scanAlerts(rows)
}

// Journal implements store.Store.
func (s *Store) Journal(ctx context.Context, incidentID int64) (_ []incident.Entry, err error) {
	defer s.timed("journal")()
	rows, err := s.r.QueryContext(ctx, s.q(`SELECT id, tenant, incident_id, at, actor, actor_type, kind, message FROM journal WHERE incident_id = ? ORDER BY id`), incidentID)
	if err != nil {
		return nil, fmt.Errorf("list journal: %w", err)
	}
	defer closeRows(rows, &err)
	var out []incident.Entry
	for rows.Next() {
		var (
			e  incident.Entry
			at int64
		)
		if err := rows.Scan(&e.ID, &e.Tenant, &e.IncidentID, &at, &e.Actor, &e.ActorType, &e.Kind, &e.Message); err != nil {
			return nil, fmt.Errorf("scan journal: %w", err)
		}
		e.At = FromTS(at)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read journal: %w", err)
	}
	return out, nil
}

// Outbox implements store.Store.
func (s *Store) Outbox(ctx context.Context, afterID int64, limit int) (_ []store.OutboxItem, err error) {
	if limit <= 0 || limit > MaxLimit {
		limit = MaxLimit
	}
	rows, err := s.r.QueryContext(ctx, s.q(fmt.Sprintf(`SELECT id, tenant, incident_id, event, payload, created_at FROM outbox WHERE id > ? ORDER BY id LIMIT %d`, limit)), afterID)
	if err != nil {
		return nil, fmt.Errorf("list outbox: %w", err)
	}
	defer closeRows(rows, &err)
	var out []store.OutboxItem
	for rows.Next() {
		var (
			it      store.OutboxItem
			payload string
			at      int64
		)
		if err := rows.Scan(&it.ID, &it.Tenant, &it.IncidentID, &it.Event, &payload, &at); err != nil {
			return nil, fmt.Errorf("scan outbox: %w", err)
		}
		it.Payload, it.CreatedAt = []byte(payload), FromTS(at)
		out = append(out, it)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read outbox: %w", err)
	}
	return out, nil
}

// SweepCandidates implements store.Store.
func (s *Store) SweepCandidates(ctx context.Context, now, resolvedBefore time.Time, limit int) ([]*incident.Incident, error) {
	defer s.timed("sweep")()
	if limit <= 0 || limit > MaxLimit {
		limit = MaxLimit
	}
	n := TS(now)
	q := `SELECT ` + IncidentColumns + ` FROM incidents WHERE
		(state IN ('new', 'in_progress') AND (
			(acknowledged_at = 0 AND response_due > 0 AND response_due < ? AND response_breached_at = 0) OR
			(resolve_due > 0 AND resolve_due < ? AND resolve_breached_at = 0)))
		OR (state = 'resolved' AND resolved_at < ?)
		OR (state IN ('new', 'in_progress', 'on_hold') AND flapping = 1 AND firing_alerts = 0)
		ORDER BY id LIMIT ` + fmt.Sprint(limit)
	rows, err := s.r.QueryContext(ctx, s.q(q), n, n, TS(resolvedBefore))
	if err != nil {
		return nil, fmt.Errorf("sweep candidates: %w", err)
	}
	out, err := scanIncidents(rows)
	if err != nil {
		return nil, fmt.Errorf("sweep candidates: %w", err)
	}
	return out, nil
}

// OpenCounts implements store.Store.
func (s *Store) OpenCounts(ctx context.Context) (_ []store.OpenCount, err error) {
	defer s.timed("count")()
	rows, err := s.r.QueryContext(ctx, `SELECT tenant, priority, state, COUNT(*) FROM incidents WHERE state IN ('new', 'in_progress', 'on_hold') GROUP BY tenant, priority, state`)
	if err != nil {
		return nil, fmt.Errorf("count open incidents: %w", err)
	}
	defer closeRows(rows, &err)
	var out []store.OpenCount
	for rows.Next() {
		var (
			c     store.OpenCount
			state string
		)
		if err := rows.Scan(&c.Tenant, &c.Priority, &state, &c.Count); err != nil {
			return nil, fmt.Errorf("scan counts: %w", err)
		}
		c.State = incident.State(state)
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read counts: %w", err)
	}
	return out, nil
}

// Counts implements store.Store.
func (s *Store) Counts(ctx context.Context) (store.Counts, error) {
	var c store.Counts
	err := s.r.QueryRowContext(ctx, `SELECT
		(SELECT COUNT(*) FROM notifications),
		(SELECT COALESCE(SUM(duplicates), 0) FROM notifications),
		(SELECT COUNT(*) FROM incidents),
		(SELECT COUNT(*) FROM journal),
		(SELECT COUNT(*) FROM outbox)`).Scan(&c.Notifications, &c.Duplicates, &c.Incidents, &c.JournalLines, &c.OutboxItems)
	if err != nil {
		return c, fmt.Errorf("count rows: %w", err)
	}
	return c, nil
}

// KPIIncidents implements store.Store: the incidents with the fields the KPIs read only.
func (s *Store) KPIIncidents(ctx context.Context, tenant string, from, to time.Time) (_ []*incident.Incident, err error) {
	defer s.timed("kpi")()
	q := `SELECT id, tenant, priority, state, created_at, acknowledged_at, resolved_at, closed_at, paused_total,
		response_due, resolve_due, response_breached_at, resolve_breached_at FROM incidents WHERE 1 = 1`
	var args []any
	if tenant != "" {
		q, args = q+` AND tenant = ?`, append(args, tenant)
	}
	if !from.IsZero() {
		q, args = q+` AND created_at >= ?`, append(args, TS(from))
	}
	if !to.IsZero() {
		q, args = q+` AND created_at < ?`, append(args, TS(to))
	}
	rows, err := s.r.QueryContext(ctx, s.q(q+` ORDER BY id`), args...)
	if err != nil {
		return nil, fmt.Errorf("kpi incidents: %w", err)
	}
	defer closeRows(rows, &err)
	var out []*incident.Incident
	for rows.Next() {
		var (
			in                                         incident.Incident
			state                                      string
			created, acked, resolved, closed, paused   int64
			respDue, resDue, respBreached, resBreached int64
		)
		if err := rows.Scan(&in.ID, &in.Tenant, &in.Priority, &state, &created, &acked, &resolved, &closed, &paused,
			&respDue, &resDue, &respBreached, &resBreached); err != nil {
			return nil, fmt.Errorf("scan kpi incident: %w", err)
		}
		in.State = incident.State(state)
		in.CreatedAt, in.AcknowledgedAt, in.ResolvedAt, in.ClosedAt = FromTS(created), FromTS(acked), FromTS(resolved), FromTS(closed)
		in.PausedTotal = time.Duration(paused)
		in.ResponseDue, in.ResolveDue = FromTS(respDue), FromTS(resDue)
		in.ResponseBreachedAt, in.ResolveBreachedAt = FromTS(respBreached), FromTS(resBreached)
		out = append(out, &in)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read kpi incidents: %w", err)
	}
	return out, nil
}
