package api

import (
	"context"
	"time"

	"github.com/kizashi-dev/kizashi/webhook/incident"
	"github.com/kizashi-dev/kizashi/webhook/publicid"
)

// Incident is the JSON form of an incident. Its ids are public ids (see
// package publicid) when the API has them.
type Incident struct {
	ID                 int64             `json:"id"`
	Tenant             string            `json:"tenant"`
	Title              string            `json:"title"`
	State              incident.State    `json:"state"`
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

// Alert is the JSON form of an alert.
type Alert struct {
	Fingerprint  string            `json:"fingerprint"`
	Status       string            `json:"status"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     *time.Time        `json:"starts_at"`
	EndsAt       *time.Time        `json:"ends_at"`
	GeneratorURL string            `json:"generator_url"`
}

// Entry is the JSON form of a journal line.
type Entry struct {
	ID      int64     `json:"id"`
	At      time.Time `json:"at"`
	Actor   string    `json:"actor"`
	Kind    string    `json:"kind"`
	Message string    `json:"message"`
}

// Detail is GET /api/v1/incidents/{id}.
type Detail struct {
	Incident Incident `json:"incident"`
	Alerts   []Alert  `json:"alerts"`
	Journal  []Entry  `json:"journal"`
}

// ListResponse is GET /api/v1/incidents; pass Next as before= for the next page.
type ListResponse struct {
	Incidents []Incident `json:"incidents"`
	Next      string     `json:"next,omitempty"`
}

func tp(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// FromIncident converts an incident.
func FromIncident(in *incident.Incident, now time.Time) Incident {
	out := Incident{
		ID: in.ID, Tenant: in.Tenant, Title: in.Title, State: in.State, Priority: in.Priority, Impact: in.Impact,
		Urgency: in.Urgency, Category: in.Category, CI: in.CI, AssignmentGroup: in.AssignmentGroup, Assignee: in.Assignee,
		HoldReason: in.HoldReason, CorrelationKey: in.CorrelationKey, Receiver: in.Receiver, Labels: in.Labels,
		FiringAlerts: in.FiringAlerts, CreatedAt: tp(in.CreatedAt), UpdatedAt: tp(in.UpdatedAt),
		AcknowledgedAt: tp(in.AcknowledgedAt), ResolvedAt: tp(in.ResolvedAt), ClosedAt: tp(in.ClosedAt),
		LastNotifiedAt: tp(in.LastNotifiedAt), ResponseDue: tp(in.ResponseDue), ResolveDue: tp(in.ResolveDue),
		ResponseBreachedAt: tp(in.ResponseBreachedAt), ResolveBreachedAt: tp(in.ResolveBreachedAt),
		SLAPaused: in.SLAPaused(), CloseCode: in.CloseCode, CloseNotes: in.CloseNotes, ResolvedBy: in.ResolvedBy,
		ReopenCount: in.ReopenCount, Flapping: in.Flapping, MajorProposed: in.MajorProposed, MuteUntil: tp(in.MuteUntil),
		PreviousID: in.PreviousID, Version: in.Version,
	}
	if d, ok := in.ResponseRemaining(now); ok {
		s := d.Seconds()
		out.ResponseRemainingS = &s
	}
	if d, ok := in.ResolveRemaining(now); ok {
		s := d.Seconds()
		out.ResolveRemainingS = &s
	}
	if out.Labels == nil {
		out.Labels = map[string]string{}
	}
	out.ExternalRefs = []ExternalRef{}
	return out
}

// LoadDetail reads an incident (by the store's id) with its alerts and
// journal, scoped to tenant ("" = any), with public ids.
func (a *API) LoadDetail(ctx context.Context, tenant string, id int64) (*Detail, error) {
	st := a.Service.Store
	in, err := st.Incident(ctx, tenant, id)
	if err != nil {
		return nil, err
	}
	alerts, err := st.Alerts(ctx, id)
	if err != nil {
		return nil, err
	}
	journal, err := st.Journal(ctx, id)
	if err != nil {
		return nil, err
	}
	incident.SortAlerts(alerts)
	d := &Detail{Incident: FromIncident(in, time.Now()), Alerts: make([]Alert, 0, len(alerts)), Journal: make([]Entry, 0, len(journal))}
	refs := []Incident{d.Incident}
	if err := AttachRefs(ctx, st, refs); err != nil {
		return nil, err
	}
	d.Incident = refs[0]
	a.publish(&d.Incident)
	for _, al := range alerts {
		d.Alerts = append(d.Alerts, Alert{Fingerprint: al.Fingerprint, Status: al.Status, Labels: al.Labels, Annotations: al.Annotations,
			StartsAt: tp(al.StartsAt), EndsAt: tp(al.EndsAt), GeneratorURL: al.GeneratorURL})
	}
	for _, e := range journal {
		d.Journal = append(d.Journal, Entry{ID: a.IDs.Public(publicid.Journal, e.ID), At: e.At, Actor: e.Actor, Kind: e.Kind, Message: e.Message})
	}
	return d, nil
}
