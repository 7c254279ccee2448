package config

import (
	"fmt"
	"net/netip"
	"strings"
)

// Server configures how the HTTP server treats its clients: which reverse proxies are believed,
// the page's cookies and the limit on failed authentications. It holds plain values; the HTTP
// handlers apply them.
type Server struct {
	// TrustedProxies are the addresses (or CIDR ranges) of reverse proxies whose
	// X-Forwarded-For and X-Forwarded-Proto headers are believed.
	TrustedProxies []string `yaml:"trusted_proxies"`
	// SecureCookies marks the page's session cookie Secure on every answer (otherwise only when
	// the request came over TLS, directly or through a trusted proxy).
	SecureCookies bool `yaml:"secure_cookies"`
	// AuthFailures limits failed authentications per source address.
	AuthFailures AuthFailures `yaml:"auth_failures"`

	proxies []netip.Prefix
}

// AuthFailures is a token bucket per source address (IPv6: per /64): Burst failed
// authentications at once, then PerMinute. A source over the limit is refused before its
// credential is checked.
type AuthFailures struct {
	Burst     int     `yaml:"burst"`
	PerMinute float64 `yaml:"per_minute"`
}

// DefaultServer: no trusted proxy, 10 failures at once then 6 a minute.
var DefaultServer = Server{AuthFailures: AuthFailures{Burst: 10, PerMinute: 6}}

// UnmarshalYAML sets defaults.
func (s *Server) UnmarshalYAML(unmarshal func(any) error) error {
	*s = DefaultServer
	type plain Server
	return unmarshal((*plain)(s))
}

func (s *Server) validate() error {
	s.proxies = nil
	for i, p := range s.TrustedProxies {
		path := fmt.Sprintf("server.trusted_proxies[%d]", i)
		var (
			pfx netip.Prefix
			err error
		)
		if strings.Contains(p, "/") {
			pfx, err = netip.ParsePrefix(p)
		} else {
			var a netip.Addr
			if a, err = netip.ParseAddr(p); err == nil {
				pfx = netip.PrefixFrom(a, a.BitLen())
			}
		}
		if err != nil {
			return keyErrorf(path, "%q is not an IP address or CIDR range", p)
		}
		s.proxies = append(s.proxies, pfx.Masked())
	}
	switch {
	case s.AuthFailures.Burst < 1:
		return keyErrorf("server.auth_failures.burst", "must be at least 1")
	case s.AuthFailures.PerMinute <= 0:
		return keyErrorf("server.auth_failures.per_minute", "must be positive")
	}
	return nil
}

// Proxies are the trusted proxies' ranges.
func (s *Server) Proxies() []netip.Prefix { return s.proxies }
