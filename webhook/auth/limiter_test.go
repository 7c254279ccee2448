package auth

import (
	"fmt"
	"net/http"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kizashi-dev/kizashi/webhook/config"
)

func TestFailureLimiter(t *testing.T) {
	c := config.AuthFailures{Burst: 3, PerMinute: 6} // a token every 10 s
	l := newFailureLimiter()
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	a := netip.MustParseAddr("192.0.2.1")
	for i := range 2 {
		throttled, _ := l.fail(a, c, now)
		require.False(t, throttled, "failure %d", i+1)
	}
	throttled, wait := l.fail(a, c, now)
	require.True(t, throttled, "the third failure uses the burst up")
	require.Equal(t, 10*time.Second, wait)
	t2, w2 := l.throttled(a, c, now.Add(4*time.Second))
	require.True(t, t2)
	require.Equal(t, 6*time.Second, w2)
	t3, _ := l.throttled(a, c, now.Add(10*time.Second))
	require.False(t, t3, "one token back after 10 s")
	t4, _ := l.throttled(netip.MustParseAddr("192.0.2.2"), c, now)
	require.False(t, t4, "another address")

	// IPv6: one /64 is one source; IPv4-mapped addresses are IPv4.
	b := netip.MustParseAddr("2001:db8:1:2::1")
	for range 3 {
		l.fail(b, c, now)
	}
	t5, _ := l.throttled(netip.MustParseAddr("2001:db8:1:2:ffff::9"), c, now)
	require.True(t, t5, "same /64")
	t6, _ := l.throttled(netip.MustParseAddr("2001:db8:1:3::1"), c, now)
	require.False(t, t6, "another /64")
	t7, _ := l.throttled(netip.MustParseAddr("::ffff:192.0.2.1"), c, now.Add(time.Second))
	require.True(t, t7, "IPv4-mapped")
}

func TestFailureLimiterMemoryIsBounded(t *testing.T) {
	c := config.AuthFailures{Burst: 2, PerMinute: 1}
	l := newFailureLimiter()
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	guesser := netip.MustParseAddr("198.51.100.1")
	l.fail(guesser, c, now)
	l.fail(guesser, c, now)
	for i := range maxSources + 1000 {
		a := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		l.fail(a, c, now)
		require.LessOrEqual(t, l.size(), maxSources)
	}
	throttled, _ := l.throttled(guesser, c, now)
	require.True(t, throttled, "the emptiest bucket is kept: a flood of new sources does not free the guesser")
}

func TestClientAddr(t *testing.T) {
	proxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	for _, tc := range []struct {
		peer, xff, proto string
		want             string
		https            bool
	}{
		{"192.0.2.9:1234", "", "", "192.0.2.9", false},
		{"192.0.2.9:1234", "203.0.113.1", "https", "192.0.2.9", false}, // not a proxy: headers ignored
		{"10.1.1.1:80", "203.0.113.1", "https", "203.0.113.1", true},
		{"10.1.1.1:80", "198.51.100.7, 203.0.113.1, 10.2.2.2", "https,http", "203.0.113.1", true},
		{"10.1.1.1:80", "garbage, 203.0.113.1", "http", "203.0.113.1", false},
		{"10.1.1.1:80", "203.0.113.1, garbage", "", "10.1.1.1", false},
		{"10.1.1.1:80", "", "", "10.1.1.1", false},
		{"[::ffff:192.0.2.9]:1", "", "", "192.0.2.9", false},
	} {
		t.Run(fmt.Sprintf("%s %s", tc.peer, tc.xff), func(t *testing.T) {
			r := &http.Request{RemoteAddr: tc.peer, Header: http.Header{}}
			if tc.xff != "" {
				r.Header.Set("X-Forwarded-For", tc.xff)
			}
			if tc.proto != "" {
				r.Header.Set("X-Forwarded-Proto", tc.proto)
			}
			require.Equal(t, tc.want, ClientAddr(r, proxies).String())
			require.Equal(t, tc.https, IsHTTPS(r, proxies))
		})
	}
}
