package problemapi

import (
	"time"

	"github.com/kizashi-dev/kizashi/webhook/apitypes"
	"github.com/kizashi-dev/kizashi/webhook/report"
)

func ratio(met, breached int) *float64 {
	if v, ok := report.Ratio(met, breached); ok {
		return &v
	}
	return nil
}

func counts(cs []report.Count) []apitypes.ReportCount {
	out := make([]apitypes.ReportCount, 0, len(cs))
	for _, c := range cs {
		out = append(out, apitypes.ReportCount{Label: c.Label, Count: c.N})
	}
	return out
}

// wireReport is the report's figures as the API sends them.
func wireReport(r *report.Report) apitypes.Report {
	out := apitypes.Report{Tenant: r.Tenant, From: r.From, To: r.To, Incidents: r.Incidents, Canceled: r.Canceled,
		Acknowledged: r.Acknowledged, Resolved: r.Resolved, MTTASeconds: r.MTTA.Seconds(), MTTRSeconds: r.MTTR.Seconds(),
		ByPriority: counts(r.ByPriority), ByService: counts(r.ByService), ByCategory: counts(r.ByCategory), Daily: counts(r.Daily),
		ProblemsOpened: r.ProblemsOpened, ProblemsClosed: r.ProblemsClosed, OutagePriority: r.OutagePriority,
		SLA: []apitypes.ReportSLA{}, TopKeys: []apitypes.ReportKey{}, Problems: []apitypes.ReportProblem{},
		Majors: []apitypes.ReportMajor{}, Availability: []apitypes.ReportAvailability{}}
	for _, s := range r.SLA {
		out.SLA = append(out.SLA, apitypes.ReportSLA{Priority: s.Priority, Incidents: s.Incidents, ResponseMet: s.ResponseMet,
			ResponseBreached: s.ResponseBreached, ResponsePending: s.ResponsePending, ResponseCompliance: ratio(s.ResponseMet, s.ResponseBreached),
			ResolutionMet: s.ResolutionMet, ResolutionBreached: s.ResolutionBreached, ResolutionPending: s.ResolvePending,
			ResolutionCompliance: ratio(s.ResolutionMet, s.ResolutionBreached)})
	}
	for _, k := range r.TopKeys {
		out.TopKeys = append(out.TopKeys, apitypes.ReportKey{Key: k.Key, Title: k.Title, Count: k.N})
	}
	for _, p := range r.Problems {
		var closed *time.Time
		if !p.ClosedAt.IsZero() {
			c := p.ClosedAt
			closed = &c
		}
		out.Problems = append(out.Problems, apitypes.ReportProblem{ID: p.ID, Title: p.Title, State: p.State, KnownError: p.KnownError,
			CreatedAt: p.CreatedAt, ClosedAt: closed, Incidents: p.Incidents})
	}
	for _, m := range r.Majors {
		out.Majors = append(out.Majors, apitypes.ReportMajor{IncidentID: m.IncidentID, Title: m.Title, Priority: m.Priority,
			DeclaredAt: m.DeclaredAt, Coordinator: m.Coordinator, Updates: m.Updates, Reviewed: m.Reviewed, ProblemID: m.ProblemID})
	}
	for _, a := range r.Availability {
		out.Availability = append(out.Availability, apitypes.ReportAvailability{Service: a.Service, DowntimeSeconds: a.Downtime.Seconds(), Availability: a.Ratio})
	}
	return out
}
