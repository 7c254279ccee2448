package sqlstore

import (
	"context"
	"fmt"

	"github.com/kizashi-dev/kizashi/webhook/store"
)

// IncidentJobs implements store.IncidentForwarding.
func (s *Store) IncidentJobs(ctx context.Context, tenant string, incidentID int64) ([]store.ForwardJob, error) {
	q, args := `SELECT `+jobColumns+` FROM forward_jobs WHERE incident_id = ?`, []any{incidentID}
	if tenant != "" {
		q, args = q+` AND tenant = ?`, append(args, tenant)
	}
	rows, err := s.r.QueryContext(ctx, s.q(q+` ORDER BY target`), args...)
	if err != nil {
		return nil, fmt.Errorf("jobs of incident %d: %w", incidentID, err)
	}
	jobs, err := scanJobs(rows)
	if err != nil {
		return nil, fmt.Errorf("jobs of incident %d: %w", incidentID, err)
	}
	return jobs, nil
}
