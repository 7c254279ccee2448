package demo

import (
	"fmt"
	"net"
	"strconv"
)

// listen listens on 127.0.0.1:port, or on a free port if port is 0. With fallback, a busy
// port is replaced by a free one.
func listen(port int, fallback bool) (net.Listener, error) {
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil && fallback && port != 0 {
		l, err = net.Listen("tcp", "127.0.0.1:0")
	}
	if err != nil {
		return nil, fmt.Errorf("listen on 127.0.0.1:%d: %w", port, err)
	}
	return l, nil
}

// reserve finds an address for a program that binds it itself: port if free (or a free port
// with fallback). The port is released before returning.
func reserve(port int, fallback bool) (string, error) {
	l, err := listen(port, fallback)
	if err != nil {
		return "", err
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		return "", fmt.Errorf("reserve %s: %w", addr, err)
	}
	return addr, nil
}
