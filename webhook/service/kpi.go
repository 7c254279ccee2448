package service

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/kizashi-dev/kizashi/webhook/incident"
)

// KPIs computes the key performance indicators of the incidents created in
// [from, to) (zero bounds are open) from the store, per tenant and priority,
// for the caller's scope (tenant "" = all). See incident.KPI for the
// definitions.
func (s *Service) KPIs(ctx context.Context, tenant string, from, to time.Time) ([]incident.KPI, error) {
	ins, err := s.Store.KPIIncidents(ctx, tenant, from, to)
	if err != nil {
		return nil, fmt.Errorf("kpis: %w", err)
	}
	return GroupKPIs(ins), nil
}

// GroupKPIs aggregates incidents per tenant and priority, ordered by both.
func GroupKPIs(ins []*incident.Incident) []incident.KPI {
	type key struct {
		tenant   string
		priority int
	}
	by := map[key]*incident.KPI{}
	for _, in := range ins {
		k := key{in.Tenant, in.Priority}
		kpi := by[k]
		if kpi == nil {
			kpi = &incident.KPI{Tenant: in.Tenant, Priority: in.Priority}
			by[k] = kpi
		}
		kpi.Add(in)
	}
	out := make([]incident.KPI, 0, len(by))
	for _, k := range by {
		out = append(out, *k)
	}
	slices.SortFunc(out, func(a, b incident.KPI) int {
		return cmp.Or(cmp.Compare(a.Tenant, b.Tenant), cmp.Compare(a.Priority, b.Priority))
	})
	return out
}
