package ui

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/kizashi-dev/kizashi/webhook/auth"
	"github.com/kizashi-dev/kizashi/webhook/i18n"
	"github.com/kizashi-dev/kizashi/webhook/incident"
	"github.com/kizashi-dev/kizashi/webhook/publicid"
	"github.com/kizashi-dev/kizashi/webhook/store"
)

// errReadOnly refuses an action of a principal that only reads.
var errReadOnly = errors.New("read-only")

// mayAct reports whether p works on incidents: tenants' API tokens of role act, operators and
// admins do; a customer viewer (auth.Principal.ReadOnly) and a role the page does not know only
// read.
func mayAct(p auth.Principal) bool {
	return p.WorksOnIncidents()
}

// sampleAction is an acceptable action of a kind (the arguments a person would give), so that
// only the incident's state can refuse it.
func sampleAction(kind string) incident.Action {
	a := incident.Action{Kind: kind, Actor: "page", Text: "page", Assignee: "page"}
	if len(incident.HoldReasons) > 0 {
		a.Reason = incident.HoldReasons[0]
	}
	if len(incident.CloseCodes) > 0 {
		a.CloseCode = incident.CloseCodes[0]
	}
	return a
}

// allowedActions tells which actions the incident's rules (incident.Do on a copy) allow now:
// every action but those refused as a transition the lifecycle does not allow.
func allowedActions(in *incident.Incident, p incident.Policy, now time.Time) map[string]bool {
	out := make(map[string]bool, len(incident.Actions))
	for _, k := range incident.Actions {
		_, err := incident.Do(in.Clone(), p, sampleAction(k), now)
		out[k] = !errors.Is(err, incident.ErrTransition)
	}
	return out
}

// allowed reads the incident (by the store's id) and tells which actions it allows.
func (u *UI) allowed(ctx context.Context, v viewer, id int64) (map[string]bool, error) {
	in, err := u.Service.Store.Incident(ctx, v.Scope(), id)
	if err != nil {
		return nil, err
	}
	if !v.Caller().SeesGroup(in.AssignmentGroup) {
		return nil, store.ErrNotFound
	}
	return allowedActions(in, u.Service.Rules().Policy(in.Tenant), time.Now()), nil
}

// jobRow is the delivery of an incident to one target, as its page shows it.
type jobRow struct {
	// DeadLetter is the public id of a dead letter (0: not dead).
	DeadLetter int64
	Target     string
	// State: "delivered", "pending" or "dead letter".
	State     string
	Ticket    *store.ExternalRef
	Attempts  int
	LastError string
	// At: the last delivery (delivered), the next attempt (pending) or the death.
	At *time.Time
}

// incidentJobs reads the incident's delivery to each target (none when the store keeps no
// forwarding).
func (u *UI) incidentJobs(ctx context.Context, v viewer, id int64) ([]jobRow, error) {
	f, ok := u.Service.Store.(store.IncidentForwarding)
	if !ok {
		return nil, nil
	}
	jobs, err := f.IncidentJobs(ctx, v.Scope(), id)
	if err != nil {
		return nil, err
	}
	rows := make([]jobRow, 0, len(jobs))
	for _, j := range jobs {
		row := jobRow{Target: j.Target, Attempts: j.Attempts, LastError: j.LastError}
		switch {
		case !j.DeadAt.IsZero():
			row.State, row.At = "dead letter", tp(j.DeadAt)
			row.DeadLetter = u.IDs.Public(publicid.DeadLetter, j.ID)
		case j.Pending():
			row.State, row.At = "pending", tp(j.NextAttemptAt)
		default:
			row.State, row.At = "delivered", tp(j.SyncedAt)
		}
		if j.Ref.ID != "" {
			ref := j.Ref
			row.Ticket = &ref
		}
		rows = append(rows, row)
	}
	return rows, nil
}

func tp(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// actionError is why an action was refused, in the user's language (with the rule's own words,
// in that language too: see i18n.Text).
func actionError(l *Locale, err error) string {
	msg := i18n.Text(l.Language(), err)
	if i := strings.Index(msg, ": "); i >= 0 {
		msg = msg[i+2:] // "acknowledge incident 5: ..." names the incident the page shows
	}
	msg = strings.TrimSuffix(msg, "。") // quoted inside a sentence of its own
	switch {
	case errors.Is(err, incident.ErrTransition):
		return l.T("The incident's state does not allow this action (%s).", msg)
	case errors.Is(err, incident.ErrInvalid):
		return l.T("Invalid input (%s).", msg)
	case errors.Is(err, store.ErrConflict):
		return l.T("The incident changed meanwhile: try again.")
	case errors.Is(err, errReadOnly):
		return l.T("You may read incidents but not change them.")
	}
	return msg
}
