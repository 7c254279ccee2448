// Package pagerduty is the PagerDuty integration of the forwarders: Events API v2 events, one
// alert per incident.
package pagerduty

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/kizashi-dev/kizashi/webhook/config"
	"github.com/kizashi-dev/kizashi/webhook/forward"
	"github.com/kizashi-dev/kizashi/webhook/incident"
	"github.com/kizashi-dev/kizashi/webhook/sanitize"
	"github.com/kizashi-dev/kizashi/webhook/store"
)

// Target sends Events API v2 events (POST /v2/enqueue) with our
// correlation id as dedup_key: trigger while the incident is new,
// acknowledge while someone works on it, resolve when it is resolved, closed
// or canceled. Events with one dedup_key are idempotent, so the dedup_key is
// the ticket's reference and nothing needs to be looked up. An incident
// resolved before it was ever triggered is not sent (nobody needs paging).
// The Events API has no notes: journal lines are skipped.
type Target struct {
	c   *forward.Client
	url string
	cfg *config.PagerDutyConfig
	now func() time.Time
}

// New returns the PagerDuty target of an Events API base URL.
func New(c *http.Client, baseURL string, cfg *config.PagerDutyConfig, now func() time.Time) *Target {
	return &Target{c: &forward.Client{HTTP: c, Now: now}, url: strings.TrimSuffix(baseURL, "/") + "/v2/enqueue", cfg: cfg, now: now}
}

// PagerDuty remote states (the last event sent).
const (
	pdTriggered    = "triggered"
	pdAcknowledged = "acknowledged"
	pdResolved     = "resolved"
)

type pdEvent struct {
	RoutingKey  string     `json:"routing_key"`
	EventAction string     `json:"event_action"`
	DedupKey    string     `json:"dedup_key"`
	Payload     *pdPayload `json:"payload,omitempty"`
	Client      string     `json:"client,omitempty"`
	ClientURL   string     `json:"client_url,omitempty"`
}

type pdPayload struct {
	Summary       string         `json:"summary"`
	Source        string         `json:"source"`
	Severity      string         `json:"severity"`
	Timestamp     string         `json:"timestamp,omitempty"`
	Component     string         `json:"component,omitempty"`
	Group         string         `json:"group,omitempty"`
	Class         string         `json:"class,omitempty"`
	CustomDetails map[string]any `json:"custom_details,omitempty"`
}

// Sync implements forward.Target.
func (t *Target) Sync(ctx context.Context, s *forward.Sync) (forward.Result, error) {
	in := s.Incident
	res := forward.Result{Ref: s.Ref, RemoteState: s.RemoteState, JournalThrough: s.SyncedJournalID}
	if n := len(s.Journal); n > 0 {
		res.JournalThrough = max(res.JournalThrough, s.Journal[n-1].ID)
	}
	var steps []string
	switch in.State {
	case incident.StateNew:
		if s.RemoteState != pdTriggered {
			steps = []string{pdTriggered}
		}
	case incident.StateInProgress, incident.StateOnHold:
		switch s.RemoteState {
		case "", pdResolved:
			steps = []string{pdTriggered, pdAcknowledged}
		case pdTriggered:
			steps = []string{pdAcknowledged}
		}
	default: // resolved, closed, canceled
		if s.RemoteState == pdTriggered || s.RemoteState == pdAcknowledged {
			steps = []string{pdResolved}
		}
	}
	if len(steps) == 0 {
		return res, nil
	}
	// Read at each delivery (routing_key_file): a new key needs no reload.
	key, err := t.cfg.ReadRoutingKey()
	if err != nil {
		return res, fmt.Errorf("pagerduty: %w", err)
	}
	for _, st := range steps {
		ev := pdEvent{RoutingKey: string(key), DedupKey: s.CorrelationID}
		switch st {
		case pdTriggered:
			ev.EventAction = "trigger"
			ev.Payload = t.payload(s)
			ev.Client, ev.ClientURL = "Kizashi", s.IncidentURL
		case pdAcknowledged:
			ev.EventAction = "acknowledge"
		case pdResolved:
			ev.EventAction = "resolve"
		}
		var out struct {
			Status   string `json:"status"`
			DedupKey string `json:"dedup_key"`
		}
		if _, err := t.c.Do(ctx, fmt.Sprintf("pagerduty: %s %s", ev.EventAction, s.CorrelationID), http.MethodPost, t.url, nil, ev, &out); err != nil {
			return res, err
		}
		res.RemoteState = st
		if res.Ref.ID == "" {
			key := out.DedupKey
			if key == "" {
				key = s.CorrelationID
			}
			res.Ref = store.ExternalRef{ID: key, Key: key}
			if err := s.SaveRef(ctx, res.Ref); err != nil {
				return res, err
			}
		}
	}
	return res, nil
}

func (t *Target) payload(s *forward.Sync) *pdPayload {
	in := s.Incident
	source := t.cfg.Source
	if source == "" {
		source = in.CI
	}
	if source == "" {
		source = "kizashi"
	}
	sev := t.cfg.Severities[fmt.Sprintf("P%d", in.Priority)]
	if sev == "" {
		sev = "warning"
	}
	return &pdPayload{
		Summary:   sanitize.Text(in.Title, 1024),
		Source:    sanitize.Text(source, 255),
		Severity:  sev,
		Timestamp: in.CreatedAt.UTC().Format(time.RFC3339),
		Component: in.Labels["service"],
		Group:     in.AssignmentGroup,
		Class:     in.Category,
		CustomDetails: map[string]any{
			"incident_id":    in.ID,
			"tenant":         in.Tenant,
			"priority":       fmt.Sprintf("P%d", in.Priority),
			"impact":         in.Impact,
			"urgency":        in.Urgency,
			"state":          in.State,
			"firing_alerts":  in.FiringAlerts,
			"labels":         in.Labels,
			"correlation_id": s.CorrelationID,
		},
	}
}
