// Package teams posts notifications to a Microsoft Teams incoming webhook (or
// a Workflows "post to a channel when a webhook request is received" URL) as
// an Adaptive Card in a "message" envelope, the shape both accept
// (https://learn.microsoft.com/microsoftteams/platform/webhooks-and-connectors/how-to/connectors-using):
// a TextBlock title, the text, a FactSet and an Action.OpenUrl to the
// incident; the contact is mentioned with an <at> entity.
package teams

import (
	"context"
	"fmt"
	"net/http"

	commoncfg "github.com/prometheus/common/config"

	"github.com/kizashi-dev/kizashi/webhook/forward"
	"github.com/kizashi-dev/kizashi/webhook/notify"
)

// Channel implements notify.Channel.
type Channel struct {
	c   *forward.Client
	url commoncfg.SecretReader
}

// New returns the channel of a webhook URL, given or read from urlFile at
// each message.
func New(c *http.Client, url, urlFile string) *Channel {
	return &Channel{c: &forward.Client{HTTP: c}, url: notify.Secret(url, urlFile)}
}

// Envelope is the body posted.
type Envelope struct {
	Type        string       `json:"type"` // message
	Attachments []Attachment `json:"attachments"`
}

// Attachment carries one card.
type Attachment struct {
	ContentType string `json:"contentType"` // application/vnd.microsoft.card.adaptive
	ContentURL  any    `json:"contentUrl"`  // null
	Content     Card   `json:"content"`
}

// Card is an Adaptive Card.
type Card struct {
	Schema  string    `json:"$schema"`
	Type    string    `json:"type"` // AdaptiveCard
	Version string    `json:"version"`
	Body    []Element `json:"body"`
	Actions []Action  `json:"actions,omitempty"`
	MSTeams *MSTeams  `json:"msteams,omitempty"`
}

// Element is a TextBlock or FactSet.
type Element struct {
	Type   string `json:"type"`
	Text   string `json:"text,omitempty"`
	Weight string `json:"weight,omitempty"`
	Size   string `json:"size,omitempty"`
	Wrap   bool   `json:"wrap,omitempty"`
	Facts  []Fact `json:"facts,omitempty"`
}

// Fact is one title/value pair.
type Fact struct {
	Title string `json:"title"`
	Value string `json:"value"`
}

// Action opens a URL.
type Action struct {
	Type  string `json:"type"` // Action.OpenUrl
	Title string `json:"title"`
	URL   string `json:"url"`
}

// MSTeams holds the mentions.
type MSTeams struct {
	Entities []Mention `json:"entities"`
}

// Mention is an <at> entity.
type Mention struct {
	Type      string    `json:"type"` // mention
	Text      string    `json:"text"`
	Mentioned Mentioned `json:"mentioned"`
}

// Mentioned names who is mentioned.
type Mentioned struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// Payload builds the card for a contact.
func Payload(to notify.Contact, m notify.Message) Envelope {
	t := notify.Render(to, m)
	card := Card{
		Schema:  "http://adaptivecards.io/schemas/adaptive-card.json",
		Type:    "AdaptiveCard",
		Version: "1.4",
	}
	who := to.Label()
	if to.Teams != "" {
		card.MSTeams = &MSTeams{Entities: []Mention{{Type: "mention", Text: "<at>" + who + "</at>", Mentioned: Mentioned{ID: to.Teams, Name: who}}}}
		who = "<at>" + who + "</at>"
	}
	card.Body = []Element{
		{Type: "TextBlock", Text: t.Subject, Weight: "Bolder", Size: "Medium", Wrap: true},
		{Type: "TextBlock", Text: who, Wrap: true},
		{Type: "TextBlock", Text: t.Body, Wrap: true},
	}
	if m.URL != "" {
		title := "Open incident"
		if to.Lang == notify.LangJA {
			title = "インシデントを開く"
		}
		card.Actions = []Action{{Type: "Action.OpenUrl", Title: title, URL: m.URL}}
	}
	return Envelope{Type: "message", Attachments: []Attachment{{ContentType: "application/vnd.microsoft.card.adaptive", Content: card}}}
}

// Send implements notify.Channel.
func (c *Channel) Send(ctx context.Context, to notify.Contact, m notify.Message) error {
	url, err := c.url.Fetch(ctx)
	if err != nil {
		return fmt.Errorf("teams: read url_file: %w", err)
	}
	if _, err := c.c.Do(ctx, "teams: notify "+to.Name, http.MethodPost, url, nil, Payload(to, m), nil); err != nil {
		return err
	}
	return nil
}
