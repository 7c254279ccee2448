package app

import (
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/coreos/go-systemd/v22/activation"
	"github.com/prometheus/exporter-toolkit/web"
	"go.yaml.in/yaml/v2"
	"golang.org/x/crypto/bcrypt"
)

// webServer serves per --web.config.file (exporter-toolkit's format) as exporter-toolkit's
// web.Serve does — TLS with certificates re-read per connection, HTTP/2 on or off, response
// headers — except for basic_auth_users: they guard only the operational endpoints (/metrics,
// /-/reload), because Alertmanager and the REST API carry their own credentials in the same
// Authorization header. rate_limit is refused: it would answer Alertmanager 429, which drops
// notifications (failed authentications are limited per source instead: server.auth_failures).
type webServer struct {
	path   string
	logger *slog.Logger

	mu       sync.Mutex
	verified map[[sha256.Size]byte]bool // user, hash and password that passed bcrypt (slow)
}

// readWebConfig reads the web config with exporter-toolkit's defaults.
func readWebConfig(path string) (*web.Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read web config: %w", err)
	}
	c := &web.Config{
		TLSConfig:  web.TLSConfig{MinVersion: tls.VersionTLS12, MaxVersion: tls.VersionTLS13},
		HTTPConfig: web.HTTPConfig{HTTP2: true},
	}
	if err := yaml.UnmarshalStrict(b, c); err != nil {
		return nil, fmt.Errorf("parse web config %s: %w", path, err)
	}
	c.TLSConfig.SetDirectory(filepath.Dir(path))
	return c, nil
}

// CheckWebConfig validates a --web.config.file for kizashi-webhook ("" is none).
func CheckWebConfig(path string) error {
	if path == "" {
		return nil
	}
	if err := web.Validate(path); err != nil {
		return fmt.Errorf("web config %s: %w", path, err)
	}
	c, err := readWebConfig(path)
	if err != nil {
		return err
	}
	if c.RateLimiterConfig.Interval != 0 || c.RateLimiterConfig.Burst != 0 {
		return fmt.Errorf("web config %s: rate_limit is not supported by kizashi-webhook: it answers 429, which Alertmanager drops "+
			"(failed authentications are limited per source: server.auth_failures)", path)
	}
	return nil
}

// headers adds the web config's response headers.
func (s *webServer) headers(h http.Handler) (http.Handler, error) {
	if s.path == "" {
		return h, nil
	}
	c, err := readWebConfig(s.path)
	if err != nil {
		return nil, err
	}
	if len(c.HTTPConfig.Header) == 0 {
		return h, nil
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for k, v := range c.HTTPConfig.Header {
			w.Header().Set(k, v)
		}
		h.ServeHTTP(w, r)
	}), nil
}

// fakeHash is compared with unknown users' passwords so that they take as long as known ones.
const fakeHash = "$2y$10$QOauhQNbBCuQDKes6eFzPeMqBSjb7Mr5DUmpZ/VcEd00UAV/LDeSi"

// users reads basic_auth_users at each request (a change applies at once); none: no
// authentication.
func (s *webServer) users() (map[string]string, error) {
	if s.path == "" {
		return nil, nil
	}
	c, err := readWebConfig(s.path)
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(c.Users))
	for u, h := range c.Users {
		out[u] = string(h)
	}
	return out, nil
}

// authorized checks r against users; present tells whether r tried.
func (s *webServer) authorized(r *http.Request, users map[string]string) (ok, present bool) {
	user, pass, present := r.BasicAuth()
	if !present {
		return false, false
	}
	hash, known := users[user]
	if !known {
		hash = fakeHash
	}
	key := sha256.Sum256([]byte(user + "\x00" + hash + "\x00" + pass))
	s.mu.Lock()
	hit := s.verified[key]
	s.mu.Unlock()
	if hit {
		return true, true
	}
	if bcrypt.CompareHashAndPassword([]byte(hash), []byte(pass)) != nil || !known {
		return false, true
	}
	s.mu.Lock()
	if s.verified == nil || len(s.verified) >= 100 {
		s.verified = map[[sha256.Size]byte]bool{}
	}
	s.verified[key] = true
	s.mu.Unlock()
	return true, true
}

// listen opens the listeners of the flags: the addresses, or systemd's sockets.
func listen(flags *web.FlagConfig) ([]net.Listener, error) {
	if flags.WebSystemdSocket != nil && *flags.WebSystemdSocket {
		ls, err := activation.Listeners()
		if err != nil {
			return nil, fmt.Errorf("systemd sockets: %w", err)
		}
		if len(ls) == 0 {
			return nil, errors.New("no systemd socket activation file descriptors found")
		}
		return ls, nil
	}
	if flags.WebListenAddresses == nil || len(*flags.WebListenAddresses) == 0 {
		return nil, errors.New("no --web.listen-address")
	}
	var ls []net.Listener
	for _, addr := range *flags.WebListenAddresses {
		if strings.HasPrefix(addr, "vsock://") {
			return nil, errors.Join(fmt.Errorf("listen %s: vsock is not supported by kizashi-webhook", addr), closeAll(ls))
		}
		l, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, errors.Join(fmt.Errorf("listen: %w", err), closeAll(ls))
		}
		ls = append(ls, l)
	}
	return ls, nil
}

func closeAll(ls []net.Listener) error {
	var errs []error
	for _, l := range ls {
		errs = append(errs, l.Close())
	}
	return errors.Join(errs...)
}

// serve serves srv on the listeners until it is shut down; it returns the first error.
func (s *webServer) serve(srv *http.Server, ls []net.Listener) error {
	useTLS := false
	if s.path != "" {
		c, err := readWebConfig(s.path)
		if err != nil {
			return err
		}
		if c.TLSConfig.IsEnabled() {
			protos := []string{"h2", "http/1.1"}
			if !c.HTTPConfig.HTTP2 {
				srv.TLSNextProto = map[string]func(*http.Server, *tls.Conn, http.Handler){}
				protos = []string{"http/1.1"}
			}
			cfg, err := web.ConfigToTLSConfig(&c.TLSConfig)
			if err != nil {
				return fmt.Errorf("web config %s: %w", s.path, err)
			}
			cfg.NextProtos = protos
			// Certificates are read again for every new connection (renewals apply at once).
			cfg.GetConfigForClient = func(*tls.ClientHelloInfo) (*tls.Config, error) {
				c, err := readWebConfig(s.path)
				if err != nil {
					return nil, err
				}
				cfg, err := web.ConfigToTLSConfig(&c.TLSConfig)
				if err != nil {
					return nil, err
				}
				cfg.NextProtos = protos
				return cfg, nil
			}
			srv.TLSConfig = cfg
			useTLS = true
		}
	}
	errc := make(chan error, len(ls))
	for _, l := range ls {
		s.logger.Info("listening", "address", l.Addr().String(), "tls", useTLS)
		go func() {
			if useTLS {
				errc <- srv.ServeTLS(l, "", "")
				return
			}
			errc <- srv.Serve(l)
		}()
	}
	return <-errc
}
