package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/kizashi-dev/kizashi/webhook/incident"
	"github.com/kizashi-dev/kizashi/webhook/sanitize"
	"github.com/kizashi-dev/kizashi/webhook/store"
)

var (
	_ store.Forwarding  = (*Store)(nil)
	_ store.Reconciling = (*Store)(nil)
)

const jobColumns = `id, tenant, target, incident_id, gen, synced_gen, synced_journal_id, pending_since, next_attempt_at,
	attempts, claims, lease_until, dead_at, last_error, external_id, external_key, external_url, remote_state, created_at, synced_at`

// write runs fn in one of this package's write transactions: in the SQLite
// group commit, or in a database/sql transaction retried on conflicts.
func (s *Store) write(ctx context.Context, fn func(ctx context.Context, t *tx) error) error {
	return s.Update(ctx, func(ctx context.Context, stx store.Tx) error { return fn(ctx, stx.(*tx)) })
}

// skipLocked is appended to the SELECT that picks rows for one worker: on
// PostgreSQL, rows locked by another replica's transaction are skipped
// instead of waited for. SQLite has one writer and needs none.
func (s *Store) skipLocked() string {
	if s.d.Name == "postgres" {
		return " FOR UPDATE SKIP LOCKED"
	}
	return ""
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// DispatchOutbox implements store.Forwarding.
func (s *Store) DispatchOutbox(ctx context.Context, now time.Time, limit int, targets func(tenant string) []string) (int, error) {
	defer s.timed("dispatch")()
	if limit <= 0 || limit > MaxLimit {
		limit = MaxLimit
	}
	type key struct {
		target   string
		incident int64
	}
	type agg struct {
		tenant string
		n      int64
		first  int64
	}
	var handled int
	err := s.write(ctx, func(ctx context.Context, t *tx) error {
		handled = 0
		rows, err := t.query(ctx, fmt.Sprintf(`SELECT id, tenant, incident_id, created_at FROM outbox WHERE delivered_at = 0 ORDER BY id LIMIT %d`, limit)+s.skipLocked())
		if err != nil {
			return fmt.Errorf("select outbox: %w", err)
		}
		var ids []any
		jobs := map[key]*agg{}
		for rows.Next() {
			var (
				id, inc, created int64
				tenant           string
			)
			if err := rows.Scan(&id, &tenant, &inc, &created); err != nil {
				_ = rows.Close()
				return fmt.Errorf("scan outbox: %w", err)
			}
			ids = append(ids, id)
			for _, tg := range targets(tenant) {
				k := key{tg, inc}
				a := jobs[k]
				if a == nil {
					a = &agg{tenant: tenant, first: created}
					jobs[k] = a
				}
				a.n++
			}
		}
		if err := rows.Err(); err != nil {
			_ = rows.Close()
			return fmt.Errorf("read outbox: %w", err)
		}
		if err := rows.Close(); err != nil {
			return fmt.Errorf("close outbox rows: %w", err)
		}
		if len(ids) == 0 {
			return nil
		}
		// A fixed order keeps concurrent dispatchers from deadlocking.
		keys := make([]key, 0, len(jobs))
		for k := range jobs {
			keys = append(keys, k)
		}
		slices.SortFunc(keys, func(a, b key) int {
			if c := strings.Compare(a.target, b.target); c != 0 {
				return c
			}
			return cmp.Compare(a.incident, b.incident)
		})
		for _, k := range keys {
			a := jobs[k]
			if _, err := t.exec(ctx, `INSERT INTO forward_jobs (tenant, target, incident_id, gen, pending_since, created_at) VALUES (?, ?, ?, ?, ?, ?)
				ON CONFLICT (target, incident_id) DO UPDATE SET gen = forward_jobs.gen + excluded.gen,
				pending_since = CASE WHEN forward_jobs.gen > forward_jobs.synced_gen AND forward_jobs.pending_since > 0
					THEN forward_jobs.pending_since ELSE excluded.pending_since END`,
				a.tenant, k.target, k.incident, a.n, a.first, TS(now)); err != nil {
				return fmt.Errorf("upsert forward job: %w", err)
			}
		}
		args := append([]any{TS(now)}, ids...)
		if _, err := t.exec(ctx, `UPDATE outbox SET delivered_at = ? WHERE id IN (`+placeholders(len(ids))+`)`, args...); err != nil {
			return fmt.Errorf("mark outbox dispatched: %w", err)
		}
		handled = len(ids)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("dispatch outbox: %w", err)
	}
	return handled, nil
}

func scanJobs(rows *sql.Rows) (_ []store.ForwardJob, err error) {
	defer closeRows(rows, &err)
	var out []store.ForwardJob
	for rows.Next() {
		var (
			j                                       store.ForwardJob
			pending, next, lease, dead, created, sy int64
		)
		if err := rows.Scan(&j.ID, &j.Tenant, &j.Target, &j.IncidentID, &j.Gen, &j.SyncedGen, &j.SyncedJournalID, &pending, &next,
			&j.Attempts, &j.Claims, &lease, &dead, &j.LastError, &j.Ref.ID, &j.Ref.Key, &j.Ref.URL, &j.RemoteState, &created, &sy); err != nil {
			return nil, fmt.Errorf("scan forward job: %w", err)
		}
		j.Ref.Target = j.Target
		j.PendingSince, j.NextAttemptAt, j.LeaseUntil, j.DeadAt = FromTS(pending), FromTS(next), FromTS(lease), FromTS(dead)
		j.CreatedAt, j.SyncedAt = FromTS(created), FromTS(sy)
		out = append(out, j)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read forward jobs: %w", err)
	}
	return out, nil
}

// ClaimJobs implements store.Forwarding.
func (s *Store) ClaimJobs(ctx context.Context, target, owner string, now, leaseUntil time.Time, limit int) ([]store.ForwardJob, error) {
	defer s.timed("claim")()
	if limit <= 0 {
		return nil, nil
	}
	var out []store.ForwardJob
	n := TS(now)
	err := s.write(ctx, func(ctx context.Context, t *tx) error {
		rows, err := t.query(ctx, fmt.Sprintf(`UPDATE forward_jobs SET lease_owner = ?, lease_until = ?, claims = claims + 1
			WHERE id IN (SELECT id FROM forward_jobs WHERE target = ? AND dead_at = 0 AND gen > synced_gen
				AND next_attempt_at <= ? AND lease_until <= ? ORDER BY next_attempt_at, id LIMIT %d%s)
			RETURNING `+jobColumns, limit, s.skipLocked()), owner, TS(leaseUntil), target, n, n)
		if err != nil {
			return fmt.Errorf("claim forward jobs: %w", err)
		}
		out, err = scanJobs(rows)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("claim jobs of %s: %w", target, err)
	}
	slices.SortFunc(out, func(a, b store.ForwardJob) int { return a.NextAttemptAt.Compare(b.NextAttemptAt) })
	return out, nil
}

// cleanRef repairs a ticket reference: it comes from a ticket system's
// answer, text from outside like any other (see package sanitize).
func cleanRef(r store.ExternalRef) store.ExternalRef {
	r.ID, r.Key, r.URL = sanitize.Text(r.ID, 0), sanitize.Text(r.Key, 0), sanitize.Text(r.URL, 0)
	return r
}

// SaveRef implements store.Forwarding.
func (s *Store) SaveRef(ctx context.Context, jobID int64, owner string, ref store.ExternalRef) error {
	ref = cleanRef(ref)
	err := s.write(ctx, func(ctx context.Context, t *tx) error {
		_, err := t.exec(ctx, `UPDATE forward_jobs SET external_id = ?, external_key = ?, external_url = ? WHERE id = ? AND lease_owner = ?`,
			ref.ID, ref.Key, ref.URL, jobID, owner)
		return err
	})
	if err != nil {
		return fmt.Errorf("save external ref of job %d: %w", jobID, err)
	}
	return nil
}

// CompleteJob implements store.Forwarding.
func (s *Store) CompleteJob(ctx context.Context, jobID int64, owner string, d store.JobDone) (bool, error) {
	d.Ref, d.RemoteState = cleanRef(d.Ref), sanitize.Text(d.RemoteState, 0)
	var ok bool
	err := s.write(ctx, func(ctx context.Context, t *tx) error {
		res, err := t.exec(ctx, `UPDATE forward_jobs SET synced_gen = ?, synced_journal_id = ?, remote_state = ?,
			external_id = ?, external_key = ?, external_url = ?, attempts = 0, claims = 0, last_error = '',
			lease_owner = '', lease_until = 0, next_attempt_at = 0, synced_at = ?,
			pending_since = CASE WHEN gen > ? THEN CAST(? AS BIGINT) ELSE 0 END
			WHERE id = ? AND lease_owner = ?`,
			d.Gen, d.SyncedJournalID, d.RemoteState, d.Ref.ID, d.Ref.Key, d.Ref.URL, TS(d.At), d.Gen, TS(d.ClaimedAt), jobID, owner)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		ok = n == 1
		return err
	})
	if err != nil {
		return false, fmt.Errorf("complete job %d: %w", jobID, err)
	}
	return ok, nil
}

// FailJob implements store.Forwarding.
func (s *Store) FailJob(ctx context.Context, jobID int64, owner string, f store.JobFailed) error {
	count, dead := 0, int64(0)
	if f.Count {
		count = 1
	}
	if f.Dead {
		dead = TS(f.At)
	}
	// Error texts quote the target's answer.
	msg := sanitize.Text(f.Error, 2000)
	err := s.write(ctx, func(ctx context.Context, t *tx) error {
		_, err := t.exec(ctx, `UPDATE forward_jobs SET attempts = attempts + ?, last_error = ?, next_attempt_at = ?,
			lease_owner = '', lease_until = 0, dead_at = ? WHERE id = ? AND lease_owner = ?`,
			count, msg, TS(f.NextAttemptAt), dead, jobID, owner)
		return err
	})
	if err != nil {
		return fmt.Errorf("fail job %d: %w", jobID, err)
	}
	return nil
}

// KickTarget implements store.Forwarding.
func (s *Store) KickTarget(ctx context.Context, target string, now time.Time) (int, error) {
	var n int64
	err := s.write(ctx, func(ctx context.Context, t *tx) error {
		res, err := t.exec(ctx, `UPDATE forward_jobs SET next_attempt_at = ? WHERE target = ? AND dead_at = 0 AND gen > synced_gen AND next_attempt_at > ?`,
			TS(now), target, TS(now))
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("kick target %s: %w", target, err)
	}
	return int(n), nil
}

// ReleaseLeases implements store.Forwarding.
func (s *Store) ReleaseLeases(ctx context.Context) error {
	err := s.write(ctx, func(ctx context.Context, t *tx) error {
		_, err := t.exec(ctx, `UPDATE forward_jobs SET lease_owner = '', lease_until = 0 WHERE lease_until > 0`)
		return err
	})
	if err != nil {
		return fmt.Errorf("release leases: %w", err)
	}
	return nil
}

// Job implements store.Forwarding.
func (s *Store) Job(ctx context.Context, tenant string, id int64) (*store.ForwardJob, error) {
	q, args := `SELECT `+jobColumns+` FROM forward_jobs WHERE id = ?`, []any{id}
	if tenant != "" {
		q, args = q+` AND tenant = ?`, append(args, tenant)
	}
	rows, err := s.r.QueryContext(ctx, s.q(q), args...)
	if err != nil {
		return nil, fmt.Errorf("get job %d: %w", id, err)
	}
	jobs, err := scanJobs(rows)
	if err != nil {
		return nil, fmt.Errorf("get job %d: %w", id, err)
	}
	if len(jobs) == 0 {
		return nil, store.ErrNotFound
	}
	return &jobs[0], nil
}

// DeadLetters implements store.Forwarding.
func (s *Store) DeadLetters(ctx context.Context, f store.DeadLetterFilter) ([]store.ForwardJob, error) {
	where, args := []string{"dead_at > 0"}, []any{}
	if f.Tenant != "" {
		where, args = append(where, "tenant = ?"), append(args, f.Tenant)
	}
	if f.Target != "" {
		where, args = append(where, "target = ?"), append(args, f.Target)
	}
	if f.BeforeID > 0 {
		where, args = append(where, "id < ?"), append(args, f.BeforeID)
	}
	limit := f.Limit
	if limit <= 0 || limit > MaxLimit {
		limit = MaxLimit
	}
	rows, err := s.r.QueryContext(ctx, s.q(fmt.Sprintf(`SELECT `+jobColumns+` FROM forward_jobs WHERE %s ORDER BY id DESC LIMIT %d`,
		strings.Join(where, " AND "), limit)), args...)
	if err != nil {
		return nil, fmt.Errorf("list dead letters: %w", err)
	}
	jobs, err := scanJobs(rows)
	if err != nil {
		return nil, fmt.Errorf("list dead letters: %w", err)
	}
	return jobs, nil
}

// RetryDeadLetters implements store.Forwarding.
func (s *Store) RetryDeadLetters(ctx context.Context, tenant, target string, id int64, now time.Time) (int, error) {
	where, args := []string{"dead_at > 0"}, []any{TS(now)}
	if tenant != "" {
		where, args = append(where, "tenant = ?"), append(args, tenant)
	}
	if target != "" {
		where, args = append(where, "target = ?"), append(args, target)
	}
	if id > 0 {
		where, args = append(where, "id = ?"), append(args, id)
	}
	if id <= 0 && target == "" {
		return 0, fmt.Errorf("retry dead letters: an id or a target is required")
	}
	var n int64
	err := s.write(ctx, func(ctx context.Context, t *tx) error {
		res, err := t.exec(ctx, `UPDATE forward_jobs SET dead_at = 0, attempts = 0, next_attempt_at = ? WHERE `+strings.Join(where, " AND "), args...)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("retry dead letters: %w", err)
	}
	return int(n), nil
}

// ForwardStats implements store.Forwarding.
func (s *Store) ForwardStats(ctx context.Context) (_ []store.TargetStats, err error) {
	defer s.timed("forward_stats")()
	byTarget := map[string]*store.TargetStats{}
	get := func(t string) *store.TargetStats {
		st := byTarget[t]
		if st == nil {
			st = &store.TargetStats{Target: t}
			byTarget[t] = st
		}
		return st
	}
	// One statement, so one snapshot: a change is counted either as an undispatched outbox
	// row or as a pending job, never neither (three separate queries could miss the changes
	// a dispatch moved between them, and report nothing pending before anything was delivered).
	const q = `SELECT 'pending', target, COUNT(*), MIN(pending_since) FROM forward_jobs WHERE dead_at = 0 AND gen > synced_gen GROUP BY target
UNION ALL SELECT 'dead', target, COUNT(*), 0 FROM forward_jobs WHERE dead_at > 0 GROUP BY target
UNION ALL SELECT 'outbox', tenant, COUNT(*), MIN(created_at) FROM outbox WHERE delivered_at = 0 GROUP BY tenant`
	err = s.eachRow(ctx, q, nil, func(rows *sql.Rows) error {
		var (
			kind, t string
			n       int
			since   int64
		)
		if err := rows.Scan(&kind, &t, &n, &since); err != nil {
			return err
		}
		switch kind {
		case "pending":
			st := get(t)
			st.Pending, st.OldestPending = n, FromTS(since)
		case "dead":
			get(t).Dead = n
		case "outbox":
			st := get(t + "/")
			st.Pending, st.OldestPending = n, FromTS(since)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("forward stats: %w", err)
	}
	out := make([]store.TargetStats, 0, len(byTarget))
	for _, st := range byTarget {
		out = append(out, *st)
	}
	slices.SortFunc(out, func(a, b store.TargetStats) int { return strings.Compare(a.Target, b.Target) })
	return out, nil
}

func (s *Store) eachRow(ctx context.Context, q string, args []any, scan func(*sql.Rows) error) (err error) {
	rows, err := s.r.QueryContext(ctx, s.q(q), args...)
	if err != nil {
		return err
	}
	defer closeRows(rows, &err)
	for rows.Next() {
		if err := scan(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// ExternalRefs implements store.Forwarding.
func (s *Store) ExternalRefs(ctx context.Context, incidentIDs []int64) (map[int64][]store.ExternalRef, error) {
	out := map[int64][]store.ExternalRef{}
	for len(incidentIDs) > 0 {
		chunk := incidentIDs[:min(len(incidentIDs), MaxLimit)]
		incidentIDs = incidentIDs[len(chunk):]
		args := make([]any, len(chunk))
		for i, id := range chunk {
			args[i] = id
		}
		err := s.eachRow(ctx, `SELECT incident_id, target, external_id, external_key, external_url FROM forward_jobs
			WHERE incident_id IN (`+placeholders(len(chunk))+`) AND external_id <> '' ORDER BY incident_id, target`, args, func(rows *sql.Rows) error {
			var (
				id  int64
				ref store.ExternalRef
			)
			if err := rows.Scan(&id, &ref.Target, &ref.ID, &ref.Key, &ref.URL); err != nil {
				return err
			}
			out[id] = append(out[id], ref)
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("list external refs: %w", err)
		}
	}
	return out, nil
}

// PruneOutbox implements store.Forwarding.
func (s *Store) PruneOutbox(ctx context.Context, before time.Time) (int64, error) {
	var n int64
	err := s.write(ctx, func(ctx context.Context, t *tx) error {
		res, err := t.exec(ctx, `DELETE FROM outbox WHERE delivered_at > 0 AND delivered_at < ?`, TS(before))
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("prune outbox: %w", err)
	}
	return n, nil
}

// ReconcileCandidates implements store.Reconciling.
func (s *Store) ReconcileCandidates(ctx context.Context, tenant string, notifiedBefore time.Time, limit int) ([]*incident.Incident, error) {
	defer s.timed("reconcile")()
	if limit <= 0 || limit > MaxLimit {
		limit = MaxLimit
	}
	rows, err := s.r.QueryContext(ctx, s.q(fmt.Sprintf(`SELECT `+IncidentColumns+` FROM incidents WHERE tenant = ? AND firing_alerts > 0
		AND ((state IN ('new', 'in_progress') AND last_notified_at < ?) OR state = 'on_hold') ORDER BY id LIMIT %d`, limit)),
		tenant, TS(notifiedBefore))
	if err != nil {
		return nil, fmt.Errorf("reconcile candidates: %w", err)
	}
	out, err := scanIncidents(rows)
	if err != nil {
		return nil, fmt.Errorf("reconcile candidates: %w", err)
	}
	return out, nil
}

// RecordHeartbeat implements store.Reconciling.
func (s *Store) RecordHeartbeat(ctx context.Context, tenant string, at time.Time) error {
	err := s.write(ctx, func(ctx context.Context, t *tx) error {
		_, err := t.exec(ctx, `INSERT INTO watchdogs (tenant, armed_at, last_seen_at) VALUES (?, ?, ?)
			ON CONFLICT (tenant) DO UPDATE SET last_seen_at = CASE WHEN excluded.last_seen_at > watchdogs.last_seen_at
				THEN excluded.last_seen_at ELSE watchdogs.last_seen_at END`, tenant, TS(at), TS(at))
		return err
	})
	if err != nil {
		return fmt.Errorf("record heartbeat of %s: %w", tenant, err)
	}
	return nil
}

// Watchdog implements store.Reconciling.
func (s *Store) Watchdog(ctx context.Context, tenant string, now time.Time) (store.WatchdogState, error) {
	w := store.WatchdogState{Tenant: tenant}
	read := func() (bool, error) {
		var armed, seen int64
		err := s.r.QueryRowContext(ctx, s.q(`SELECT armed_at, last_seen_at FROM watchdogs WHERE tenant = ?`), tenant).Scan(&armed, &seen)
		if err == sql.ErrNoRows {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		w.ArmedAt, w.LastSeenAt = FromTS(armed), FromTS(seen)
		return true, nil
	}
	found, err := read()
	if err != nil {
		return w, fmt.Errorf("read watchdog of %s: %w", tenant, err)
	}
	if found {
		return w, nil
	}
	err = s.write(ctx, func(ctx context.Context, t *tx) error {
		_, err := t.exec(ctx, `INSERT INTO watchdogs (tenant, armed_at, last_seen_at) VALUES (?, ?, 0) ON CONFLICT (tenant) DO NOTHING`, tenant, TS(now))
		return err
	})
	if err != nil {
		return w, fmt.Errorf("arm watchdog of %s: %w", tenant, err)
	}
	if _, err := read(); err != nil {
		return w, fmt.Errorf("read watchdog of %s: %w", tenant, err)
	}
	return w, nil
}
