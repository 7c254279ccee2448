// Package webhook posts notifications as signed JSON to any URL, signed as
// the generic forwarder's deliveries are (X-Kizashi-Timestamp and
// X-Kizashi-Signature; verify with forward/webhook.Verify).
package webhook

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	commoncfg "github.com/prometheus/common/config"

	"github.com/kizashi-dev/kizashi/webhook/forward"
	fwebhook "github.com/kizashi-dev/kizashi/webhook/forward/webhook"
	"github.com/kizashi-dev/kizashi/webhook/notify"
)

// Channel implements notify.Channel.
type Channel struct {
	c      *forward.Client
	url    string
	secret commoncfg.SecretReader
	now    func() time.Time
}

// New returns the channel; the secret is given or read from secretFile at
// each message ("" and "": unsigned).
func New(c *http.Client, url, secret, secretFile string, now func() time.Time) *Channel {
	if now == nil {
		now = time.Now
	}
	return &Channel{c: &forward.Client{HTTP: c, Now: now}, url: url, secret: notify.Secret(secret, secretFile), now: now}
}

// Payload is the body posted.
type Payload struct {
	Version    string    `json:"version"` // "1"
	Kind       string    `json:"kind"`    // "notification", or "update_reminder" (a customer update is due)
	Tenant     string    `json:"tenant"`
	IncidentID int64     `json:"incident_id"`
	Title      string    `json:"title"`
	Priority   int       `json:"priority"`
	State      string    `json:"state"`
	CI         string    `json:"ci,omitempty"`
	URL        string    `json:"url,omitempty"`
	CreatedAt  time.Time `json:"created_at"`
	Level      int       `json:"level,omitempty"`
	Round      int       `json:"round,omitempty"`
	// UpdateDue is when the customer update of a reminder was due.
	UpdateDue time.Time `json:"update_due,omitzero"`
	Contact   Contact   `json:"contact"`
	Subject   string    `json:"subject"`
	Text      string    `json:"text"`
}

// Contact is the person notified.
type Contact struct {
	Name  string `json:"name"`
	User  string `json:"user,omitempty"`
	Email string `json:"email,omitempty"`
	Lang  string `json:"lang,omitempty"`
}

// Send implements notify.Channel.
func (c *Channel) Send(ctx context.Context, to notify.Contact, m notify.Message) error {
	t := notify.Render(to, m)
	kind := "notification"
	var due time.Time
	if !m.UpdateDue.IsZero() {
		kind, due = "update_reminder", m.UpdateDue.UTC()
	}
	body, err := json.Marshal(Payload{
		Version: "1", Kind: kind, UpdateDue: due, Tenant: m.Tenant, IncidentID: m.IncidentID, Title: m.Title, Priority: m.Priority,
		State: m.State, CI: m.CI, URL: m.URL, CreatedAt: m.CreatedAt.UTC(), Level: m.Level, Round: m.Round,
		Contact: Contact{Name: to.Name, User: to.User, Email: to.Email, Lang: to.Lang}, Subject: t.Subject, Text: t.Body,
	})
	if err != nil {
		return fmt.Errorf("webhook: encode: %w", err)
	}
	secret, err := c.secret.Fetch(ctx)
	if err != nil {
		return fmt.Errorf("webhook: read secret_file: %w", err)
	}
	h := http.Header{}
	if secret != "" {
		ts := strconv.FormatInt(c.now().Unix(), 10)
		h.Set("X-Kizashi-Timestamp", ts)
		h.Set("X-Kizashi-Signature", fwebhook.Sign([]byte(secret), ts, body))
	}
	if _, err := c.c.Do(ctx, "webhook: notify "+to.Name, http.MethodPost, c.url, h, body, nil); err != nil {
		return err
	}
	return nil
}
