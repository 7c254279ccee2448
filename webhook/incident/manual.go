package incident

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/kizashi-dev/kizashi/webhook/i18n"
	"github.com/kizashi-dev/kizashi/webhook/sanitize"
)

// Channels through which a person reports an incident that no alert opened.
var Channels = []string{"phone", "email", "chat", "walk_in", "self_service"}

// ManualKeyPrefix starts the correlation key of an incident a person opened: no alert will
// ever match it, so it never collides with Alertmanager's incidents.
const ManualKeyPrefix = "manual:"

// Manual is an incident a person opens by hand (a phone call, an e-mail).
type Manual struct {
	Tenant          string
	Title           string
	Description     string
	Channel         string
	Impact, Urgency int
	CI              string
	Category        string
	AssignmentGroup string
}

// NewManual returns the incident a person (actor) opens, with its journal lines.
func NewManual(now time.Time, p Policy, actor string, m Manual) (*Incident, []Entry, error) {
	switch {
	case strings.TrimSpace(actor) == "":
		return nil, nil, i18n.Errorf("%w: actor required", ErrInvalid)
	case strings.TrimSpace(m.Title) == "":
		return nil, nil, i18n.Errorf("%w: title required", ErrInvalid)
	case !slices.Contains(Channels, m.Channel):
		return nil, nil, i18n.Errorf("%w: channel must be one of %s", ErrInvalid, strings.Join(Channels, ", "))
	case m.Impact < LevelHigh || m.Impact > LevelLow || m.Urgency < LevelHigh || m.Urgency > LevelLow:
		return nil, nil, i18n.Errorf("%w: impact and urgency must be 1 (high), 2 (medium) or 3 (low)", ErrInvalid)
	case len(m.Description) > maxText || len(m.CI) > 200 || len(m.Category) > 200 || len(m.AssignmentGroup) > 200:
		return nil, nil, i18n.Errorf("%w: text too long", ErrInvalid)
	}
	key := make([]byte, 16)
	if _, err := rand.Read(key); err != nil {
		return nil, nil, fmt.Errorf("manual incident key: %w", err)
	}
	n := &Incident{
		Tenant:          m.Tenant,
		CorrelationKey:  ManualKeyPrefix + hex.EncodeToString(key),
		Receiver:        "manual",
		GroupKey:        "manual",
		Title:           sanitize.Text(m.Title, sanitize.MaxTitle),
		State:           StateNew,
		Impact:          m.Impact,
		Urgency:         m.Urgency,
		Priority:        p.Priority.Matrix[m.Impact-1][m.Urgency-1],
		Category:        m.Category,
		CI:              m.CI,
		AssignmentGroup: m.AssignmentGroup,
		Labels:          map[string]string{"kizashi": "manual", "channel": m.Channel},
		CreatedAt:       now,
		UpdatedAt:       now,
		Touched:         true,
	}
	n.setSLA(p)
	msg := fmt.Sprintf("created by hand (%s): P%d (impact %d, urgency %d)", m.Channel, n.Priority, n.Impact, n.Urgency)
	if d := strings.TrimSpace(m.Description); d != "" {
		msg += " — " + d
	}
	entries := []Entry{n.entry(now, actor, KindCreated, msg)}
	if reason := majorReason(p.Major, n); reason != "" {
		n.MajorProposed = true
		entries = append(entries, n.entry(now, ActorSystem, KindMajor, "major incident proposed: "+reason))
	}
	return n, entries, nil
}
