// Package pagerduty pages a contact through the PagerDuty Events API v2 (the
// path the pagerduty forwarder takes, through the same client): a "trigger"
// to the routing key of the contact's PagerDuty service, with a dedup_key per
// incident and contact so that a repeated step does not page twice, and the
// incident's link in client_url. PagerDuty's own escalation then reaches the
// person's devices.
package pagerduty

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	commoncfg "github.com/prometheus/common/config"

	"github.com/kizashi-dev/kizashi/webhook/forward"
	"github.com/kizashi-dev/kizashi/webhook/notify"
)

// Channel implements notify.Channel.
type Channel struct {
	c   *forward.Client
	url string
	key commoncfg.SecretReader
}

// New returns the channel of an Events API base URL
// (https://events.pagerduty.com) and routing key (or key file, read at each
// message).
func New(c *http.Client, baseURL, routingKey, routingKeyFile string) *Channel {
	return &Channel{c: &forward.Client{HTTP: c}, url: strings.TrimSuffix(baseURL, "/") + "/v2/enqueue", key: notify.Secret(routingKey, routingKeyFile)}
}

// Event is an Events API v2 event.
type Event struct {
	RoutingKey  string  `json:"routing_key"`
	EventAction string  `json:"event_action"`
	DedupKey    string  `json:"dedup_key"`
	Payload     Payload `json:"payload"`
	Client      string  `json:"client,omitempty"`
	ClientURL   string  `json:"client_url,omitempty"`
}

// Payload is the event's payload.
type Payload struct {
	Summary       string         `json:"summary"`
	Source        string         `json:"source"`
	Severity      string         `json:"severity"`
	CustomDetails map[string]any `json:"custom_details,omitempty"`
}

// Severity maps a priority as the forwarder does.
func Severity(p int) string {
	switch p {
	case 1:
		return "critical"
	case 2:
		return "error"
	case 3:
		return "warning"
	}
	return "info"
}

// Send implements notify.Channel.
func (c *Channel) Send(ctx context.Context, to notify.Contact, m notify.Message) error {
	key, err := c.key.Fetch(ctx)
	if err != nil {
		return fmt.Errorf("pagerduty: read routing_key_file: %w", err)
	}
	t := notify.Render(to, m)
	source := m.CI
	if source == "" {
		source = "kizashi"
	}
	ev := Event{
		RoutingKey: key, EventAction: "trigger", DedupKey: m.DedupKey + ":" + to.Name,
		Payload: Payload{Summary: t.Subject, Source: source, Severity: Severity(m.Priority),
			CustomDetails: map[string]any{"contact": to.Name, "tenant": m.Tenant, "level": m.Level, "round": m.Round, "text": t.Body}},
		Client: "Kizashi", ClientURL: m.URL,
	}
	if _, err := c.c.Do(ctx, "pagerduty: page "+to.Name, http.MethodPost, c.url, nil, ev, nil); err != nil {
		return err
	}
	return nil
}
