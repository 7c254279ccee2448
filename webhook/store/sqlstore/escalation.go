package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/kizashi-dev/kizashi/webhook/incident"
	"github.com/kizashi-dev/kizashi/webhook/sanitize"
	"github.com/kizashi-dev/kizashi/webhook/store"
)

var _ store.Escalating = (*Store)(nil)

// escalationMigration adds escalation steps: an outbox of notifications to
// people, one row per (incident, step), leased like forward_jobs. Append it to
// migrations (the lead numbers it). It creates only what does not exist, so that the
// forked-migration tests, which replay earlier versions on a current schema, pass.
const escalationMigration = `
CREATE TABLE IF NOT EXISTS escalation_steps (
	id          {{ID}},
	tenant      TEXT NOT NULL,
	incident_id BIGINT NOT NULL,
	policy      TEXT NOT NULL,
	seq         INTEGER NOT NULL,
	level       INTEGER NOT NULL,
	round       INTEGER NOT NULL,
	due_at      BIGINT NOT NULL,
	delivered   TEXT NOT NULL DEFAULT '[]',
	attempts    INTEGER NOT NULL DEFAULT 0,
	lease_owner TEXT NOT NULL DEFAULT '',
	lease_until BIGINT NOT NULL DEFAULT 0,
	outcome     TEXT NOT NULL DEFAULT '',
	done_at     BIGINT NOT NULL DEFAULT 0,
	last_error  TEXT NOT NULL DEFAULT '',
	created_at  BIGINT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS escalation_steps_key ON escalation_steps (incident_id, seq);
CREATE INDEX IF NOT EXISTS escalation_steps_due ON escalation_steps (due_at) WHERE outcome = '';
`

const stepColumns = `id, tenant, incident_id, policy, seq, level, round, due_at, delivered, attempts, lease_until, outcome, done_at, last_error, created_at`

func scanSteps(rows *sql.Rows) (_ []store.EscalationStep, err error) {
	defer closeRows(rows, &err)
	var out []store.EscalationStep
	for rows.Next() {
		var (
			s                    store.EscalationStep
			due, lease, done, cr int64
			delivered            string
		)
		if err := rows.Scan(&s.ID, &s.Tenant, &s.IncidentID, &s.Policy, &s.Seq, &s.Level, &s.Round, &due, &delivered, &s.Attempts,
			&lease, &s.Outcome, &done, &s.LastError, &cr); err != nil {
			return nil, fmt.Errorf("scan escalation step: %w", err)
		}
		if err := json.Unmarshal([]byte(delivered), &s.Delivered); err != nil {
			return nil, fmt.Errorf("escalation step %d: delivered: %w", s.ID, err)
		}
		s.DueAt, s.LeaseUntil, s.DoneAt, s.CreatedAt = FromTS(due), FromTS(lease), FromTS(done), FromTS(cr)
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read escalation steps: %w", err)
	}
	return out, nil
}

// StartEscalations implements store.Escalating.
func (s *Store) StartEscalations(ctx context.Context, tenant, policy string, priorities []int, since, now time.Time) (int, error) {
	if len(priorities) == 0 {
		return 0, nil
	}
	args := []any{policy, TS(now), TS(now), tenant}
	for _, p := range priorities {
		args = append(args, p)
	}
	args = append(args, TS(since))
	var n int64
	err := s.write(ctx, func(ctx context.Context, t *tx) error {
		res, err := t.exec(ctx, `INSERT INTO escalation_steps (tenant, incident_id, policy, seq, level, round, due_at, created_at)
			SELECT tenant, id, ?, 0, 0, 1, ?, ? FROM incidents
			WHERE tenant = ? AND state = 'new' AND acknowledged_at = 0 AND priority IN (`+placeholders(len(priorities))+`) AND created_at >= ?
				AND NOT EXISTS (SELECT 1 FROM escalation_steps e WHERE e.incident_id = incidents.id)
			ON CONFLICT (incident_id, seq) DO NOTHING`, args...)
		if err != nil {
			return fmt.Errorf("start escalations: %w", err)
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("start escalations of %s: %w", tenant, err)
	}
	return int(n), nil
}

// ClaimSteps implements store.Escalating.
func (s *Store) ClaimSteps(ctx context.Context, owner string, now, leaseUntil time.Time, limit int) ([]store.EscalationStep, error) {
	if limit <= 0 {
		return nil, nil
	}
	var out []store.EscalationStep
	n := TS(now)
	err := s.write(ctx, func(ctx context.Context, t *tx) error {
		rows, err := t.query(ctx, fmt.Sprintf(`UPDATE escalation_steps SET lease_owner = ?, lease_until = ?
			WHERE id IN (SELECT id FROM escalation_steps WHERE outcome = '' AND due_at <= ? AND lease_until <= ?
				ORDER BY due_at, id LIMIT %d%s)
			RETURNING `+stepColumns, limit, s.skipLocked()), owner, TS(leaseUntil), n, n)
		if err != nil {
			return fmt.Errorf("claim escalation steps: %w", err)
		}
		out, err = scanSteps(rows)
		return err
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b store.EscalationStep) int { return a.DueAt.Compare(b.DueAt) })
	return out, nil
}

// MarkDelivered implements store.Escalating.
func (s *Store) MarkDelivered(ctx context.Context, stepID int64, owner, delivery string) error {
	return s.write(ctx, func(ctx context.Context, t *tx) error {
		var raw string
		if err := t.queryRow(ctx, `SELECT delivered FROM escalation_steps WHERE id = ? AND lease_owner = ? AND outcome = ''`, stepID, owner).Scan(&raw); err != nil {
			if err == sql.ErrNoRows {
				return fmt.Errorf("escalation step %d: lease lost", stepID)
			}
			return fmt.Errorf("read escalation step: %w", err)
		}
		var d []string
		if err := json.Unmarshal([]byte(raw), &d); err != nil {
			return fmt.Errorf("escalation step %d: delivered: %w", stepID, err)
		}
		if slices.Contains(d, delivery) {
			return nil
		}
		b, err := json.Marshal(append(d, sanitize.Text(delivery, 0)))
		if err != nil {
			return err
		}
		_, err = t.exec(ctx, `UPDATE escalation_steps SET delivered = ? WHERE id = ?`, string(b), stepID)
		return err
	})
}

// FinishStep implements store.Escalating.
func (s *Store) FinishStep(ctx context.Context, stepID int64, owner, outcome string, at time.Time, next *store.EscalationStep, journal []incident.Entry) (bool, error) {
	var ok bool
	err := s.write(ctx, func(ctx context.Context, t *tx) error {
		ok = false
		res, err := t.exec(ctx, `UPDATE escalation_steps SET outcome = ?, done_at = ?, lease_owner = '', lease_until = 0
			WHERE id = ? AND lease_owner = ? AND outcome = ''`, outcome, TS(at), stepID, owner)
		if err != nil {
			return fmt.Errorf("finish escalation step: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil || n != 1 {
			return err
		}
		if next != nil {
			if _, err := t.exec(ctx, `INSERT INTO escalation_steps (tenant, incident_id, policy, seq, level, round, due_at, created_at)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (incident_id, seq) DO NOTHING`,
				next.Tenant, next.IncidentID, next.Policy, next.Seq, next.Level, next.Round, TS(next.DueAt), TS(at)); err != nil {
				return fmt.Errorf("create next escalation step: %w", err)
			}
		}
		for i := range journal {
			journal[i].Message = sanitize.Text(journal[i].Message, 0)
		}
		if err := t.AppendJournal(ctx, journal); err != nil {
			return err
		}
		ok = true
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("finish escalation step %d: %w", stepID, err)
	}
	return ok, nil
}

// RetryStep implements store.Escalating.
func (s *Store) RetryStep(ctx context.Context, stepID int64, owner, lastError string, next time.Time) error {
	return s.write(ctx, func(ctx context.Context, t *tx) error {
		_, err := t.exec(ctx, `UPDATE escalation_steps SET attempts = attempts + 1, last_error = ?, due_at = ?, lease_owner = '', lease_until = 0
			WHERE id = ? AND lease_owner = ? AND outcome = ''`, sanitize.Text(strings.TrimSpace(lastError), 1024), TS(next), stepID, owner)
		if err != nil {
			return fmt.Errorf("retry escalation step %d: %w", stepID, err)
		}
		return nil
	})
}

// EscalationSteps implements store.Escalating.
func (s *Store) EscalationSteps(ctx context.Context, incidentID int64) ([]store.EscalationStep, error) {
	rows, err := s.r.QueryContext(ctx, s.q(`SELECT `+stepColumns+` FROM escalation_steps WHERE incident_id = ? ORDER BY seq`), incidentID)
	if err != nil {
		return nil, fmt.Errorf("escalation steps: %w", err)
	}
	return scanSteps(rows)
}
