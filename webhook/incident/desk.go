package incident

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/kizashi-dev/kizashi/webhook/i18n"
)

// ErrInvalid is returned for an action whose arguments are not acceptable.
var ErrInvalid = i18n.New("invalid action")

// Close codes a person may give when resolving.
var CloseCodes = []string{
	"solved_permanently",
	"solved_workaround",
	"not_solved_not_reproducible",
	"not_solved_too_costly",
	"resolved_by_caller",
}

// Hold reasons (ServiceNow's defaults).
var HoldReasons = []string{"awaiting_caller", "awaiting_change", "awaiting_problem", "awaiting_vendor"}

// Action is a service-desk action on one incident.
type Action struct {
	Kind            string
	Actor           string
	Text            string // note, resolution notes, cancel reason
	Reason          string // hold reason
	CloseCode       string
	AssignmentGroup string
	Assignee        string
	FalsePositive   bool
	// Impact and Urgency (1 high .. 3 low) of a priority override.
	Impact, Urgency int
}

// Action kinds.
const (
	ActAcknowledge = "acknowledge"
	ActAssign      = "assign"
	ActNote        = "note"
	ActHold        = "hold"
	ActResume      = "resume"
	ActResolve     = "resolve"
	ActClose       = "close"
	ActCancel      = "cancel"
	ActReopen      = "reopen"
	// ActComment adds a comment the tenant's customers read (ActNote: an internal work note).
	ActComment = "comment"
	// ActPriority overrides impact and urgency (hence the priority and the SLA due times),
	// with a reason in Text.
	ActPriority = "priority"
)

// Actions lists the action kinds.
var Actions = []string{ActAcknowledge, ActAssign, ActNote, ActComment, ActPriority, ActHold, ActResume, ActResolve, ActClose, ActCancel, ActReopen}

// DeskResult is what an action changed.
type DeskResult struct {
	Entries  []Entry
	Event    string
	Breaches []string
	// Acknowledged / Resolved are set when the action did so for the first
	// time, for MTTA / MTTR.
	Acknowledged, Resolved bool
}

const maxText = 4000

// Do applies a desk action to in (mutating it) under policy p.
func Do(in *Incident, p Policy, a Action, now time.Time) (DeskResult, error) {
	var res DeskResult
	if strings.TrimSpace(a.Actor) == "" {
		return res, i18n.Errorf("%w: actor required", ErrInvalid)
	}
	if len(a.Text) > maxText || len(a.Assignee) > 200 || len(a.AssignmentGroup) > 200 {
		return res, i18n.Errorf("%w: text too long", ErrInvalid)
	}
	// SLA breaches that already happened are recorded before the action.
	res.Entries, res.Breaches = in.CheckSLA(now)
	add := func(kind, msg string) { res.Entries = append(res.Entries, in.entry(now, a.Actor, kind, msg)) }
	move := func(to State, why string) error {
		if err := checkTransition(in.State, to); err != nil {
			return err
		}
		msg := fmt.Sprintf("%s -> %s", in.State, to)
		if why != "" {
			msg += ": " + why
		}
		in.State = to
		add(KindState, msg)
		return nil
	}
	switch a.Kind {
	case ActAcknowledge:
		// Acknowledgement is a fact about the incident (someone took it), not a
		// state: an incident that reached In Progress or On Hold without a person
		// (a reopen, a resume, a reconciled silence) is acknowledged in place.
		if !in.AcknowledgedAt.IsZero() {
			return res, i18n.Errorf("%w: already acknowledged at %s", ErrTransition, in.AcknowledgedAt.Format(time.RFC3339))
		}
		switch in.State {
		case StateNew:
			if err := move(StateInProgress, "acknowledged"); err != nil {
				return res, err
			}
		case StateInProgress, StateOnHold:
			add(KindAcknowledged, "acknowledged")
		default:
			return res, i18n.Errorf("%w: acknowledge needs an open incident, is %s", ErrTransition, in.State)
		}
		in.AcknowledgedAt = now
		res.Acknowledged = true
		if in.Assignee == "" {
			in.Assignee = a.Actor
		}
	case ActAssign:
		if in.State.Final() {
			return res, i18n.Errorf("%w: incident is %s", ErrTransition, in.State)
		}
		if a.Assignee == "" && a.AssignmentGroup == "" {
			return res, i18n.Errorf("%w: assignee or assignment group required", ErrInvalid)
		}
		if a.AssignmentGroup != "" {
			in.AssignmentGroup = a.AssignmentGroup
		}
		if a.Assignee != "" {
			in.Assignee = a.Assignee
		}
		add(KindAssign, fmt.Sprintf("assigned to %q (group %q)", in.Assignee, in.AssignmentGroup))
	case ActNote:
		if strings.TrimSpace(a.Text) == "" {
			return res, i18n.Errorf("%w: note text required", ErrInvalid)
		}
		add(KindNote, a.Text)
	case ActComment:
		if strings.TrimSpace(a.Text) == "" {
			return res, i18n.Errorf("%w: comment text required", ErrInvalid)
		}
		add(KindComment, a.Text)
	case ActPriority:
		if in.State.Final() || in.State == StateResolved {
			return res, i18n.Errorf("%w: incident is %s", ErrTransition, in.State)
		}
		if a.Impact < LevelHigh || a.Impact > LevelLow || a.Urgency < LevelHigh || a.Urgency > LevelLow {
			return res, i18n.Errorf("%w: impact and urgency must be 1 (high), 2 (medium) or 3 (low)", ErrInvalid)
		}
		if strings.TrimSpace(a.Text) == "" {
			return res, i18n.Errorf("%w: a reason is required to override the priority", ErrInvalid)
		}
		prio := p.Priority.Matrix[a.Impact-1][a.Urgency-1]
		add(KindPriority, fmt.Sprintf("priority set P%d -> P%d (impact %d, urgency %d): %s", in.Priority, prio, a.Impact, a.Urgency, a.Text))
		in.Impact, in.Urgency, in.Priority = a.Impact, a.Urgency, prio
		in.setSLA(p)
	case ActHold:
		if !slices.Contains(HoldReasons, a.Reason) {
			return res, i18n.Errorf("%w: hold reason must be one of %s", ErrInvalid, strings.Join(HoldReasons, ", "))
		}
		if err := move(StateOnHold, a.Reason+noteSuffix(a.Text)); err != nil {
			return res, err
		}
		in.HoldReason = a.Reason
		in.HoldSince = now
	case ActResume:
		if in.State != StateOnHold {
			return res, i18n.Errorf("%w: resume needs state on_hold, is %s", ErrTransition, in.State)
		}
		paused := in.resume(now, p)
		if err := move(StateInProgress, fmt.Sprintf("SLA clock paused %s", paused.Round(time.Second))); err != nil {
			return res, err
		}
	case ActResolve:
		if !slices.Contains(CloseCodes, a.CloseCode) {
			return res, i18n.Errorf("%w: close code must be one of %s", ErrInvalid, strings.Join(CloseCodes, ", "))
		}
		if strings.TrimSpace(a.Text) == "" {
			return res, i18n.Errorf("%w: resolution notes required", ErrInvalid)
		}
		if err := checkTransition(in.State, StateResolved); err != nil {
			return res, err
		}
		in.resume(now, p)
		if err := move(StateResolved, a.CloseCode+noteSuffix(a.Text)); err != nil {
			return res, err
		}
		in.ResolvedAt, in.ResolvedBy, in.CloseCode, in.CloseNotes = now, a.Actor, a.CloseCode, a.Text
		res.Resolved = true
	case ActClose:
		if err := move(StateClosed, a.Text); err != nil {
			return res, err
		}
		in.ClosedAt = now
	case ActCancel:
		if strings.TrimSpace(a.Text) == "" {
			return res, i18n.Errorf("%w: cancel reason required", ErrInvalid)
		}
		why := a.Text
		if a.FalsePositive {
			why = "false positive: " + why
		}
		if err := move(StateCanceled, why); err != nil {
			return res, err
		}
		in.ClosedAt = now
		in.CloseCode = "canceled"
		in.CloseNotes = a.Text
		if a.FalsePositive && p.MuteWindow > 0 {
			in.MuteUntil = now.Add(p.MuteWindow)
			add(KindSuppressed, fmt.Sprintf("re-fires muted until %s", in.MuteUntil.Format(time.RFC3339)))
		}
	case ActReopen:
		if in.State != StateResolved {
			return res, i18n.Errorf("%w: reopen needs state resolved, is %s (a closed incident is followed by a new one)", ErrTransition, in.State)
		}
		// A person may reopen a resolved incident at any time until it closes: the reopen
		// window only bounds automatic reopening by a re-fire.
		if err := move(StateInProgress, "reopened"+noteSuffix(a.Text)); err != nil {
			return res, err
		}
		in.ReopenCount++
		in.ResolvedAt, in.ResolvedBy, in.CloseCode, in.CloseNotes = time.Time{}, "", "", ""
	default:
		return res, i18n.Errorf("%w: unknown action %q", ErrInvalid, a.Kind)
	}
	in.Touched = true
	in.UpdatedAt = now
	res.Event = a.Kind
	return res, nil
}

// resume stops the hold clock, shifts the due times and returns the pause.
func (in *Incident) resume(now time.Time, p Policy) time.Duration {
	if in.HoldSince.IsZero() {
		return 0
	}
	d := now.Sub(in.HoldSince)
	if d < 0 {
		d = 0
	}
	in.PausedTotal += d
	in.HoldSince = time.Time{}
	in.HoldReason = ""
	in.setSLA(p)
	return d
}

func noteSuffix(s string) string {
	if s == "" {
		return ""
	}
	return " — " + s
}
