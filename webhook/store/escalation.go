package store

import (
	"context"
	"time"

	"github.com/kizashi-dev/kizashi/webhook/incident"
)

// EscalationStep is one step of an incident's escalation: notify the
// recipients of one level of a policy, once. Steps are numbered per incident
// (Seq 0, 1, ...); the store holds one row per (incident, Seq), so a step is
// created once however many replicas try, and run by the replica that holds
// its lease.
type EscalationStep struct {
	ID         int64
	Tenant     string
	IncidentID int64
	Policy     string
	Seq        int
	// Level (0-based) and Round (1-based) of the policy.
	Level, Round int
	DueAt        time.Time
	// Delivered lists the deliveries made ("contact/channel"), so a step run
	// again after a failure or a crash does not repeat them.
	Delivered  []string
	Attempts   int
	LeaseUntil time.Time
	// Outcome is "" while pending, else notified, stopped or failed.
	Outcome   string
	DoneAt    time.Time
	LastError string
	CreatedAt time.Time
}

// Escalation step outcomes.
const (
	StepNotified = "notified"
	StepStopped  = "stopped"
)

// Escalating is the store side of escalation policies. The SQL stores
// implement it next to Store.
type Escalating interface {
	// StartEscalations creates the first step (due at now) of policy for
	// every incident of tenant that is new, unacknowledged, of one of
	// priorities, created at or after since and has no step yet. It returns
	// how many it created.
	StartEscalations(ctx context.Context, tenant, policy string, priorities []int, since, now time.Time) (int, error)
	// ClaimSteps leases up to limit due pending steps to owner until
	// leaseUntil.
	ClaimSteps(ctx context.Context, owner string, now, leaseUntil time.Time, limit int) ([]EscalationStep, error)
	// MarkDelivered records one delivery of a step leased to owner.
	MarkDelivered(ctx context.Context, stepID int64, owner, delivery string) error
	// FinishStep records a step's outcome, appends its journal lines and
	// creates the next step (nil: none) in one transaction. It returns false
	// (writing nothing) when owner no longer holds the step.
	FinishStep(ctx context.Context, stepID int64, owner, outcome string, at time.Time, next *EscalationStep, journal []incident.Entry) (bool, error)
	// RetryStep releases a step after a failed attempt, due again at next.
	RetryStep(ctx context.Context, stepID int64, owner, lastError string, next time.Time) error
	// EscalationSteps lists an incident's steps in order.
	EscalationSteps(ctx context.Context, incidentID int64) ([]EscalationStep, error)
}
