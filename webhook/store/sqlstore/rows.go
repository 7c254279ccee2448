package sqlstore

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/kizashi-dev/kizashi/webhook/incident"
	"github.com/kizashi-dev/kizashi/webhook/sanitize"
)

// Rows is what both database/sql and pgx row sets offer: the row encoding of incidents and
// alerts lives here once, for every store.
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
}

// IncidentColumns are the incident columns, in the order ScanIncidents reads them.
const IncidentColumns = `id, version, tenant, correlation_key, receiver, group_key, title, state, impact, urgency, priority,
	category, ci, assignment_group, assignee, hold_reason, labels, created_at, updated_at, acknowledged_at, resolved_at,
	closed_at, last_notified_at, response_due, resolve_due, response_breached_at, resolve_breached_at, hold_since,
	paused_total, close_code, close_notes, resolved_by, reopen_count, flap_times, flapping, touched, major_proposed,
	mute_until, previous_id, firing_alerts`

// The incident writes of every store, with "?" placeholders (see Rebind): InsertIncident takes
// InsertIncidentArgs and returns the id, UpdateIncident takes UpdateIncidentArgs and updates
// nothing when the version moved on.
const (
	InsertIncident = `INSERT INTO incidents (version, tenant, correlation_key, receiver, group_key, title, state, impact, urgency, priority,
	category, ci, assignment_group, assignee, hold_reason, labels, created_at, updated_at, acknowledged_at, resolved_at,
	closed_at, last_notified_at, response_due, resolve_due, response_breached_at, resolve_breached_at, hold_since,
	paused_total, close_code, close_notes, resolved_by, reopen_count, flap_times, flapping, touched, major_proposed,
	mute_until, previous_id, firing_alerts)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`
	UpdateIncident = `UPDATE incidents SET version = ?, title = ?, state = ?, impact = ?, urgency = ?, priority = ?,
	category = ?, ci = ?, assignment_group = ?, assignee = ?, hold_reason = ?, labels = ?, updated_at = ?, acknowledged_at = ?,
	resolved_at = ?, closed_at = ?, last_notified_at = ?, response_due = ?, resolve_due = ?, response_breached_at = ?,
	resolve_breached_at = ?, hold_since = ?, paused_total = ?, close_code = ?, close_notes = ?, resolved_by = ?,
	reopen_count = ?, flap_times = ?, flapping = ?, touched = ?, major_proposed = ?, mute_until = ?, previous_id = ?,
	firing_alerts = ? WHERE id = ? AND version = ?`
)

// InsertIncidentArgs are the arguments of InsertIncident: in at version 1.
func InsertIncidentArgs(in *incident.Incident) ([]any, error) {
	labels, flaps, err := IncidentJSON(in)
	if err != nil {
		return nil, err
	}
	return []any{int64(1), in.Tenant, in.CorrelationKey, in.Receiver, in.GroupKey, in.Title, string(in.State),
		in.Impact, in.Urgency, in.Priority, in.Category, in.CI, in.AssignmentGroup, in.Assignee, in.HoldReason, labels,
		TS(in.CreatedAt), TS(in.UpdatedAt), TS(in.AcknowledgedAt), TS(in.ResolvedAt), TS(in.ClosedAt), TS(in.LastNotifiedAt),
		TS(in.ResponseDue), TS(in.ResolveDue), TS(in.ResponseBreachedAt), TS(in.ResolveBreachedAt), TS(in.HoldSince),
		int64(in.PausedTotal), in.CloseCode, in.CloseNotes, in.ResolvedBy, in.ReopenCount, flaps, B2I(in.Flapping),
		B2I(in.Touched), B2I(in.MajorProposed), TS(in.MuteUntil), in.PreviousID, in.FiringAlerts}, nil
}

// UpdateIncidentArgs are the arguments of UpdateIncident: in at its next version, if its
// version is still the stored one.
func UpdateIncidentArgs(in *incident.Incident) ([]any, error) {
	labels, flaps, err := IncidentJSON(in)
	if err != nil {
		return nil, err
	}
	return []any{in.Version + 1, in.Title, string(in.State), in.Impact, in.Urgency, in.Priority,
		in.Category, in.CI, in.AssignmentGroup, in.Assignee, in.HoldReason, labels, TS(in.UpdatedAt), TS(in.AcknowledgedAt),
		TS(in.ResolvedAt), TS(in.ClosedAt), TS(in.LastNotifiedAt), TS(in.ResponseDue), TS(in.ResolveDue),
		TS(in.ResponseBreachedAt), TS(in.ResolveBreachedAt), TS(in.HoldSince), int64(in.PausedTotal), in.CloseCode,
		in.CloseNotes, in.ResolvedBy, in.ReopenCount, flaps, B2I(in.Flapping), B2I(in.Touched), B2I(in.MajorProposed),
		TS(in.MuteUntil), in.PreviousID, in.FiringAlerts, in.ID, in.Version}, nil
}

// Rebind rewrites "?" placeholders as $1, $2, ... (PostgreSQL).
func Rebind(query string) string {
	var b strings.Builder
	n := 0
	for i := 0; i < len(query); i++ {
		if query[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(query[i])
	}
	return b.String()
}

// ScanIncidents reads incident rows selected with the incident columns. It does not close rows.
func ScanIncidents(rows Rows) ([]*incident.Incident, error) {
	var out []*incident.Incident
	for rows.Next() {
		var (
			in                                                  incident.Incident
			state, labels, flaps                                string
			created, updated, acked, resolved, closed, notified int64
			respDue, resDue, respBr, resBr, holdSince, paused   int64
			mute                                                int64
			flapping, touched, major                            int64
		)
		if err := rows.Scan(&in.ID, &in.Version, &in.Tenant, &in.CorrelationKey, &in.Receiver, &in.GroupKey, &in.Title,
			&state, &in.Impact, &in.Urgency, &in.Priority, &in.Category, &in.CI, &in.AssignmentGroup, &in.Assignee,
			&in.HoldReason, &labels, &created, &updated, &acked, &resolved, &closed, &notified, &respDue, &resDue,
			&respBr, &resBr, &holdSince, &paused, &in.CloseCode, &in.CloseNotes, &in.ResolvedBy, &in.ReopenCount,
			&flaps, &flapping, &touched, &major, &mute, &in.PreviousID, &in.FiringAlerts); err != nil {
			return nil, fmt.Errorf("scan incident: %w", err)
		}
		in.State = incident.State(state)
		if err := json.Unmarshal([]byte(labels), &in.Labels); err != nil {
			return nil, fmt.Errorf("decode labels of incident %d: %w", in.ID, err)
		}
		var ft []int64
		if err := json.Unmarshal([]byte(flaps), &ft); err != nil {
			return nil, fmt.Errorf("decode flap times of incident %d: %w", in.ID, err)
		}
		for _, f := range ft {
			in.FlapTimes = append(in.FlapTimes, FromTS(f))
		}
		in.CreatedAt, in.UpdatedAt, in.AcknowledgedAt = FromTS(created), FromTS(updated), FromTS(acked)
		in.ResolvedAt, in.ClosedAt, in.LastNotifiedAt = FromTS(resolved), FromTS(closed), FromTS(notified)
		in.ResponseDue, in.ResolveDue = FromTS(respDue), FromTS(resDue)
		in.ResponseBreachedAt, in.ResolveBreachedAt = FromTS(respBr), FromTS(resBr)
		in.HoldSince, in.PausedTotal, in.MuteUntil = FromTS(holdSince), time.Duration(paused), FromTS(mute)
		in.Flapping, in.Touched, in.MajorProposed = flapping != 0, touched != 0, major != 0
		out = append(out, &in)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read incidents: %w", err)
	}
	return out, nil
}

// ScanAlerts reads alert rows selected with the alert columns, after the columns that lead
// scans into (e.g. the incident id). It does not close rows.
func ScanAlerts(rows Rows, lead ...any) ([]incident.Alert, error) {
	var out []incident.Alert
	for rows.Next() {
		var (
			a                  incident.Alert
			labels, ann        string
			starts, ends, seen int64
		)
		dest := append(append([]any(nil), lead...), &a.Fingerprint, &a.Status, &labels, &ann, &starts, &ends, &a.GeneratorURL, &seen)
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("scan alert: %w", err)
		}
		if err := json.Unmarshal([]byte(labels), &a.Labels); err != nil {
			return nil, fmt.Errorf("decode alert labels: %w", err)
		}
		if err := json.Unmarshal([]byte(ann), &a.Annotations); err != nil {
			return nil, fmt.Errorf("decode alert annotations: %w", err)
		}
		a.StartsAt, a.EndsAt, a.LastSeenAt = FromTS(starts), FromTS(ends), FromTS(seen)
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read alerts: %w", err)
	}
	return out, nil
}

// IncidentJSON encodes an incident's labels and flap times as stored.
func IncidentJSON(in *incident.Incident) (labels, flaps string, err error) {
	lj, err := json.Marshal(in.Labels)
	if err != nil {
		return "", "", fmt.Errorf("encode labels: %w", err)
	}
	ft := make([]int64, 0, len(in.FlapTimes))
	for _, f := range in.FlapTimes {
		ft = append(ft, TS(f))
	}
	fj, err := json.Marshal(ft)
	if err != nil {
		return "", "", fmt.Errorf("encode flap times: %w", err)
	}
	return string(lj), string(fj), nil
}

// AlertJSON encodes an alert's labels and annotations as stored.
func AlertJSON(a incident.Alert) (labels, annotations string, err error) {
	lj, err := json.Marshal(a.Labels)
	if err != nil {
		return "", "", fmt.Errorf("encode alert labels: %w", err)
	}
	aj, err := json.Marshal(a.Annotations)
	if err != nil {
		return "", "", fmt.Errorf("encode alert annotations: %w", err)
	}
	return string(lj), string(aj), nil
}

// TS is how times are stored: Unix nanoseconds, 0 for the zero time. Times
// outside what int64 nanoseconds hold are clamped (sanitize.Time) instead of
// wrapping around (2300 became 1715), and the Unix epoch itself, whose
// nanoseconds are the zero time's 0, is stored as math.MinInt64, an instant
// before sanitize.MinTime that no clamped time can take.
func TS(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	t, _ = sanitize.Time(t)
	if n := t.UnixNano(); n != 0 {
		return n
	}
	return epoch
}

// epoch stores the Unix epoch (see TS).
const epoch = math.MinInt64

// FromTS reads a time stored by TS.
func FromTS(n int64) time.Time {
	switch n {
	case 0:
		return time.Time{}
	case epoch:
		n = 0
	}
	return time.Unix(0, n).UTC()
}

// B2I stores a bool.
func B2I(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// closeRows closes rows when a function that scans them returns, and reports the close's
// error through *err when the function had none (defer closeRows(rows, &err)).
func closeRows(rows *sql.Rows, err *error) {
	if cerr := rows.Close(); cerr != nil && *err == nil {
		*err = fmt.Errorf("close rows: %w", cerr)
	}
}
