package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/kizashi-dev/kizashi/webhook/incident"
	"github.com/kizashi-dev/kizashi/webhook/store"
)

// problemMigration adds problem management (issue 15): problems and the incidents they link,
// the problem journal, suppressed keys, major incidents and their customer updates, the
// detector's cursor, and an index for the audit-trail export of the journal by tenant. It
// creates only what does not exist, so that it may be renumbered when branches merge (and the
// forked-migration tests, which replay earlier versions on a current schema, pass).
const problemMigration = `
CREATE TABLE IF NOT EXISTS problems (
	id          {{ID}},
	tenant      TEXT NOT NULL,
	title       TEXT NOT NULL,
	state       TEXT NOT NULL,
	origin      TEXT NOT NULL,
	scope       TEXT NOT NULL,
	subject     TEXT NOT NULL,
	root_cause  TEXT NOT NULL,
	workaround  TEXT NOT NULL,
	known_error INTEGER NOT NULL,
	created_by  TEXT NOT NULL,
	created_at  BIGINT NOT NULL,
	updated_at  BIGINT NOT NULL,
	resolved_at BIGINT NOT NULL,
	closed_at   BIGINT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS problems_open_subject ON problems (tenant, scope, subject) WHERE state <> 'closed' AND scope <> '';
CREATE INDEX IF NOT EXISTS problems_tenant_created ON problems (tenant, created_at);

CREATE TABLE IF NOT EXISTS problem_incidents (
	problem_id  BIGINT NOT NULL,
	incident_id BIGINT NOT NULL,
	tenant      TEXT NOT NULL,
	linked_at   BIGINT NOT NULL,
	PRIMARY KEY (problem_id, incident_id)
);
CREATE INDEX IF NOT EXISTS problem_incidents_incident ON problem_incidents (incident_id);

CREATE TABLE IF NOT EXISTS problem_journal (
	id         {{ID}},
	tenant     TEXT NOT NULL,
	problem_id BIGINT NOT NULL,
	subject    TEXT NOT NULL,
	at         BIGINT NOT NULL,
	actor      TEXT NOT NULL,
	kind       TEXT NOT NULL,
	message    TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS problem_journal_problem ON problem_journal (tenant, problem_id, id);

CREATE TABLE IF NOT EXISTS suppressions (
	tenant     TEXT NOT NULL,
	key        TEXT NOT NULL,
	until      BIGINT NOT NULL,
	reason     TEXT NOT NULL,
	actor      TEXT NOT NULL,
	created_at BIGINT NOT NULL,
	PRIMARY KEY (tenant, key)
);

CREATE TABLE IF NOT EXISTS major_incidents (
	incident_id     BIGINT PRIMARY KEY,
	tenant          TEXT NOT NULL,
	declared_at     BIGINT NOT NULL,
	declared_by     TEXT NOT NULL,
	coordinator     TEXT NOT NULL,
	update_every    BIGINT NOT NULL,
	last_update_at  BIGINT NOT NULL,
	next_update_due BIGINT NOT NULL,
	ended_at        BIGINT NOT NULL,
	review_summary  TEXT NOT NULL,
	review_by       TEXT NOT NULL,
	review_at       BIGINT NOT NULL,
	problem_id      BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS major_incidents_tenant ON major_incidents (tenant, declared_at);

CREATE TABLE IF NOT EXISTS major_updates (
	id          {{ID}},
	tenant      TEXT NOT NULL,
	incident_id BIGINT NOT NULL,
	at          BIGINT NOT NULL,
	actor       TEXT NOT NULL,
	message     TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS major_updates_incident ON major_updates (incident_id, id);

CREATE TABLE IF NOT EXISTS cursors (
	name  TEXT PRIMARY KEY,
	value BIGINT NOT NULL
);

CREATE INDEX IF NOT EXISTS incidents_tenant_ci ON incidents (tenant, ci, created_at);
CREATE INDEX IF NOT EXISTS incidents_tenant_key_created ON incidents (tenant, correlation_key, created_at);
CREATE INDEX IF NOT EXISTS journal_tenant_id ON journal (tenant, id);
`

var _ store.Problems = (*Store)(nil)

const problemColumns = `id, tenant, title, state, origin, scope, subject, root_cause, workaround, known_error, created_by,
	created_at, updated_at, resolved_at, closed_at`

func problemArgs(p *store.Problem) []any {
	return []any{p.Tenant, p.Title, p.State, p.Origin, p.Scope, p.Subject, p.RootCause, p.Workaround, B2I(p.KnownError),
		p.CreatedBy, TS(p.CreatedAt), TS(p.UpdatedAt), TS(p.ResolvedAt), TS(p.ClosedAt)}
}

func scanProblems(rows *sql.Rows) ([]*store.Problem, error) {
	defer func() { _ = rows.Close() }()
	var out []*store.Problem
	for rows.Next() {
		var (
			p                                 store.Problem
			known                             int64
			created, updated, resolved, close int64
		)
		if err := rows.Scan(&p.ID, &p.Tenant, &p.Title, &p.State, &p.Origin, &p.Scope, &p.Subject, &p.RootCause,
			&p.Workaround, &known, &p.CreatedBy, &created, &updated, &resolved, &close); err != nil {
			return nil, err
		}
		p.KnownError = known != 0
		p.CreatedAt, p.UpdatedAt, p.ResolvedAt, p.ClosedAt = FromTS(created), FromTS(updated), FromTS(resolved), FromTS(close)
		out = append(out, &p)
	}
	return out, rows.Err()
}

func (t *tx) problemEntry(ctx context.Context, e store.ProblemEntry) error {
	_, err := t.exec(ctx, `INSERT INTO problem_journal (tenant, problem_id, subject, at, actor, kind, message) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		e.Tenant, e.ProblemID, e.Subject, TS(e.At), e.Actor, e.Kind, e.Message)
	return err
}

// journalOnIncident appends e to an incident's journal and queues an outbox item ("updated"),
// so that the forwarders bring the incident's tickets the new line, as every other change of
// an incident does.
func (t *tx) journalOnIncident(ctx context.Context, e incident.Entry) error {
	if err := t.AppendJournal(ctx, []incident.Entry{e}); err != nil {
		return err
	}
	payload, err := json.Marshal(map[string]any{"event": incident.EventUpdated, "incident_id": e.IncidentID, "tenant": e.Tenant,
		"kind": e.Kind, "at": e.At.Format(time.RFC3339Nano)})
	if err != nil {
		return err
	}
	return t.Enqueue(ctx, []store.OutboxItem{{Tenant: e.Tenant, IncidentID: e.IncidentID, Event: incident.EventUpdated, Payload: payload, CreatedAt: e.At}})
}

func (t *tx) link(ctx context.Context, tenant string, problemID, incidentID int64, at time.Time) (bool, error) {
	res, err := t.exec(ctx, `INSERT INTO problem_incidents (problem_id, incident_id, tenant, linked_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (problem_id, incident_id) DO NOTHING`, problemID, incidentID, tenant, TS(at))
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// CreateProblem implements store.Problems.
func (s *Store) CreateProblem(ctx context.Context, p *store.Problem, incidents []int64, e store.ProblemEntry) error {
	defer s.timed("create_problem")()
	var id int64
	err := s.write(ctx, func(ctx context.Context, t *tx) error {
		if p.Scope != store.ScopeNone {
			var n int
			if err := t.queryRow(ctx, `SELECT COUNT(*) FROM problems WHERE tenant = ? AND scope = ? AND subject = ? AND state <> 'closed'`,
				p.Tenant, p.Scope, p.Subject).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return store.ErrExists
			}
		}
		if err := t.queryRow(ctx, `INSERT INTO problems (tenant, title, state, origin, scope, subject, root_cause, workaround,
			known_error, created_by, created_at, updated_at, resolved_at, closed_at) VALUES (`+placeholders(14)+`) RETURNING id`,
			problemArgs(p)...).Scan(&id); err != nil {
			if s.d.IsUnique(err) {
				return store.ErrExists
			}
			return err
		}
		for _, in := range incidents {
			if _, err := t.link(ctx, p.Tenant, id, in, p.CreatedAt); err != nil {
				return err
			}
		}
		e.ProblemID = id
		return t.problemEntry(ctx, e)
	})
	if err != nil {
		return storeErr(err, "create problem")
	}
	p.ID = id
	return nil
}

// UpdateProblem implements store.Problems.
func (s *Store) UpdateProblem(ctx context.Context, p *store.Problem, e store.ProblemEntry) error {
	defer s.timed("update_problem")()
	err := s.write(ctx, func(ctx context.Context, t *tx) error {
		res, err := t.exec(ctx, `UPDATE problems SET title = ?, state = ?, origin = ?, scope = ?, subject = ?, root_cause = ?,
			workaround = ?, known_error = ?, created_by = ?, created_at = ?, updated_at = ?, resolved_at = ?, closed_at = ?
			WHERE id = ? AND tenant = ?`, append(problemArgs(p)[1:], p.ID, p.Tenant)...)
		if err != nil {
			if s.d.IsUnique(err) {
				return store.ErrExists
			}
			return err
		}
		if err := affected(res, store.ErrNotFound); err != nil {
			return err
		}
		e.ProblemID = p.ID
		return t.problemEntry(ctx, e)
	})
	return storeErr(err, "update problem")
}

// Problem implements store.Problems.
func (s *Store) Problem(ctx context.Context, tenant string, id int64) (*store.Problem, error) {
	q, args := `SELECT `+problemColumns+` FROM problems WHERE id = ?`, []any{id}
	if tenant != "" {
		q, args = q+` AND tenant = ?`, append(args, tenant)
	}
	rows, err := s.r.QueryContext(ctx, s.q(q), args...)
	if err != nil {
		return nil, fmt.Errorf("read problem: %w", err)
	}
	ps, err := scanProblems(rows)
	if err != nil {
		return nil, fmt.Errorf("read problem: %w", err)
	}
	if len(ps) == 0 {
		return nil, store.ErrNotFound
	}
	return ps[0], nil
}

// ListProblems implements store.Problems.
func (s *Store) ListProblems(ctx context.Context, f store.ProblemFilter) ([]*store.Problem, error) {
	defer s.timed("list_problems")()
	var (
		where = []string{"1 = 1"}
		args  []any
	)
	if f.Tenant != "" {
		where, args = append(where, "tenant = ?"), append(args, f.Tenant)
	}
	if f.OpenOnly {
		where = append(where, "state <> 'closed'")
	}
	if f.Scope != "" {
		where, args = append(where, "scope = ? AND subject = ?"), append(args, f.Scope, f.Subject)
	}
	if f.KnownError {
		where = append(where, "known_error = 1")
	}
	if !f.From.IsZero() {
		where, args = append(where, "created_at >= ?"), append(args, TS(f.From))
	}
	if !f.To.IsZero() {
		where, args = append(where, "created_at < ?"), append(args, TS(f.To))
	}
	limit := f.Limit
	if limit <= 0 || limit > MaxLimit {
		limit = MaxLimit
	}
	rows, err := s.r.QueryContext(ctx, s.q(`SELECT `+problemColumns+` FROM problems WHERE `+strings.Join(where, " AND ")+
		` ORDER BY id DESC LIMIT ?`), append(args, limit)...)
	if err != nil {
		return nil, fmt.Errorf("list problems: %w", err)
	}
	ps, err := scanProblems(rows)
	if err != nil {
		return nil, fmt.Errorf("list problems: %w", err)
	}
	return ps, nil
}

// LinkIncident implements store.Problems.
func (s *Store) LinkIncident(ctx context.Context, tenant string, problemID, incidentID int64, at time.Time, note *incident.Entry) (bool, error) {
	defer s.timed("link_incident")()
	var linked bool
	err := s.write(ctx, func(ctx context.Context, t *tx) error {
		var err error
		linked, err = t.link(ctx, tenant, problemID, incidentID, at)
		if err != nil || !linked || note == nil {
			return err
		}
		return t.journalOnIncident(ctx, *note)
	})
	if err != nil {
		return false, fmt.Errorf("link incident: %w", err)
	}
	return linked, nil
}

func (s *Store) ids(ctx context.Context, what, q string, args ...any) ([]int64, error) {
	rows, err := s.r.QueryContext(ctx, s.q(q), args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	defer func() { _ = rows.Close() }()
	var out []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		out = append(out, id)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return out, nil
}

// ProblemIncidents implements store.Problems.
func (s *Store) ProblemIncidents(ctx context.Context, problemID int64) ([]int64, error) {
	return s.ids(ctx, "problem incidents", `SELECT incident_id FROM problem_incidents WHERE problem_id = ? ORDER BY incident_id`, problemID)
}

// IncidentProblems implements store.Problems.
func (s *Store) IncidentProblems(ctx context.Context, incidentID int64) ([]int64, error) {
	return s.ids(ctx, "incident problems", `SELECT problem_id FROM problem_incidents WHERE incident_id = ? ORDER BY problem_id`, incidentID)
}

// ProblemJournal implements store.Problems.
func (s *Store) ProblemJournal(ctx context.Context, tenant string, problemID int64) ([]store.ProblemEntry, error) {
	rows, err := s.r.QueryContext(ctx, s.q(`SELECT id, tenant, problem_id, subject, at, actor, kind, message FROM problem_journal
		WHERE tenant = ? AND problem_id = ? ORDER BY id`), tenant, problemID)
	if err != nil {
		return nil, fmt.Errorf("problem journal: %w", err)
	}
	defer func() { _ = rows.Close() }()
	var out []store.ProblemEntry
	for rows.Next() {
		var (
			e  store.ProblemEntry
			at int64
		)
		if err := rows.Scan(&e.ID, &e.Tenant, &e.ProblemID, &e.Subject, &at, &e.Actor, &e.Kind, &e.Message); err != nil {
			return nil, fmt.Errorf("problem journal: %w", err)
		}
		e.At = FromTS(at)
		out = append(out, e)
	}
	return out, rows.Err()
}

// Suppress implements store.Problems.
func (s *Store) Suppress(ctx context.Context, sp store.Suppression, e store.ProblemEntry) error {
	defer s.timed("suppress")()
	err := s.write(ctx, func(ctx context.Context, t *tx) error {
		if _, err := t.exec(ctx, `INSERT INTO suppressions (tenant, key, until, reason, actor, created_at) VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (tenant, key) DO UPDATE SET until = excluded.until, reason = excluded.reason, actor = excluded.actor,
			created_at = excluded.created_at`, sp.Tenant, sp.Key, TS(sp.Until), sp.Reason, sp.Actor, TS(sp.CreatedAt)); err != nil {
			return err
		}
		return t.problemEntry(ctx, e)
	})
	if err != nil {
		return fmt.Errorf("suppress: %w", err)
	}
	return nil
}

func (s *Store) suppressions(ctx context.Context, q string, args ...any) ([]store.Suppression, error) {
	rows, err := s.r.QueryContext(ctx, s.q(`SELECT tenant, key, until, reason, actor, created_at FROM suppressions WHERE `+q), args...)
	if err != nil {
		return nil, fmt.Errorf("suppressions: %w", err)
	}
	defer func() { _ = rows.Close() }()
	var out []store.Suppression
	for rows.Next() {
		var (
			sp             store.Suppression
			until, created int64
		)
		if err := rows.Scan(&sp.Tenant, &sp.Key, &until, &sp.Reason, &sp.Actor, &created); err != nil {
			return nil, fmt.Errorf("suppressions: %w", err)
		}
		sp.Until, sp.CreatedAt = FromTS(until), FromTS(created)
		out = append(out, sp)
	}
	return out, rows.Err()
}

// Suppressed implements store.Problems.
func (s *Store) Suppressed(ctx context.Context, tenant, key string, now time.Time) (*store.Suppression, error) {
	sps, err := s.suppressions(ctx, `tenant = ? AND key = ? AND until > ?`, tenant, key, TS(now))
	if err != nil || len(sps) == 0 {
		return nil, err
	}
	return &sps[0], nil
}

// Suppressions implements store.Problems.
func (s *Store) Suppressions(ctx context.Context, tenant string, now time.Time) ([]store.Suppression, error) {
	if tenant == "" {
		return s.suppressions(ctx, `until > ? ORDER BY tenant, key`, TS(now))
	}
	return s.suppressions(ctx, `tenant = ? AND until > ? ORDER BY key`, tenant, TS(now))
}

// RecurringIncidents implements store.Problems.
func (s *Store) RecurringIncidents(ctx context.Context, tenant, scope, subject string, from, to time.Time) ([]int64, error) {
	col := "correlation_key"
	switch scope {
	case store.ScopeKey:
	case store.ScopeCI:
		col = "ci"
	default:
		return nil, fmt.Errorf("recurring incidents: unknown scope %q", scope)
	}
	return s.ids(ctx, "recurring incidents", `SELECT id FROM incidents WHERE tenant = ? AND `+col+` = ? AND created_at >= ? AND created_at <= ? ORDER BY id`,
		tenant, subject, TS(from), TS(to))
}

func (s *Store) incidents(ctx context.Context, what, q string, args ...any) ([]*incident.Incident, error) {
	rows, err := s.r.QueryContext(ctx, s.q(`SELECT `+IncidentColumns+` FROM incidents WHERE `+q), args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	ins, err := ScanIncidents(rows)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return ins, nil
}

// IncidentsAfter implements store.Problems.
func (s *Store) IncidentsAfter(ctx context.Context, afterID int64, limit int) ([]*incident.Incident, error) {
	return s.incidents(ctx, "incidents after", `id > ? ORDER BY id LIMIT ?`, afterID, limit)
}

// FlappingIncidents implements store.Problems.
func (s *Store) FlappingIncidents(ctx context.Context, limit int) ([]*incident.Incident, error) {
	return s.incidents(ctx, "flapping incidents", `flapping = 1 AND state NOT IN ('closed', 'canceled') ORDER BY id LIMIT ?`, limit)
}

// Cursor implements store.Problems.
func (s *Store) Cursor(ctx context.Context, name string) (int64, error) {
	var v int64
	err := s.r.QueryRowContext(ctx, s.q(`SELECT value FROM cursors WHERE name = ?`), name).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read cursor: %w", err)
	}
	return v, nil
}

// SetCursor implements store.Problems. A cursor only moves forward (replicas may race).
func (s *Store) SetCursor(ctx context.Context, name string, v int64) error {
	err := s.write(ctx, func(ctx context.Context, t *tx) error {
		_, err := t.exec(ctx, `INSERT INTO cursors (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value
			WHERE cursors.value < excluded.value`, name, v)
		return err
	})
	if err != nil {
		return fmt.Errorf("set cursor: %w", err)
	}
	return nil
}

const majorColumns = `tenant, incident_id, declared_at, declared_by, coordinator, update_every, last_update_at, next_update_due,
	ended_at, review_summary, review_by, review_at, problem_id`

// DeclareMajor implements store.Problems.
func (s *Store) DeclareMajor(ctx context.Context, m store.MajorIncident, e incident.Entry) error {
	defer s.timed("declare_major")()
	err := s.write(ctx, func(ctx context.Context, t *tx) error {
		res, err := t.exec(ctx, `INSERT INTO major_incidents (`+majorColumns+`) VALUES (`+placeholders(13)+`)
			ON CONFLICT (incident_id) DO NOTHING`, m.Tenant, m.IncidentID, TS(m.DeclaredAt), m.DeclaredBy, m.Coordinator,
			int64(m.UpdateEvery), TS(m.LastUpdateAt), TS(m.NextUpdateDue), TS(m.EndedAt), m.ReviewSummary, m.ReviewBy,
			TS(m.ReviewAt), m.ProblemID)
		if err != nil {
			return err
		}
		if err := affected(res, store.ErrExists); err != nil {
			return err
		}
		return t.journalOnIncident(ctx, e)
	})
	return storeErr(err, "declare major incident")
}

// UpdateMajor implements store.Problems.
func (s *Store) UpdateMajor(ctx context.Context, m store.MajorIncident, e incident.Entry) error {
	defer s.timed("update_major")()
	err := s.write(ctx, func(ctx context.Context, t *tx) error {
		res, err := t.exec(ctx, `UPDATE major_incidents SET coordinator = ?, update_every = ?, next_update_due = ?, ended_at = ?,
			review_summary = ?, review_by = ?, review_at = ?, problem_id = ? WHERE tenant = ? AND incident_id = ?`,
			m.Coordinator, int64(m.UpdateEvery), TS(m.NextUpdateDue), TS(m.EndedAt), m.ReviewSummary, m.ReviewBy, TS(m.ReviewAt),
			m.ProblemID, m.Tenant, m.IncidentID)
		if err != nil {
			return err
		}
		if err := affected(res, store.ErrNotFound); err != nil {
			return err
		}
		return t.journalOnIncident(ctx, e)
	})
	return storeErr(err, "update major incident")
}

func (s *Store) majors(ctx context.Context, q string, args ...any) ([]store.MajorIncident, error) {
	rows, err := s.r.QueryContext(ctx, s.q(`SELECT `+majorColumns+` FROM major_incidents WHERE `+q), args...)
	if err != nil {
		return nil, fmt.Errorf("major incidents: %w", err)
	}
	defer func() { _ = rows.Close() }()
	var out []store.MajorIncident
	for rows.Next() {
		var (
			m                                       store.MajorIncident
			declared, every, last, next, end, revAt int64
		)
		if err := rows.Scan(&m.Tenant, &m.IncidentID, &declared, &m.DeclaredBy, &m.Coordinator, &every, &last, &next, &end,
			&m.ReviewSummary, &m.ReviewBy, &revAt, &m.ProblemID); err != nil {
			return nil, fmt.Errorf("major incidents: %w", err)
		}
		m.DeclaredAt, m.UpdateEvery, m.LastUpdateAt, m.NextUpdateDue = FromTS(declared), time.Duration(every), FromTS(last), FromTS(next)
		m.EndedAt, m.ReviewAt = FromTS(end), FromTS(revAt)
		out = append(out, m)
	}
	return out, rows.Err()
}

// Major implements store.Problems.
func (s *Store) Major(ctx context.Context, tenant string, incidentID int64) (*store.MajorIncident, error) {
	q, args := `incident_id = ?`, []any{incidentID}
	if tenant != "" {
		q, args = q+` AND tenant = ?`, append(args, tenant)
	}
	ms, err := s.majors(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	if len(ms) == 0 {
		return nil, store.ErrNotFound
	}
	return &ms[0], nil
}

// ListMajors implements store.Problems.
func (s *Store) ListMajors(ctx context.Context, tenant string, from, to, dueAt time.Time) ([]store.MajorIncident, error) {
	var (
		where = []string{"1 = 1"}
		args  []any
	)
	if tenant != "" {
		where, args = append(where, "tenant = ?"), append(args, tenant)
	}
	if !from.IsZero() {
		where, args = append(where, "declared_at >= ?"), append(args, TS(from))
	}
	if !to.IsZero() {
		where, args = append(where, "declared_at < ?"), append(args, TS(to))
	}
	if !dueAt.IsZero() {
		where, args = append(where, "ended_at = 0 AND next_update_due <> 0 AND next_update_due <= ?"), append(args, TS(dueAt))
	}
	return s.majors(ctx, strings.Join(where, " AND ")+` ORDER BY declared_at, incident_id LIMIT ?`, append(args, MaxLimit)...)
}

// AddMajorUpdate implements store.Problems.
func (s *Store) AddMajorUpdate(ctx context.Context, u *store.MajorUpdate, next time.Time) error {
	defer s.timed("major_update")()
	var id int64
	err := s.write(ctx, func(ctx context.Context, t *tx) error {
		res, err := t.exec(ctx, `UPDATE major_incidents SET last_update_at = ?, next_update_due = ? WHERE tenant = ? AND incident_id = ?`,
			TS(u.At), TS(next), u.Tenant, u.IncidentID)
		if err != nil {
			return err
		}
		if err := affected(res, store.ErrNotFound); err != nil {
			return err
		}
		if err := t.queryRow(ctx, `INSERT INTO major_updates (tenant, incident_id, at, actor, message) VALUES (?, ?, ?, ?, ?) RETURNING id`,
			u.Tenant, u.IncidentID, TS(u.At), u.Actor, u.Message).Scan(&id); err != nil {
			return err
		}
		return t.journalOnIncident(ctx, incident.Entry{Tenant: u.Tenant, IncidentID: u.IncidentID, At: u.At, Actor: u.Actor,
			Kind: store.KindCustomerUpdate, Message: u.Message})
	})
	if err != nil {
		return storeErr(err, "major incident update")
	}
	u.ID = id
	return nil
}

// MajorUpdates implements store.Problems.
func (s *Store) MajorUpdates(ctx context.Context, tenant string, incidentID int64) ([]store.MajorUpdate, error) {
	rows, err := s.r.QueryContext(ctx, s.q(`SELECT id, tenant, incident_id, at, actor, message FROM major_updates
		WHERE tenant = ? AND incident_id = ? ORDER BY id`), tenant, incidentID)
	if err != nil {
		return nil, fmt.Errorf("major updates: %w", err)
	}
	defer func() { _ = rows.Close() }()
	var out []store.MajorUpdate
	for rows.Next() {
		var (
			u  store.MajorUpdate
			at int64
		)
		if err := rows.Scan(&u.ID, &u.Tenant, &u.IncidentID, &at, &u.Actor, &u.Message); err != nil {
			return nil, fmt.Errorf("major updates: %w", err)
		}
		u.At = FromTS(at)
		out = append(out, u)
	}
	return out, rows.Err()
}

// JournalRange implements store.Problems.
func (s *Store) JournalRange(ctx context.Context, tenant string, from, to time.Time, afterID int64, limit int) ([]incident.Entry, error) {
	where, args := []string{"id > ?"}, []any{afterID}
	if tenant != "" {
		where, args = append(where, "tenant = ?"), append(args, tenant)
	}
	if !from.IsZero() {
		where, args = append(where, "at >= ?"), append(args, TS(from))
	}
	if !to.IsZero() {
		where, args = append(where, "at < ?"), append(args, TS(to))
	}
	if limit <= 0 || limit > MaxLimit {
		limit = MaxLimit
	}
	rows, err := s.r.QueryContext(ctx, s.q(`SELECT id, tenant, incident_id, at, actor, kind, message FROM journal WHERE `+
		strings.Join(where, " AND ")+` ORDER BY id LIMIT ?`), append(args, limit)...)
	if err != nil {
		return nil, fmt.Errorf("journal range: %w", err)
	}
	defer func() { _ = rows.Close() }()
	var out []incident.Entry
	for rows.Next() {
		var (
			e  incident.Entry
			at int64
		)
		if err := rows.Scan(&e.ID, &e.Tenant, &e.IncidentID, &at, &e.Actor, &e.Kind, &e.Message); err != nil {
			return nil, fmt.Errorf("journal range: %w", err)
		}
		e.At = FromTS(at)
		out = append(out, e)
	}
	return out, rows.Err()
}

// affected is nil when res changed a row, else none (store.ErrNotFound, store.ErrExists) or
// the driver's error.
func affected(res sql.Result, none error) error {
	n, err := res.RowsAffected()
	if err == nil && n == 0 {
		err = none
	}
	return err
}

// storeErr returns the store's sentinel errors (store.ErrExists, store.ErrNotFound) as they
// are, and any other error with what was being done.
func storeErr(err error, what string) error {
	if err == nil || errors.Is(err, store.ErrExists) || errors.Is(err, store.ErrNotFound) {
		return err
	}
	return fmt.Errorf("%s: %w", what, err)
}
