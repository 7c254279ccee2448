// Package alertmsg decodes and validates Alertmanager webhook notifications
// (payload version 4) and derives their idempotency key.
//
// The payload is decoded with the types of
// github.com/prometheus/alertmanager/template plus the envelope fields that
// Alertmanager's webhook notifier adds (version, groupKey, truncatedAlerts).
// Unknown fields are accepted so that newer Alertmanager releases that add
// optional fields keep working. Notifications are decoded as a stream, one
// alert at a time, so that an alert storm (a group of 100,000 alerts) is
// accepted without holding its body and its decoded form at once.
package alertmsg

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/alertmanager/template"
	"github.com/prometheus/common/model"

	"github.com/kizashi-dev/kizashi/webhook/sanitize"
)

// Version is the only webhook payload version this package accepts.
const Version = "4"

// Alert statuses as sent by Alertmanager.
const (
	StatusFiring   = "firing"
	StatusResolved = "resolved"
)

// ReasonRepeat is the notification_reason Alertmanager (>= 0.28) sends when a
// group is re-sent only because its repeat interval elapsed.
const ReasonRepeat = "repeat interval elapsed"

// Message is one webhook notification.
type Message struct {
	template.Data

	Version         string `json:"version"`
	GroupKey        string `json:"groupKey"`
	TruncatedAlerts uint64 `json:"truncatedAlerts"`

	// Dropped counts the alerts beyond Limits.MaxAlerts: read, not kept.
	// The notification is then incomplete, as if Alertmanager had truncated it.
	Dropped int `json:"-"`
	// Raw is the body as received, as it is stored (see Decode).
	Raw Raw `json:"-"`
}

// Validate checks the fields the receiver relies on.
func (m *Message) Validate() error {
	if m.Version != Version {
		return fmt.Errorf("unsupported payload version %q (want %q)", m.Version, Version)
	}
	if m.GroupKey == "" {
		return errors.New("missing groupKey")
	}
	if m.Receiver == "" {
		return errors.New("missing receiver")
	}
	if m.Status != StatusFiring && m.Status != StatusResolved {
		return fmt.Errorf("invalid status %q", m.Status)
	}
	if len(m.Alerts) == 0 {
		return errors.New("notification has no alerts")
	}
	seen := make(map[string]struct{}, len(m.Alerts))
	for i := range m.Alerts {
		a := &m.Alerts[i]
		if a.Status != StatusFiring && a.Status != StatusResolved {
			return fmt.Errorf("alert %d: invalid status %q", i, a.Status)
		}
		if len(a.Labels) == 0 {
			return fmt.Errorf("alert %d: no labels", i)
		}
		if _, empty := a.Labels[""]; empty {
			return fmt.Errorf("alert %d: empty label name", i)
		}
		if a.StartsAt.IsZero() {
			return fmt.Errorf("alert %d: missing startsAt", i)
		}
		if a.Status == StatusResolved && a.EndsAt.IsZero() {
			return fmt.Errorf("alert %d: resolved alert without endsAt", i)
		}
		fp := a.Fingerprint
		if fp == "" {
			fp = Fingerprint(a.Labels)
		}
		if _, dup := seen[fp]; dup {
			return fmt.Errorf("alert %d: duplicate fingerprint %s", i, fp)
		}
		seen[fp] = struct{}{}
	}
	return nil
}

// sanitize repairs every string of the notification (see package sanitize):
// a NUL or a string cut inside a rune is no reason to refuse a notification,
// but PostgreSQL would refuse to store it. Identifiers that must stay
// distinct keep a hash of the original when they are cut.
func (m *Message) sanitize() {
	m.Receiver = sanitize.ID(m.Receiver, sanitize.MaxName)
	m.Status = sanitize.Text(m.Status, sanitize.MaxName)
	m.GroupKey = sanitize.ID(m.GroupKey, sanitize.MaxKey)
	m.ExternalURL = sanitize.Text(m.ExternalURL, sanitize.MaxURL)
	m.NotificationReason = sanitize.Text(m.NotificationReason, sanitize.MaxName)
	m.GroupLabels = sanitize.Map(m.GroupLabels)
	m.RouteLabels = sanitize.Map(m.RouteLabels)
	m.CommonLabels = sanitize.Map(m.CommonLabels)
	m.CommonAnnotations = sanitize.Map(m.CommonAnnotations)
	for i := range m.Alerts {
		a := &m.Alerts[i]
		a.Status = sanitize.Text(a.Status, sanitize.MaxName)
		a.Labels = sanitize.Map(a.Labels)
		a.Annotations = sanitize.Map(a.Annotations)
		a.GeneratorURL = sanitize.Text(a.GeneratorURL, sanitize.MaxURL)
		a.Fingerprint = sanitize.ID(a.Fingerprint, maxFingerprint)
	}
}

// maxFingerprint bounds a fingerprint sent by the client (Alertmanager's
// are 16 hex digits).
const maxFingerprint = 128

// normalize fills fingerprints Alertmanager left out and zeroes the endsAt of
// firing alerts: Alertmanager sets it to the resolve timeout, which moves on
// every re-send from Prometheus and says nothing about the alert's state.
func (m *Message) normalize() {
	for i := range m.Alerts {
		a := &m.Alerts[i]
		if a.Fingerprint == "" {
			a.Fingerprint = Fingerprint(a.Labels)
		}
		a.StartsAt = clampTime(a.StartsAt)
		if a.Status == StatusFiring {
			a.EndsAt = time.Time{}
		} else {
			a.EndsAt = clampTime(a.EndsAt)
		}
		if a.Annotations == nil {
			a.Annotations = template.KV{}
		}
	}
}

// clampTime brings a time into the range the stores hold (years 1678 to
// 2262), in UTC: an alert from a client's broken clock is kept, not refused
// (the raw notification keeps what was sent).
func clampTime(t time.Time) time.Time {
	t, _ = sanitize.Time(t)
	return t.UTC()
}

// Fingerprint computes Alertmanager's fingerprint of a label set.
func Fingerprint(labels template.KV) string {
	ls := make(model.LabelSet, len(labels))
	for k, v := range labels {
		ls[model.LabelName(k)] = model.LabelValue(v)
	}
	return ls.Fingerprint().String()
}

// ReceiverName returns the receiver's configured name. Alertmanager sends it
// regex-quoted (regexp.QuoteMeta), so "team.ops" arrives as "team\.ops".
func (m *Message) ReceiverName() string {
	return UnquoteMeta(m.Receiver)
}

// UnquoteMeta reverses regexp.QuoteMeta.
func UnquoteMeta(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// Complete reports whether the notification lists every alert of its group,
// so that group alerts absent from it may be treated as no longer firing:
// neither Alertmanager (max_alerts) nor the receiver (Limits.MaxAlerts) cut it.
func (m *Message) Complete() bool { return m.TruncatedAlerts == 0 && m.Dropped == 0 }

// Repeat reports whether Alertmanager sent the notification only because the
// repeat interval elapsed.
func (m *Message) Repeat() bool { return m.NotificationReason == ReasonRepeat }

// IdempotencyKey identifies a notification's content for one tenant: the
// tenant, the receiver, the group key and each alert's fingerprint, status,
// startsAt and endsAt (firing alerts' endsAt normalized to zero). Replicas of
// an Alertmanager HA cluster that send the same group state produce the same
// key. notification_reason and all other fields are deliberately left out.
func (m *Message) IdempotencyKey(tenant string) string {
	type item struct {
		fp, status     string
		starts, ending int64
	}
	items := make([]item, 0, len(m.Alerts))
	for _, a := range m.Alerts {
		items = append(items, item{a.Fingerprint, a.Status, a.StartsAt.UnixNano(), endsAtNanos(a)})
	}
	slices.SortFunc(items, func(a, b item) int { return strings.Compare(a.fp, b.fp) })
	h := sha256.New()
	field := func(s string) {
		_, _ = fmt.Fprintf(h, "%d:%s;", len(s), s)
	}
	field(tenant)
	field(m.ReceiverName())
	field(m.GroupKey)
	for _, it := range items {
		field(it.fp)
		field(it.status)
		_, _ = fmt.Fprintf(h, "%d;%d;", it.starts, it.ending)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func endsAtNanos(a template.Alert) int64 {
	if a.Status == StatusFiring || a.EndsAt.IsZero() {
		return 0
	}
	return a.EndsAt.UnixNano()
}
