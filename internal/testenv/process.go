package testenv

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// startTimeout bounds how long a component may take to become ready.
const startTimeout = 60 * time.Second

// FreePort returns a TCP port on 127.0.0.1 that was free when asked.
// The port is released before returning, so a process started right after
// can bind it; the small race with other processes is accepted in tests.
func FreePort(t testing.TB) int {
	t.Helper()
	port, err := freePort()
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	return port
}

// FreeAddr returns "127.0.0.1:<port>" for a free port (see FreePort).
func FreeAddr(t testing.TB) string {
	t.Helper()
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(FreePort(t)))
}

// givenPorts holds the ports freePort handed out in this process, so that two
// parallel tests never get the same one before its server binds it.
var givenPorts sync.Map // int -> struct{}

func freePort() (int, error) {
	for range 100 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, fmt.Errorf("find free port: %w", err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		if err := l.Close(); err != nil {
			return 0, fmt.Errorf("find free port: %w", err)
		}
		if _, given := givenPorts.LoadOrStore(port, struct{}{}); !given {
			return port, nil
		}
	}
	return 0, fmt.Errorf("find free port: 100 tries gave ports already handed out")
}

// binary describes an executable shipped by a Debian package.
type binary struct {
	names []string // names looked up in PATH, then in debianDirs
	pkg   string   // Debian package that ships it
}

var debianDirs = []string{"/usr/bin", "/usr/sbin", "/usr/local/bin"}

// find returns the binary's path or an error telling which package to install.
func (b binary) find() (string, error) {
	for _, n := range b.names {
		if filepath.IsAbs(n) {
			if isExecutable(n) {
				return n, nil
			}
			continue
		}
		if p, err := exec.LookPath(n); err == nil {
			return p, nil
		}
		for _, d := range debianDirs {
			if p := filepath.Join(d, n); isExecutable(p) {
				return p, nil
			}
		}
	}
	return "", fmt.Errorf("%s not found (looked for %s in PATH and %s); install it with: apt-get install -y %s",
		b.names[0], strings.Join(b.names, ", "), strings.Join(debianDirs, ", "), b.pkg)
}

func (b binary) mustFind(t testing.TB) string {
	t.Helper()
	p, err := b.find()
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	return p
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

// skipShort skips the test in -short mode: starting real servers is not short.
func skipShort(t testing.TB, what string) {
	t.Helper()
	if testing.Short() {
		t.Skipf("testenv: -short: not starting %s", what)
	}
}

// logBuffer collects a process' output across restarts; safe for concurrent use.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// tail returns at most the last n bytes of the log, for error messages.
func (l *logBuffer) tail(n int) string {
	s := l.String()
	if len(s) > n {
		s = "...\n" + s[len(s)-n:]
	}
	return s
}

// process is one external server, started in its own process group so that
// it and all its children can be killed together.
type process struct {
	name string
	path string
	args []string
	dir  string
	env  []string
	cred *syscall.Credential // run as this user (root starting postgres)
	log  *logBuffer

	mu      sync.Mutex
	cmd     *exec.Cmd
	done    chan struct{} // closed when cmd has exited
	waitErr error
}

func newProcess(name, path string, args ...string) *process {
	return &process{name: name, path: path, args: args, log: &logBuffer{}}
}

// start starts the process; it must not be running.
func (p *process) start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil && !isClosed(p.done) {
		return fmt.Errorf("start %s: already running", p.name)
	}
	cmd := exec.Command(p.path, p.args...)
	cmd.Dir = p.dir
	if p.env != nil {
		cmd.Env = p.env
	}
	cmd.Stdout = p.log
	cmd.Stderr = p.log
	// A descendant that left the group could hold the output pipe open for ever.
	cmd.WaitDelay = 5 * time.Second
	// Setpgid: the process leads its own group, killed as a whole.
	// Pdeathsig: the kernel kills it if the test binary dies without cleanup.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL, Credential: p.cred}
	fmt.Fprintf(p.log, "testenv: %s %s\n", p.path, strings.Join(p.args, " "))
	// Pdeathsig fires when the OS thread that started the process ends, not
	// the Go process: start and wait from one goroutine locked to its thread
	// (see https://go.dev/issue/27505).
	started := make(chan error)
	done := make(chan struct{})
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		err := cmd.Wait()
		p.mu.Lock()
		p.waitErr = err
		p.mu.Unlock()
		fmt.Fprintf(p.log, "testenv: %s exited: %v\n", p.name, errOrOK(err))
		close(done)
	}()
	if err := <-started; err != nil {
		return fmt.Errorf("start %s: %w", p.name, err)
	}
	p.cmd, p.done = cmd, done
	return nil
}

func errOrOK(err error) any {
	if err == nil {
		return "exit status 0"
	}
	return err
}

// exited reports whether the last started command has exited (or none was started).
func (p *process) exited() bool {
	_, done := p.current()
	return done == nil || isClosed(done)
}

func isClosed(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

func (p *process) current() (*exec.Cmd, chan struct{}) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cmd, p.done
}

// stop sends sig to the process group, waits up to grace for the process to
// exit, then kills the group. It is a no-op when the process is not running.
func (p *process) stop(sig syscall.Signal, grace time.Duration) error {
	cmd, done := p.current()
	if cmd == nil {
		return nil
	}
	pgid := cmd.Process.Pid
	_ = syscall.Kill(-pgid, sig)
	var err error
	select {
	case <-done:
	case <-time.After(grace):
		err = fmt.Errorf("stop %s: still running %v after %s, killed", p.name, sig, grace)
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-done
	}
	// Children that outlived the leader are still in its group.
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	return err
}

// waitReady polls ready until it returns nil, the process exits or timeout passes.
func (p *process) waitReady(ctx context.Context, timeout time.Duration, ready func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	_, done := p.current()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		if last = ready(ctx); last == nil {
			return nil
		}
		select {
		case <-done:
			p.mu.Lock()
			werr := p.waitErr
			p.mu.Unlock()
			return fmt.Errorf("%s exited before ready (%v); log:\n%s", p.name, errOrOK(werr), p.log.tail(8<<10))
		case <-ctx.Done():
			return fmt.Errorf("%s not ready after %s: %w; log:\n%s", p.name, timeout, last, p.log.tail(8<<10))
		case <-tick.C:
		}
	}
}

// cleanup registers with t: stop the process at the end of the test and
// print its log if the test failed.
func (p *process) cleanup(t testing.TB) {
	t.Cleanup(func() {
		if err := p.stop(syscall.SIGTERM, 10*time.Second); err != nil {
			t.Errorf("testenv: %v", err)
		}
		if t.Failed() {
			t.Logf("testenv: %s log:\n%s", p.name, p.log.String())
		}
	})
}

// httpReady returns a readiness check that expects 200 from url.
func httpReady(url string) func(context.Context) error {
	return func(ctx context.Context) error {
		req, err := newRequest(ctx, "GET", url, nil)
		if err != nil {
			return err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 {
			return fmt.Errorf("GET %s: %s", url, resp.Status)
		}
		return nil
	}
}
