package auth

import (
	"math"
	"net/netip"
	"sync"
	"time"

	"github.com/kizashi-dev/kizashi/webhook/config"
)

// maxSources bounds the memory of the failure limiter (about 100 bytes a source).
const maxSources = 4096

// failureLimiter is a token bucket of failed authentications per source: a source starts with
// Burst tokens, each failure takes one, they come back at PerMinute; a source with less than
// one token is throttled. Sources whose bucket is full again are forgotten first when the
// table is full (they are the same as sources never seen), then the fullest ones.
type failureLimiter struct {
	mu      sync.Mutex
	buckets map[netip.Prefix]*bucket
}

type bucket struct {
	tokens float64
	at     time.Time
}

func newFailureLimiter() *failureLimiter {
	return &failureLimiter{buckets: map[netip.Prefix]*bucket{}}
}

// sourceKey groups addresses: one IPv4 address, or one IPv6 /64 (what one host usually gets).
func sourceKey(a netip.Addr) netip.Prefix {
	a = a.Unmap()
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p
	}
	return netip.PrefixFrom(a, a.BitLen())
}

func level(b *bucket, c config.AuthFailures, now time.Time) float64 {
	return min(float64(c.Burst), b.tokens+now.Sub(b.at).Minutes()*c.PerMinute)
}

// wait is how long until a bucket at tokens has one token again.
func wait(tokens float64, c config.AuthFailures) time.Duration {
	return time.Duration(math.Ceil((1 - tokens) / c.PerMinute * float64(time.Minute)))
}

// throttled reports whether src may not try now, and for how long.
func (l *failureLimiter) throttled(src netip.Addr, c config.AuthFailures, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[sourceKey(src)]
	if b == nil {
		return false, 0
	}
	t := level(b, c, now)
	if t >= 1 {
		return false, 0
	}
	return true, wait(t, c)
}

// fail records a failure of src; it reports whether src is throttled from now on, and for how
// long.
func (l *failureLimiter) fail(src netip.Addr, c config.AuthFailures, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	key := sourceKey(src)
	b := l.buckets[key]
	if b == nil {
		if len(l.buckets) >= maxSources {
			l.evict(c, now)
		}
		b = &bucket{tokens: float64(c.Burst), at: now}
		l.buckets[key] = b
	}
	b.tokens, b.at = max(0, level(b, c, now)-1), now
	if b.tokens >= 1 {
		return false, 0
	}
	return true, wait(b.tokens, c)
}

// evict forgets the full buckets, or else the fullest one.
func (l *failureLimiter) evict(c config.AuthFailures, now time.Time) {
	var (
		fullest netip.Prefix
		most    = -1.0
	)
	for k, b := range l.buckets {
		t := level(b, c, now)
		if t >= float64(c.Burst) {
			delete(l.buckets, k)
			continue
		}
		if t > most {
			fullest, most = k, t
		}
	}
	if len(l.buckets) >= maxSources {
		delete(l.buckets, fullest)
	}
}

func (l *failureLimiter) size() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}
