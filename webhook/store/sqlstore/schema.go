package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// migrations are applied in order; a database records the number applied.
// Never edit a released migration: append a new one.
var migrations = []string{
	// 1: initial schema.
	`
CREATE TABLE notifications (
	key          TEXT PRIMARY KEY,
	tenant       TEXT NOT NULL,
	receiver     TEXT NOT NULL,
	group_key    TEXT NOT NULL,
	status       TEXT NOT NULL,
	reason       TEXT NOT NULL,
	alerts       INTEGER NOT NULL,
	truncated    BIGINT NOT NULL,
	received_at  BIGINT NOT NULL,
	body         {{BLOB}} NOT NULL,
	duplicates   INTEGER NOT NULL DEFAULT 0,
	last_seen_at BIGINT NOT NULL
);
CREATE INDEX notifications_tenant_received ON notifications (tenant, received_at);

CREATE TABLE incidents (
	id                   {{ID}},
	version              BIGINT NOT NULL,
	tenant               TEXT NOT NULL,
	correlation_key      TEXT NOT NULL,
	receiver             TEXT NOT NULL,
	group_key            TEXT NOT NULL,
	title                TEXT NOT NULL,
	state                TEXT NOT NULL,
	impact               INTEGER NOT NULL,
	urgency              INTEGER NOT NULL,
	priority             INTEGER NOT NULL,
	category             TEXT NOT NULL,
	ci                   TEXT NOT NULL,
	assignment_group     TEXT NOT NULL,
	assignee             TEXT NOT NULL,
	hold_reason          TEXT NOT NULL,
	labels               TEXT NOT NULL,
	created_at           BIGINT NOT NULL,
	updated_at           BIGINT NOT NULL,
	acknowledged_at      BIGINT NOT NULL,
	resolved_at          BIGINT NOT NULL,
	closed_at            BIGINT NOT NULL,
	last_notified_at     BIGINT NOT NULL,
	response_due         BIGINT NOT NULL,
	resolve_due          BIGINT NOT NULL,
	response_breached_at BIGINT NOT NULL,
	resolve_breached_at  BIGINT NOT NULL,
	hold_since           BIGINT NOT NULL,
	paused_total         BIGINT NOT NULL,
	close_code           TEXT NOT NULL,
	close_notes          TEXT NOT NULL,
	resolved_by          TEXT NOT NULL,
	reopen_count         INTEGER NOT NULL,
	flap_times           TEXT NOT NULL,
	flapping             INTEGER NOT NULL,
	touched              INTEGER NOT NULL,
	major_proposed       INTEGER NOT NULL,
	mute_until           BIGINT NOT NULL,
	previous_id          BIGINT NOT NULL,
	firing_alerts        INTEGER NOT NULL,
	external_refs        TEXT NOT NULL DEFAULT '{}'
);
CREATE UNIQUE INDEX incidents_open_key ON incidents (tenant, correlation_key) WHERE state NOT IN ('closed', 'canceled');
CREATE INDEX incidents_key ON incidents (tenant, correlation_key, id);
CREATE INDEX incidents_tenant_id ON incidents (tenant, id);
CREATE INDEX incidents_state ON incidents (state);

CREATE TABLE alerts (
	incident_id   BIGINT NOT NULL,
	fingerprint   TEXT NOT NULL,
	status        TEXT NOT NULL,
	labels        TEXT NOT NULL,
	annotations   TEXT NOT NULL,
	starts_at     BIGINT NOT NULL,
	ends_at       BIGINT NOT NULL,
	generator_url TEXT NOT NULL,
	last_seen_at  BIGINT NOT NULL,
	PRIMARY KEY (incident_id, fingerprint)
);

CREATE TABLE journal (
	id          {{ID}},
	tenant      TEXT NOT NULL,
	incident_id BIGINT NOT NULL,
	at          BIGINT NOT NULL,
	actor       TEXT NOT NULL,
	kind        TEXT NOT NULL,
	message     TEXT NOT NULL
);
CREATE INDEX journal_incident ON journal (incident_id, id);

CREATE TABLE outbox (
	id              {{ID}},
	tenant          TEXT NOT NULL,
	incident_id     BIGINT NOT NULL,
	event           TEXT NOT NULL,
	payload         TEXT NOT NULL,
	created_at      BIGINT NOT NULL,
	attempts        INTEGER NOT NULL DEFAULT 0,
	next_attempt_at BIGINT NOT NULL DEFAULT 0,
	delivered_at    BIGINT NOT NULL DEFAULT 0,
	external_id     TEXT NOT NULL DEFAULT '',
	last_error      TEXT NOT NULL DEFAULT ''
);
CREATE INDEX outbox_pending ON outbox (delivered_at, next_attempt_at);
`,
	// 2: forwarders' delivery state and watchdog heartbeats (forward_schema.go).
	forwardMigration,
	// 3: columns of migration 1 that nothing uses: delivery state lives in forward_jobs (the
	// outbox is only dispatched into it) and so do the tickets (incidents.external_refs). The
	// outbox index serves the dispatcher's "undelivered, oldest first".
	`
DROP INDEX outbox_pending;
ALTER TABLE outbox DROP COLUMN attempts;
ALTER TABLE outbox DROP COLUMN next_attempt_at;
ALTER TABLE outbox DROP COLUMN external_id;
ALTER TABLE outbox DROP COLUMN last_error;
CREATE INDEX outbox_pending ON outbox (id) WHERE delivered_at = 0;
ALTER TABLE incidents DROP COLUMN external_refs;
`,
	// 4: large bodies are stored compressed (body_encoding gzip); retention deletes old
	// notifications by their last delivery, and journal lines of notifications by time.
	`
ALTER TABLE notifications ADD COLUMN body_encoding TEXT NOT NULL DEFAULT '';
CREATE INDEX notifications_last_seen ON notifications (last_seen_at);
CREATE INDEX journal_kind_at ON journal (kind, at);
`,
	// 5: the service-desk page's sessions and the installation's secret (session.go). It
	// was numbered 4 while it was developed next to the migration above: see forkAt4.
	sessionMigration,
	// 6 (desk-people): what a journal line's actor is — a named user, a credential's owner or
	// the system. Earlier lines are the system's when written by Alertmanager, the desk's rules
	// or reconciliation; the rest were written by a credential's holder (its owner's name, or,
	// in early releases, the free text the caller sent), and keep their text.
	`
ALTER TABLE journal ADD COLUMN actor_type TEXT NOT NULL DEFAULT 'credential';
UPDATE journal SET actor_type = 'system' WHERE actor IN ('alertmanager', 'system', 'reconciler');
`,
	// 7: problem management and major incidents (issue 15, problem.go).
	problemMigration,
	// 8: escalation steps (escalation.go).
	escalationMigration,
	// 9: once-per-period deliveries (report mails, update reminders) and on-call overrides
	// made through the API (delivery.go).
	deliveryMigration,
	// 10: the named users' preferences of the page and the REST API (language, time zone;
	// prefs.go).
	prefsMigration,
}

func expand(sql string, d *Dialect) string {
	return strings.NewReplacer("{{ID}}", d.IDColumn, "{{BLOB}}", d.BlobType).Replace(sql)
}

// forkAt4 returns the version a database at version cur is really at. Two lines of
// development each added a migration 4: compact bodies and retention (now 4) and the page's
// sessions (now 5). A database that recorded 4 but has the sessions table and no
// notifications.body_encoding column was migrated by the second: it is at 3 as far as
// migration 4 is concerned, and migration 5 creates only what does not exist. Its record of
// version 4 is removed so that 4 and 5 are recorded once when they are applied.
func forkAt4(ctx context.Context, tx *sql.Tx, cur int) (int, error) {
	if cur != 4 {
		return cur, nil
	}
	sessions, err := probe(ctx, tx, `SELECT id FROM sessions WHERE 1 = 0`)
	if err != nil {
		return 0, err
	}
	encoding, err := probe(ctx, tx, `SELECT body_encoding FROM notifications WHERE 1 = 0`)
	if err != nil {
		return 0, err
	}
	if !sessions || encoding {
		return cur, nil
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM schema_migrations WHERE version > 3`); err != nil {
		return 0, fmt.Errorf("renumber the sessions migration: %w", err)
	}
	return 3, nil
}

// probe reports whether query runs in tx (the tables and columns it names exist). It runs
// in a savepoint, as a failed statement aborts a PostgreSQL transaction.
func probe(ctx context.Context, tx *sql.Tx, query string) (bool, error) {
	if _, err := tx.ExecContext(ctx, `SAVEPOINT probe`); err != nil {
		return false, fmt.Errorf("probe schema: %w", err)
	}
	_, qerr := tx.ExecContext(ctx, query)
	if qerr != nil {
		if _, err := tx.ExecContext(ctx, `ROLLBACK TO SAVEPOINT probe`); err != nil {
			return false, fmt.Errorf("probe schema: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, `RELEASE SAVEPOINT probe`); err != nil {
		return false, fmt.Errorf("probe schema: %w", err)
	}
	return qerr == nil, nil
}
