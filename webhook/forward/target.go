// Package forward is the delivery core that brings the tenants' ticket systems up to date
// from the outbox that the service layer writes in the same transaction as each incident
// change: the outbox worker with its leases, backoff, dead letters and circuit breakers, the
// HTTP client and the failure classes every integration shares, and the Target interface an
// integration implements. The integrations are packages of their own, one per ticket system
// (forward/servicenow, forward/jira, forward/pagerduty, forward/webhook: a generic signed JSON
// webhook), chosen by their configured type in forward/integrations; their fakes for tests are
// in forward/forwardtest. A new integration is a new package and one line there.
//
// Delivery is at least once and state based: outbox rows are dispatched into
// one job per (target, incident); a worker leases the job, reads the
// incident's current state and the journal lines not yet delivered, and
// brings the ticket up to date in one delivery, so that changes made while
// a target is down coalesce. A ticket is created or adopted: before creating
// one, the target is searched for our correlation id, so that a create whose
// answer was lost (timeout, crash) is not repeated. Work notes carry a marker
// with the journal ids they hold; after an uncertain attempt the target's
// notes are read back and only what is missing is sent.
//
// Failures back off exponentially with jitter (Retry-After honoured); 429
// pauses the target without counting an attempt; other 4xx answers are final
// and make a dead letter at once; max_attempts failures make one too. Each
// target has a circuit breaker: after consecutive failures only one probe
// delivery runs, and when a probe succeeds every waiting job is due again at
// once.
package forward

import (
	"context"
	"errors"
	"fmt"
	"net"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kizashi-dev/kizashi/webhook/incident"
	"github.com/kizashi-dev/kizashi/webhook/publicid"
	"github.com/kizashi-dev/kizashi/webhook/sanitize"
	"github.com/kizashi-dev/kizashi/webhook/store"
)

// Sync is what one delivery needs: the incident as it is now and what the
// target already has.
type Sync struct {
	// CorrelationID identifies the incident in the target
	// ("<prefix>-<tenant>-<id>").
	CorrelationID string
	Incident      *incident.Incident
	Alerts        []incident.Alert
	// Journal lines after SyncedJournalID, oldest first.
	Journal         []incident.Entry
	SyncedJournalID int64
	Ref             store.ExternalRef
	RemoteState     string
	// Uncertain is set when an earlier attempt may have reached the target
	// (its outcome is unknown): the target's notes are read back first.
	Uncertain bool
	// FirstAttempt is set on the first delivery of an incident to the
	// target: no ticket can exist yet, so none is looked up before the
	// create (every retry looks up first: create-or-adopt).
	FirstAttempt bool
	// DeliveryID is unique per job and change count (for idempotency keys).
	DeliveryID string
	// IncidentURL links to the incident's page (may be empty).
	IncidentURL string
	// IDs gives the public ids shown in ticket texts and payloads (nil: the store's ids); the
	// correlation id and the note markers keep the store's ids, which existing tickets hold.
	IDs *publicid.Codec
	// SaveRef stores the ticket's reference as soon as it is known.
	SaveRef func(ctx context.Context, ref store.ExternalRef) error
}

// Result is what a delivery left in the target.
type Result struct {
	Ref         store.ExternalRef
	RemoteState string
	// JournalThrough is the last journal id delivered (or skipped).
	JournalThrough int64
	// More is set when journal lines are left for another delivery.
	More bool
}

// Target is one ticket system.
type Target interface {
	// Sync brings the ticket of s.Incident up to date.
	Sync(ctx context.Context, s *Sync) (Result, error)
}

// Kind classifies a failed delivery.
type Kind int

// Kinds of failure.
const (
	// Retry: the target or the network failed; try again later.
	Retry Kind = iota
	// Throttle: the target asked us to slow down (429).
	Throttle
	// Permanent: the target rejected the request (4xx); retrying the same
	// request cannot help.
	Permanent
)

// Failure reasons (bounded metric label values).
const (
	ReasonTimeout     = "timeout"
	ReasonNetwork     = "network"
	ReasonServer      = "server_error"
	ReasonRateLimited = "rate_limited"
	ReasonRejected    = "rejected"
	ReasonBadResponse = "bad_response"
)

// Error is a failed request to a target.
type Error struct {
	Kind       Kind
	Reason     string
	Status     int
	RetryAfter time.Duration
	Err        error
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// classify turns any error into an *Error (an integration's own errors without a class are
// network failures: retried).
func classify(err error) *Error {
	var fe *Error
	if errors.As(err, &fe) {
		return fe
	}
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout():
		return &Error{Kind: Retry, Reason: ReasonTimeout, Err: err}
	default:
		return &Error{Kind: Retry, Reason: ReasonNetwork, Err: err}
	}
}

// statusError classifies an HTTP answer that is not 2xx, the way
// Alertmanager's retrier does: 5xx, 408 and 409 are retried, 429 throttles,
// other 4xx are final.
func statusError(what string, status int, header map[string][]string, body []byte, now time.Time) *Error {
	msg := strings.TrimSpace(string(body))
	if len(msg) > 300 {
		msg = sanitize.Text(msg, 300) + "..."
	}
	err := fmt.Errorf("%s: HTTP %d: %s", what, status, msg)
	ra := retryAfter(header, now)
	switch {
	case status == 429:
		return &Error{Kind: Throttle, Reason: ReasonRateLimited, Status: status, RetryAfter: ra, Err: err}
	case status >= 500:
		return &Error{Kind: Retry, Reason: ReasonServer, Status: status, RetryAfter: ra, Err: err}
	case status == 408 || status == 409:
		return &Error{Kind: Retry, Reason: ReasonTimeout, Status: status, RetryAfter: ra, Err: err}
	default:
		return &Error{Kind: Permanent, Reason: ReasonRejected, Status: status, Err: err}
	}
}

// retryAfter parses a Retry-After header (seconds or HTTP date); 0 if none.
func retryAfter(header map[string][]string, now time.Time) time.Duration {
	vs := header["Retry-After"]
	if len(vs) == 0 {
		return 0
	}
	v := strings.TrimSpace(vs[0])
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := time.Parse(time.RFC1123, v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// CorrelationID is the id stored in the ticket of an incident.
func CorrelationID(prefix, tenant string, incidentID int64) string {
	return fmt.Sprintf("%s-%s-%d", prefix, tenant, incidentID)
}

// noteMarker starts every work note: it names the incident and the journal
// ids the note holds, so that a later attempt can see what the target has.
func noteMarker(cid string, first, last int64) string {
	return fmt.Sprintf("[kizashi %s journal %d-%d]", cid, first, last)
}

var markerRE = regexp.MustCompile(`\[kizashi (\S+) journal (\d+)-(\d+)\]`)

// NotesThrough returns the highest journal id held by notes of cid among
// texts (0 if none): what a target has after an uncertain attempt.
func NotesThrough(cid string, texts ...string) int64 {
	var max int64
	for _, t := range texts {
		for _, m := range markerRE.FindAllStringSubmatch(t, -1) {
			if m[1] != cid {
				continue
			}
			if n, err := strconv.ParseInt(m[3], 10, 64); err == nil && n > max {
				max = n
			}
		}
	}
	return max
}

// Bounds of one work note.
const (
	// MaxNoteLines is the most journal lines delivered at once (a note, a webhook delivery).
	MaxNoteLines = 100
	maxNoteBytes = 30000
	maxLineBytes = 1000
)

// Note renders the journal lines after `after` as one work note, starting with the marker
// NotesThrough reads back. It returns the text (empty when there is nothing to say), the last
// id it holds and whether lines are left for another note.
func Note(cid string, journal []incident.Entry, after int64) (string, int64, bool) {
	var (
		lines       []string
		first, last int64
		size        int
		more        bool
	)
	for _, e := range journal {
		if e.ID <= after {
			continue
		}
		if len(lines) == MaxNoteLines || size > maxNoteBytes {
			more = true
			break
		}
		msg := e.Message
		if len(msg) > maxLineBytes {
			msg = msg[:maxLineBytes] + "..."
		}
		line := fmt.Sprintf("%s %s %s: %s", e.At.UTC().Format(time.RFC3339), e.Actor, e.Kind, msg)
		lines = append(lines, line)
		size += len(line) + 1
		if first == 0 {
			first = e.ID
		}
		last = e.ID
	}
	if len(lines) == 0 {
		return "", after, false
	}
	return noteMarker(cid, first, last) + "\n" + strings.Join(lines, "\n"), last, more
}

// Description is the body of a created ticket: the incident, its link and its alerts.
func Description(s *Sync) string {
	in := s.Incident
	var b strings.Builder
	fmt.Fprintf(&b, "Kizashi incident #%d (%s), tenant %s, P%d (impact %d, urgency %d).\n", s.IDs.Public(publicid.Incident, in.ID),
		s.CorrelationID, in.Tenant, in.Priority, in.Impact, in.Urgency)
	if s.IncidentURL != "" {
		fmt.Fprintf(&b, "%s\n", s.IncidentURL)
	}
	b.WriteString("\nAlerts:\n")
	for i, a := range s.Alerts {
		if i == 20 {
			fmt.Fprintf(&b, "... and %d more\n", len(s.Alerts)-i)
			break
		}
		fmt.Fprintf(&b, "- [%s] %s", a.Status, labelString(a.Labels))
		if sum := a.Annotations["summary"]; sum != "" {
			fmt.Fprintf(&b, " — %s", sum)
		}
		b.WriteByte('\n')
	}
	return b.String()
}

func labelString(l map[string]string) string {
	keys := make([]string, 0, len(l))
	for k := range l {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%q", k, l[k])
	}
	return "{" + strings.Join(parts, ", ") + "}"
}
