// Package webhook is the generic webhook integration of the forwarders: signed JSON deliveries
// of the incident as it is now, for any receiver (see WebhookPayload, Sign and Verify).
package webhook

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/kizashi-dev/kizashi/webhook/config"
	"github.com/kizashi-dev/kizashi/webhook/forward"
	"github.com/kizashi-dev/kizashi/webhook/incident"
	"github.com/kizashi-dev/kizashi/webhook/publicid"
	"github.com/kizashi-dev/kizashi/webhook/store"
)

// Headers of generic webhook deliveries.
const (
	HeaderDelivery  = "X-Kizashi-Delivery"
	HeaderTimestamp = "X-Kizashi-Timestamp"
	HeaderSignature = "X-Kizashi-Signature"
)

// WebhookPayload is the JSON body of a generic webhook delivery: the
// incident as it is now, its alerts, and the journal lines the receiver has
// not had yet. A receiver upserts the ticket by correlation_id (deliveries
// are at least once: the same delivery_id may come again) and may answer
// {"id": ..., "key": ..., "url": ...} to name its ticket.
type WebhookPayload struct {
	Version       string          `json:"version"`
	DeliveryID    string          `json:"delivery_id"`
	CorrelationID string          `json:"correlation_id"`
	ExternalID    string          `json:"external_id,omitempty"`
	Incident      WebhookIncident `json:"incident"`
	Alerts        []WebhookAlert  `json:"alerts"`
	Journal       []WebhookEntry  `json:"journal"`
}

// WebhookIncident is the incident in a webhook delivery.
type WebhookIncident struct {
	ID              int64             `json:"id"`
	Tenant          string            `json:"tenant"`
	Title           string            `json:"title"`
	State           incident.State    `json:"state"`
	Priority        int               `json:"priority"`
	Impact          int               `json:"impact"`
	Urgency         int               `json:"urgency"`
	Category        string            `json:"category"`
	CI              string            `json:"ci"`
	AssignmentGroup string            `json:"assignment_group"`
	Assignee        string            `json:"assignee"`
	HoldReason      string            `json:"hold_reason,omitempty"`
	CloseCode       string            `json:"close_code,omitempty"`
	CloseNotes      string            `json:"close_notes,omitempty"`
	Labels          map[string]string `json:"labels"`
	FiringAlerts    int               `json:"firing_alerts"`
	CreatedAt       time.Time         `json:"created_at"`
	UpdatedAt       time.Time         `json:"updated_at"`
	AcknowledgedAt  *time.Time        `json:"acknowledged_at"`
	ResolvedAt      *time.Time        `json:"resolved_at"`
	ClosedAt        *time.Time        `json:"closed_at"`
	PreviousID      int64             `json:"previous_id,omitempty"`
	URL             string            `json:"url,omitempty"`
}

// WebhookAlert is an alert in a webhook delivery.
type WebhookAlert struct {
	Fingerprint string            `json:"fingerprint"`
	Status      string            `json:"status"`
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	StartsAt    time.Time         `json:"starts_at"`
	EndsAt      *time.Time        `json:"ends_at"`
}

// WebhookEntry is a journal line; its id is unique and increasing.
type WebhookEntry struct {
	ID      int64     `json:"id"`
	At      time.Time `json:"at"`
	Actor   string    `json:"actor"`
	Kind    string    `json:"kind"`
	Message string    `json:"message"`
}

// Target posts signed JSON deliveries to one URL.
type Target struct {
	c   *forward.Client
	url string
	cfg *config.WebhookConfig
	now func() time.Time
}

// New returns the generic webhook target; its signing secret is read at each delivery
// (secret_file: a new secret needs no reload).
func New(c *http.Client, url string, cfg *config.WebhookConfig, now func() time.Time) *Target {
	return &Target{c: &forward.Client{HTTP: c, Now: now}, url: url, cfg: cfg, now: now}
}

// Sign returns the X-Kizashi-Signature of a body sent at unix time ts:
// "sha256=" + hex(HMAC-SHA256(secret, ts + "." + body)).
func Sign(secret []byte, ts string, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(ts))
	m.Write([]byte("."))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Verify checks a delivery's signature and that its timestamp is within
// maxAge of now (receivers should reject replays).
func Verify(secret []byte, ts, signature string, body []byte, now time.Time, maxAge time.Duration) error {
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("verify webhook: bad timestamp %q", ts)
	}
	if d := now.Sub(time.Unix(sec, 0)); d > maxAge || d < -maxAge {
		return fmt.Errorf("verify webhook: timestamp %s is %s away from now", ts, d)
	}
	if !hmac.Equal([]byte(Sign(secret, ts, body)), []byte(signature)) {
		return fmt.Errorf("verify webhook: signature mismatch")
	}
	return nil
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// Sync implements forward.Target.
func (t *Target) Sync(ctx context.Context, s *forward.Sync) (forward.Result, error) {
	in := s.Incident
	res := forward.Result{Ref: s.Ref, RemoteState: s.RemoteState, JournalThrough: s.SyncedJournalID}
	p := WebhookPayload{
		Version: "1", DeliveryID: s.DeliveryID, CorrelationID: s.CorrelationID, ExternalID: s.Ref.ID,
		Incident: WebhookIncident{
			ID: s.IDs.Public(publicid.Incident, in.ID), Tenant: in.Tenant, Title: in.Title, State: in.State, Priority: in.Priority, Impact: in.Impact,
			Urgency: in.Urgency, Category: in.Category, CI: in.CI, AssignmentGroup: in.AssignmentGroup, Assignee: in.Assignee,
			HoldReason: in.HoldReason, CloseCode: in.CloseCode, CloseNotes: in.CloseNotes, Labels: in.Labels,
			FiringAlerts: in.FiringAlerts, CreatedAt: in.CreatedAt, UpdatedAt: in.UpdatedAt,
			AcknowledgedAt: optTime(in.AcknowledgedAt), ResolvedAt: optTime(in.ResolvedAt), ClosedAt: optTime(in.ClosedAt),
			PreviousID: s.IDs.Public(publicid.Incident, in.PreviousID), URL: s.IncidentURL,
		},
		Alerts:  []WebhookAlert{},
		Journal: []WebhookEntry{},
	}
	for _, a := range s.Alerts {
		p.Alerts = append(p.Alerts, WebhookAlert{Fingerprint: a.Fingerprint, Status: a.Status, Labels: a.Labels,
			Annotations: a.Annotations, StartsAt: a.StartsAt, EndsAt: optTime(a.EndsAt)})
	}
	for _, e := range s.Journal {
		if e.ID <= s.SyncedJournalID {
			continue
		}
		if len(p.Journal) == forward.MaxNoteLines {
			res.More = true
			break
		}
		p.Journal = append(p.Journal, WebhookEntry{ID: s.IDs.Public(publicid.Journal, e.ID), At: e.At, Actor: e.Actor, Kind: e.Kind, Message: e.Message})
		res.JournalThrough = e.ID
	}
	secret, err := t.cfg.ReadSecret()
	if err != nil {
		return res, fmt.Errorf("webhook: %w", err)
	}
	body, err := json.Marshal(p)
	if err != nil {
		return res, &forward.Error{Kind: forward.Permanent, Reason: forward.ReasonRejected, Err: fmt.Errorf("webhook: encode delivery: %w", err)}
	}
	ts := strconv.FormatInt(t.now().Unix(), 10)
	h := http.Header{}
	h.Set(HeaderDelivery, s.DeliveryID)
	h.Set("Idempotency-Key", s.DeliveryID)
	h.Set(HeaderTimestamp, ts)
	h.Set(HeaderSignature, Sign([]byte(secret), ts, body))
	var out struct {
		ID  string `json:"id"`
		Key string `json:"key"`
		URL string `json:"url"`
	}
	if _, err := t.c.Do(ctx, "webhook: deliver "+s.DeliveryID, http.MethodPost, t.url, h, body, &out); err != nil {
		return res, err
	}
	if out.ID != "" {
		res.Ref = store.ExternalRef{ID: out.ID, Key: out.Key, URL: out.URL}
	} else if res.Ref.ID == "" {
		res.Ref = store.ExternalRef{ID: s.CorrelationID}
	}
	res.RemoteState = "delivered"
	return res, nil
}
