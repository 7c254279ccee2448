// Package notify reaches people about incidents: a Contact is a person (until
// user accounts exist, a configured contact; Contact.User names the account it
// will map to), a Channel delivers a Message to one contact, rendered in the
// contact's language (ja or en) with a link to the incident. The channels are
// packages below webhook/channel (email, slack, teams, webhook, pagerduty): they use
// webhook/forward's HTTP client, which the configuration (that compiles contacts
// with this package) sits below.
package notify

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Languages of messages.
const (
	LangEN = "en"
	LangJA = "ja"
)

// Contact is a person who can be notified. Fields a channel needs and the
// contact lacks make that channel fail for the contact (a clear error, not a
// silent skip).
type Contact struct {
	// Name identifies the contact within its tenant (schedules and policies
	// name it).
	Name string
	// User is the user account this contact stands for, once accounts
	// exist ("" until then).
	User        string
	DisplayName string
	Email       string
	// Slack is a Slack member id (U024BE7LH) mentioned in the channel.
	Slack string
	// Teams is the name or address mentioned in a Teams channel.
	Teams string
	// Lang is LangJA or LangEN (default).
	Lang string
	// Location is the contact's time zone (times in messages); nil = UTC.
	Location *time.Location
	// Channels are the names of the tenant's channels that reach this contact.
	Channels []string
}

// Label is the name shown to people.
func (c Contact) Label() string {
	if c.DisplayName != "" {
		return c.DisplayName
	}
	return c.Name
}

// Message is what a contact is told about an incident.
type Message struct {
	Tenant     string
	IncidentID int64 // public id
	Title      string
	Priority   int
	State      string
	CI         string
	CreatedAt  time.Time
	// URL links to the incident on the service-desk page ("" when the
	// webhook's external URL is not configured).
	URL string
	// Level and Round of the escalation (1-based; 0 when not escalating).
	Level, Round int
	// UpdateDue is set on a reminder that a customer update of this major incident is due
	// (then the message asks for the update, not an acknowledgement).
	UpdateDue time.Time
	// DedupKey identifies this incident's notifications at a channel that
	// deduplicates (PagerDuty).
	DedupKey string
}

// Channel delivers messages.
type Channel interface {
	// Send delivers m to c. A returned error may be retried later.
	Send(ctx context.Context, c Contact, m Message) error
}

// Text is a message rendered for one contact.
type Text struct {
	Subject string
	Body    string
}

// Render renders m for c in c's language and time zone.
func Render(c Contact, m Message) Text {
	loc := c.Location
	if loc == nil {
		loc = time.UTC
	}
	at := m.CreatedAt.In(loc).Format("2006-01-02 15:04 MST")
	var b strings.Builder
	var subject string
	if c.Lang == LangJA {
		subject = fmt.Sprintf("[P%d] インシデント #%d: %s", m.Priority, m.IncidentID, m.Title)
		fmt.Fprintf(&b, "%s さん\n\n", c.Label())
		if !m.UpdateDue.IsZero() {
			subject = fmt.Sprintf("[P%d] 顧客への状況報告の期限: 重大インシデント #%d: %s", m.Priority, m.IncidentID, m.Title)
			fmt.Fprintf(&b, "テナント %s の重大インシデントについて、顧客への状況報告の期限（%s）になりました。報告を登録してください。\n\n",
				m.Tenant, m.UpdateDue.In(loc).Format("2006-01-02 15:04 MST"))
		} else {
			fmt.Fprintf(&b, "テナント %s でインシデントが発生しています。対応（確認）をお願いします。\n\n", m.Tenant)
		}
		fmt.Fprintf(&b, "件名: %s\n優先度: P%d\n状態: %s\n", m.Title, m.Priority, stateJA(m.State))
		if m.CI != "" {
			fmt.Fprintf(&b, "構成アイテム: %s\n", m.CI)
		}
		fmt.Fprintf(&b, "発生日時: %s\n", at)
		if m.Level > 0 {
			fmt.Fprintf(&b, "エスカレーション: レベル %d（%d 巡目）\n", m.Level, m.Round)
		}
		if m.URL != "" {
			fmt.Fprintf(&b, "\nインシデントを開く: %s\n", m.URL)
		}
	} else {
		subject = fmt.Sprintf("[P%d] Incident #%d: %s", m.Priority, m.IncidentID, m.Title)
		fmt.Fprintf(&b, "Hello %s,\n\n", c.Label())
		if !m.UpdateDue.IsZero() {
			subject = fmt.Sprintf("[P%d] Customer update due: major incident #%d: %s", m.Priority, m.IncidentID, m.Title)
			fmt.Fprintf(&b, "A customer update of a major incident of tenant %s is due (%s): please post it.\n\n",
				m.Tenant, m.UpdateDue.In(loc).Format("2006-01-02 15:04 MST"))
		} else {
			fmt.Fprintf(&b, "An incident of tenant %s needs you: please acknowledge it.\n\n", m.Tenant)
		}
		fmt.Fprintf(&b, "Title: %s\nPriority: P%d\nState: %s\n", m.Title, m.Priority, strings.ReplaceAll(m.State, "_", " "))
		if m.CI != "" {
			fmt.Fprintf(&b, "CI: %s\n", m.CI)
		}
		fmt.Fprintf(&b, "Opened: %s\n", at)
		if m.Level > 0 {
			fmt.Fprintf(&b, "Escalation: level %d (round %d)\n", m.Level, m.Round)
		}
		if m.URL != "" {
			fmt.Fprintf(&b, "\nOpen the incident: %s\n", m.URL)
		}
	}
	return Text{Subject: subject, Body: b.String()}
}

func stateJA(s string) string {
	switch s {
	case "new":
		return "新規"
	case "in_progress":
		return "対応中"
	case "on_hold":
		return "保留"
	case "resolved":
		return "解決済み"
	case "closed":
		return "クローズ"
	case "canceled":
		return "取消"
	}
	return s
}

// IncidentURL is the page's link to an incident: base is the webhook's
// external URL ("" gives "").
func IncidentURL(base string, publicID int64) string {
	if base == "" {
		return ""
	}
	return fmt.Sprintf("%s/incidents/%d", strings.TrimSuffix(base, "/"), publicID)
}
