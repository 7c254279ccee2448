package store

import "context"

// IncidentForwarding reads the delivery state of one incident: its job in each target (the
// page shows whether the incident reached its ticket systems, is pending or is a dead letter).
// The SQL stores implement it next to Forwarding.
type IncidentForwarding interface {
	// IncidentJobs returns the incident's jobs, one per target, ordered by target; tenant ""
	// matches any tenant.
	IncidentJobs(ctx context.Context, tenant string, incidentID int64) ([]ForwardJob, error)
}
