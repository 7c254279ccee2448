// Package limit shares the webhook's ingest between tenants: per-tenant
// quotas (notifications and bytes per second, token buckets) and a fair
// share of the store (a weighted semaphore per tenant, so that one tenant's
// large notifications queue behind each other and not in front of another
// tenant's). A notification that a limit holds is answered 503 with
// Retry-After, which Alertmanager retries: a limit never drops data.
package limit

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"golang.org/x/sync/semaphore"
)

// Settings bound one tenant's ingest. Zero rates mean no quota.
type Settings struct {
	// Concurrency and InflightBytes bound the notifications of the tenant
	// being read and stored at once: each weighs its body size
	// (Content-Length), at least InflightBytes/Concurrency, at most
	// InflightBytes (one larger body is alone), InflightBytes when unknown.
	Concurrency   int
	InflightBytes int64
	// Wait is how long a notification waits for its turn.
	Wait time.Duration
	// Quotas: token buckets refilled at the rate up to the burst.
	NotificationsPerSecond float64
	NotificationsBurst     float64
	BytesPerSecond         float64
	BytesBurst             float64
}

// Reasons a notification is held back.
const (
	ReasonNotifications = "notifications_quota"
	ReasonBytes         = "bytes_quota"
	ReasonBusy          = "busy"
)

// Held is the error of Admit when a limit holds a notification back.
type Held struct {
	Reason     string
	RetryAfter time.Duration
}

func (h *Held) Error() string {
	return fmt.Sprintf("held back by %s, retry after %s", h.Reason, h.RetryAfter)
}

// Observer is told how many notifications wait for their turn, per tenant.
type Observer interface {
	Waiting(tenant string, delta int)
}

// Gate admits notifications. The zero value is not usable: see NewGate.
type Gate struct {
	now     func() time.Time
	observe Observer

	mu      sync.Mutex
	tenants map[string]*tenant
}

type tenant struct {
	settings      Settings
	sem           *semaphore.Weighted
	notifications bucket
	bytes         bucket
}

// NewGate returns a gate; now is the clock of the quotas (nil: time.Now),
// observe may be nil.
func NewGate(now func() time.Time, observe Observer) *Gate {
	if now == nil {
		now = time.Now
	}
	return &Gate{now: now, observe: observe, tenants: map[string]*tenant{}}
}

// Ticket is an admitted notification: Done releases its turn and charges
// the bytes it read to the tenant's quota.
type Ticket struct {
	g      *Gate
	t      *tenant
	sem    *semaphore.Weighted
	weight int64
	once   sync.Once
}

// Done releases the ticket; read is the size of the body read.
func (k *Ticket) Done(read int64) {
	k.once.Do(func() {
		k.sem.Release(k.weight)
		k.g.mu.Lock()
		defer k.g.mu.Unlock()
		k.t.bytes.take(k.g.now(), float64(read))
	})
}

// Admit checks the tenant's quotas and waits (at most s.Wait, or until ctx
// ends) for the tenant's share of the store. size is the body's
// Content-Length, -1 when unknown. It returns a *Held error when a limit
// holds the notification back, or ctx's error.
func (g *Gate) Admit(ctx context.Context, name string, s Settings, size int64) (*Ticket, error) {
	g.mu.Lock()
	t := g.tenant(name, s)
	now := g.now()
	if d := t.notifications.wait(now, 1); d > 0 {
		g.mu.Unlock()
		return nil, &Held{Reason: ReasonNotifications, RetryAfter: d}
	}
	// A body is admitted while the byte bucket is not in debt; its size is
	// charged when it has been read (Done), so one body larger than the
	// burst still passes, alone.
	if d := t.bytes.wait(now, math.SmallestNonzeroFloat64); d > 0 {
		g.mu.Unlock()
		return nil, &Held{Reason: ReasonBytes, RetryAfter: d}
	}
	sem, weight := t.sem, t.weight(size)
	g.mu.Unlock()

	if !sem.TryAcquire(weight) {
		if g.observe != nil {
			g.observe.Waiting(name, 1)
			defer g.observe.Waiting(name, -1)
		}
		wctx, cancel := context.WithTimeout(ctx, s.Wait)
		err := sem.Acquire(wctx, weight)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, &Held{Reason: ReasonBusy, RetryAfter: s.Wait}
		}
	}
	g.mu.Lock()
	t.notifications.take(g.now(), 1)
	g.mu.Unlock()
	return &Ticket{g: g, t: t, sem: sem, weight: weight}, nil
}

// tenant returns the state of a tenant, renewed when its settings changed
// (a reload): tickets already out release into the semaphore they took.
func (g *Gate) tenant(name string, s Settings) *tenant {
	t, ok := g.tenants[name]
	if ok && t.settings == s {
		return t
	}
	nt := &tenant{settings: s, sem: semaphore.NewWeighted(max(s.InflightBytes, 1)),
		notifications: bucket{rate: s.NotificationsPerSecond, burst: s.NotificationsBurst},
		bytes:         bucket{rate: s.BytesPerSecond, burst: s.BytesBurst}}
	if ok {
		// Keep what the quotas already counted.
		nt.notifications.carry(t.notifications)
		nt.bytes.carry(t.bytes)
	}
	g.tenants[name] = nt
	return nt
}

func (t *tenant) weight(size int64) int64 {
	capacity := max(t.settings.InflightBytes, 1)
	if size < 0 {
		return capacity
	}
	return min(max(size, capacity/int64(max(t.settings.Concurrency, 1))), capacity)
}

// bucket is a token bucket; rate 0 means unlimited. Tokens may go below
// zero (a debt) when more is taken than there was.
type bucket struct {
	rate, burst float64
	tokens      float64
	last        time.Time
	started     bool
}

func (b *bucket) refill(now time.Time) {
	if !b.started {
		b.tokens, b.last, b.started = b.burst, now, true
		return
	}
	if dt := now.Sub(b.last).Seconds(); dt > 0 {
		b.tokens = min(b.burst, b.tokens+dt*b.rate)
		b.last = now
	}
}

// wait is how long until the bucket holds need tokens (0: now).
func (b *bucket) wait(now time.Time, need float64) time.Duration {
	if b.rate <= 0 {
		return 0
	}
	b.refill(now)
	if b.tokens >= need {
		return 0
	}
	d := time.Duration((need - b.tokens) / b.rate * float64(time.Second))
	return max(d, time.Millisecond)
}

func (b *bucket) take(now time.Time, n float64) {
	if b.rate <= 0 {
		return
	}
	b.refill(now)
	b.tokens -= n
}

// carry keeps an old bucket's count under new settings.
func (b *bucket) carry(old bucket) {
	if old.started {
		b.tokens, b.last, b.started = min(old.tokens, b.burst), old.last, true
	}
}

// ErrHeld reports whether err is a *Held.
func ErrHeld(err error) (*Held, bool) {
	var h *Held
	ok := errors.As(err, &h)
	return h, ok
}
