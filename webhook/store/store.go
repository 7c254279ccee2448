// Package store persists notifications, incidents, their alerts, the journal
// and the outbox. Implementations (store/sqlite, store/postgres) share one
// behaviour, checked by the conformance suite webhook/storetest (it drives
// them through the service layer, so it lives above it, not in here).
//
// The store never decides ITIL policy: it reads and writes what the service
// layer tells it, inside one transaction per Update call, and enforces only
// the invariants a database can: one open incident per (tenant, correlation
// key) through a unique index, one stored notification per idempotency key,
// and optimistic concurrency on incident rows.
package store

import (
	"context"
	"errors"
	"time"

	"github.com/kizashi-dev/kizashi/webhook/incident"
)

// Errors.
var (
	// ErrConflict means a concurrent writer changed the same rows; Update
	// retries its function when it sees it.
	ErrConflict = errors.New("concurrent update conflict")
	// ErrNotFound is returned for an incident that does not exist (for the
	// tenant asking).
	ErrNotFound = errors.New("not found")
)

// Notification is one received webhook notification, stored raw.
type Notification struct {
	Key        string // idempotency key
	Tenant     string
	Receiver   string
	GroupKey   string
	Status     string
	Reason     string
	Alerts     int    // alerts kept
	Truncated  uint64 // alerts left out, by Alertmanager or by the receiver's limit
	ReceivedAt time.Time
	Body       []byte
	// BodyEncoding is "" for the JSON as received, "gzip" for it compressed.
	BodyEncoding string
}

// OutboxItem is outbound work queued in the ingest transaction (for the
// forwarders of a later release).
type OutboxItem struct {
	ID         int64
	Tenant     string
	IncidentID int64
	Event      string
	Payload    []byte
	CreatedAt  time.Time
}

// Tx is the view of one write transaction.
type Tx interface {
	// InsertNotification stores n; it returns false and stores nothing when a
	// notification with the same key is already stored.
	InsertNotification(ctx context.Context, n *Notification) (bool, error)
	// RecordDuplicate counts another delivery of a stored notification.
	RecordDuplicate(ctx context.Context, key string, at time.Time) error
	// OpenIncident returns the non-final incident of a correlation key, or nil.
	OpenIncident(ctx context.Context, tenant, correlationKey string) (*incident.Incident, error)
	// LatestIncident returns the most recent final (closed or canceled)
	// incident of a correlation key, or nil.
	LatestIncident(ctx context.Context, tenant, correlationKey string) (*incident.Incident, error)
	// Incident returns an incident by id; tenant "" matches any tenant.
	Incident(ctx context.Context, tenant string, id int64) (*incident.Incident, error)
	// CreateIncident inserts in and sets its ID and Version. It returns
	// ErrConflict when another open incident holds the correlation key.
	CreateIncident(ctx context.Context, in *incident.Incident) error
	// UpdateIncident writes in if its Version is still current, and bumps it;
	// otherwise it returns ErrConflict.
	UpdateIncident(ctx context.Context, in *incident.Incident) error
	// TouchIncidents sets the last notification time of open incidents
	// (heartbeat) without bumping their version.
	TouchIncidents(ctx context.Context, tenant string, correlationKeys []string, at time.Time) error
	// Alerts lists an incident's alerts.
	Alerts(ctx context.Context, incidentID int64) ([]incident.Alert, error)
	// UpsertAlerts inserts or replaces alerts of an incident by fingerprint.
	UpsertAlerts(ctx context.Context, incidentID int64, alerts []incident.Alert) error
	// AppendJournal appends journal lines.
	AppendJournal(ctx context.Context, entries []incident.Entry) error
	// Enqueue adds outbox items.
	Enqueue(ctx context.Context, items []OutboxItem) error
}

// Filter selects incidents. Results are ordered newest first (by id) and
// paginated by keyset: pass the last id seen as BeforeID.
type Filter struct {
	Tenant          string // "" = all tenants (operators only)
	States          []incident.State
	OpenOnly        bool
	Priority        int
	Assignee        string
	AssignmentGroup string
	// Groups, when not nil, keeps the incidents of these assignment groups and the unassigned
	// ones (no assignment group): what an operator limited to groups sees.
	Groups   []string
	Search   string // substring of the title
	BeforeID int64
	Limit    int
	// ActiveFrom and ActiveTo keep the incidents active at some time in [ActiveFrom, ActiveTo]:
	// created by ActiveTo and not resolved (or closed) before ActiveFrom. Zero: unbounded.
	ActiveFrom, ActiveTo time.Time
}

// OpenCount is the number of open incidents (New, In Progress, On Hold: not
// Resolved) per tenant, priority, state.
type OpenCount struct {
	Tenant   string
	Priority int
	State    incident.State
	Count    int
}

// Counts of stored notifications.
type Counts struct {
	Notifications int64
	Duplicates    int64
	Incidents     int64
	JournalLines  int64
	OutboxItems   int64
}

// Store is the persistence interface.
type Store interface {
	// Update runs fn in one transaction and commits it; fn may be run again
	// when the transaction hit ErrConflict. When Update returns nil the
	// transaction is durable.
	Update(ctx context.Context, fn func(ctx context.Context, tx Tx) error) error

	ListIncidents(ctx context.Context, f Filter) ([]*incident.Incident, error)
	Incident(ctx context.Context, tenant string, id int64) (*incident.Incident, error)
	Alerts(ctx context.Context, incidentID int64) ([]incident.Alert, error)
	Journal(ctx context.Context, incidentID int64) ([]incident.Entry, error)
	Outbox(ctx context.Context, afterID int64, limit int) ([]OutboxItem, error)
	// SweepCandidates lists open incidents whose SLA due times passed without
	// a recorded breach, resolved incidents resolved before resolvedBefore, and
	// flapping open incidents whose alerts all resolved (quiet or not yet).
	SweepCandidates(ctx context.Context, now, resolvedBefore time.Time, limit int) ([]*incident.Incident, error)
	OpenCounts(ctx context.Context) ([]OpenCount, error)
	// KPIIncidents lists the incidents created in [from, to) (zero bounds are
	// open) of a tenant ("" = all), for the KPIs (incident.KPI).
	KPIIncidents(ctx context.Context, tenant string, from, to time.Time) ([]*incident.Incident, error)
	Counts(ctx context.Context) (Counts, error)
	Ping(ctx context.Context) error
	Close() error
}

// Pruned counts what one retention batch deleted: rows, and the bytes of
// their payload (a notification's body as stored, a journal line's text).
type Pruned struct {
	Rows, Bytes int64
}

// Retention deletes what grows with every notification, a batch at a time
// (one short transaction each). The SQL stores implement it.
type Retention interface {
	// PruneNotifications deletes up to limit stored notifications last
	// delivered (first or as a duplicate) before before.
	PruneNotifications(ctx context.Context, before time.Time, limit int) (Pruned, error)
	// PruneJournalNotifications deletes up to limit journal lines of kind
	// notification written before before.
	PruneJournalNotifications(ctx context.Context, before time.Time, limit int) (Pruned, error)
}
