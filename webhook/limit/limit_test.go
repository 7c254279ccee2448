package limit_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kizashi-dev/kizashi/webhook/limit"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type waiting struct {
	mu sync.Mutex
	n  map[string]int
}

func (w *waiting) Waiting(tenant string, d int) { w.mu.Lock(); w.n[tenant] += d; w.mu.Unlock() }
func (w *waiting) get(tenant string) int        { w.mu.Lock(); defer w.mu.Unlock(); return w.n[tenant] }

var roomy = limit.Settings{Concurrency: 8, InflightBytes: 8 << 20, Wait: time.Minute}

func held(t *testing.T, err error, reason string) time.Duration {
	t.Helper()
	h, ok := limit.ErrHeld(err)
	require.True(t, ok, "%v", err)
	require.Equal(t, reason, h.Reason)
	return h.RetryAfter
}

func TestNotificationQuota(t *testing.T) {
	c := &clock{t: time.Unix(1e9, 0)}
	g := limit.NewGate(c.now, nil)
	s := roomy
	s.NotificationsPerSecond, s.NotificationsBurst = 2, 3
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		k, err := g.Admit(ctx, "a", s, 100)
		require.NoError(t, err, "burst %d", i)
		k.Done(100)
	}
	_, err := g.Admit(ctx, "a", s, 100)
	require.Equal(t, 500*time.Millisecond, held(t, err, limit.ReasonNotifications))
	k, err := g.Admit(ctx, "b", s, 100)
	require.NoError(t, err, "another tenant has its own quota")
	k.Done(100)
	c.advance(500 * time.Millisecond)
	k, err = g.Admit(ctx, "a", s, 100)
	require.NoError(t, err)
	k.Done(100)
}

func TestByteQuotaChargesWhatWasRead(t *testing.T) {
	c := &clock{t: time.Unix(1e9, 0)}
	g := limit.NewGate(c.now, nil)
	s := roomy
	s.BytesPerSecond, s.BytesBurst = 1000, 2000
	ctx := context.Background()
	k, err := g.Admit(ctx, "a", s, -1)
	require.NoError(t, err)
	k.Done(5000) // larger than the burst: passes, alone, and leaves a debt
	_, err = g.Admit(ctx, "a", s, 10)
	require.Equal(t, 3*time.Second, held(t, err, limit.ReasonBytes))
	c.advance(3*time.Second + time.Millisecond)
	k, err = g.Admit(ctx, "a", s, 10)
	require.NoError(t, err)
	k.Done(10)
}

func TestLargeBodiesQueueBehindEachOther(t *testing.T) {
	w := &waiting{n: map[string]int{}}
	g := limit.NewGate(nil, w)
	s := limit.Settings{Concurrency: 4, InflightBytes: 1 << 20, Wait: time.Hour}
	ctx := context.Background()
	var small []*limit.Ticket
	for i := 0; i < 4; i++ {
		k, err := g.Admit(ctx, "a", s, 100)
		require.NoError(t, err)
		small = append(small, k)
	}
	// A fifth small one waits for a turn.
	got := make(chan *limit.Ticket)
	go func() {
		k, err := g.Admit(ctx, "a", s, 100)
		if err != nil {
			t.Error(err)
		}
		got <- k
	}()
	require.Eventually(t, func() bool { return w.get("a") == 1 }, 10*time.Second, time.Millisecond)
	small[0].Done(100)
	(<-got).Done(100)
	for _, k := range small[1:] {
		k.Done(100)
	}
	// A body of 2 MiB takes the whole share: a small one waits until it is done.
	big, err := g.Admit(ctx, "a", s, 2<<20)
	require.NoError(t, err)
	go func() {
		k, err := g.Admit(ctx, "a", s, 100)
		if err != nil {
			t.Error(err)
		}
		got <- k
	}()
	require.Eventually(t, func() bool { return w.get("a") == 1 }, 10*time.Second, time.Millisecond)
	k, err := g.Admit(ctx, "b", s, 2<<20)
	require.NoError(t, err, "another tenant is not held by a's large body")
	k.Done(2 << 20)
	big.Done(2 << 20)
	(<-got).Done(100)
	require.Zero(t, w.get("a"))
}

func TestWaitEndsInBusy(t *testing.T) {
	g := limit.NewGate(nil, nil)
	s := limit.Settings{Concurrency: 1, InflightBytes: 1000, Wait: time.Millisecond}
	k, err := g.Admit(context.Background(), "a", s, 10)
	require.NoError(t, err)
	_, err = g.Admit(context.Background(), "a", s, 10)
	require.Equal(t, time.Millisecond, held(t, err, limit.ReasonBusy))
	k.Done(10)
	k.Done(10) // twice is once
	k, err = g.Admit(context.Background(), "a", s, 10)
	require.NoError(t, err)
	k.Done(10)
}

func TestReloadKeepsTicketsAndCounts(t *testing.T) {
	c := &clock{t: time.Unix(1e9, 0)}
	g := limit.NewGate(c.now, nil)
	s := limit.Settings{Concurrency: 1, InflightBytes: 1000, Wait: time.Millisecond, NotificationsPerSecond: 1, NotificationsBurst: 1}
	k, err := g.Admit(context.Background(), "a", s, 10)
	require.NoError(t, err)
	s2 := s
	s2.Concurrency, s2.InflightBytes = 2, 2000
	_, err = g.Admit(context.Background(), "a", s2, 10)
	held(t, err, limit.ReasonNotifications)
	c.advance(time.Second)
	k2, err := g.Admit(context.Background(), "a", s2, 10)
	require.NoError(t, err, "new settings, new share")
	k.Done(10) // released into the semaphore it came from
	k2.Done(10)
}
