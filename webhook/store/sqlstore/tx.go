package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/kizashi-dev/kizashi/webhook/incident"
	"github.com/kizashi-dev/kizashi/webhook/store"
)

// Queries run inside write transactions (prepared once on SQLite).
var (
	qInsertNotification = `INSERT INTO notifications (key, tenant, receiver, group_key, status, reason, alerts, truncated, received_at, body, body_encoding, last_seen_at)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO NOTHING`
	qRecordDuplicate = `UPDATE notifications SET duplicates = duplicates + 1, last_seen_at = ? WHERE key = ?`
	qOpenIncident    = `SELECT ` + IncidentColumns + ` FROM incidents WHERE tenant = ? AND correlation_key = ? AND state NOT IN ('closed', 'canceled')`
	qLatestIncident  = `SELECT ` + IncidentColumns + ` FROM incidents WHERE tenant = ? AND correlation_key = ? AND state IN ('closed', 'canceled') ORDER BY id DESC LIMIT 1`
	qIncidentAny     = `SELECT ` + IncidentColumns + ` FROM incidents WHERE id = ?`
	qIncidentTenant  = `SELECT ` + IncidentColumns + ` FROM incidents WHERE id = ? AND tenant = ?`
	qCreateIncident  = InsertIncident
	qUpdateIncident  = UpdateIncident
	qTouchIncident   = `UPDATE incidents SET last_notified_at = ? WHERE tenant = ? AND correlation_key = ? AND state NOT IN ('closed', 'canceled')`
	qAlerts          = `SELECT fingerprint, status, labels, annotations, starts_at, ends_at, generator_url, last_seen_at FROM alerts WHERE incident_id = ? ORDER BY fingerprint`
	qUpsertAlert     = upsertAlerts(1)
	// Alert storms insert many rows per statement: one round through the
	// driver per alertChunk rows instead of per row.
	qUpsertAlertChunk = upsertAlerts(alertChunk)
	qJournal          = `INSERT INTO journal (tenant, incident_id, at, actor, actor_type, kind, message) VALUES (?, ?, ?, ?, ?, ?, ?)`
	qOutbox           = `INSERT INTO outbox (tenant, incident_id, event, payload, created_at) VALUES (?, ?, ?, ?, ?)`
)

// Savepoints isolate the calls batched in one SQLite transaction.
const (
	qSavepoint = "SAVEPOINT w"
	qRelease   = "RELEASE w"
	qRollback  = "ROLLBACK TO w"
)

var txQueries = []string{
	qSavepoint, qRelease, qRollback, qInsertNotification, qRecordDuplicate, qOpenIncident, qLatestIncident, qIncidentAny, qIncidentTenant,
	qCreateIncident, qUpdateIncident, qTouchIncident, qAlerts, qUpsertAlert, qUpsertAlertChunk, qJournal, qOutbox,
}

// alertChunk is the number of alert rows per multi-row upsert (9 parameters
// each, well below SQLite's and PostgreSQL's parameter limits).
const alertChunk = 128

func upsertAlerts(rows int) string {
	values := strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?, ?, ?, ?, ?, ?), ", rows), ", ")
	return `INSERT INTO alerts (incident_id, fingerprint, status, labels, annotations, starts_at, ends_at, generator_url, last_seen_at)
	VALUES ` + values + ` ON CONFLICT (incident_id, fingerprint) DO UPDATE SET status = excluded.status,
	labels = excluded.labels, annotations = excluded.annotations, starts_at = excluded.starts_at, ends_at = excluded.ends_at,
	generator_url = excluded.generator_url, last_seen_at = excluded.last_seen_at`
}

type tx struct {
	s  *Store
	tx *sql.Tx
}

var _ store.Tx = (*tx)(nil)

func (t *tx) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if st, ok := t.s.stmts[query]; ok {
		return t.tx.StmtContext(ctx, st).ExecContext(ctx, args...)
	}
	return t.tx.ExecContext(ctx, t.s.q(query), args...)
}

func (t *tx) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st, ok := t.s.stmts[query]; ok {
		return t.tx.StmtContext(ctx, st).QueryContext(ctx, args...)
	}
	return t.tx.QueryContext(ctx, t.s.q(query), args...)
}

func (t *tx) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	if st, ok := t.s.stmts[query]; ok {
		return t.tx.StmtContext(ctx, st).QueryRowContext(ctx, args...)
	}
	return t.tx.QueryRowContext(ctx, t.s.q(query), args...)
}

func (t *tx) InsertNotification(ctx context.Context, n *store.Notification) (bool, error) {
	res, err := t.exec(ctx, qInsertNotification, n.Key, n.Tenant, n.Receiver, n.GroupKey, n.Status, n.Reason,
		n.Alerts, int64(n.Truncated), TS(n.ReceivedAt), n.Body, n.BodyEncoding, TS(n.ReceivedAt))
	if err != nil {
		return false, fmt.Errorf("insert notification: %w", err)
	}
	rows, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("insert notification: %w", err)
	}
	return rows == 1, nil
}

func (t *tx) RecordDuplicate(ctx context.Context, key string, at time.Time) error {
	if _, err := t.exec(ctx, qRecordDuplicate, TS(at), key); err != nil {
		return fmt.Errorf("record duplicate: %w", err)
	}
	return nil
}

func (t *tx) one(ctx context.Context, query string, args ...any) (*incident.Incident, error) {
	rows, err := t.query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	ins, err := scanIncidents(rows)
	if err != nil {
		return nil, err
	}
	if len(ins) == 0 {
		return nil, nil
	}
	return ins[0], nil
}

func (t *tx) OpenIncident(ctx context.Context, tenant, key string) (*incident.Incident, error) {
	in, err := t.one(ctx, qOpenIncident, tenant, key)
	if err != nil {
		return nil, fmt.Errorf("select open incident: %w", err)
	}
	return in, nil
}

func (t *tx) LatestIncident(ctx context.Context, tenant, key string) (*incident.Incident, error) {
	in, err := t.one(ctx, qLatestIncident, tenant, key)
	if err != nil {
		return nil, fmt.Errorf("select latest incident: %w", err)
	}
	return in, nil
}

func (t *tx) Incident(ctx context.Context, tenant string, id int64) (*incident.Incident, error) {
	var (
		in  *incident.Incident
		err error
	)
	if tenant == "" {
		in, err = t.one(ctx, qIncidentAny, id)
	} else {
		in, err = t.one(ctx, qIncidentTenant, id, tenant)
	}
	if err != nil {
		return nil, fmt.Errorf("select incident %d: %w", id, err)
	}
	if in == nil {
		return nil, store.ErrNotFound
	}
	return in, nil
}

func (t *tx) CreateIncident(ctx context.Context, in *incident.Incident) error {
	args, err := InsertIncidentArgs(in)
	if err != nil {
		return err
	}
	var id int64
	err = t.queryRow(ctx, qCreateIncident, args...).Scan(&id)
	if err != nil {
		if t.s.d.IsUnique(err) {
			return fmt.Errorf("insert incident %s/%s: %w", in.Tenant, in.CorrelationKey, store.ErrConflict)
		}
		return fmt.Errorf("insert incident: %w", err)
	}
	in.ID, in.Version = id, 1
	return nil
}

func (t *tx) UpdateIncident(ctx context.Context, in *incident.Incident) error {
	args, err := UpdateIncidentArgs(in)
	if err != nil {
		return err
	}
	res, err := t.exec(ctx, qUpdateIncident, args...)
	if err != nil {
		if t.s.d.IsUnique(err) {
			return fmt.Errorf("update incident %d: %w", in.ID, store.ErrConflict)
		}
		return fmt.Errorf("update incident %d: %w", in.ID, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("update incident %d: %w", in.ID, err)
	}
	if n != 1 {
		return fmt.Errorf("update incident %d version %d: %w", in.ID, in.Version, store.ErrConflict)
	}
	in.Version++
	return nil
}

func (t *tx) TouchIncidents(ctx context.Context, tenant string, keys []string, at time.Time) error {
	for _, k := range keys {
		if _, err := t.exec(ctx, qTouchIncident, TS(at), tenant, k); err != nil {
			return fmt.Errorf("touch incident: %w", err)
		}
	}
	return nil
}

func (t *tx) Alerts(ctx context.Context, incidentID int64) ([]incident.Alert, error) {
	rows, err := t.query(ctx, qAlerts, incidentID)
	if err != nil {
		return nil, fmt.Errorf("select alerts: %w", err)
	}
	return scanAlerts(rows)
}

func (t *tx) UpsertAlerts(ctx context.Context, incidentID int64, alerts []incident.Alert) error {
	// One statement cannot upsert a row twice (PostgreSQL refuses, SQLite
	// would keep the last): rows go one by one unless the fingerprints differ.
	seen := make(map[string]struct{}, len(alerts))
	for _, a := range alerts {
		seen[a.Fingerprint] = struct{}{}
	}
	chunk := alertChunk
	if len(seen) != len(alerts) {
		chunk = 1
	}
	args := make([]any, 0, 9*min(chunk, len(alerts)))
	for len(alerts) > 0 {
		n := min(chunk, len(alerts))
		if n < alertChunk/4 {
			// A short remainder (the everyday notification) goes row by row
			// through the prepared statement: parsing a statement of its own
			// costs more than it saves.
			n = 1
		}
		args = args[:0]
		for _, a := range alerts[:n] {
			labels, ann, err := AlertJSON(a)
			if err != nil {
				return err
			}
			args = append(args, incidentID, a.Fingerprint, a.Status, labels, ann, TS(a.StartsAt), TS(a.EndsAt), a.GeneratorURL, TS(a.LastSeenAt))
		}
		q := qUpsertAlertChunk
		if n == 1 {
			q = qUpsertAlert
		} else if n < alertChunk {
			q = upsertAlerts(n)
		}
		if _, err := t.exec(ctx, q, args...); err != nil {
			return fmt.Errorf("upsert alerts: %w", err)
		}
		alerts = alerts[n:]
	}
	return nil
}

func (t *tx) AppendJournal(ctx context.Context, entries []incident.Entry) error {
	for _, e := range entries {
		typ := e.ActorType
		if typ == "" {
			typ = incident.ActorTypeOf(e.Actor)
		}
		if _, err := t.exec(ctx, qJournal, e.Tenant, e.IncidentID, TS(e.At), e.Actor, typ, e.Kind, e.Message); err != nil {
			return fmt.Errorf("append journal: %w", err)
		}
	}
	return nil
}

func (t *tx) Enqueue(ctx context.Context, items []store.OutboxItem) error {
	for _, it := range items {
		if _, err := t.exec(ctx, qOutbox, it.Tenant, it.IncidentID, it.Event, string(it.Payload), TS(it.CreatedAt)); err != nil {
			return fmt.Errorf("enqueue outbox: %w", err)
		}
	}
	return nil
}

func scanIncidents(rows *sql.Rows) (_ []*incident.Incident, err error) {
	defer closeRows(rows, &err)
	return ScanIncidents(rows)
}

func scanAlerts(rows *sql.Rows) (_ []incident.Alert, err error) {
	defer closeRows(rows, &err)
	return ScanAlerts(rows)
}

func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}
