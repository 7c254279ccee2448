package auth

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// peer is the address of the connection's other end.
func peer(r *http.Request) netip.Addr {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	return a.Unmap()
}

func trusted(a netip.Addr, proxies []netip.Prefix) bool {
	for _, p := range proxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// ClientAddr is the address a request came from: the peer's, or, when the peer is a trusted
// proxy, the nearest address in X-Forwarded-For that is not a trusted proxy (addresses
// further left were written by the client and are not believed).
func ClientAddr(r *http.Request, proxies []netip.Prefix) netip.Addr {
	a := peer(r)
	if !trusted(a, proxies) {
		return a
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		h, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			return a // a hop we cannot read: stop at the last one we trust
		}
		a = h.Unmap()
		if !trusted(a, proxies) {
			return a
		}
	}
	return a
}

// IsHTTPS reports whether the client reached us over TLS: directly, or through a trusted
// proxy that says so in X-Forwarded-Proto.
func IsHTTPS(r *http.Request, proxies []netip.Prefix) bool {
	if r.TLS != nil {
		return true
	}
	if !trusted(peer(r), proxies) {
		return false
	}
	proto, _, _ := strings.Cut(r.Header.Get("X-Forwarded-Proto"), ",")
	return strings.EqualFold(strings.TrimSpace(proto), "https")
}
