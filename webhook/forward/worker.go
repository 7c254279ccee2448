package forward

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/kizashi-dev/kizashi/webhook/config"
	"github.com/kizashi-dev/kizashi/webhook/publicid"
	"github.com/kizashi-dev/kizashi/webhook/store"
)

// Options configure a Forwarder.
type Options struct {
	// Store holds the outbox and the jobs; Reads reads incidents.
	Store store.Forwarding
	Reads store.Store
	// Config returns the current configuration (reloads apply at once).
	Config  func() *config.Config
	Metrics *Metrics
	Logger  *slog.Logger
	Now     func() time.Time
	// Owner names this replica in leases (default host/pid/random).
	Owner string
	// SingleProcess drops every lease at start: the store belongs to this
	// process alone (SQLite), so leases left by a crash are stale.
	SingleProcess bool
	// IDs gives the public incident ids of the links in tickets (nil: the
	// store's ids).
	IDs *publicid.Codec
	// Build returns the target of a configured forwarder (forward/integrations.Build: the
	// integrations are packages of their own, above this one).
	Build Builder
}

// Builder returns the target of a configured forwarder; fw holds the settings every target
// shares (the request timeout).
type Builder func(fw config.Forwarding, t config.Target, now func() time.Time) (Target, error)

// Forwarder runs the outbox workers of every configured target.
type Forwarder struct {
	o    Options
	wake chan struct{}

	mu       sync.Mutex
	targets  map[string]*runtime
	inflight sync.WaitGroup

	lastPrune time.Time
}

// runtime is one target's live state; it survives reloads (its client is
// rebuilt when the target's settings change).
type runtime struct {
	key      string
	cfg      *config.ForwarderConfig
	target   Target
	breaker  *breaker
	inflight int
}

// New returns a forwarder.
// LeaseOwner names this process in the leases of durable jobs (outbox, escalation steps,
// scheduled deliveries): host, process id and a start-time nonce, so that a restarted process
// on the same host is another owner.
func LeaseOwner() string {
	host, _ := os.Hostname()
	return fmt.Sprintf("%s/%d/%d", host, os.Getpid(), time.Now().UnixNano()%1e6)
}

func New(o Options) *Forwarder {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Owner == "" {
		o.Owner = LeaseOwner()
	}
	return &Forwarder{o: o, wake: make(chan struct{}, 1), targets: map[string]*runtime{}}
}

func (f *Forwarder) now() time.Time { return f.o.Now().UTC() }

// Run dispatches the outbox and delivers jobs until ctx ends, then waits for
// the deliveries in flight.
func (f *Forwarder) Run(ctx context.Context) error {
	if f.o.SingleProcess {
		if err := f.o.Store.ReleaseLeases(ctx); err != nil {
			return fmt.Errorf("start forwarder: %w", err)
		}
	}
	defer f.inflight.Wait()
	for {
		f.Step(ctx)
		poll := time.Duration(f.o.Config().Forwarding.PollInterval)
		t := time.NewTimer(poll)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		case <-f.wake:
			t.Stop()
		}
	}
}

func (f *Forwarder) poke() {
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

// Step dispatches new outbox rows and starts the deliveries that are due
// (in goroutines). Run calls it in a loop; tests may call it directly.
func (f *Forwarder) Step(ctx context.Context) {
	cfg := f.o.Config()
	for ctx.Err() == nil {
		n, err := f.o.Store.DispatchOutbox(ctx, f.now(), 500, cfg.TargetKeys)
		if err != nil {
			f.o.Logger.Error("dispatch outbox", "err", err)
			break
		}
		if n < 500 {
			break
		}
	}
	now := f.now()
	if now.Sub(f.lastPrune) > time.Hour {
		f.lastPrune = now
		if n, err := f.o.Store.PruneOutbox(ctx, now.Add(-time.Duration(cfg.Forwarding.OutboxRetention))); err != nil {
			f.o.Logger.Error("prune outbox", "err", err)
		} else if n > 0 {
			f.o.Logger.Debug("pruned outbox", "rows", n)
		}
	}
	for _, t := range cfg.Targets() {
		if ctx.Err() != nil {
			return
		}
		rt, err := f.runtime(cfg, t)
		if err != nil {
			f.o.Logger.Error("build forwarder", "target", t.Key, "err", err)
			continue
		}
		f.start(ctx, cfg, rt)
	}
}

func (f *Forwarder) runtime(cfg *config.Config, t config.Target) (*runtime, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	rt := f.targets[t.Key]
	if rt != nil && rt.cfg == t.ForwarderConfig {
		return rt, nil
	}
	if f.o.Build == nil {
		return nil, fmt.Errorf("target %s: no integrations (Options.Build)", t.Key)
	}
	target, err := f.o.Build(cfg.Forwarding, t, f.o.Now)
	if err != nil {
		return nil, err
	}
	if rt == nil {
		b := cfg.Forwarding.Breaker
		rt = &runtime{key: t.Key, breaker: newBreaker(b.Failures, time.Duration(b.OpenFor), time.Duration(b.MaxOpenFor))}
		f.targets[t.Key] = rt
		if f.o.Metrics != nil {
			f.o.Metrics.init(t.Key)
		}
	}
	rt.cfg, rt.target = t.ForwarderConfig, target
	return rt, nil
}

// TargetStatus is a target's delivery state in this process (each replica has its own
// breaker): the circuit and a pause asked for by the target (429).
type TargetStatus struct {
	Target      string
	CircuitOpen bool
	// OpenUntil is when the next probe may run while the circuit is open.
	OpenUntil time.Time
	// PausedUntil is the end of the last pause (zero if never paused).
	PausedUntil time.Time
}

// Status lists the targets this forwarder has run, by key.
func (f *Forwarder) Status() []TargetStatus {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]TargetStatus, 0, len(f.targets))
	for key, rt := range f.targets {
		s := TargetStatus{Target: key}
		s.CircuitOpen, s.OpenUntil, s.PausedUntil = rt.breaker.state()
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b TargetStatus) int { return strings.Compare(a.Target, b.Target) })
	return out
}

// lease is how long a claimed job belongs to this replica: long enough for
// every request of one delivery.
func lease(fw config.Forwarding) time.Duration {
	return max(time.Minute, 8*time.Duration(fw.Timeout))
}

func (f *Forwarder) start(ctx context.Context, cfg *config.Config, rt *runtime) {
	conc := cfg.Forwarding.Concurrency
	if rt.cfg.Concurrency > 0 {
		conc = rt.cfg.Concurrency
	}
	now := f.now()
	f.mu.Lock()
	n, probe := rt.breaker.admit(now, conc-rt.inflight, rt.inflight == 0)
	f.mu.Unlock()
	if f.o.Metrics != nil {
		open := 0.0
		if rt.breaker.isOpen() {
			open = 1
		}
		f.o.Metrics.CircuitOpen.WithLabelValues(rt.key).Set(open)
	}
	if n == 0 {
		return
	}
	l := lease(cfg.Forwarding)
	jobs, err := f.o.Store.ClaimJobs(ctx, rt.key, f.o.Owner, now, now.Add(l), n)
	if err != nil {
		rt.breaker.unused(probe)
		if ctx.Err() == nil {
			f.o.Logger.Error("claim jobs", "target", rt.key, "err", err)
		}
		return
	}
	if len(jobs) == 0 {
		rt.breaker.unused(probe)
		return
	}
	f.mu.Lock()
	rt.inflight += len(jobs)
	f.mu.Unlock()
	target := rt.target
	for _, j := range jobs {
		f.inflight.Add(1)
		go func() {
			defer f.inflight.Done()
			f.deliver(ctx, cfg, rt, target, j, probe, now, now.Add(l))
			f.mu.Lock()
			rt.inflight--
			f.mu.Unlock()
			f.poke()
		}()
	}
}

// deliver runs one job and records its outcome.
func (f *Forwarder) deliver(ctx context.Context, cfg *config.Config, rt *runtime, target Target, job store.ForwardJob, probe bool, claimedAt, leaseEnd time.Time) {
	fw := cfg.Forwarding
	start := time.Now()
	dctx, cancel := context.WithDeadline(ctx, leaseEnd.Add(-5*time.Second))
	res, err := f.sync(dctx, cfg, target, &job)
	cancel()
	now := f.now()
	// Outcomes are recorded even while shutting down.
	octx, ocancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer ocancel()
	m := f.o.Metrics
	if err == nil {
		gen := job.Gen
		if res.More {
			gen = job.SyncedGen // journal lines left: stay pending
		}
		ok, err := f.o.Store.CompleteJob(octx, job.ID, f.o.Owner, store.JobDone{Gen: gen, SyncedJournalID: res.JournalThrough,
			RemoteState: res.RemoteState, Ref: res.Ref, At: now, ClaimedAt: claimedAt})
		switch {
		case err != nil:
			f.o.Logger.Error("record delivery", "target", rt.key, "incident", job.IncidentID, "err", err)
		case !ok:
			f.o.Logger.Warn("lease lost during delivery", "target", rt.key, "incident", job.IncidentID)
		}
		if m != nil {
			m.Deliveries.WithLabelValues(rt.key).Inc()
			m.Duration.WithLabelValues(rt.key).Observe(time.Since(start).Seconds())
		}
		f.alive(octx, rt, probe, now)
		return
	}
	if ctx.Err() != nil {
		// Shutting down: not the target's fault; due again at once.
		if ferr := f.o.Store.FailJob(octx, job.ID, f.o.Owner, store.JobFailed{Error: "interrupted: " + err.Error(), NextAttemptAt: now, At: now}); ferr != nil {
			f.o.Logger.Error("record interrupted delivery", "target", rt.key, "err", ferr)
		}
		rt.breaker.unused(probe)
		return
	}
	fe := classify(err)
	if m != nil {
		m.Failures.WithLabelValues(rt.key, fe.Reason).Inc()
	}
	fail := store.JobFailed{Error: err.Error(), At: now}
	switch fe.Kind {
	case Throttle:
		wait := max(fe.RetryAfter, time.Duration(fw.MinBackoff))
		if limit := time.Duration(fw.MaxRetryAfter); wait > limit {
			f.o.Logger.Warn("target asked for a pause longer than max_retry_after; capped", "target", rt.key, "retry_after", fe.RetryAfter, "max_retry_after", limit)
			wait = limit
		}
		until := rt.breaker.throttle(now.Add(wait))
		if m != nil {
			m.PausedUntil.WithLabelValues(rt.key).Set(float64(until.UnixMilli()) / 1e3)
		}
		fail.NextAttemptAt = now.Add(wait)
		f.alive(octx, rt, probe, now)
	case Permanent:
		fail.Count, fail.Dead = true, true
		f.alive(octx, rt, probe, now)
	default:
		// A failed probe only confirms the target is still down: it does
		// not count against the job.
		fail.Count = !probe
		attempts := job.Attempts
		if fail.Count {
			attempts++
		}
		fail.Dead = fail.Count && attempts >= fw.MaxAttempts
		retryAfter := min(fe.RetryAfter, time.Duration(fw.MaxRetryAfter))
		fail.NextAttemptAt = now.Add(backoff(max(attempts, 1), time.Duration(fw.MinBackoff), time.Duration(fw.MaxBackoff), retryAfter))
		rt.breaker.failure(now, probe)
	}
	if fail.Dead {
		fail.Error = fmt.Sprintf("dead after %d attempts: %s", job.Attempts+1, fail.Error)
		if m != nil {
			m.DeadLetters.WithLabelValues(rt.key).Inc()
		}
		f.o.Logger.Warn("dead letter", "target", rt.key, "incident", job.IncidentID, "err", err)
	} else {
		f.o.Logger.Debug("delivery failed", "target", rt.key, "incident", job.IncidentID, "next", fail.NextAttemptAt, "err", err)
	}
	if ferr := f.o.Store.FailJob(octx, job.ID, f.o.Owner, fail); ferr != nil {
		f.o.Logger.Error("record failed delivery", "target", rt.key, "err", ferr)
	}
}

// alive records that the target answered; when that closed its circuit,
// every waiting job of the target is made due now.
func (f *Forwarder) alive(ctx context.Context, rt *runtime, probe bool, now time.Time) {
	if !rt.breaker.alive(probe) {
		return
	}
	n, err := f.o.Store.KickTarget(ctx, rt.key, now)
	if err != nil {
		f.o.Logger.Error("resume target", "target", rt.key, "err", err)
		return
	}
	f.o.Logger.Info("target is back, circuit closed", "target", rt.key, "waiting", n)
}

// sync reads the incident and asks the target to catch up.
func (f *Forwarder) sync(ctx context.Context, cfg *config.Config, target Target, job *store.ForwardJob) (Result, error) {
	in, err := f.o.Reads.Incident(ctx, "", job.IncidentID)
	if errors.Is(err, store.ErrNotFound) {
		return Result{}, &Error{Kind: Permanent, Reason: ReasonRejected, Err: fmt.Errorf("incident %d: %w", job.IncidentID, err)}
	}
	if err != nil {
		return Result{}, fmt.Errorf("read incident %d: %w", job.IncidentID, err)
	}
	alerts, err := f.o.Reads.Alerts(ctx, job.IncidentID)
	if err != nil {
		return Result{}, fmt.Errorf("read alerts of incident %d: %w", job.IncidentID, err)
	}
	journal, err := f.o.Reads.Journal(ctx, job.IncidentID)
	if err != nil {
		return Result{}, fmt.Errorf("read journal of incident %d: %w", job.IncidentID, err)
	}
	var fresh = journal[:0:0]
	for _, e := range journal {
		if e.ID > job.SyncedJournalID {
			fresh = append(fresh, e)
		}
	}
	s := &Sync{
		CorrelationID:   CorrelationID(cfg.Forwarding.CorrelationPrefix, job.Tenant, job.IncidentID),
		Incident:        in,
		Alerts:          alerts,
		Journal:         fresh,
		SyncedJournalID: job.SyncedJournalID,
		Ref:             job.Ref,
		RemoteState:     job.RemoteState,
		Uncertain:       job.Claims > 1,
		FirstAttempt:    job.Claims == 1 && job.SyncedGen == 0 && job.Ref.ID == "",
		DeliveryID:      job.Target + ":" + strconv.FormatInt(job.IncidentID, 10) + ":" + strconv.FormatInt(job.Gen, 10),
		IDs:             f.o.IDs,
		SaveRef: func(ctx context.Context, ref store.ExternalRef) error {
			return f.o.Store.SaveRef(ctx, job.ID, f.o.Owner, ref)
		},
	}
	if u := cfg.Forwarding.ExternalURL; u != "" {
		s.IncidentURL = u + "/incidents/" + strconv.FormatInt(f.o.IDs.Public(publicid.Incident, in.ID), 10)
	}
	return target.Sync(ctx, s)
}
