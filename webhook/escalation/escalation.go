// Package escalation runs escalation policies: when an incident of a
// tenant's policy priorities is new and nobody acknowledged it, the policy's
// first level is notified (the on-call people of its schedules and its named
// contacts, through each contact's channels); if it is still unacknowledged
// after the level's wait, the next level; after the last level the policy
// starts again, Repeat more rounds; acknowledging (or any move out of New)
// stops it.
//
// Steps are durable: each one is a row of the store (store.Escalating), made
// once per (incident, step number) however many replicas try, leased by the
// replica that runs it, and finished in one transaction with its journal
// line and the next step. A step that failed part of its deliveries is
// retried for those only; a replica that crashed mid-step loses its lease
// and another runs the step again, repeating at most the deliveries whose
// record was lost with it. Time comes from Engine.Now, so tests need no
// sleeps.
package escalation

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/kizashi-dev/kizashi/webhook/channel/fanout"
	"github.com/kizashi-dev/kizashi/webhook/forward"
	"github.com/kizashi-dev/kizashi/webhook/incident"
	"github.com/kizashi-dev/kizashi/webhook/notify"
	"github.com/kizashi-dev/kizashi/webhook/oncall"
	"github.com/kizashi-dev/kizashi/webhook/oncallview"
	"github.com/kizashi-dev/kizashi/webhook/publicid"
	"github.com/kizashi-dev/kizashi/webhook/store"
)

// Actor is the journal's actor of escalation lines.
const Actor = "escalation"

// KindEscalation is the journal kind of escalation lines.
const KindEscalation = "escalation"

// Level is one level of a policy.
type Level struct {
	// Schedules: whoever is on call in each is notified.
	Schedules []string
	// Contacts are notified by name.
	Contacts []string
	// AssignmentGroup notifies the on-call person of the schedule named like
	// the incident's assignment group (the on-call of the group).
	AssignmentGroup bool
	// After is the wait for an acknowledgement before the next level.
	After time.Duration
}

// Policy escalates the incidents of some priorities of a tenant.
type Policy struct {
	Name       string
	Priorities []int
	Levels     []Level
	// Repeat is how many more rounds run after the first.
	Repeat int
}

// Tenant is one tenant's escalation setup.
type Tenant struct {
	Policies  []Policy
	Schedules map[string]*oncall.Schedule
	Contacts  map[string]notify.Contact
	Channels  map[string]notify.Channel
}

// Config is the whole escalation setup.
type Config struct {
	Tenants map[string]*Tenant
	// ExternalURL is the service-desk page's base URL (links in messages).
	ExternalURL string
	// MaxAge: incidents created longer ago than this are not started (a
	// first start after a long outage pages nobody about old incidents).
	MaxAge time.Duration
}

// Store is what the engine needs of the store.
type Store interface {
	store.Escalating
	Incident(ctx context.Context, tenant string, id int64) (*incident.Incident, error)
}

// Engine runs the steps.
type Engine struct {
	Store  Store
	Config func() *Config
	Now    func() time.Time
	// Owner names this replica in leases.
	Owner string
	// Lease bounds a step's run (default 2m): a crashed replica's steps are
	// taken over after it.
	Lease time.Duration
	// MaxAttempts bounds the runs of a step whose deliveries fail (default
	// 5); then the escalation goes on without them.
	MaxAttempts int
	// IDs maps incident ids to public ids (nil: identity).
	IDs     *publicid.Codec
	Log     *slog.Logger
	Metrics *Metrics // nil: not counted
}

func (e *Engine) defaults() {
	if e.Lease <= 0 {
		e.Lease = 2 * time.Minute
	}
	if e.MaxAttempts <= 0 {
		e.MaxAttempts = 5
	}
	if e.Log == nil {
		e.Log = slog.New(slog.DiscardHandler)
	}
	if e.Now == nil {
		e.Now = time.Now
	}
}

// Run ticks every interval until ctx ends.
func (e *Engine) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if _, err := e.Tick(ctx); err != nil && ctx.Err() == nil {
			e.Log.Error("escalation", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Tick starts the escalations of new incidents and runs the due steps. It
// returns the steps run.
func (e *Engine) Tick(ctx context.Context) (int, error) {
	e.defaults()
	cfg := e.Config()
	if cfg == nil {
		return 0, nil
	}
	now := e.Now()
	var errs []error
	for name, t := range cfg.Tenants {
		for _, p := range t.Policies {
			since := time.Time{}
			if cfg.MaxAge > 0 {
				since = now.Add(-cfg.MaxAge)
			}
			if _, err := e.Store.StartEscalations(ctx, name, p.Name, p.Priorities, since, now); err != nil {
				errs = append(errs, err)
			}
		}
	}
	ran := 0
	for {
		now = e.Now()
		steps, err := e.Store.ClaimSteps(ctx, e.Owner, now, now.Add(e.Lease), 32)
		if err != nil {
			return ran, errors.Join(append(errs, err)...)
		}
		for _, st := range steps {
			if err := e.run(ctx, cfg, st); err != nil {
				errs = append(errs, err)
			}
			ran++
		}
		if len(steps) < 32 {
			return ran, errors.Join(errs...)
		}
	}
}

func (e *Engine) publicID(id int64) int64 {
	return e.IDs.Public(publicid.Incident, id)
}

func (e *Engine) stop(ctx context.Context, st store.EscalationStep, tenant, why string) error {
	now := e.Now()
	j := []incident.Entry{{Tenant: tenant, IncidentID: st.IncidentID, At: now, Actor: Actor, Kind: KindEscalation,
		Message: fmt.Sprintf("escalation %s stopped before level %d (round %d): %s", st.Policy, st.Level+1, st.Round, why)}}
	if tenant == "" {
		j = nil
	}
	ok, err := e.Store.FinishStep(ctx, st.ID, e.Owner, store.StepStopped, now, nil, j)
	if ok {
		e.Metrics.step(st.Tenant, store.StepStopped)
	}
	return err
}

// schedules returns t's schedules with the on-call overrides made through the API (when the
// store keeps them) merged in.
func (e *Engine) schedules(ctx context.Context, tenant string, t *Tenant, now time.Time) map[string]*oncall.Schedule {
	stored, err := oncallview.Stored(ctx, e.Store, tenant, now)
	if err != nil {
		e.Log.Warn("on-call overrides not read: the schedules' own apply", "tenant", tenant, "err", err)
		return t.Schedules
	}
	return oncallview.Merge(t.Schedules, stored)
}

// recipients resolves a level's people now, in order, without repeats.
func recipients(byName map[string]*oncall.Schedule, l Level, group string, now time.Time) (names []string, problems []string) {
	add := func(n string) {
		if !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	schedules := l.Schedules
	if l.AssignmentGroup {
		if group == "" {
			problems = append(problems, "no assignment group")
		} else {
			schedules = append(slices.Clone(schedules), group)
		}
	}
	for _, s := range schedules {
		sch := byName[s]
		if sch == nil {
			problems = append(problems, "unknown schedule "+s)
			continue
		}
		add(sch.At(now).Contact)
	}
	for _, c := range l.Contacts {
		add(c)
	}
	return names, problems
}

func (e *Engine) run(ctx context.Context, cfg *Config, st store.EscalationStep) error {
	in, err := e.Store.Incident(ctx, st.Tenant, st.IncidentID)
	if errors.Is(err, store.ErrNotFound) {
		return e.stop(ctx, st, "", "incident gone")
	}
	if err != nil {
		return e.Store.RetryStep(ctx, st.ID, e.Owner, err.Error(), e.Now().Add(time.Minute))
	}
	if in.State != incident.StateNew || !in.AcknowledgedAt.IsZero() {
		why := "incident is " + strings.ReplaceAll(string(in.State), "_", " ")
		if !in.AcknowledgedAt.IsZero() {
			why = "acknowledged at " + in.AcknowledgedAt.UTC().Format(time.RFC3339)
		}
		return e.stop(ctx, st, in.Tenant, why)
	}
	t := cfg.Tenants[st.Tenant]
	var pol *Policy
	if t != nil {
		for i := range t.Policies {
			if t.Policies[i].Name == st.Policy {
				pol = &t.Policies[i]
			}
		}
	}
	if pol == nil || st.Level >= len(pol.Levels) {
		return e.stop(ctx, st, in.Tenant, "the policy or its level is no longer configured")
	}
	now := e.Now()
	level := pol.Levels[st.Level]
	names, problems := recipients(e.schedules(ctx, st.Tenant, t, now), level, in.AssignmentGroup, now)
	msg := notify.Message{Tenant: in.Tenant, IncidentID: e.publicID(in.ID), Title: in.Title, Priority: in.Priority, State: string(in.State),
		CI: in.CI, CreatedAt: in.CreatedAt, Level: st.Level + 1, Round: st.Round,
		DedupKey: forward.CorrelationID("kizashi", in.Tenant, in.ID)}
	msg.URL = notify.IncidentURL(cfg.ExternalURL, msg.IncidentID)
	o, err := fanout.Send(ctx, t.Contacts, t.Channels, names, st.Delivered, msg,
		func(key string) error { return e.Store.MarkDelivered(ctx, st.ID, e.Owner, key) },
		func(key, chName string, err error) {
			if err != nil {
				e.Log.Warn("escalation delivery failed", "tenant", in.Tenant, "incident", in.ID, "to", key, "err", err)
				e.Metrics.delivery(in.Tenant, chName, "failed")
				return
			}
			e.Metrics.delivery(in.Tenant, chName, "sent")
		})
	if err != nil {
		return err
	}
	sent, retryable := o.Sent, o.Retryable
	problems = append(problems, o.Problems...)
	if len(retryable) > 0 && st.Attempts+1 < e.MaxAttempts {
		backoff := time.Duration(1<<min(st.Attempts, 6)) * 30 * time.Second
		return e.Store.RetryStep(ctx, st.ID, e.Owner, strings.Join(retryable, "; "), now.Add(backoff))
	}
	problems = append(problems, retryable...)
	var next *store.EscalationStep
	switch {
	case st.Level+1 < len(pol.Levels):
		next = &store.EscalationStep{Level: st.Level + 1, Round: st.Round}
	case st.Round < 1+pol.Repeat:
		next = &store.EscalationStep{Level: 0, Round: st.Round + 1}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "escalation %s level %d (round %d): ", pol.Name, st.Level+1, st.Round)
	if len(sent) > 0 {
		fmt.Fprintf(&b, "notified %s", strings.Join(sent, ", "))
	} else {
		b.WriteString("nobody notified")
	}
	if len(problems) > 0 {
		fmt.Fprintf(&b, "; failed: %s", strings.Join(problems, "; "))
	}
	if next != nil {
		next.Tenant, next.IncidentID, next.Policy, next.Seq = st.Tenant, st.IncidentID, st.Policy, st.Seq+1
		next.DueAt = now.Add(level.After)
		fmt.Fprintf(&b, "; level %d (round %d) at %s unless acknowledged", next.Level+1, next.Round, next.DueAt.UTC().Format(time.RFC3339))
	} else {
		b.WriteString("; last level of the last round")
	}
	j := []incident.Entry{{Tenant: in.Tenant, IncidentID: in.ID, At: now, Actor: Actor, Kind: KindEscalation, Message: b.String()}}
	ok, err := e.Store.FinishStep(ctx, st.ID, e.Owner, store.StepNotified, now, next, j)
	if err != nil {
		return err
	}
	if ok {
		e.Metrics.step(in.Tenant, store.StepNotified)
	} else {
		e.Log.Warn("escalation step lease lost", "tenant", in.Tenant, "incident", in.ID, "step", st.Seq)
	}
	return nil
}
