// Package readmodel is what the REST API and the service-desk page show of the store, so that
// both show the same: incidents with their tickets, alerts and journal, and dead letters, in the
// API's shapes (package apitypes) with public ids instead of the store's; the incident filter
// of a query string; and what a failed read or action answers (status, message). Handlers
// decide who may see what (the scope they pass); this package only reads.
package readmodel

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/kizashi-dev/kizashi/webhook/apitypes"
	"github.com/kizashi-dev/kizashi/webhook/i18n"
	"github.com/kizashi-dev/kizashi/webhook/incident"
	"github.com/kizashi-dev/kizashi/webhook/publicid"
	"github.com/kizashi-dev/kizashi/webhook/sanitize"
	"github.com/kizashi-dev/kizashi/webhook/service"
	"github.com/kizashi-dev/kizashi/webhook/store"
)

// Reader reads incidents for the API and the page.
type Reader struct {
	Store store.Store
	// IDs maps the store's ids to public ids (nil: shown as they are).
	IDs    *publicid.Codec
	Logger *slog.Logger
	// Customer hides what customers do not read: internal work notes and the desk's
	// bookkeeping in the journal (see incident.CustomerVisible).
	Customer bool
	// Groups, when not nil, limits what is read to the incidents of these assignment groups and
	// the unassigned ones (an operator limited to groups); others are not found.
	Groups []string
	// Now is the time the SLA clocks are read at (nil: time.Now), so that several pages read
	// for one answer agree.
	Now func() time.Time
}

func (r *Reader) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// ParseFilter reads the list parameters of GET /api/v1/incidents (see apitypes.Param*). scope
// is the caller's tenant ("" for a caller who sees every tenant: then tenant= selects one);
// before= is a public id.
func (r *Reader) ParseFilter(q url.Values, scope string) (store.Filter, error) {
	get := func(k string) string {
		if v := q[k]; len(v) > 0 {
			return sanitize.Text(v[0], 0)
		}
		return ""
	}
	f := store.Filter{Tenant: scope, Assignee: get(apitypes.ParamAssignee), AssignmentGroup: get(apitypes.ParamAssignmentGroup),
		Search: get(apitypes.ParamSearch)}
	if scope == "" {
		f.Tenant = get(apitypes.ParamTenant)
	}
	for _, s := range q[apitypes.ParamState] {
		for _, part := range strings.Split(s, ",") {
			if part == "" {
				continue
			}
			st := incident.State(part)
			if !st.Valid() {
				return f, i18n.Errorf("unknown state %q", part)
			}
			f.States = append(f.States, st)
		}
	}
	switch get(apitypes.ParamOpen) {
	case "", "false", "0":
	case "true", "1":
		f.OpenOnly = true
	default:
		return f, i18n.New("open must be true or false")
	}
	ints := []struct {
		key      string
		dst      *int
		min, max int
	}{{apitypes.ParamPriority, &f.Priority, 1, 5}, {apitypes.ParamLimit, &f.Limit, 1, 500}}
	for _, it := range ints {
		if v := get(it.key); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < it.min || n > it.max {
				return f, i18n.Errorf("%s must be an integer %d-%d", it.key, it.min, it.max)
			}
			*it.dst = n
		}
	}
	if v := get(apitypes.ParamBefore); v != "" {
		id, ok := r.IncidentID(v)
		if !ok {
			return f, i18n.New("before must be a positive incident id")
		}
		f.BeforeID = id
	}
	for _, t := range []struct {
		key string
		dst *time.Time
	}{{apitypes.ParamFrom, &f.ActiveFrom}, {apitypes.ParamTo, &f.ActiveTo}} {
		if v := get(t.key); v != "" {
			tm, err := time.Parse(time.RFC3339, v)
			if err != nil {
				return f, i18n.Errorf("%s must be an RFC 3339 time: %w", t.key, err)
			}
			// Beyond the years the store holds (1678-2262) the bound means "unbounded".
			*t.dst, _ = sanitize.Time(tm)
		}
	}
	if !f.ActiveFrom.IsZero() && !f.ActiveTo.IsZero() && f.ActiveTo.Before(f.ActiveFrom) {
		return f, i18n.New("to must not be before from")
	}
	if len(f.Search) > 200 {
		return f, i18n.New("q too long")
	}
	if f.Limit == 0 {
		f.Limit = 50
	}
	return f, nil
}

// IncidentID reads a public incident id (a path's {id}, before=) and returns the store's id.
func (r *Reader) IncidentID(s string) (int64, bool) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, false
	}
	return r.IDs.Private(publicid.Incident, n)
}

// List reads a page of incidents with their tickets, and the before= of the next page when the
// page is full. When only the tickets could not be read, it returns the incidents without them
// along with the error.
func (r *Reader) List(ctx context.Context, f store.Filter) ([]apitypes.Incident, string, error) {
	if r.Groups != nil {
		f.Groups = r.Groups
	}
	ins, err := r.Store.ListIncidents(ctx, f)
	if err != nil {
		return nil, "", err
	}
	now := r.now()
	out := make([]apitypes.Incident, 0, len(ins))
	for _, in := range ins {
		out = append(out, FromIncident(in, now))
	}
	next := ""
	if len(ins) == f.Limit {
		next = strconv.FormatInt(r.IDs.Public(publicid.Incident, ins[len(ins)-1].ID), 10)
	}
	err = attachRefs(ctx, r.Store, out)
	for i := range out {
		r.publish(&out[i])
	}
	return out, next, err
}

// publish replaces the store's ids of an incident by public ones.
func (r *Reader) publish(in *apitypes.Incident) {
	in.ID = r.IDs.Public(publicid.Incident, in.ID)
	in.PreviousID = r.IDs.Public(publicid.Incident, in.PreviousID)
}

// Detail reads an incident (by the store's id) with its alerts and journal, scoped to tenant
// ("" = any), with public ids.
func (r *Reader) Detail(ctx context.Context, tenant string, id int64) (*apitypes.Detail, error) {
	st := r.Store
	in, err := st.Incident(ctx, tenant, id)
	if err != nil {
		return nil, err
	}
	if !service.SeesGroup(r.Groups, in.AssignmentGroup) {
		return nil, store.ErrNotFound
	}
	alerts, err := st.Alerts(ctx, id)
	if err != nil {
		return nil, err
	}
	journal, err := st.Journal(ctx, id)
	if err != nil {
		return nil, err
	}
	incident.SortAlerts(alerts)
	d := &apitypes.Detail{Incident: FromIncident(in, r.now()), Alerts: make([]apitypes.Alert, 0, len(alerts)),
		Journal: make([]apitypes.Entry, 0, len(journal))}
	refs := []apitypes.Incident{d.Incident}
	if err := attachRefs(ctx, st, refs); err != nil {
		return nil, err
	}
	d.Incident = refs[0]
	r.publish(&d.Incident)
	for _, al := range alerts {
		d.Alerts = append(d.Alerts, apitypes.Alert{Fingerprint: al.Fingerprint, Status: al.Status, Labels: al.Labels,
			Annotations: al.Annotations, StartsAt: tp(al.StartsAt), EndsAt: tp(al.EndsAt), GeneratorURL: al.GeneratorURL})
	}
	for _, e := range journal {
		if r.Customer && !incident.CustomerVisible(e.Kind) {
			continue
		}
		d.Journal = append(d.Journal, apitypes.Entry{ID: r.IDs.Public(publicid.Journal, e.ID), At: e.At, Actor: e.Actor,
			ActorType: e.ActorType, Kind: e.Kind, Message: e.Message})
	}
	return d, nil
}

// DeadLetter is a dead letter as the API shows it.
func (r *Reader) DeadLetter(j store.ForwardJob) apitypes.DeadLetter {
	d := apitypes.DeadLetter{ID: r.IDs.Public(publicid.DeadLetter, j.ID), Tenant: j.Tenant, Target: j.Target,
		IncidentID: r.IDs.Public(publicid.Incident, j.IncidentID), Attempts: j.Attempts,
		LastError: j.LastError, DeadAt: j.DeadAt, PendingSince: tp(j.PendingSince)}
	if j.Ref.ID != "" {
		d.Ticket = &apitypes.ExternalRef{Target: j.Target, ID: j.Ref.ID, Key: j.Ref.Key, URL: j.Ref.URL}
	}
	return d
}

func tp(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// FromIncident converts an incident, with the store's ids.
func FromIncident(in *incident.Incident, now time.Time) apitypes.Incident {
	out := apitypes.Incident{
		ID: in.ID, Tenant: in.Tenant, Title: in.Title, State: string(in.State), Priority: in.Priority, Impact: in.Impact,
		Urgency: in.Urgency, Category: in.Category, CI: in.CI, AssignmentGroup: in.AssignmentGroup, Assignee: in.Assignee,
		HoldReason: in.HoldReason, CorrelationKey: in.CorrelationKey, Receiver: in.Receiver, Labels: in.Labels,
		FiringAlerts: in.FiringAlerts, CreatedAt: tp(in.CreatedAt), UpdatedAt: tp(in.UpdatedAt),
		AcknowledgedAt: tp(in.AcknowledgedAt), ResolvedAt: tp(in.ResolvedAt), ClosedAt: tp(in.ClosedAt),
		LastNotifiedAt: tp(in.LastNotifiedAt), ResponseDue: tp(in.ResponseDue), ResolveDue: tp(in.ResolveDue),
		ResponseBreachedAt: tp(in.ResponseBreachedAt), ResolveBreachedAt: tp(in.ResolveBreachedAt),
		SLAPaused: in.SLAPaused(), CloseCode: in.CloseCode, CloseNotes: in.CloseNotes, ResolvedBy: in.ResolvedBy,
		ReopenCount: in.ReopenCount, Flapping: in.Flapping, MajorProposed: in.MajorProposed, MuteUntil: tp(in.MuteUntil),
		PreviousID: in.PreviousID, Version: in.Version,
	}
	if d, ok := in.ResponseRemaining(now); ok {
		s := d.Seconds()
		out.ResponseRemainingS = &s
	}
	if d, ok := in.ResolveRemaining(now); ok {
		s := d.Seconds()
		out.ResolveRemainingS = &s
	}
	if out.Labels == nil {
		out.Labels = map[string]string{}
	}
	out.ExternalRefs = []apitypes.ExternalRef{}
	return out
}

// attachRefs fills the incidents' external_refs (tickets); their ids are still the store's.
func attachRefs(ctx context.Context, st store.Store, ins []apitypes.Incident) error {
	f, ok := st.(store.Forwarding)
	if !ok || len(ins) == 0 {
		return nil
	}
	ids := make([]int64, len(ins))
	for i, in := range ins {
		ids[i] = in.ID
	}
	refs, err := f.ExternalRefs(ctx, ids)
	if err != nil {
		return err
	}
	for i := range ins {
		for _, r := range refs[ins[i].ID] {
			ins[i].ExternalRefs = append(ins[i].ExternalRefs, apitypes.ExternalRef{Target: r.Target, ID: r.ID, Key: r.Key, URL: r.URL})
		}
	}
	return nil
}

// Status maps the error of a read or of a desk action to an HTTP status.
func Status(err error) int {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, incident.ErrTransition):
		return http.StatusConflict
	case errors.Is(err, incident.ErrInvalid):
		return http.StatusBadRequest
	case errors.Is(err, store.ErrConflict):
		return http.StatusConflict
	case errors.Is(err, service.ErrForbidden):
		return http.StatusForbidden
	}
	return http.StatusServiceUnavailable
}

// Unavailable logs a store failure under a new request id and returns the message for the
// caller: generic, with the id to find the log line (never the database's words).
func (r *Reader) Unavailable(err error) string { return r.UnavailableError(err).Error() }

// UnavailableError is Unavailable's message as an error the catalogue translates.
func (r *Reader) UnavailableError(err error) error {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	id := hex.EncodeToString(b)
	r.Logger.Error("service desk request", "request_id", id, "err", err)
	return i18n.Errorf("store unavailable (request id %s)", id)
}
