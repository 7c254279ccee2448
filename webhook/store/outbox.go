package store

import (
	"context"
	"time"

	"github.com/kizashi-dev/kizashi/webhook/incident"
)

// ExternalRef is the ticket of an incident in one target (ticket system).
type ExternalRef struct {
	Target string // "tenant/name"
	ID     string // the target's id (ServiceNow sys_id, Jira issue id, PagerDuty dedup_key, ...)
	Key    string // human key (INC0010001, OPS-12), may be empty
	URL    string // link to the ticket, may be empty
}

// ForwardJob is the delivery state of one incident to one target. Changes
// of the incident (outbox rows) bump Gen; a delivery syncs the target to the
// incident's current state and sets SyncedGen to the Gen it saw, so changes
// made meanwhile coalesce into one delivery.
type ForwardJob struct {
	ID         int64
	Tenant     string
	Target     string
	IncidentID int64
	Gen        int64
	SyncedGen  int64
	// SyncedJournalID is the last journal line delivered (as work notes).
	SyncedJournalID int64
	// PendingSince is the time of the oldest change not yet delivered.
	PendingSince  time.Time
	NextAttemptAt time.Time
	// Attempts counts failed deliveries since the last success.
	Attempts int
	// Claims counts deliveries started since the last success; more than one
	// means an earlier one may have reached the target.
	Claims     int
	LeaseUntil time.Time
	DeadAt     time.Time
	LastError  string
	Ref        ExternalRef
	// RemoteState is what the target was last told (target-specific).
	RemoteState string
	CreatedAt   time.Time
	SyncedAt    time.Time
}

// Pending reports whether the job has changes to deliver.
func (j *ForwardJob) Pending() bool { return j.Gen > j.SyncedGen }

// JobDone is the outcome of a successful delivery.
type JobDone struct {
	// Gen is the job's Gen when it was claimed.
	Gen             int64
	SyncedJournalID int64
	RemoteState     string
	Ref             ExternalRef
	At              time.Time
	// ClaimedAt is when the delivery started: the pending time of changes
	// that came in meanwhile.
	ClaimedAt time.Time
}

// JobFailed is the outcome of a failed delivery.
type JobFailed struct {
	Error         string
	NextAttemptAt time.Time
	// Count adds the failure to Attempts (throttling does not count).
	Count bool
	// Dead makes the job a dead letter.
	Dead bool
	At   time.Time
}

// DeadLetterFilter selects dead letters, newest first.
type DeadLetterFilter struct {
	Tenant   string // "" = all
	Target   string // "" = all
	BeforeID int64
	Limit    int
}

// TargetStats summarises a target's queue.
type TargetStats struct {
	Target  string
	Pending int
	Dead    int
	// OldestPending is the pending time of the oldest undelivered change
	// (zero when none).
	OldestPending time.Time
}

// Forwarding is the store side of the outbox forwarders. The SQL stores
// implement it next to Store.
type Forwarding interface {
	// DispatchOutbox moves up to limit undispatched outbox rows into the
	// jobs of their tenant's targets (targets returns them; none drops the
	// row) and marks the rows dispatched. It returns the rows handled.
	DispatchOutbox(ctx context.Context, now time.Time, limit int, targets func(tenant string) []string) (int, error)
	// ClaimJobs leases up to limit due, pending, live jobs of a target to
	// owner until leaseUntil and counts a claim on each. Several replicas may
	// claim concurrently; a job is leased to one of them.
	ClaimJobs(ctx context.Context, target, owner string, now, leaseUntil time.Time, limit int) ([]ForwardJob, error)
	// SaveRef stores a job's external reference (after create or adopt).
	SaveRef(ctx context.Context, jobID int64, owner string, ref ExternalRef) error
	// CompleteJob records a delivery and releases the lease. It returns
	// false when owner lost the lease meanwhile (nothing is written).
	CompleteJob(ctx context.Context, jobID int64, owner string, d JobDone) (bool, error)
	// FailJob records a failed delivery and releases the lease.
	FailJob(ctx context.Context, jobID int64, owner string, f JobFailed) error
	// KickTarget makes every live pending job of a target due now (after
	// the target came back).
	KickTarget(ctx context.Context, target string, now time.Time) (int, error)
	// ReleaseLeases drops every lease (a single-process store at start).
	ReleaseLeases(ctx context.Context) error
	// Job returns one job; tenant "" matches any tenant.
	Job(ctx context.Context, tenant string, id int64) (*ForwardJob, error)
	// DeadLetters lists dead jobs.
	DeadLetters(ctx context.Context, f DeadLetterFilter) ([]ForwardJob, error)
	// RetryDeadLetters makes dead jobs live and due now: the one with id
	// (when id > 0) or all of target (when target != ""), within tenant
	// ("" = any). It returns how many.
	RetryDeadLetters(ctx context.Context, tenant, target string, id int64, now time.Time) (int, error)
	// ForwardStats summarises each target's jobs, and per tenant the
	// outbox rows not dispatched yet (Target "tenant/").
	ForwardStats(ctx context.Context) ([]TargetStats, error)
	// ExternalRefs returns the tickets of incidents.
	ExternalRefs(ctx context.Context, incidentIDs []int64) (map[int64][]ExternalRef, error)
	// PruneOutbox deletes outbox rows dispatched before before.
	PruneOutbox(ctx context.Context, before time.Time) (int64, error)
}

// WatchdogState is a tenant's dead-man's switch.
type WatchdogState struct {
	Tenant string
	// ArmedAt is when the switch was first checked (the clock starts then
	// when no heartbeat ever came).
	ArmedAt    time.Time
	LastSeenAt time.Time
}

// Last is the time the switch was last fed (or armed).
func (w WatchdogState) Last() time.Time {
	if w.LastSeenAt.After(w.ArmedAt) {
		return w.LastSeenAt
	}
	return w.ArmedAt
}

// Reconciling is the store side of the Alertmanager reconciler.
type Reconciling interface {
	// ReconcileCandidates lists a tenant's incidents with firing alerts that
	// are new or in progress and had no notification since notifiedBefore,
	// and those on hold.
	ReconcileCandidates(ctx context.Context, tenant string, notifiedBefore time.Time, limit int) ([]*incident.Incident, error)
	// RecordHeartbeat feeds a tenant's watchdog.
	RecordHeartbeat(ctx context.Context, tenant string, at time.Time) error
	// Watchdog returns a tenant's watchdog, arming it at now when new.
	Watchdog(ctx context.Context, tenant string, now time.Time) (WatchdogState, error)
}
