// Package forwardtest is what the forwarders' tests share. Fakes of the ticket systems the
// integrations talk to — ServiceNow's Table API, Jira's REST API v2, PagerDuty's Events API v2
// and a generic webhook receiver — follow the documented request and response shapes, keep
// their records in memory, and fail on command: down (503 or connection refused), delays
// (client timeouts), error statuses, 429 with Retry-After, and "after commit" failures where
// the operation is applied but its answer is lost (the duplicate-create race). Harness runs
// forwarders with every integration over a real store, with the service layer writing the
// outbox, for tests of the delivery core and of each integration.
package forwardtest

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// Fault is a failure injected into the next matching request.
type Fault struct {
	// Op limits the fault to one operation (see each fake's Op* constants);
	// "" matches every request.
	Op string
	// Status answers with this HTTP status (with RetryAfter, if set).
	Status     int
	RetryAfter string
	// Delay holds the answer back (past the client's timeout).
	Delay time.Duration
	// AfterCommit applies the operation before failing: the target has it,
	// the client never learns (duplicate-create race).
	AfterCommit bool
	// Times the fault applies (0 = once).
	Times int
}

// Request is one request a fake received.
type Request struct {
	Op     string
	Method string
	Path   string
	Status int
}

// Server is the HTTP side shared by the fakes: a listener on 127.0.0.1 that
// can be stopped and restarted on the same address, fault injection and a
// request log.
type Server struct {
	t       testing.TB
	handler func(op string, w http.ResponseWriter, r *http.Request)
	route   func(r *http.Request) string

	mu        sync.Mutex
	addr      string
	srv       *httptest.Server
	down      bool
	faults    []Fault
	requests  []Request
	latency   time.Duration
	stopDelay chan struct{}
	gate      chan struct{} // while not nil, requests wait for it to close
	waiting   int
}

func newServer(t testing.TB, route func(*http.Request) string, handler func(op string, w http.ResponseWriter, r *http.Request)) *Server {
	s := &Server{t: t, route: route, handler: handler, stopDelay: make(chan struct{})}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	s.addr = s.srv.Listener.Addr().String()
	t.Cleanup(s.Close)
	return s
}

// URL is the fake's base URL.
func (s *Server) URL() string { return "http://" + s.addr }

// Close stops the server for good.
func (s *Server) Close() {
	s.mu.Lock()
	srv := s.srv
	s.srv = nil
	select {
	case <-s.stopDelay:
	default:
		close(s.stopDelay)
	}
	s.mu.Unlock()
	if srv != nil {
		srv.CloseClientConnections()
		srv.Close()
	}
}

// Stop closes the listener: connections are refused until Start.
func (s *Server) Stop() {
	s.mu.Lock()
	srv := s.srv
	s.srv = nil
	s.mu.Unlock()
	if srv != nil {
		srv.CloseClientConnections()
		srv.Close()
	}
}

// Start listens again on the same address after Stop.
func (s *Server) Start() {
	s.t.Helper()
	var (
		l   net.Listener
		err error
	)
	for i := 0; i < 100; i++ {
		if l, err = net.Listen("tcp", s.addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		s.t.Fatalf("fake: listen again on %s: %v", s.addr, err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	srv.Listener = l
	srv.Start()
	s.mu.Lock()
	s.srv = srv
	s.mu.Unlock()
}

// SetDown makes every request fail with 503 (true) or work again (false).
func (s *Server) SetDown(down bool) {
	s.mu.Lock()
	s.down = down
	s.mu.Unlock()
}

// Hold makes every request wait (before anything else) until Release.
func (s *Server) Hold() {
	s.mu.Lock()
	if s.gate == nil {
		s.gate = make(chan struct{})
	}
	s.mu.Unlock()
}

// Release lets the held requests and the next ones through.
func (s *Server) Release() {
	s.mu.Lock()
	if s.gate != nil {
		close(s.gate)
		s.gate = nil
	}
	s.mu.Unlock()
}

// Waiting is the number of requests held.
func (s *Server) Waiting() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.waiting
}

// SetLatency delays every answer (a real service is not instant).
func (s *Server) SetLatency(d time.Duration) {
	s.mu.Lock()
	s.latency = d
	s.mu.Unlock()
}

// Fail queues faults for the next matching requests.
func (s *Server) Fail(fs ...Fault) {
	s.mu.Lock()
	for _, f := range fs {
		if f.Times <= 0 {
			f.Times = 1
		}
		s.faults = append(s.faults, f)
	}
	s.mu.Unlock()
}

// ClearFaults drops the faults not used yet.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	s.faults = nil
	s.mu.Unlock()
}

// Requests returns the request log.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Count returns how many requests of op were answered with a 2xx.
func (s *Server) Count(op string) int {
	n := 0
	for _, r := range s.Requests() {
		if r.Op == op && r.Status >= 200 && r.Status < 300 {
			n++
		}
	}
	return n
}

func (s *Server) takeFault(op string) (Fault, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, f := range s.faults {
		if f.Op != "" && f.Op != op {
			continue
		}
		f.Times--
		if f.Times <= 0 {
			s.faults = append(s.faults[:i], s.faults[i+1:]...)
		} else {
			s.faults[i] = f
		}
		return f, true
	}
	return Fault{}, false
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

func (s *Server) log(op string, r *http.Request, status int) {
	s.mu.Lock()
	s.requests = append(s.requests, Request{Op: op, Method: r.Method, Path: r.URL.Path, Status: status})
	s.mu.Unlock()
}

func (s *Server) wait(r *http.Request, d time.Duration) bool {
	select {
	case <-time.After(d):
		return true
	case <-r.Context().Done():
		return false
	case <-s.stopDelay:
		return false
	}
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	op := s.route(r)
	s.mu.Lock()
	gate := s.gate
	if gate != nil {
		s.waiting++
	}
	s.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-r.Context().Done():
		case <-s.stopDelay:
		}
		s.mu.Lock()
		s.waiting--
		s.mu.Unlock()
	}
	s.mu.Lock()
	down, latency := s.down, s.latency
	s.mu.Unlock()
	if latency > 0 && !s.wait(r, latency) {
		return
	}
	if down {
		s.log(op, r, http.StatusServiceUnavailable)
		http.Error(w, "service unavailable", http.StatusServiceUnavailable)
		return
	}
	f, faulty := s.takeFault(op)
	if faulty && f.AfterCommit {
		rec := httptest.NewRecorder()
		s.handler(op, rec, r)
		s.log(op+"(committed)", r, rec.Code)
	}
	if faulty && f.Delay > 0 {
		if !s.wait(r, f.Delay) {
			s.log(op, r, 0)
			return
		}
	}
	if faulty && f.Status != 0 {
		if f.RetryAfter != "" {
			w.Header().Set("Retry-After", f.RetryAfter)
		}
		s.log(op, r, f.Status)
		writeJSON(w, f.Status, map[string]any{"error": map[string]string{"message": http.StatusText(f.Status)}})
		return
	}
	if faulty && f.AfterCommit {
		// Committed, answer lost: drop the connection.
		s.log(op, r, 0)
		if hj, ok := w.(http.Hijacker); ok {
			if c, _, err := hj.Hijack(); err == nil {
				_ = c.Close()
				return
			}
		}
		panic(http.ErrAbortHandler)
	}
	rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
	s.handler(op, rec, r)
	s.log(op, r, rec.status)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func decode(r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 1<<20))
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("decode %s %s: %w", r.Method, r.URL.Path, err)
	}
	return nil
}

var errNotFound = errors.New("not found")
