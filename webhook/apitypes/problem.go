package apitypes

import "time"

// Problem management, major incidents, the service report and the audit-trail export
// (issue 15). Ids are public ids, as the incidents'.
const (
	// ProblemsPath: GET lists (query: tenant for operators, open=true, known_error=true),
	// POST creates (ProblemRequest); GET {id} is a ProblemDetail; POST {id} changes
	// (ProblemChange).
	ProblemsPath = "/api/v1/problems"
	// SuppressionsPath: GET lists the suppressions in force, POST sets one (SuppressRequest).
	SuppressionsPath = "/api/v1/suppressions"
	// MajorIncidentsPath: GET lists (query: due=true for the updates due now); POST
	// {incident id} declares (MajorDeclare); POST {incident id}/update posts a customer update
	// (MajorUpdateRequest); POST {incident id}/review records the post-incident review
	// (MajorReview); POST {incident id}/change changes the coordinator or cadence or ends it.
	MajorIncidentsPath = "/api/v1/major-incidents"
	// ReportPath: GET ?from=&to= (RFC 3339) or ?month=2026-11, &lang=ja|en, &format=html|pdf|json,
	// &tz=Asia/Tokyo; the tenant's service report (HTML, PDF, or Report as JSON).
	ReportPath = "/api/v1/report"
	// ExportPath: GET {incidents|journal}?from=&to=&format=csv|json: the audit trail of a
	// range, streamed.
	ExportPath = "/api/v1/export"
)

// Problem is a problem record.
type Problem struct {
	ID         int64      `json:"id"`
	Tenant     string     `json:"tenant"`
	Title      string     `json:"title"`
	State      string     `json:"state"`  // open, resolved, closed
	Origin     string     `json:"origin"` // manual, recurrence, flapping, review
	Scope      string     `json:"scope"`  // key, ci, or ""
	Subject    string     `json:"subject"`
	RootCause  string     `json:"root_cause"`
	Workaround string     `json:"workaround"`
	KnownError bool       `json:"known_error"`
	CreatedBy  string     `json:"created_by"`
	CreatedAt  time.Time  `json:"created_at"`
	UpdatedAt  time.Time  `json:"updated_at"`
	ResolvedAt *time.Time `json:"resolved_at"`
	ClosedAt   *time.Time `json:"closed_at"`
}

// ProblemEntry is a line of a problem's journal (or of the suppressions').
type ProblemEntry struct {
	At      time.Time `json:"at"`
	Actor   string    `json:"actor"`
	Kind    string    `json:"kind"`
	Subject string    `json:"subject"`
	Message string    `json:"message"`
}

// ProblemDetail is GET /api/v1/problems/{id}.
type ProblemDetail struct {
	Problem   Problem        `json:"problem"`
	Incidents []int64        `json:"incidents"`
	Journal   []ProblemEntry `json:"journal"`
}

// ProblemsResponse is GET /api/v1/problems.
type ProblemsResponse struct {
	Problems []Problem `json:"problems"`
}

// ProblemRequest creates a problem by hand.
type ProblemRequest struct {
	Title      string  `json:"title"`
	Key        string  `json:"correlation_key,omitempty"`
	CI         string  `json:"ci,omitempty"`
	RootCause  string  `json:"root_cause,omitempty"`
	Workaround string  `json:"workaround,omitempty"`
	KnownError bool    `json:"known_error,omitempty"`
	Incidents  []int64 `json:"incidents,omitempty"`
}

// ProblemChange changes a problem; absent fields stay.
type ProblemChange struct {
	RootCause  *string `json:"root_cause,omitempty"`
	Workaround *string `json:"workaround,omitempty"`
	KnownError *bool   `json:"known_error,omitempty"`
	State      *string `json:"state,omitempty"`
	Link       []int64 `json:"link,omitempty"`
}

// SuppressRequest holds a correlation key back from problem proposals until a time (won't
// fix); an until in the past lifts it.
type SuppressRequest struct {
	Key    string    `json:"correlation_key"`
	Until  time.Time `json:"until"`
	Reason string    `json:"reason"`
}

// Suppression is a suppression in force.
type Suppression struct {
	Key       string    `json:"correlation_key"`
	Tenant    string    `json:"tenant"`
	Until     time.Time `json:"until"`
	Reason    string    `json:"reason"`
	Actor     string    `json:"actor"`
	CreatedAt time.Time `json:"created_at"`
}

// SuppressionsResponse is GET /api/v1/suppressions.
type SuppressionsResponse struct {
	Suppressions []Suppression `json:"suppressions"`
}

// MajorIncident is a declared major incident.
type MajorIncident struct {
	IncidentID          int64      `json:"incident_id"`
	Tenant              string     `json:"tenant"`
	DeclaredAt          time.Time  `json:"declared_at"`
	DeclaredBy          string     `json:"declared_by"`
	Coordinator         string     `json:"coordinator"`
	UpdateEverySeconds  float64    `json:"update_every_seconds"`
	LastUpdateAt        *time.Time `json:"last_update_at"`
	NextUpdateDue       *time.Time `json:"next_update_due"`
	UpdateDue           bool       `json:"update_due"`
	EndedAt             *time.Time `json:"ended_at"`
	ReviewSummary       string     `json:"review_summary,omitempty"`
	ReviewBy            string     `json:"review_by,omitempty"`
	ReviewAt            *time.Time `json:"review_at"`
	ReviewProblemID     int64      `json:"review_problem_id,omitempty"`
	CustomerUpdateCount int        `json:"customer_updates"`
}

// MajorIncidentsResponse is GET /api/v1/major-incidents.
type MajorIncidentsResponse struct {
	MajorIncidents []MajorIncident `json:"major_incidents"`
}

// MajorDeclare declares a major incident.
type MajorDeclare struct {
	Coordinator string `json:"coordinator,omitempty"`
	// UpdateEvery is the customer-update cadence (Go duration, "30m"; default 30m).
	UpdateEvery string `json:"update_every,omitempty"`
}

// MajorUpdateRequest is a customer update.
type MajorUpdateRequest struct {
	Text string `json:"text"`
}

// MajorReview is the post-incident review; ProblemID 0 links it to the open problem of the
// incident's key, or a new one.
type MajorReview struct {
	Summary   string `json:"summary"`
	ProblemID int64  `json:"problem_id,omitempty"`
}

// MajorChange changes a major incident.
type MajorChange struct {
	Coordinator *string `json:"coordinator,omitempty"`
	UpdateEvery *string `json:"update_every,omitempty"`
	End         bool    `json:"end,omitempty"`
}

// JournalLine is a line of the audit-trail export of the journal.
type JournalLine struct {
	ID         int64     `json:"id"`
	IncidentID int64     `json:"incident_id"`
	Tenant     string    `json:"tenant"`
	At         time.Time `json:"at"`
	Actor      string    `json:"actor"`
	Kind       string    `json:"kind"`
	Message    string    `json:"message"`
}

// Report is GET /api/v1/report?format=json: the figures of the service report. Ratios are
// 0..1 and null when nothing was measured; durations are seconds.
type Report struct {
	Tenant         string               `json:"tenant"`
	From           time.Time            `json:"from"`
	To             time.Time            `json:"to"`
	Incidents      int                  `json:"incidents"`
	Canceled       int                  `json:"canceled"`
	SLA            []ReportSLA          `json:"sla"`
	Acknowledged   int                  `json:"acknowledged"`
	Resolved       int                  `json:"resolved"`
	MTTASeconds    float64              `json:"mtta_seconds"`
	MTTRSeconds    float64              `json:"mttr_seconds"`
	ByPriority     []ReportCount        `json:"by_priority"`
	ByService      []ReportCount        `json:"by_service"`
	ByCategory     []ReportCount        `json:"by_category"`
	Daily          []ReportCount        `json:"daily"`
	TopKeys        []ReportKey          `json:"top_keys"`
	ProblemsOpened int                  `json:"problems_opened"`
	ProblemsClosed int                  `json:"problems_closed"`
	Problems       []ReportProblem      `json:"problems"`
	Majors         []ReportMajor        `json:"major_incidents"`
	Availability   []ReportAvailability `json:"availability"`
	OutagePriority int                  `json:"outage_priority"`
}

// ReportSLA is the SLA compliance of one priority.
type ReportSLA struct {
	Priority             int      `json:"priority"`
	Incidents            int      `json:"incidents"`
	ResponseMet          int      `json:"response_met"`
	ResponseBreached     int      `json:"response_breached"`
	ResponsePending      int      `json:"response_pending"`
	ResponseCompliance   *float64 `json:"response_compliance"`
	ResolutionMet        int      `json:"resolution_met"`
	ResolutionBreached   int      `json:"resolution_breached"`
	ResolutionPending    int      `json:"resolution_pending"`
	ResolutionCompliance *float64 `json:"resolution_compliance"`
}

// ReportCount is one bar of a chart.
type ReportCount struct {
	Label string `json:"label"`
	Count int    `json:"count"`
}

// ReportKey is a recurring correlation key.
type ReportKey struct {
	Key   string `json:"correlation_key"`
	Title string `json:"title"`
	Count int    `json:"count"`
}

// ReportProblem is a problem opened or closed in the range.
type ReportProblem struct {
	ID         int64      `json:"id"`
	Title      string     `json:"title"`
	State      string     `json:"state"`
	KnownError bool       `json:"known_error"`
	CreatedAt  time.Time  `json:"created_at"`
	ClosedAt   *time.Time `json:"closed_at"`
	Incidents  int        `json:"incidents"`
}

// ReportMajor is a major incident declared in the range.
type ReportMajor struct {
	IncidentID  int64     `json:"incident_id"`
	Title       string    `json:"title"`
	Priority    int       `json:"priority"`
	DeclaredAt  time.Time `json:"declared_at"`
	Coordinator string    `json:"coordinator"`
	Updates     int       `json:"customer_updates"`
	Reviewed    bool      `json:"reviewed"`
	ProblemID   int64     `json:"problem_id,omitempty"`
}

// ReportAvailability is a service's availability over the range.
type ReportAvailability struct {
	Service         string  `json:"service"`
	DowntimeSeconds float64 `json:"downtime_seconds"`
	Availability    float64 `json:"availability"`
}
