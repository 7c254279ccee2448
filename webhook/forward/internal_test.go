package forward

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kizashi-dev/kizashi/webhook/incident"
)

func TestBackoff(t *testing.T) {
	for _, tc := range []struct {
		n          int
		retryAfter time.Duration
		lo, hi     time.Duration
	}{
		{1, 0, 500 * time.Millisecond, time.Second},
		{2, 0, time.Second, 2 * time.Second},
		{4, 0, 4 * time.Second, 8 * time.Second},
		{20, 0, 30 * time.Second, time.Minute},
		{1, 45 * time.Second, 45 * time.Second, 45 * time.Second},
	} {
		for range 50 {
			d := backoff(tc.n, time.Second, time.Minute, tc.retryAfter)
			require.GreaterOrEqual(t, d, tc.lo, "attempt %d", tc.n)
			require.LessOrEqual(t, d, tc.hi, "attempt %d", tc.n)
		}
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		header string
		want   time.Duration
	}{
		{"", 0},
		{"120", 2 * time.Minute},
		{"Wed, 01 Jan 2025 00:00:30 GMT", 30 * time.Second},
		{"soon", 0},
		{"-1", 0},
	} {
		h := http.Header{}
		if tc.header != "" {
			h.Set("Retry-After", tc.header)
		}
		require.Equal(t, tc.want, retryAfter(h, now), tc.header)
	}
}

func TestStatusError(t *testing.T) {
	now := time.Now()
	for _, tc := range []struct {
		status int
		kind   Kind
		reason string
	}{
		{500, Retry, ReasonServer},
		{503, Retry, ReasonServer},
		{408, Retry, ReasonTimeout},
		{409, Retry, ReasonTimeout},
		{429, Throttle, ReasonRateLimited},
		{400, Permanent, ReasonRejected},
		{401, Permanent, ReasonRejected},
		{404, Permanent, ReasonRejected},
	} {
		e := statusError("x", tc.status, http.Header{"Retry-After": {"7"}}, []byte("body"), now)
		require.Equal(t, tc.kind, e.Kind, "%d", tc.status)
		require.Equal(t, tc.reason, e.Reason, "%d", tc.status)
		require.Contains(t, e.Error(), "HTTP")
	}
	require.Equal(t, 7*time.Second, statusError("x", 429, http.Header{"Retry-After": {"7"}}, nil, now).RetryAfter)
	require.Equal(t, ReasonTimeout, classify(context.DeadlineExceeded).Reason)
	require.Equal(t, ReasonNetwork, classify(errors.New("connection refused")).Reason)
}

func TestBreaker(t *testing.T) {
	now := time.Now()
	b := newBreaker(2, time.Second, 4*time.Second)
	n, probe := b.admit(now, 5, true)
	require.Equal(t, 5, n)
	require.False(t, probe)
	b.failure(now, false)
	require.False(t, b.isOpen())
	b.failure(now, false)
	require.True(t, b.isOpen())
	n, _ = b.admit(now, 5, true)
	require.Zero(t, n, "open")
	later := now.Add(time.Second)
	n, _ = b.admit(later, 5, false)
	require.Zero(t, n, "no probe while deliveries are in flight")
	n, probe = b.admit(later, 5, true)
	require.Equal(t, 1, n)
	require.True(t, probe)
	n, _ = b.admit(later, 5, true)
	require.Zero(t, n, "one probe at a time")
	b.failure(later, true)
	require.True(t, b.isOpen())
	n, _ = b.admit(later.Add(999*time.Millisecond), 5, true)
	require.Zero(t, n, "the open period doubled (with jitter at least 1 s)")
	n, probe = b.admit(later.Add(2*time.Second), 5, true)
	require.Equal(t, 1, n)
	require.True(t, b.alive(probe), "a good probe closes the circuit")
	n, _ = b.admit(later.Add(2*time.Second), 5, true)
	require.Equal(t, 5, n)

	b.throttle(now.Add(time.Minute))
	n, _ = b.admit(now.Add(30*time.Second), 5, true)
	require.Zero(t, n, "throttled")
	n, _ = b.admit(now.Add(time.Minute), 5, true)
	require.Equal(t, 5, n)
}

func TestNotes(t *testing.T) {
	at := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	var j []incident.Entry
	for i := int64(1); i <= 150; i++ {
		j = append(j, incident.Entry{ID: i * 10, At: at, Actor: "bob", Kind: "note", Message: "m"})
	}
	text, last, more := Note("kizashi-acme-1", j, 0)
	require.True(t, more)
	require.Equal(t, int64(1000), last)
	require.Contains(t, text, "[kizashi kizashi-acme-1 journal 10-1000]\n2025-01-01T00:00:00Z bob note: m")
	text2, last2, more2 := Note("kizashi-acme-1", j, last)
	require.False(t, more2)
	require.Equal(t, int64(1500), last2)
	require.Equal(t, int64(1500), NotesThrough("kizashi-acme-1", text, text2, "[kizashi kizashi-acme-2 journal 1-9999]"))
	require.Equal(t, int64(1000), NotesThrough("kizashi-acme-1", "noise "+text))
	require.Zero(t, NotesThrough("kizashi-acme-1"))
	empty, through, _ := Note("kizashi-acme-1", j, 1500)
	require.Empty(t, empty)
	require.Equal(t, int64(1500), through)
}
