package store

import (
	"context"
	"time"

	"github.com/kizashi-dev/kizashi/webhook/incident"
)

// DeliveryKey names a job that runs once per period: the scheduled mail of a tenant's
// service report for a month (Kind "report", Period "2026-11"), a reminder of a major
// incident's customer update due at a time (Kind "update_reminder", Subject the incident id,
// Period the due time). The store holds one row per key, so a job is made once however many
// replicas try, and run by the replica that holds its lease.
type DeliveryKey struct {
	Kind, Tenant, Subject, Period string
}

// Delivery is the state of one job.
type Delivery struct {
	DeliveryKey
	DueAt time.Time
	// Delivered lists the deliveries made (recipient/channel), so a job run again after a
	// failure or a crash does not repeat them.
	Delivered  []string
	Attempts   int
	LeaseUntil time.Time
	// Outcome is "" while pending, else DeliverySent or DeliveryFailed.
	Outcome   string
	DoneAt    time.Time
	LastError string
	// Note is what the run did (recipients, format), kept with the outcome.
	Note      string
	CreatedAt time.Time
}

// Delivery outcomes.
const (
	DeliverySent   = "sent"
	DeliveryFailed = "failed"
)

// Delivering is the store side of once-per-period jobs. The SQL stores implement it next to
// Store.
type Delivering interface {
	// ClaimDelivery makes the row of key (due at dueAt) unless it exists, and leases it to
	// owner until leaseUntil when it is pending, due at now and not leased by another. It
	// returns the job and whether owner holds it now.
	ClaimDelivery(ctx context.Context, key DeliveryKey, dueAt time.Time, owner string, now, leaseUntil time.Time) (*Delivery, bool, error)
	// MarkDelivery records one delivery of a job leased to owner.
	MarkDelivery(ctx context.Context, key DeliveryKey, owner, delivery string) error
	// FinishDelivery records a job's outcome and note and appends journal lines in one
	// transaction. It returns false (writing nothing) when owner no longer holds the job.
	FinishDelivery(ctx context.Context, key DeliveryKey, owner, outcome, note, lastError string, at time.Time, journal []incident.Entry) (bool, error)
	// RetryDelivery releases a job after a failed attempt, due again at next.
	RetryDelivery(ctx context.Context, key DeliveryKey, owner, lastError string, next time.Time) error
	// Deliveries lists the jobs of a kind (and tenant; "" every tenant), newest first.
	Deliveries(ctx context.Context, kind, tenant string, limit int) ([]Delivery, error)
}

// OnCallOverride puts Contact on call in a schedule of a tenant for [From, To), made through
// the API (overrides of the configuration file are not stored).
type OnCallOverride struct {
	ID        int64
	Tenant    string
	Schedule  string
	Contact   string
	From, To  time.Time
	Reason    string
	CreatedBy string
	CreatedAt time.Time
}

// OnCallOverrides is the store side of on-call overrides made through the API.
type OnCallOverrides interface {
	// AddOverride stores o and sets its ID.
	AddOverride(ctx context.Context, o *OnCallOverride) error
	// DeleteOverride deletes an override of tenant (ErrNotFound when there is none): the row
	// is kept, marked deleted by actor at at, as the audit trail.
	DeleteOverride(ctx context.Context, tenant string, id int64, actor string, at time.Time) (*OnCallOverride, error)
	// Overrides lists the overrides of tenant ("" every tenant) that end after since, by
	// start.
	Overrides(ctx context.Context, tenant string, since time.Time) ([]OnCallOverride, error)
}
