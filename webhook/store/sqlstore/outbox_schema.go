package sqlstore

// forwardMigration adds the forwarders' delivery state, and the watchdog
// heartbeats of the reconciler.
//
// forward_jobs holds one row per (target, incident): outbox rows are
// dispatched into it (gen counts the changes seen, synced_gen the changes
// delivered), so that several changes of one incident coalesce into one
// delivery and one incident is delivered by one worker at a time (lease).
// dead_at > 0 marks a dead letter.
const forwardMigration = `
CREATE TABLE forward_jobs (
	id                {{ID}},
	tenant            TEXT NOT NULL,
	target            TEXT NOT NULL,
	incident_id       BIGINT NOT NULL,
	gen               BIGINT NOT NULL DEFAULT 0,
	synced_gen        BIGINT NOT NULL DEFAULT 0,
	synced_journal_id BIGINT NOT NULL DEFAULT 0,
	pending_since     BIGINT NOT NULL DEFAULT 0,
	next_attempt_at   BIGINT NOT NULL DEFAULT 0,
	attempts          INTEGER NOT NULL DEFAULT 0,
	claims            INTEGER NOT NULL DEFAULT 0,
	lease_owner       TEXT NOT NULL DEFAULT '',
	lease_until       BIGINT NOT NULL DEFAULT 0,
	dead_at           BIGINT NOT NULL DEFAULT 0,
	last_error        TEXT NOT NULL DEFAULT '',
	external_id       TEXT NOT NULL DEFAULT '',
	external_key      TEXT NOT NULL DEFAULT '',
	external_url      TEXT NOT NULL DEFAULT '',
	remote_state      TEXT NOT NULL DEFAULT '',
	created_at        BIGINT NOT NULL,
	synced_at         BIGINT NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX forward_jobs_key ON forward_jobs (target, incident_id);
CREATE INDEX forward_jobs_incident ON forward_jobs (incident_id);
CREATE INDEX forward_jobs_due ON forward_jobs (target, next_attempt_at) WHERE dead_at = 0 AND gen > synced_gen;
CREATE INDEX forward_jobs_dead ON forward_jobs (tenant, id) WHERE dead_at > 0;

CREATE TABLE watchdogs (
	tenant       TEXT PRIMARY KEY,
	armed_at     BIGINT NOT NULL,
	last_seen_at BIGINT NOT NULL DEFAULT 0
);
`
