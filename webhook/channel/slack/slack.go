// Package slack posts notifications to a Slack incoming webhook
// (https://api.slack.com/messaging/webhooks): a JSON body with "text" (the
// fallback shown in notifications) and Block Kit "blocks", the contact
// mentioned as <@member id>. Slack answers 200 "ok"; failures are classified
// as the forwarders' (4xx final, 429 throttles, 5xx retried).
package slack

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
	url commoncfg.SecretReader
}

// New returns the channel of an incoming-webhook URL, given or read from
// urlFile at each message (the URL is a secret).
func New(c *http.Client, url, urlFile string) *Channel {
	return &Channel{c: &forward.Client{HTTP: c}, url: notify.Secret(url, urlFile)}
}

// Message is the payload of an incoming webhook.
type Message struct {
	Text   string  `json:"text"`
	Blocks []Block `json:"blocks,omitempty"`
}

// Block is a Block Kit block (section or actions).
type Block struct {
	Type     string    `json:"type"`
	Text     *TextObj  `json:"text,omitempty"`
	Elements []Element `json:"elements,omitempty"`
}

// TextObj is a Block Kit text object.
type TextObj struct {
	Type string `json:"type"` // mrkdwn | plain_text
	Text string `json:"text"`
}

// Element is a button of an actions block.
type Element struct {
	Type string   `json:"type"` // button
	Text *TextObj `json:"text"`
	URL  string   `json:"url,omitempty"`
}

// escape escapes Slack's control characters in mrkdwn text.
func escape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// Payload builds the message for a contact.
func Payload(to notify.Contact, m notify.Message) Message {
	t := notify.Render(to, m)
	mention := escape(to.Label())
	if to.Slack != "" {
		mention = "<@" + escape(to.Slack) + ">"
	}
	body := escape(t.Body)
	msg := Message{
		Text: mention + " " + escape(t.Subject),
		Blocks: []Block{
			{Type: "section", Text: &TextObj{Type: "mrkdwn", Text: mention + " *" + escape(t.Subject) + "*"}},
			{Type: "section", Text: &TextObj{Type: "mrkdwn", Text: body}},
		},
	}
	if m.URL != "" {
		label := "Open incident"
		if to.Lang == notify.LangJA {
			label = "インシデントを開く"
		}
		msg.Blocks = append(msg.Blocks, Block{Type: "actions", Elements: []Element{{Type: "button", Text: &TextObj{Type: "plain_text", Text: label}, URL: m.URL}}})
	}
	return msg
}

// Send implements notify.Channel.
func (c *Channel) Send(ctx context.Context, to notify.Contact, m notify.Message) error {
	url, err := c.url.Fetch(ctx)
	if err != nil {
		return fmt.Errorf("slack: read url_file: %w", err)
	}
	// Slack answers text/plain "ok": not decoded.
	if _, err := c.c.Do(ctx, "slack: notify "+to.Name, http.MethodPost, url, nil, Payload(to, m), nil); err != nil {
		return err
	}
	return nil
}
