// Package problem is the desk's problem management (ITIL): it proposes problem records when
// the same correlation key or the same CI recurs K times within D days, or when an incident
// flaps; it links each new incident of a problem's subject to it, and annotates the new
// incidents of a known error with its workaround; it keeps won't-fix suppressions (a key held
// back from proposals until a date); and it runs major incidents: declaration, a coordinator,
// customer updates on a cadence (the reminders due are listed; package notify's helper
// delivers them) and the post-incident review linked to a problem.
//
// The Detector reads new incidents after the store committed them (a cursor in the store),
// so the ingest path is unchanged and a proposal never holds a notification back. Replicas
// may run it at once: a problem's subject is unique among open problems (the store answers
// ErrExists) and a link is made once.
package problem

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/kizashi-dev/kizashi/webhook/i18n"
	"github.com/kizashi-dev/kizashi/webhook/incident"
	"github.com/kizashi-dev/kizashi/webhook/sanitize"
	"github.com/kizashi-dev/kizashi/webhook/store"
)

// Settings of proposals.
type Settings struct {
	// Recurrences (K) incidents of the same correlation key, or of the same CI, created
	// within Window (D) propose a problem. K < 2 turns recurrence proposals off.
	Recurrences int
	Window      time.Duration
	// ByCI proposes problems per CI (service) as well as per correlation key.
	ByCI bool
	// Flapping proposes a problem for a flapping incident.
	Flapping bool
}

// DefaultSettings: 3 recurrences in 7 days, by key and by CI, and flapping incidents.
func DefaultSettings() Settings {
	return Settings{Recurrences: 3, Window: 7 * 24 * time.Hour, ByCI: true, Flapping: true}
}

// Validate checks s.
func (s Settings) Validate() error {
	if s.Recurrences < 0 {
		return errors.New("recurrences must not be negative")
	}
	if s.Recurrences >= 2 && s.Window <= 0 {
		return errors.New("window must be positive")
	}
	return nil
}

// Errors of the desk's operations.
var (
	ErrInvalid = i18n.New("invalid")
)

// Desk runs problem management over a store.
type Desk struct {
	Store store.Store
	// Problems is Store's problem side (the SQL stores implement both).
	Problems store.Problems
	// Settings per tenant (nil: DefaultSettings).
	Settings func(tenant string) Settings
	Now      func() time.Time
}

// New returns a desk over st, which must implement store.Problems.
func New(st store.Store, settings func(string) Settings, now func() time.Time) (*Desk, error) {
	ps, ok := st.(store.Problems)
	if !ok {
		return nil, fmt.Errorf("store %T does not keep problems", st)
	}
	if now == nil {
		now = time.Now
	}
	return &Desk{Store: st, Problems: ps, Settings: settings, Now: now}, nil
}

func (d *Desk) settings(tenant string) Settings {
	if d.Settings == nil {
		return DefaultSettings()
	}
	return d.Settings(tenant)
}

func (d *Desk) now() time.Time { return d.Now().UTC() }

// cursorName is the detector's position in the store.
const cursorName = "problem_detector"

// SweepResult counts what one sweep did.
type SweepResult struct {
	Examined  int
	Proposed  int
	Linked    int
	Annotated int
}

// Sweep examines the incidents created since the last sweep (and the flapping ones): it
// links them to the open problems of their key and CI, annotates those of a known error,
// and proposes problems. It runs until no new incident is left.
func (d *Desk) Sweep(ctx context.Context) (SweepResult, error) {
	var res SweepResult
	after, err := d.Problems.Cursor(ctx, cursorName)
	if err != nil {
		return res, err
	}
	for {
		ins, err := d.Problems.IncidentsAfter(ctx, after, 200)
		if err != nil {
			return res, err
		}
		if len(ins) == 0 {
			break
		}
		for _, in := range ins {
			if err := d.examine(ctx, in, &res); err != nil {
				return res, err
			}
			after = in.ID
		}
		if err := d.Problems.SetCursor(ctx, cursorName, after); err != nil {
			return res, err
		}
	}
	flapping, err := d.Problems.FlappingIncidents(ctx, 500)
	if err != nil {
		return res, err
	}
	for _, in := range flapping {
		if !d.settings(in.Tenant).Flapping {
			continue
		}
		if err := d.proposeFlapping(ctx, in, &res); err != nil {
			return res, err
		}
	}
	return res, nil
}

func (d *Desk) examine(ctx context.Context, in *incident.Incident, res *SweepResult) error {
	res.Examined++
	set := d.settings(in.Tenant)
	subjects := []struct{ scope, subject string }{{store.ScopeKey, in.CorrelationKey}}
	if set.ByCI && in.CI != "" {
		subjects = append(subjects, struct{ scope, subject string }{store.ScopeCI, in.CI})
	}
	for _, sub := range subjects {
		open, err := d.Problems.ListProblems(ctx, store.ProblemFilter{Tenant: in.Tenant, OpenOnly: true, Scope: sub.scope, Subject: sub.subject, Limit: 1})
		if err != nil {
			return err
		}
		if len(open) > 0 {
			if err := d.link(ctx, open[0], in, res); err != nil {
				return err
			}
			continue
		}
		// Incidents older than the window (a database that had incidents before the detector
		// ran) are linked, but propose nothing: that recurrence is history.
		if set.Recurrences < 2 || d.now().Sub(in.CreatedAt) > set.Window {
			continue
		}
		if sub.scope == store.ScopeKey {
			sp, err := d.Problems.Suppressed(ctx, in.Tenant, sub.subject, in.CreatedAt)
			if err != nil {
				return err
			}
			if sp != nil {
				continue
			}
		}
		ids, err := d.Problems.RecurringIncidents(ctx, in.Tenant, sub.scope, sub.subject, in.CreatedAt.Add(-set.Window), in.CreatedAt)
		if err != nil {
			return err
		}
		if len(ids) < set.Recurrences {
			continue
		}
		what := "correlation key"
		if sub.scope == store.ScopeCI {
			what = "CI"
		}
		p := &store.Problem{
			Tenant: in.Tenant, Title: sanitize.Text(fmt.Sprintf("Recurring: %s", in.Title), sanitize.MaxTitle),
			State: store.ProblemOpen, Origin: store.OriginRecurrence, Scope: sub.scope, Subject: sub.subject,
			CreatedBy: incident.ActorSystem, CreatedAt: d.now(), UpdatedAt: d.now(),
		}
		err = d.Problems.CreateProblem(ctx, p, ids, store.ProblemEntry{
			Tenant: in.Tenant, Subject: sub.subject, At: d.now(), Actor: incident.ActorSystem, Kind: "proposed",
			Message: fmt.Sprintf("proposed: %d incidents of the same %s within %s", len(ids), what, set.Window),
		})
		switch {
		case errors.Is(err, store.ErrExists):
			continue // another replica proposed it
		case err != nil:
			return err
		}
		res.Proposed++
	}
	return nil
}

// link links in to p; a known error's workaround goes to the incident's journal.
func (d *Desk) link(ctx context.Context, p *store.Problem, in *incident.Incident, res *SweepResult) error {
	var note *incident.Entry
	// Only an incident still open gets the workaround (an incident already over needs none).
	if p.KnownError && p.State != store.ProblemClosed && in.Open() {
		note = &incident.Entry{Tenant: in.Tenant, IncidentID: in.ID, At: d.now(), Actor: incident.ActorSystem, Kind: store.KindKnownError,
			Message: sanitize.Text(fmt.Sprintf("known error (problem %d: %s); workaround: %s", p.ID, p.Title, p.Workaround), maxText)}
	}
	linked, err := d.Problems.LinkIncident(ctx, in.Tenant, p.ID, in.ID, d.now(), note)
	if err != nil || !linked {
		return err
	}
	res.Linked++
	if note != nil {
		res.Annotated++
	}
	return nil
}

func (d *Desk) proposeFlapping(ctx context.Context, in *incident.Incident, res *SweepResult) error {
	linked, err := d.Problems.IncidentProblems(ctx, in.ID)
	if err != nil || len(linked) > 0 {
		return err
	}
	sp, err := d.Problems.Suppressed(ctx, in.Tenant, in.CorrelationKey, d.now())
	if err != nil || sp != nil {
		return err
	}
	p := &store.Problem{
		Tenant: in.Tenant, Title: sanitize.Text(fmt.Sprintf("Flapping: %s", in.Title), sanitize.MaxTitle),
		State: store.ProblemOpen, Origin: store.OriginFlapping, Scope: store.ScopeKey, Subject: in.CorrelationKey,
		CreatedBy: incident.ActorSystem, CreatedAt: d.now(), UpdatedAt: d.now(),
	}
	err = d.Problems.CreateProblem(ctx, p, []int64{in.ID}, store.ProblemEntry{
		Tenant: in.Tenant, Subject: in.CorrelationKey, At: d.now(), Actor: incident.ActorSystem, Kind: "proposed",
		Message: fmt.Sprintf("proposed: incident %d is flapping (%d resolve/re-fire cycles)", in.ID, len(in.FlapTimes)),
	})
	if errors.Is(err, store.ErrExists) {
		return nil
	}
	if err != nil {
		return err
	}
	res.Proposed++
	return nil
}

// Create is a problem created by hand, linking incidents of the tenant (by store id).
type Create struct {
	Tenant, Actor string
	Title         string
	// Key or CI: what the problem is about ("" both: nothing in particular).
	Key, CI    string
	RootCause  string
	Workaround string
	KnownError bool
	Incidents  []int64
}

// CreateProblem creates a problem by hand. The incidents must be the tenant's.
func (d *Desk) CreateProblem(ctx context.Context, c Create) (*store.Problem, error) {
	title := strings.TrimSpace(sanitize.Text(c.Title, sanitize.MaxTitle))
	if title == "" {
		return nil, i18n.Errorf("%w: a problem needs a title", ErrInvalid)
	}
	if c.Key != "" && c.CI != "" {
		return nil, i18n.Errorf("%w: a problem is about a key or a CI, not both", ErrInvalid)
	}
	for _, id := range c.Incidents {
		if _, err := d.Store.Incident(ctx, c.Tenant, id); err != nil {
			return nil, err
		}
	}
	now := d.now()
	p := &store.Problem{Tenant: c.Tenant, Title: title, State: store.ProblemOpen, Origin: store.OriginManual,
		RootCause: sanitize.Text(c.RootCause, maxText), Workaround: sanitize.Text(c.Workaround, maxText),
		KnownError: c.KnownError, CreatedBy: c.Actor, CreatedAt: now, UpdatedAt: now}
	switch {
	case c.Key != "":
		p.Scope, p.Subject = store.ScopeKey, sanitize.ID(c.Key, sanitize.MaxKey)
	case c.CI != "":
		p.Scope, p.Subject = store.ScopeCI, sanitize.Text(c.CI, sanitize.MaxTitle)
	}
	if p.KnownError && strings.TrimSpace(p.Workaround) == "" {
		return nil, i18n.Errorf("%w: a known error needs a workaround", ErrInvalid)
	}
	err := d.Problems.CreateProblem(ctx, p, c.Incidents, store.ProblemEntry{Tenant: c.Tenant, Subject: p.Subject, At: now,
		Actor: c.Actor, Kind: "created", Message: "created by hand"})
	if err != nil {
		return nil, err
	}
	return p, nil
}

// Change is an edit of a problem; nil fields are left as they are.
type Change struct {
	Tenant, Actor string
	RootCause     *string
	Workaround    *string
	KnownError    *bool
	// State: resolved, closed or open (reopen).
	State *string
	// Link adds incidents.
	Link []int64
}

// ChangeProblem edits a problem and journals what changed.
func (d *Desk) ChangeProblem(ctx context.Context, id int64, c Change) (*store.Problem, error) {
	p, err := d.Problems.Problem(ctx, c.Tenant, id)
	if err != nil {
		return nil, err
	}
	now := d.now()
	var what []string
	if c.RootCause != nil {
		p.RootCause = sanitize.Text(*c.RootCause, maxText)
		what = append(what, "root cause: "+p.RootCause)
	}
	if c.Workaround != nil {
		p.Workaround = sanitize.Text(*c.Workaround, maxText)
		what = append(what, "workaround: "+p.Workaround)
	}
	if c.KnownError != nil {
		p.KnownError = *c.KnownError
		what = append(what, fmt.Sprintf("known error: %t", p.KnownError))
	}
	if p.KnownError && strings.TrimSpace(p.Workaround) == "" {
		return nil, i18n.Errorf("%w: a known error needs a workaround", ErrInvalid)
	}
	if c.State != nil {
		switch *c.State {
		case store.ProblemOpen:
			p.ResolvedAt, p.ClosedAt = time.Time{}, time.Time{}
		case store.ProblemResolved:
			p.ResolvedAt = now
		case store.ProblemClosed:
			if p.ResolvedAt.IsZero() {
				p.ResolvedAt = now
			}
			p.ClosedAt = now
		default:
			return nil, i18n.Errorf("%w: state must be open, resolved or closed", ErrInvalid)
		}
		if *c.State != p.State {
			what = append(what, "state: "+*c.State)
		}
		p.State = *c.State
	}
	for _, in := range c.Link {
		if _, err := d.Store.Incident(ctx, c.Tenant, in); err != nil {
			return nil, err
		}
	}
	p.UpdatedAt = now
	if len(what) > 0 || len(c.Link) == 0 {
		if err := d.Problems.UpdateProblem(ctx, p, store.ProblemEntry{Tenant: p.Tenant, Subject: p.Subject, At: now, Actor: c.Actor,
			Kind: "changed", Message: sanitize.Text(strings.Join(what, "; "), maxText)}); err != nil {
			return nil, err
		}
	}
	for _, in := range c.Link {
		if _, err := d.Problems.LinkIncident(ctx, p.Tenant, p.ID, in, now, nil); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// Suppress holds a correlation key back from problem proposals until a time (won't fix),
// with a reason; it is journaled. A zero or past until lifts the suppression.
func (d *Desk) Suppress(ctx context.Context, tenant, actor, key string, until time.Time, reason string) error {
	key = sanitize.ID(key, sanitize.MaxKey)
	reason = strings.TrimSpace(sanitize.Text(reason, maxText))
	if key == "" {
		return i18n.Errorf("%w: a suppression needs a correlation key", ErrInvalid)
	}
	now := d.now()
	msg := fmt.Sprintf("won't fix until %s: %s", until.UTC().Format(time.RFC3339), reason)
	if !until.After(now) {
		msg = "suppression lifted: " + reason
		until = now
	} else if reason == "" {
		return i18n.Errorf("%w: a suppression needs a reason", ErrInvalid)
	}
	return d.Problems.Suppress(ctx, store.Suppression{Tenant: tenant, Key: key, Until: until, Reason: reason, Actor: actor, CreatedAt: now},
		store.ProblemEntry{Tenant: tenant, Subject: key, At: now, Actor: actor, Kind: "suppressed", Message: msg})
}

// maxText bounds the free texts of problems and major incidents (root cause, workaround,
// updates, reviews).
const maxText = 16 << 10

func entry(tenant string, incidentID int64, at time.Time, actor, kind, msg string) incident.Entry {
	return incident.Entry{Tenant: tenant, IncidentID: incidentID, At: at, Actor: actor, Kind: kind, Message: sanitize.Text(msg, maxText)}
}
