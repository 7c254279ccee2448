package problem

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/kizashi-dev/kizashi/webhook/i18n"
	"github.com/kizashi-dev/kizashi/webhook/sanitize"
	"github.com/kizashi-dev/kizashi/webhook/store"
)

// DefaultUpdateEvery is the cadence of customer updates when a declaration names none.
const DefaultUpdateEvery = 30 * time.Minute

// Declare declares an incident of the tenant major (proposals by major_incident policy only
// flag it; a person declares), with a coordinator and the cadence of customer updates: the
// first update is due one cadence after the declaration.
func (d *Desk) Declare(ctx context.Context, tenant, actor string, incidentID int64, coordinator string, every time.Duration) (*store.MajorIncident, error) {
	in, err := d.Store.Incident(ctx, tenant, incidentID)
	if err != nil {
		return nil, err
	}
	if every == 0 {
		every = DefaultUpdateEvery
	}
	if every < time.Minute || every > 7*24*time.Hour {
		return nil, i18n.Errorf("%w: the update cadence must be between 1m and 7d", ErrInvalid)
	}
	coordinator = strings.TrimSpace(sanitize.Text(coordinator, sanitize.MaxName))
	if coordinator == "" {
		coordinator = actor
	}
	now := d.now()
	m := store.MajorIncident{Tenant: in.Tenant, IncidentID: in.ID, DeclaredAt: now, DeclaredBy: actor, Coordinator: coordinator,
		UpdateEvery: every, NextUpdateDue: now.Add(every)}
	err = d.Problems.DeclareMajor(ctx, m, entry(in.Tenant, in.ID, now, actor, store.KindMajorDeclared,
		fmt.Sprintf("declared a major incident; coordinator %s; customer updates every %s", coordinator, every)))
	if err != nil {
		return nil, err
	}
	return &m, nil
}

// MajorChange edits a major incident; nil fields stay.
type MajorChange struct {
	Tenant, Actor string
	Coordinator   *string
	UpdateEvery   *time.Duration
	// End ends the major incident (no more updates due).
	End bool
	// Review is the post-incident review: its summary, linked to ProblemID, or to a new
	// problem about the incident's correlation key when ProblemID is 0 (or to the open one
	// that already covers it).
	Review    *string
	ProblemID int64
}

// ChangeMajor applies c.
func (d *Desk) ChangeMajor(ctx context.Context, incidentID int64, c MajorChange) (*store.MajorIncident, error) {
	m, err := d.Problems.Major(ctx, c.Tenant, incidentID)
	if err != nil {
		return nil, err
	}
	now := d.now()
	var what []string
	if c.Coordinator != nil {
		co := strings.TrimSpace(sanitize.Text(*c.Coordinator, sanitize.MaxName))
		if co == "" {
			return nil, i18n.Errorf("%w: a coordinator is required", ErrInvalid)
		}
		m.Coordinator = co
		what = append(what, "coordinator "+co)
	}
	if c.UpdateEvery != nil {
		if *c.UpdateEvery < time.Minute || *c.UpdateEvery > 7*24*time.Hour {
			return nil, i18n.Errorf("%w: the update cadence must be between 1m and 7d", ErrInvalid)
		}
		m.UpdateEvery = *c.UpdateEvery
		base := m.LastUpdateAt
		if base.IsZero() {
			base = m.DeclaredAt
		}
		m.NextUpdateDue = base.Add(m.UpdateEvery)
		what = append(what, "customer updates every "+m.UpdateEvery.String())
	}
	if c.End && m.EndedAt.IsZero() {
		m.EndedAt, m.NextUpdateDue = now, time.Time{}
		what = append(what, "major incident ended")
	}
	if c.Review != nil {
		summary := strings.TrimSpace(sanitize.Text(*c.Review, maxText))
		if summary == "" {
			return nil, i18n.Errorf("%w: a review needs a summary", ErrInvalid)
		}
		pid, err := d.reviewProblem(ctx, m, c)
		if err != nil {
			return nil, err
		}
		m.ReviewSummary, m.ReviewBy, m.ReviewAt, m.ProblemID = summary, c.Actor, now, pid
		if m.EndedAt.IsZero() {
			m.EndedAt, m.NextUpdateDue = now, time.Time{}
		}
		what = append(what, fmt.Sprintf("post-incident review linked to problem %d", pid))
	}
	if len(what) == 0 {
		return m, nil
	}
	if err := d.Problems.UpdateMajor(ctx, *m, entry(m.Tenant, m.IncidentID, now, c.Actor, store.KindMajor, strings.Join(what, "; "))); err != nil {
		return nil, err
	}
	return m, nil
}

func (d *Desk) reviewProblem(ctx context.Context, m *store.MajorIncident, c MajorChange) (int64, error) {
	if c.ProblemID != 0 {
		p, err := d.Problems.Problem(ctx, m.Tenant, c.ProblemID)
		if err != nil {
			return 0, err
		}
		if _, err := d.Problems.LinkIncident(ctx, m.Tenant, p.ID, m.IncidentID, d.now(), nil); err != nil {
			return 0, err
		}
		return p.ID, nil
	}
	in, err := d.Store.Incident(ctx, m.Tenant, m.IncidentID)
	if err != nil {
		return 0, err
	}
	open, err := d.Problems.ListProblems(ctx, store.ProblemFilter{Tenant: m.Tenant, OpenOnly: true, Scope: store.ScopeKey, Subject: in.CorrelationKey, Limit: 1})
	if err != nil {
		return 0, err
	}
	if len(open) > 0 {
		if _, err := d.Problems.LinkIncident(ctx, m.Tenant, open[0].ID, m.IncidentID, d.now(), nil); err != nil {
			return 0, err
		}
		return open[0].ID, nil
	}
	now := d.now()
	p := &store.Problem{Tenant: m.Tenant, Title: sanitize.Text("Review: "+in.Title, sanitize.MaxTitle), State: store.ProblemOpen,
		Origin: store.OriginReview, Scope: store.ScopeKey, Subject: in.CorrelationKey, CreatedBy: c.Actor, CreatedAt: now, UpdatedAt: now}
	if err := d.Problems.CreateProblem(ctx, p, []int64{m.IncidentID}, store.ProblemEntry{Tenant: m.Tenant, Subject: p.Subject, At: now,
		Actor: c.Actor, Kind: "created", Message: fmt.Sprintf("created from the post-incident review of incident %d", m.IncidentID)}); err != nil {
		return 0, err
	}
	return p.ID, nil
}

// CustomerUpdate records a customer update of a major incident (its text goes to the
// incident's journal); the next one is due a cadence later.
func (d *Desk) CustomerUpdate(ctx context.Context, tenant, actor string, incidentID int64, text string) (*store.MajorUpdate, error) {
	text = strings.TrimSpace(sanitize.Text(text, maxText))
	if text == "" {
		return nil, i18n.Errorf("%w: an update needs a text", ErrInvalid)
	}
	m, err := d.Problems.Major(ctx, tenant, incidentID)
	if err != nil {
		return nil, err
	}
	now := d.now()
	var next time.Time
	if m.EndedAt.IsZero() {
		next = now.Add(m.UpdateEvery)
	}
	u := &store.MajorUpdate{Tenant: m.Tenant, IncidentID: m.IncidentID, At: now, Actor: actor, Message: text}
	if err := d.Problems.AddMajorUpdate(ctx, u, next); err != nil {
		return nil, err
	}
	return u, nil
}

// DueUpdates lists the major incidents (of tenant; "" every tenant) whose customer update is
// due now: the reminders. Package deliver reminds the coordinator and the on-call of them
// through the notification channels; the API and the page show them too.
func (d *Desk) DueUpdates(ctx context.Context, tenant string) ([]store.MajorIncident, error) {
	return d.Problems.ListMajors(ctx, tenant, time.Time{}, time.Time{}, d.now())
}
