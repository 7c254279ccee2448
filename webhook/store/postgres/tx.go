package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/kizashi-dev/kizashi/webhook/incident"
	"github.com/kizashi-dev/kizashi/webhook/store"
	"github.com/kizashi-dev/kizashi/webhook/store/sqlstore"
)

// The statements are store/sqlstore's (same schema), some pipelined or
// fused; the alerts, journal and outbox inserts are multi-row (unnest of
// arrays).
const incidentColumns = sqlstore.IncidentColumns

// The incident writes are sqlstore's.
var (
	qCreateIncident = sqlstore.Rebind(sqlstore.InsertIncident)
	qUpdateIncident = sqlstore.Rebind(sqlstore.UpdateIncident)
	// The queued form of qUpdateIncident fails (division by zero) when it
	// updates no row, so that the pipelined COMMIT after it is not run.
	qUpdateIncidentChecked = `WITH u AS (` + qUpdateIncident + ` RETURNING 1) SELECT 1 / count(*) FROM u`
)

const openState = `state NOT IN ('closed', 'canceled')`

const (
	qInsertNotification = `INSERT INTO notifications (key, tenant, receiver, group_key, status, reason, alerts, truncated, received_at, body, body_encoding, last_seen_at)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $9) ON CONFLICT (key) DO NOTHING`
	qRecordDuplicate = `UPDATE notifications SET duplicates = duplicates + 1, last_seen_at = $1 WHERE key = $2`
	// The open incident is locked until commit: its version cannot change
	// under the transaction, so its update can be queued.
	qOpenIncident = `SELECT ` + incidentColumns + ` FROM incidents WHERE tenant = $1 AND correlation_key = $2 AND ` + openState + ` FOR NO KEY UPDATE`
	// Alerts of the open incident (locked by the statement before, so the
	// same one), sent in the same round trip.
	qOpenAlerts = `SELECT a.incident_id, a.fingerprint, a.status, a.labels, a.annotations, a.starts_at, a.ends_at, a.generator_url, a.last_seen_at
	FROM incidents i JOIN alerts a ON a.incident_id = i.id
	WHERE i.tenant = $1 AND i.correlation_key = $2 AND i.` + openState + ` ORDER BY a.fingerprint`
	qLatestIncident = `SELECT ` + incidentColumns + ` FROM incidents WHERE tenant = $1 AND correlation_key = $2 AND state IN ('closed', 'canceled') ORDER BY id DESC LIMIT 1`
	qIncidentAny    = `SELECT ` + incidentColumns + ` FROM incidents WHERE id = $1`
	qIncidentTenant = `SELECT ` + incidentColumns + ` FROM incidents WHERE id = $1 AND tenant = $2`
	qTouchIncident  = `UPDATE incidents SET last_notified_at = $1 WHERE tenant = $2 AND correlation_key = $3 AND ` + openState
	qAlerts         = `SELECT incident_id, fingerprint, status, labels, annotations, starts_at, ends_at, generator_url, last_seen_at FROM alerts WHERE incident_id = $1 ORDER BY fingerprint`
	qUpsertAlerts   = `INSERT INTO alerts (incident_id, fingerprint, status, labels, annotations, starts_at, ends_at, generator_url, last_seen_at)
	SELECT $1, f, s, l, a, sa, ea, g, ls FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[], $7::bigint[], $8::text[], $9::bigint[])
		AS u(f, s, l, a, sa, ea, g, ls)
	ON CONFLICT (incident_id, fingerprint) DO UPDATE SET status = excluded.status,
	labels = excluded.labels, annotations = excluded.annotations, starts_at = excluded.starts_at, ends_at = excluded.ends_at,
	generator_url = excluded.generator_url, last_seen_at = excluded.last_seen_at`
	// Single rows (the common case) skip unnest.
	qUpsertAlert = `INSERT INTO alerts (incident_id, fingerprint, status, labels, annotations, starts_at, ends_at, generator_url, last_seen_at)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (incident_id, fingerprint) DO UPDATE SET status = excluded.status,
	labels = excluded.labels, annotations = excluded.annotations, starts_at = excluded.starts_at, ends_at = excluded.ends_at,
	generator_url = excluded.generator_url, last_seen_at = excluded.last_seen_at`
	qJournalOne = `INSERT INTO journal (tenant, incident_id, at, actor, kind, message) VALUES ($1, $2, $3, $4, $5, $6)`
	qOutboxOne  = `INSERT INTO outbox (tenant, incident_id, event, payload, created_at) VALUES ($1, $2, $3, $4, $5)`
	// WITH ORDINALITY and ORDER BY keep the ids in the order of the entries.
	qJournal = `INSERT INTO journal (tenant, incident_id, at, actor, kind, message)
	SELECT t, i, at, ac, k, m FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::text[], $5::text[], $6::text[]) WITH ORDINALITY
		AS u(t, i, at, ac, k, m, n) ORDER BY n`
	qOutbox = `INSERT INTO outbox (tenant, incident_id, event, payload, created_at)
	SELECT t, i, e, p, c FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::bigint[]) WITH ORDINALITY
		AS u(t, i, e, p, c, n) ORDER BY n`
)

// tx is one write transaction on one connection. BEGIN is sent with the
// first statement; writes whose outcome the caller does not need wait in
// pending and go with the next statement that needs an answer, or with the
// COMMIT. An error of a queued write aborts the transaction: it is reported
// by that later call or by commit, and the whole Update fails (or is
// retried), so nothing half-done is ever committed.
type tx struct {
	conn    *pgx.Conn
	begun   bool
	pending pgx.Batch
	// locked holds the version of the incidents this transaction has locked
	// (read with FOR NO KEY UPDATE, created or updated by it).
	locked map[int64]int64
	// The alerts of the incident the last OpenIncident found, fetched in the
	// same round trip; cleared by every write.
	pre *prefetch
}

type prefetch struct {
	openID int64 // 0 when no open incident
	alerts []incident.Alert
}

var _ store.Tx = (*tx)(nil)

func newTx(conn *pgx.Conn) *tx { return &tx{conn: conn, locked: map[int64]int64{}} }

// queue adds a write to the pending batch.
func (t *tx) queue(query string, args ...any) {
	t.pre = nil
	t.pending.Queue(query, args...).Exec(func(pgconn.CommandTag) error { return nil })
}

// send sends BEGIN (first time), the pending writes and the given
// statements in one round trip, and runs their callbacks.
func (t *tx) send(ctx context.Context, queries ...*pgx.QueuedQuery) error {
	b := &pgx.Batch{}
	if !t.begun {
		b.Queue("BEGIN")
		t.begun = true
	}
	b.QueuedQueries = append(b.QueuedQueries, t.pending.QueuedQueries...)
	b.QueuedQueries = append(b.QueuedQueries, queries...)
	t.pending.QueuedQueries = nil
	if err := t.conn.SendBatch(ctx, b).Close(); err != nil {
		return err
	}
	return nil
}

func (t *tx) commit(ctx context.Context) error {
	if !t.begun && len(t.pending.QueuedQueries) == 0 {
		return nil // nothing read or written
	}
	var tag pgconn.CommandTag
	commit := &pgx.QueuedQuery{SQL: "COMMIT"}
	commit.Exec(func(ct pgconn.CommandTag) error { tag = ct; return nil })
	if err := t.send(ctx, commit); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	t.begun = false
	// A transaction that failed earlier answers COMMIT with ROLLBACK.
	if tag.String() != "COMMIT" {
		return fmt.Errorf("commit: transaction rolled back (%s)", tag)
	}
	return nil
}

func (t *tx) rollback(ctx context.Context) error {
	if !t.begun || t.conn.IsClosed() {
		return nil
	}
	t.begun = false
	if _, err := t.conn.Exec(ctx, "ROLLBACK"); err != nil {
		return fmt.Errorf("rollback: %w", err)
	}
	return nil
}

func (t *tx) InsertNotification(ctx context.Context, n *store.Notification) (bool, error) {
	t.pre = nil
	var rows int64
	q := &pgx.QueuedQuery{SQL: qInsertNotification, Arguments: []any{n.Key, n.Tenant, n.Receiver, n.GroupKey, n.Status, n.Reason,
		n.Alerts, int64(n.Truncated), sqlstore.TS(n.ReceivedAt), n.Body, n.BodyEncoding}}
	q.Exec(func(ct pgconn.CommandTag) error { rows = ct.RowsAffected(); return nil })
	if err := t.send(ctx, q); err != nil {
		return false, fmt.Errorf("insert notification: %w", err)
	}
	return rows == 1, nil
}

func (t *tx) RecordDuplicate(_ context.Context, key string, at time.Time) error {
	t.queue(qRecordDuplicate, sqlstore.TS(at), key)
	return nil
}

// incidentsQuery returns a queued query collecting the incidents it reads.
func incidentsQuery(sql string, out *[]*incident.Incident, args ...any) *pgx.QueuedQuery {
	q := &pgx.QueuedQuery{SQL: sql, Arguments: args}
	q.Query(func(rows pgx.Rows) error {
		ins, err := scanIncidents(rows)
		*out = ins
		return err
	})
	return q
}

func first(ins []*incident.Incident) *incident.Incident {
	if len(ins) == 0 {
		return nil
	}
	return ins[0]
}

func (t *tx) OpenIncident(ctx context.Context, tenant, key string) (*incident.Incident, error) {
	t.pre = nil
	var (
		open     []*incident.Incident
		alerts   []incident.Alert
		alertsOf int64
	)
	qa := &pgx.QueuedQuery{SQL: qOpenAlerts, Arguments: []any{tenant, key}}
	qa.Query(func(rows pgx.Rows) error {
		var err error
		alertsOf, alerts, err = scanAlerts(rows)
		return err
	})
	err := t.send(ctx, incidentsQuery(qOpenIncident, &open, tenant, key), qa)
	if err != nil {
		return nil, fmt.Errorf("select open incident: %w", err)
	}
	in := first(open)
	p := &prefetch{}
	if in != nil {
		t.locked[in.ID] = in.Version
		p.openID = in.ID
		// The incident is locked and open, so the alerts read after it are
		// its own (the unique index allows no other open one); none read
		// means it has none.
		if alertsOf == 0 || alertsOf == in.ID {
			p.alerts = alerts
		} else {
			p.openID = 0
		}
	}
	t.pre = p
	return in, nil
}

func (t *tx) LatestIncident(ctx context.Context, tenant, key string) (*incident.Incident, error) {
	var latest []*incident.Incident
	if err := t.send(ctx, incidentsQuery(qLatestIncident, &latest, tenant, key)); err != nil {
		return nil, fmt.Errorf("select latest incident: %w", err)
	}
	return first(latest), nil
}

func (t *tx) Incident(ctx context.Context, tenant string, id int64) (*incident.Incident, error) {
	var ins []*incident.Incident
	q := incidentsQuery(qIncidentAny, &ins, id)
	if tenant != "" {
		q = incidentsQuery(qIncidentTenant, &ins, id, tenant)
	}
	if err := t.send(ctx, q); err != nil {
		return nil, fmt.Errorf("select incident %d: %w", id, err)
	}
	if len(ins) == 0 {
		return nil, store.ErrNotFound
	}
	return ins[0], nil
}

func (t *tx) CreateIncident(ctx context.Context, in *incident.Incident) error {
	t.pre = nil
	args, err := sqlstore.InsertIncidentArgs(in)
	if err != nil {
		return err
	}
	var id int64
	q := &pgx.QueuedQuery{SQL: qCreateIncident, Arguments: args}
	q.QueryRow(func(row pgx.Row) error { return row.Scan(&id) })
	if err := t.send(ctx, q); err != nil {
		if isUnique(err) {
			return fmt.Errorf("insert incident %s/%s: %w: %w", in.Tenant, in.CorrelationKey, store.ErrConflict, err)
		}
		return fmt.Errorf("insert incident: %w", err)
	}
	in.ID, in.Version = id, 1
	t.locked[id] = 1
	return nil
}

func (t *tx) UpdateIncident(ctx context.Context, in *incident.Incident) error {
	t.pre = nil
	args, err := sqlstore.UpdateIncidentArgs(in)
	if err != nil {
		return err
	}
	if v, ok := t.locked[in.ID]; ok && v == in.Version {
		// Locked by this transaction at this version: the update cannot
		// miss, so it waits for the next round trip. Should it miss all the
		// same, the statement fails, the transaction is not committed and
		// Update retries it (see classify).
		t.queue(qUpdateIncidentChecked, args...)
		in.Version++
		t.locked[in.ID] = in.Version
		return nil
	}
	var rows int64
	q := &pgx.QueuedQuery{SQL: qUpdateIncident, Arguments: args}
	q.Exec(func(ct pgconn.CommandTag) error { rows = ct.RowsAffected(); return nil })
	if err := t.send(ctx, q); err != nil {
		if isUnique(err) {
			return fmt.Errorf("update incident %d: %w: %w", in.ID, store.ErrConflict, err)
		}
		return fmt.Errorf("update incident %d: %w", in.ID, err)
	}
	if rows != 1 {
		return fmt.Errorf("update incident %d version %d: %w", in.ID, in.Version, store.ErrConflict)
	}
	in.Version++
	t.locked[in.ID] = in.Version
	return nil
}

func (t *tx) TouchIncidents(_ context.Context, tenant string, keys []string, at time.Time) error {
	// One statement per key, in the caller's (sorted) order, so that rows
	// are locked in the same order as everywhere else.
	for _, k := range keys {
		t.queue(qTouchIncident, sqlstore.TS(at), tenant, k)
	}
	return nil
}

func (t *tx) Alerts(ctx context.Context, incidentID int64) ([]incident.Alert, error) {
	if p := t.pre; p != nil && p.openID == incidentID {
		return p.alerts, nil
	}
	var alerts []incident.Alert
	q := &pgx.QueuedQuery{SQL: qAlerts, Arguments: []any{incidentID}}
	q.Query(func(rows pgx.Rows) error {
		var err error
		_, alerts, err = scanAlerts(rows)
		return err
	})
	if err := t.send(ctx, q); err != nil {
		return nil, fmt.Errorf("select alerts: %w", err)
	}
	return alerts, nil
}

func (t *tx) UpsertAlerts(_ context.Context, incidentID int64, alerts []incident.Alert) error {
	if len(alerts) == 0 {
		return nil
	}
	// One statement cannot upsert a row twice: the last alert of a
	// fingerprint wins, as it would with one statement per alert.
	last := make(map[string]int, len(alerts))
	for i, a := range alerts {
		last[a.Fingerprint] = i
	}
	n := len(last)
	var (
		fps, statuses, labels, anns, urls = make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]string, 0, n)
		starts, ends, seen                = make([]int64, 0, n), make([]int64, 0, n), make([]int64, 0, n)
	)
	for i, a := range alerts {
		if last[a.Fingerprint] != i {
			continue
		}
		l, an, err := sqlstore.AlertJSON(a)
		if err != nil {
			return err
		}
		fps, statuses, labels, anns = append(fps, a.Fingerprint), append(statuses, a.Status), append(labels, l), append(anns, an)
		starts, ends, urls, seen = append(starts, sqlstore.TS(a.StartsAt)), append(ends, sqlstore.TS(a.EndsAt)), append(urls, a.GeneratorURL), append(seen, sqlstore.TS(a.LastSeenAt))
	}
	if n == 1 {
		t.queue(qUpsertAlert, incidentID, fps[0], statuses[0], labels[0], anns[0], starts[0], ends[0], urls[0], seen[0])
		return nil
	}
	t.queue(qUpsertAlerts, incidentID, fps, statuses, labels, anns, starts, ends, urls, seen)
	return nil
}

func (t *tx) AppendJournal(_ context.Context, entries []incident.Entry) error {
	if len(entries) == 0 {
		return nil
	}
	if len(entries) == 1 {
		e := entries[0]
		t.queue(qJournalOne, e.Tenant, e.IncidentID, sqlstore.TS(e.At), e.Actor, e.Kind, e.Message)
		return nil
	}
	n := len(entries)
	tenants, actors, kinds, msgs := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	ids, ats := make([]int64, n), make([]int64, n)
	for i, e := range entries {
		tenants[i], ids[i], ats[i], actors[i], kinds[i], msgs[i] = e.Tenant, e.IncidentID, sqlstore.TS(e.At), e.Actor, e.Kind, e.Message
	}
	t.queue(qJournal, tenants, ids, ats, actors, kinds, msgs)
	return nil
}

func (t *tx) Enqueue(_ context.Context, items []store.OutboxItem) error {
	if len(items) == 0 {
		return nil
	}
	if len(items) == 1 {
		it := items[0]
		t.queue(qOutboxOne, it.Tenant, it.IncidentID, it.Event, string(it.Payload), sqlstore.TS(it.CreatedAt))
		return nil
	}
	n := len(items)
	tenants, events, payloads := make([]string, n), make([]string, n), make([]string, n)
	ids, ats := make([]int64, n), make([]int64, n)
	for i, it := range items {
		tenants[i], ids[i], events[i], payloads[i], ats[i] = it.Tenant, it.IncidentID, it.Event, string(it.Payload), sqlstore.TS(it.CreatedAt)
	}
	t.queue(qOutbox, tenants, ids, events, payloads, ats)
	return nil
}

func scanIncidents(rows pgx.Rows) ([]*incident.Incident, error) {
	defer rows.Close()
	return sqlstore.ScanIncidents(rows)
}

// scanAlerts returns the alerts and the incident they belong to (0 when none).
func scanAlerts(rows pgx.Rows) (int64, []incident.Alert, error) {
	defer rows.Close()
	var of int64
	out, err := sqlstore.ScanAlerts(rows, &of)
	return of, out, err
}
