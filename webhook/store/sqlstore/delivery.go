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

var (
	_ store.Delivering      = (*Store)(nil)
	_ store.OnCallOverrides = (*Store)(nil)
)

// deliveryMigration adds once-per-period jobs (scheduled report mails, reminders of customer
// updates), one row per key leased like escalation_steps, and the on-call overrides made
// through the API. It creates only what does not exist (see escalationMigration).
const deliveryMigration = `
CREATE TABLE IF NOT EXISTS deliveries (
	id          {{ID}},
	kind        TEXT NOT NULL,
	tenant      TEXT NOT NULL,
	subject     TEXT NOT NULL,
	period      TEXT NOT NULL,
	due_at      BIGINT NOT NULL,
	delivered   TEXT NOT NULL DEFAULT '[]',
	attempts    INTEGER NOT NULL DEFAULT 0,
	lease_owner TEXT NOT NULL DEFAULT '',
	lease_until BIGINT NOT NULL DEFAULT 0,
	outcome     TEXT NOT NULL DEFAULT '',
	done_at     BIGINT NOT NULL DEFAULT 0,
	last_error  TEXT NOT NULL DEFAULT '',
	note        TEXT NOT NULL DEFAULT '',
	created_at  BIGINT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS deliveries_key ON deliveries (kind, tenant, subject, period);
CREATE TABLE IF NOT EXISTS oncall_overrides (
	id         {{ID}},
	tenant     TEXT NOT NULL,
	schedule   TEXT NOT NULL,
	contact    TEXT NOT NULL,
	starts_at  BIGINT NOT NULL,
	ends_at    BIGINT NOT NULL,
	reason     TEXT NOT NULL DEFAULT '',
	created_by TEXT NOT NULL,
	created_at BIGINT NOT NULL,
	deleted_by TEXT NOT NULL DEFAULT '',
	deleted_at BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS oncall_overrides_tenant ON oncall_overrides (tenant, ends_at);
`

const deliveryColumns = `kind, tenant, subject, period, due_at, delivered, attempts, lease_until, outcome, done_at, last_error, note, created_at`

const deliveryKeyWhere = ` WHERE kind = ? AND tenant = ? AND subject = ? AND period = ?`

func keyArgs(k store.DeliveryKey) []any { return []any{k.Kind, k.Tenant, k.Subject, k.Period} }

func scanDelivery(row interface{ Scan(...any) error }) (*store.Delivery, error) {
	var (
		d                         store.Delivery
		due, lease, done, created int64
		raw                       string
	)
	if err := row.Scan(&d.Kind, &d.Tenant, &d.Subject, &d.Period, &due, &raw, &d.Attempts, &lease, &d.Outcome, &done, &d.LastError, &d.Note, &created); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(raw), &d.Delivered); err != nil {
		return nil, fmt.Errorf("delivery %s/%s/%s: delivered: %w", d.Kind, d.Tenant, d.Period, err)
	}
	d.DueAt, d.LeaseUntil, d.DoneAt, d.CreatedAt = FromTS(due), FromTS(lease), FromTS(done), FromTS(created)
	return &d, nil
}

func cleanKey(k store.DeliveryKey) store.DeliveryKey {
	return store.DeliveryKey{Kind: sanitize.Text(k.Kind, sanitize.MaxName), Tenant: sanitize.Text(k.Tenant, sanitize.MaxName),
		Subject: sanitize.Text(k.Subject, sanitize.MaxName), Period: sanitize.Text(k.Period, sanitize.MaxName)}
}

// ClaimDelivery implements store.Delivering.
func (s *Store) ClaimDelivery(ctx context.Context, key store.DeliveryKey, dueAt time.Time, owner string, now, leaseUntil time.Time) (*store.Delivery, bool, error) {
	key = cleanKey(key)
	var (
		d  *store.Delivery
		ok bool
	)
	err := s.write(ctx, func(ctx context.Context, t *tx) error {
		d, ok = nil, false
		if _, err := t.exec(ctx, `INSERT INTO deliveries (kind, tenant, subject, period, due_at, created_at) VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (kind, tenant, subject, period) DO NOTHING`, append(keyArgs(key), TS(dueAt), TS(now))...); err != nil {
			return fmt.Errorf("make delivery: %w", err)
		}
		res, err := t.exec(ctx, `UPDATE deliveries SET lease_owner = ?, lease_until = ?`+deliveryKeyWhere+`
			AND outcome = '' AND due_at <= ? AND lease_until <= ?`, append(append([]any{owner, TS(leaseUntil)}, keyArgs(key)...), TS(now), TS(now))...)
		if err != nil {
			return fmt.Errorf("lease delivery: %w", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		ok = n == 1
		d, err = scanDelivery(t.queryRow(ctx, `SELECT `+deliveryColumns+` FROM deliveries`+deliveryKeyWhere, keyArgs(key)...))
		return err
	})
	if err != nil {
		return nil, false, fmt.Errorf("claim delivery %s/%s/%s/%s: %w", key.Kind, key.Tenant, key.Subject, key.Period, err)
	}
	return d, ok, nil
}

// MarkDelivery implements store.Delivering.
func (s *Store) MarkDelivery(ctx context.Context, key store.DeliveryKey, owner, delivery string) error {
	key = cleanKey(key)
	return s.write(ctx, func(ctx context.Context, t *tx) error {
		var raw string
		if err := t.queryRow(ctx, `SELECT delivered FROM deliveries`+deliveryKeyWhere+` AND lease_owner = ? AND outcome = ''`,
			append(keyArgs(key), owner)...).Scan(&raw); err != nil {
			if err == sql.ErrNoRows {
				return fmt.Errorf("delivery %s/%s/%s: lease lost", key.Kind, key.Tenant, key.Period)
			}
			return fmt.Errorf("read delivery: %w", err)
		}
		var d []string
		if err := json.Unmarshal([]byte(raw), &d); err != nil {
			return fmt.Errorf("delivery %s/%s/%s: delivered: %w", key.Kind, key.Tenant, key.Period, err)
		}
		if slices.Contains(d, delivery) {
			return nil
		}
		b, err := json.Marshal(append(d, sanitize.Text(delivery, 0)))
		if err != nil {
			return err
		}
		_, err = t.exec(ctx, `UPDATE deliveries SET delivered = ?`+deliveryKeyWhere, append([]any{string(b)}, keyArgs(key)...)...)
		return err
	})
}

// FinishDelivery implements store.Delivering.
func (s *Store) FinishDelivery(ctx context.Context, key store.DeliveryKey, owner, outcome, note, lastError string, at time.Time, journal []incident.Entry) (bool, error) {
	key = cleanKey(key)
	var ok bool
	err := s.write(ctx, func(ctx context.Context, t *tx) error {
		ok = false
		res, err := t.exec(ctx, `UPDATE deliveries SET outcome = ?, note = ?, last_error = ?, done_at = ?, lease_owner = '', lease_until = 0`+
			deliveryKeyWhere+` AND lease_owner = ? AND outcome = ''`,
			append(append([]any{outcome, sanitize.Text(note, 4096), sanitize.Text(strings.TrimSpace(lastError), 1024), TS(at)}, keyArgs(key)...), owner)...)
		if err != nil {
			return fmt.Errorf("finish delivery: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil || n != 1 {
			return err
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
		return false, fmt.Errorf("finish delivery %s/%s/%s: %w", key.Kind, key.Tenant, key.Period, err)
	}
	return ok, nil
}

// RetryDelivery implements store.Delivering.
func (s *Store) RetryDelivery(ctx context.Context, key store.DeliveryKey, owner, lastError string, next time.Time) error {
	key = cleanKey(key)
	return s.write(ctx, func(ctx context.Context, t *tx) error {
		_, err := t.exec(ctx, `UPDATE deliveries SET attempts = attempts + 1, last_error = ?, due_at = ?, lease_owner = '', lease_until = 0`+
			deliveryKeyWhere+` AND lease_owner = ? AND outcome = ''`,
			append(append([]any{sanitize.Text(strings.TrimSpace(lastError), 1024), TS(next)}, keyArgs(key)...), owner)...)
		if err != nil {
			return fmt.Errorf("retry delivery %s/%s/%s: %w", key.Kind, key.Tenant, key.Period, err)
		}
		return nil
	})
}

// Deliveries implements store.Delivering.
func (s *Store) Deliveries(ctx context.Context, kind, tenant string, limit int) (_ []store.Delivery, err error) {
	if limit <= 0 || limit > MaxLimit {
		limit = MaxLimit
	}
	q, args := `SELECT `+deliveryColumns+` FROM deliveries WHERE kind = ?`, []any{kind}
	if tenant != "" {
		q, args = q+` AND tenant = ?`, append(args, tenant)
	}
	rows, err := s.r.QueryContext(ctx, s.q(q+fmt.Sprintf(` ORDER BY created_at DESC, id DESC LIMIT %d`, limit)), args...)
	if err != nil {
		return nil, fmt.Errorf("deliveries: %w", err)
	}
	defer closeRows(rows, &err)
	var out []store.Delivery
	for rows.Next() {
		d, err := scanDelivery(rows)
		if err != nil {
			return nil, fmt.Errorf("scan delivery: %w", err)
		}
		out = append(out, *d)
	}
	return out, rows.Err()
}

// AddOverride implements store.OnCallOverrides.
func (s *Store) AddOverride(ctx context.Context, o *store.OnCallOverride) error {
	o.Tenant, o.Schedule, o.Contact = sanitize.Text(o.Tenant, sanitize.MaxName), sanitize.Text(o.Schedule, sanitize.MaxName), sanitize.Text(o.Contact, sanitize.MaxName)
	o.Reason, o.CreatedBy = sanitize.Text(o.Reason, 1024), sanitize.Text(o.CreatedBy, sanitize.MaxName)
	return s.write(ctx, func(ctx context.Context, t *tx) error {
		return t.queryRow(ctx, `INSERT INTO oncall_overrides (tenant, schedule, contact, starts_at, ends_at, reason, created_by, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`, o.Tenant, o.Schedule, o.Contact, TS(o.From), TS(o.To), o.Reason, o.CreatedBy, TS(o.CreatedAt)).Scan(&o.ID)
	})
}

const overrideColumns = `id, tenant, schedule, contact, starts_at, ends_at, reason, created_by, created_at`

func scanOverride(row interface{ Scan(...any) error }) (store.OnCallOverride, error) {
	var (
		o                   store.OnCallOverride
		from, to, createdAt int64
	)
	err := row.Scan(&o.ID, &o.Tenant, &o.Schedule, &o.Contact, &from, &to, &o.Reason, &o.CreatedBy, &createdAt)
	o.From, o.To, o.CreatedAt = FromTS(from), FromTS(to), FromTS(createdAt)
	return o, err
}

// DeleteOverride implements store.OnCallOverrides: the row stays, marked deleted by actor.
func (s *Store) DeleteOverride(ctx context.Context, tenant string, id int64, actor string, at time.Time) (*store.OnCallOverride, error) {
	var out *store.OnCallOverride
	err := s.write(ctx, func(ctx context.Context, t *tx) error {
		o, err := scanOverride(t.queryRow(ctx, `SELECT `+overrideColumns+` FROM oncall_overrides WHERE tenant = ? AND id = ? AND deleted_at = 0`, tenant, id))
		if err == sql.ErrNoRows {
			return store.ErrNotFound
		}
		if err != nil {
			return err
		}
		res, err := t.exec(ctx, `UPDATE oncall_overrides SET deleted_by = ?, deleted_at = ? WHERE tenant = ? AND id = ? AND deleted_at = 0`,
			sanitize.Text(actor, sanitize.MaxName), TS(at), tenant, id)
		if err != nil {
			return err
		}
		out = &o
		return affected(res, store.ErrNotFound)
	})
	return out, storeErr(err, "delete on-call override")
}

// Overrides implements store.OnCallOverrides.
func (s *Store) Overrides(ctx context.Context, tenant string, since time.Time) (_ []store.OnCallOverride, err error) {
	q, args := `SELECT `+overrideColumns+` FROM oncall_overrides WHERE deleted_at = 0 AND ends_at > ?`, []any{TS(since)}
	if tenant != "" {
		q, args = q+` AND tenant = ?`, append(args, tenant)
	}
	rows, err := s.r.QueryContext(ctx, s.q(q+fmt.Sprintf(` ORDER BY starts_at, id LIMIT %d`, MaxLimit)), args...)
	if err != nil {
		return nil, fmt.Errorf("on-call overrides: %w", err)
	}
	defer closeRows(rows, &err)
	var out []store.OnCallOverride
	for rows.Next() {
		o, err := scanOverride(rows)
		if err != nil {
			return nil, fmt.Errorf("scan on-call override: %w", err)
		}
		out = append(out, o)
	}
	return out, rows.Err()
}
