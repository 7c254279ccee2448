// Package apitypes is kizashi-webhook's REST API on the wire: the paths, the query parameters
// and the JSON bodies of /api/v1/incidents and /api/v1/deadletters. It is the one definition of
// that contract: the webhook's handlers encode these types and its clients (the Grafana data
// source, the demo) decode them. It imports only the standard library, so a client pays
// nothing for it.
//
// Ids are public ids: stable, opaque numbers that reveal nothing about how many incidents the
// installation holds (see the webhook's package publicid). Times are RFC 3339; a time that is
// not set is null.
package apitypes

import (
	"net/url"
	"strconv"
	"time"
)

// Paths of the REST API: the incidents (GET: ListResponse; GET {id}: Detail; POST
// {id}/{action} with an ActionRequest: Detail) and the dead letters (GET: DeadLettersResponse).
const (
	IncidentsPath   = "/api/v1/incidents"
	DeadLettersPath = "/api/v1/deadletters"
)

// Query parameters of GET /api/v1/incidents.
const (
	// ParamTenant selects one tenant (operators only; a tenant's credential sees its own).
	ParamTenant = "tenant"
	// ParamState selects states (repeated or comma-separated: new, in_progress, on_hold,
	// resolved, closed, canceled).
	ParamState = "state"
	// ParamOpen keeps the incidents that are not resolved, closed or canceled (true or false).
	ParamOpen = "open"
	// ParamPriority selects one priority (1-5).
	ParamPriority        = "priority"
	ParamAssignee        = "assignee"
	ParamAssignmentGroup = "assignment_group"
	// ParamSearch is a substring of the title (at most 200 bytes).
	ParamSearch = "q"
	// ParamLimit is the page size (1-500, default 50).
	ParamLimit = "limit"
	// ParamBefore continues a listing: the Next of the previous page.
	ParamBefore = "before"
	// ParamFrom and ParamTo keep the incidents active at some time between them (RFC 3339).
	ParamFrom = "from"
	ParamTo   = "to"
)

// IncidentQuery is a listing of GET /api/v1/incidents as a client asks for it; its zero
// fields are left out.
type IncidentQuery struct {
	Tenant          string
	States          []string
	OpenOnly        bool
	Priority        int
	Assignee        string
	AssignmentGroup string
	Search          string
	Limit           int
	Before          string
	From, To        time.Time
}

// Values encodes q as the query string of GET /api/v1/incidents.
func (q IncidentQuery) Values() url.Values {
	v := url.Values{}
	set := func(k, s string) {
		if s != "" {
			v.Set(k, s)
		}
	}
	set(ParamTenant, q.Tenant)
	for _, s := range q.States {
		v.Add(ParamState, s)
	}
	if q.OpenOnly {
		v.Set(ParamOpen, "true")
	}
	if q.Priority != 0 {
		v.Set(ParamPriority, strconv.Itoa(q.Priority))
	}
	set(ParamAssignee, q.Assignee)
	set(ParamAssignmentGroup, q.AssignmentGroup)
	set(ParamSearch, q.Search)
	if q.Limit != 0 {
		v.Set(ParamLimit, strconv.Itoa(q.Limit))
	}
	set(ParamBefore, q.Before)
	if !q.From.IsZero() {
		v.Set(ParamFrom, q.From.UTC().Format(time.RFC3339Nano))
	}
	if !q.To.IsZero() {
		v.Set(ParamTo, q.To.UTC().Format(time.RFC3339Nano))
	}
	return v
}

// Incident is one incident.
type Incident struct {
	ID     int64  `json:"id"`
	Tenant string `json:"tenant"`
	Title  string `json:"title"`
	// State is new, in_progress, on_hold, resolved, closed or canceled.
	State              string            `json:"state"`
	Priority           int               `json:"priority"`
	Impact             int               `json:"impact"`
	Urgency            int               `json:"urgency"`
	Category           string            `json:"category"`
	CI                 string            `json:"ci"`
	AssignmentGroup    string            `json:"assignment_group"`
	Assignee           string            `json:"assignee"`
	HoldReason         string            `json:"hold_reason,omitempty"`
	CorrelationKey     string            `json:"correlation_key"`
	Receiver           string            `json:"receiver"`
	Labels             map[string]string `json:"labels"`
	FiringAlerts       int               `json:"firing_alerts"`
	CreatedAt          *time.Time        `json:"created_at"`
	UpdatedAt          *time.Time        `json:"updated_at"`
	AcknowledgedAt     *time.Time        `json:"acknowledged_at"`
	ResolvedAt         *time.Time        `json:"resolved_at"`
	ClosedAt           *time.Time        `json:"closed_at"`
	LastNotifiedAt     *time.Time        `json:"last_notified_at"`
	ResponseDue        *time.Time        `json:"response_due"`
	ResolveDue         *time.Time        `json:"resolve_due"`
	ResponseBreachedAt *time.Time        `json:"response_breached_at"`
	ResolveBreachedAt  *time.Time        `json:"resolve_breached_at"`
	ResponseRemainingS *float64          `json:"response_remaining_seconds"`
	ResolveRemainingS  *float64          `json:"resolve_remaining_seconds"`
	SLAPaused          bool              `json:"sla_paused"`
	CloseCode          string            `json:"close_code,omitempty"`
	CloseNotes         string            `json:"close_notes,omitempty"`
	ResolvedBy         string            `json:"resolved_by,omitempty"`
	ReopenCount        int               `json:"reopen_count"`
	Flapping           bool              `json:"flapping"`
	MajorProposed      bool              `json:"major_incident_proposed"`
	MuteUntil          *time.Time        `json:"mute_until"`
	PreviousID         int64             `json:"previous_id,omitempty"`
	Version            int64             `json:"version"`
	// ExternalRefs are the incident's tickets in the forwarders' targets.
	ExternalRefs []ExternalRef `json:"external_refs"`
}

// Alert is one alert of an incident.
type Alert struct {
	Fingerprint  string            `json:"fingerprint"`
	Status       string            `json:"status"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     *time.Time        `json:"starts_at"`
	EndsAt       *time.Time        `json:"ends_at"`
	GeneratorURL string            `json:"generator_url"`
}

// Entry is one journal line.
type Entry struct {
	ID    int64     `json:"id"`
	At    time.Time `json:"at"`
	Actor string    `json:"actor"`
	// ActorType is what Actor is: user (a named person), credential (the owner of a tenant's
	// or operator's credential) or system (Alertmanager, the desk's rules, reconciliation).
	ActorType string `json:"actor_type"`
	Kind      string `json:"kind"`
	Message   string `json:"message"`
}

// Detail is GET /api/v1/incidents/{id}, and the answer of an action.
type Detail struct {
	Incident Incident `json:"incident"`
	Alerts   []Alert  `json:"alerts"`
	Journal  []Entry  `json:"journal"`
}

// ListResponse is GET /api/v1/incidents; pass Next as before= for the next page (empty on
// the last page).
type ListResponse struct {
	Incidents []Incident `json:"incidents"`
	Next      string     `json:"next,omitempty"`
}

// ActionRequest is the body of POST /api/v1/incidents/{id}/{action}.
type ActionRequest struct {
	Text            string `json:"text"`
	Reason          string `json:"reason"`
	CloseCode       string `json:"close_code"`
	AssignmentGroup string `json:"assignment_group"`
	Assignee        string `json:"assignee"`
	FalsePositive   bool   `json:"false_positive"`
	// TargetID is the other incident of the link and merge actions (merge: this incident is a
	// duplicate of the target, and is canceled).
	TargetID int64 `json:"target_id,omitempty"`
	// Impact and Urgency (1 high .. 3 low) of the priority action (Text is its reason).
	Impact  int `json:"impact,omitempty"`
	Urgency int `json:"urgency,omitempty"`
}

// ExternalRef is an incident's ticket in one target (a forwarder of its tenant).
type ExternalRef struct {
	Target string `json:"target"`
	ID     string `json:"id"`
	Key    string `json:"key,omitempty"`
	URL    string `json:"url,omitempty"`
}

// DeadLetter is a delivery to a target that was given up.
type DeadLetter struct {
	ID           int64        `json:"id"`
	Tenant       string       `json:"tenant"`
	Target       string       `json:"target"`
	IncidentID   int64        `json:"incident_id"`
	Attempts     int          `json:"attempts"`
	LastError    string       `json:"last_error"`
	DeadAt       time.Time    `json:"dead_at"`
	PendingSince *time.Time   `json:"pending_since"`
	Ticket       *ExternalRef `json:"ticket,omitempty"`
}

// DeadLettersResponse is GET /api/v1/deadletters; pass Next as before= for the next page.
type DeadLettersResponse struct {
	DeadLetters []DeadLetter `json:"dead_letters"`
	Next        string       `json:"next,omitempty"`
}

// KPIsPath answers GET with a KPIsResponse: the key performance indicators of the incidents
// created between ParamFrom and ParamTo (RFC 3339, either may be left out), of the caller's
// tenant (operators: every tenant, or ParamTenant). The definitions are the webhook README's.
const KPIsPath = "/api/v1/kpis"

// KPI is one group's indicators (a tenant and priority, or the total: Tenant "" and Priority 0).
// A mean or a percentage without anything to count is null.
type KPI struct {
	Tenant         string `json:"tenant,omitempty"`
	Priority       int    `json:"priority,omitempty"`
	Incidents      int    `json:"incidents"`
	Open           int    `json:"open"`
	Unacknowledged int    `json:"unacknowledged"`
	// Responded counts incidents acknowledged, or ended without an acknowledgement.
	Responded int      `json:"responded"`
	MTTA      *float64 `json:"mtta_seconds"`
	Resolved  int      `json:"resolved"`
	MTTR      *float64 `json:"mttr_seconds"`

	ResponseMet               int      `json:"response_met"`
	ResponseBreached          int      `json:"response_breached"`
	ResponseCompliancePercent *float64 `json:"response_compliance_percent"`
	ResolveMet                int      `json:"resolve_met"`
	ResolveBreached           int      `json:"resolve_breached"`
	ResolveCompliancePercent  *float64 `json:"resolve_compliance_percent"`
}

// KPIsResponse is the body of GET KPIsPath.
type KPIsResponse struct {
	KPIs  []KPI `json:"kpis"`
	Total KPI   `json:"total"`
}

// CreateIncidentRequest is the body of POST IncidentsPath: an incident a person reports by
// hand (a phone call, an e-mail). Tenant is for operators (a tenant's credential opens it in
// its own tenant). Channel: phone, email, chat, walk_in or self_service. Impact and urgency: 1
// (high) .. 3 (low). The answer is 201 with the Detail.
type CreateIncidentRequest struct {
	Tenant          string `json:"tenant,omitempty"`
	Title           string `json:"title"`
	Description     string `json:"description,omitempty"`
	Channel         string `json:"channel"`
	Impact          int    `json:"impact"`
	Urgency         int    `json:"urgency"`
	CI              string `json:"ci,omitempty"`
	Category        string `json:"category,omitempty"`
	AssignmentGroup string `json:"assignment_group,omitempty"`
}
