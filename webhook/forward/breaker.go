package forward

import (
	"math/rand/v2"
	"sync"
	"time"
)

// breaker is a target's circuit breaker and throttle. Closed: deliveries run
// up to the target's concurrency. After `threshold` retryable failures in a
// row it opens: nothing runs until the open period ends, then one probe
// delivery runs (half open). A probe that succeeds closes the circuit; one
// that fails opens it again for twice as long, up to maxOpen. A 429 pauses
// the target until its Retry-After whatever the circuit.
type breaker struct {
	threshold        int
	openFor, maxOpen time.Duration

	mu          sync.Mutex
	failures    int
	open        bool
	openUntil   time.Time
	period      time.Duration
	probing     bool
	pausedUntil time.Time
}

func newBreaker(threshold int, openFor, maxOpen time.Duration) *breaker {
	return &breaker{threshold: threshold, openFor: openFor, maxOpen: maxOpen, period: openFor}
}

// admit returns how many deliveries may start now, given `free` slots and
// whether nothing is in flight; probe is set when the one admitted delivery
// is a probe of an open circuit.
func (b *breaker) admit(now time.Time, free int, idle bool) (n int, probe bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if now.Before(b.pausedUntil) || free <= 0 {
		return 0, false
	}
	if !b.open {
		return free, false
	}
	if now.Before(b.openUntil) || b.probing || !idle {
		return 0, false
	}
	b.probing = true
	return 1, true
}

// unused returns an admitted probe that found nothing to deliver.
func (b *breaker) unused(probe bool) {
	if !probe {
		return
	}
	b.mu.Lock()
	b.probing = false
	b.mu.Unlock()
}

// alive records an answer from the target (success, or a rejection that
// shows it is up). It returns true when it closed an open circuit.
func (b *breaker) alive(probe bool) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.failures = 0
	if probe {
		b.probing = false
	}
	if !b.open {
		return false
	}
	b.open, b.period = false, b.openFor
	return true
}

// failure records a retryable failure at now.
func (b *breaker) failure(now time.Time, probe bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case probe:
		b.probing = false
		b.period = min(2*b.period, b.maxOpen)
		b.openUntil = now.Add(jitter(b.period))
	case !b.open:
		b.failures++
		if b.failures >= b.threshold {
			b.open, b.period = true, b.openFor
			b.openUntil = now.Add(jitter(b.period))
		}
	}
}

// throttle pauses the target until t (or later, if an earlier answer asked for longer); it
// returns the end of the pause.
func (b *breaker) throttle(t time.Time) time.Time {
	b.mu.Lock()
	defer b.mu.Unlock()
	if t.After(b.pausedUntil) {
		b.pausedUntil = t
	}
	return b.pausedUntil
}

// isOpen reports whether the circuit is open (for the metric).
func (b *breaker) isOpen() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.open
}

// state returns the circuit (open, and until when before a probe) and the pause.
func (b *breaker) state() (open bool, openUntil, pausedUntil time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.open, b.openUntil, b.pausedUntil
}

// jitter spreads d over [d/2, d).
func jitter(d time.Duration) time.Duration {
	if d <= 1 {
		return d
	}
	half := d / 2
	return half + rand.N(d-half)
}

// backoff is the wait after the n-th failed attempt (n >= 1): min doubled
// per attempt, capped at max, with jitter, and never shorter than the
// target's Retry-After.
func backoff(n int, min, max, retryAfter time.Duration) time.Duration {
	d := min
	for i := 1; i < n && d < max; i++ {
		d *= 2
	}
	if d > max {
		d = max
	}
	d = jitter(d)
	if retryAfter > d {
		d = retryAfter
	}
	return d
}
