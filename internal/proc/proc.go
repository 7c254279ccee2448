// Package proc runs the external programs that the demo and the test harness
// (internal/testenv) start: Debian-packaged Prometheus, Alertmanager,
// promtool and PostgreSQL. A Binary finds a program where Debian installs it,
// or says which package to install; a Process runs it in its own process
// group, so that it and all its children stop together, and is killed by the
// kernel if the Go program dies without cleaning up.
package proc

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Binary is an executable shipped by a Debian package.
type Binary struct {
	Names   []string // looked up in PATH, then in DebianDirs; an absolute name as it is
	Package string   // the Debian package that ships it
}

// The programs of Debian's prometheus and prometheus-alertmanager packages.
var (
	Prometheus = Binary{Names: []string{"prometheus"}, Package: "prometheus"}
	Promtool   = Binary{Names: []string{"promtool"}, Package: "prometheus"}
	// Debian ships Alertmanager as prometheus-alertmanager.
	Alertmanager = Binary{Names: []string{"alertmanager", "prometheus-alertmanager"}, Package: "prometheus-alertmanager"}
	Amtool       = Binary{Names: []string{"amtool"}, Package: "prometheus-alertmanager"}
)

// MissingPackages returns the Debian packages of the binaries that are not installed, each once.
func MissingPackages(bins ...Binary) []string {
	var pkgs []string
	for _, b := range bins {
		if _, err := b.Find(); err != nil && !slices.Contains(pkgs, b.Package) {
			pkgs = append(pkgs, b.Package)
		}
	}
	return pkgs
}

// AptInstall is the shell command (run as root) that installs the Debian packages without
// starting or enabling their services: Debian's prometheus, prometheus-alertmanager and
// postgresql start a server on their public default address when installed and at every boot,
// but the demo and the tests start their own on loopback. During the installation a
// policy-rc.d that answers 101 ("action forbidden") keeps the maintainer scripts from starting
// anything (unless the machine has its own policy-rc.d, which is kept); afterwards the
// packages' systemd services are disabled (and stopped, if systemd runs), which also removes
// their SysV boot links.
func AptInstall(pkgs []string) string {
	return aptInstall(pkgs, "/usr/sbin/policy-rc.d", "/run/systemd/system")
}

// aptInstall is AptInstall with the paths of policy-rc.d and of the directory that exists
// when systemd runs (the tests use their own).
func aptInstall(pkgs []string, policyRC, systemdRunning string) string {
	list := strings.Join(pkgs, " ")
	return strings.Join([]string{
		"set -e",
		"apt-get update",
		`if [ ! -e ` + policyRC + ` ]; then printf "#!/bin/sh\nexit 101\n" > ` + policyRC + `; chmod 755 ` + policyRC + `; trap "rm -f ` + policyRC + `" EXIT; fi`,
		"DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends " + list,
		`units=""; for f in $(dpkg -L ` + list + `); do case $f in */lib/systemd/system/*@*) ;; /lib/systemd/system/*.service|/usr/lib/systemd/system/*.service) units="$units ${f##*/}" ;; esac; done`,
		`if [ -n "$units" ]; then if [ -d ` + systemdRunning + ` ]; then systemctl disable --now $units; else systemctl disable $units; fi; fi`,
	}, "; ")
}

// DebianDirs are where Debian packages install programs (not all in every PATH).
var DebianDirs = []string{"/usr/bin", "/usr/sbin", "/usr/local/bin"}

// Find returns the binary's path or an error telling which package to install.
func (b Binary) Find() (string, error) {
	for _, n := range b.Names {
		if filepath.IsAbs(n) {
			if isExecutable(n) {
				return n, nil
			}
			continue
		}
		if p, err := exec.LookPath(n); err == nil {
			return p, nil
		}
		for _, d := range DebianDirs {
			if p := filepath.Join(d, n); isExecutable(p) {
				return p, nil
			}
		}
	}
	return "", fmt.Errorf("%s not found (looked for %s in PATH and %s); install it with: apt-get install -y %s",
		b.Names[0], strings.Join(b.Names, ", "), strings.Join(DebianDirs, ", "), b.Package)
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

// Buffer collects a process' output (across restarts); safe for concurrent
// use. With Max > 0 it keeps only the last Max bytes.
type Buffer struct {
	Max int

	mu sync.Mutex
	b  []byte
}

func (l *Buffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.b = append(l.b, p...)
	if l.Max > 0 && len(l.b) > l.Max {
		l.b = append(l.b[:0], l.b[len(l.b)-l.Max:]...)
	}
	return len(p), nil
}

func (l *Buffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return string(l.b)
}

// Tail returns at most the last n bytes, for error messages.
func (l *Buffer) Tail(n int) string {
	s := l.String()
	if len(s) > n {
		s = "...\n" + s[len(s)-n:]
	}
	return s
}

// Process is one external program, started in its own process group. Set
// the fields before Start; it may be started again once it has exited.
type Process struct {
	Name string
	Path string
	Args []string
	Dir  string
	Env  []string            // nil: the environment of this process
	Cred *syscall.Credential // run as this user (root starting postgres)
	Log  *Buffer             // its output, and a line when it starts and exits

	mu      sync.Mutex
	cmd     *exec.Cmd
	done    chan struct{} // closed when cmd has exited
	waitErr error
}

// New returns a Process with an unbounded Log.
func New(name, path string, args ...string) *Process {
	return &Process{Name: name, Path: path, Args: args, Log: &Buffer{}}
}

// Start starts the process; it must not be running.
func (p *Process) Start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil && !isClosed(p.done) {
		return fmt.Errorf("start %s: already running", p.Name)
	}
	cmd := exec.Command(p.Path, p.Args...)
	cmd.Dir = p.Dir
	if p.Env != nil {
		cmd.Env = p.Env
	}
	cmd.Stdout = p.Log
	cmd.Stderr = p.Log
	// A descendant that left the group could hold the output pipe open for ever.
	cmd.WaitDelay = 5 * time.Second
	// Setpgid: the process leads its own group, killed as a whole.
	// Pdeathsig: the kernel kills it if this program dies without cleanup.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL, Credential: p.Cred}
	fmt.Fprintf(p.Log, "proc: %s %s\n", p.Path, strings.Join(p.Args, " "))
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
		fmt.Fprintf(p.Log, "proc: %s exited: %v\n", p.Name, errOrOK(err))
		close(done)
	}()
	if err := <-started; err != nil {
		return fmt.Errorf("start %s: %w", p.Name, err)
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

func isClosed(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

func (p *Process) current() (*exec.Cmd, chan struct{}, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cmd, p.done, p.waitErr
}

// Pid returns the process id of the running process, 0 if it is not running.
func (p *Process) Pid() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil || p.cmd.Process == nil || isClosed(p.done) {
		return 0
	}
	return p.cmd.Process.Pid
}

// Exited reports whether the last started command has exited (or none was started).
func (p *Process) Exited() bool {
	_, done, _ := p.current()
	return done == nil || isClosed(done)
}

// Wait waits until the process exits and returns how it ended (nil: exit
// status 0), or ctx's error if ctx ends first; it does not stop the process.
func (p *Process) Wait(ctx context.Context) error {
	_, done, _ := p.current()
	if done == nil {
		return fmt.Errorf("wait %s: not started", p.Name)
	}
	select {
	case <-done:
		_, _, err := p.current()
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Stop sends sig to the process group, waits up to grace for the process to
// exit, then kills the group. It is a no-op when the process was not started.
func (p *Process) Stop(sig syscall.Signal, grace time.Duration) error {
	cmd, done, _ := p.current()
	if cmd == nil {
		return nil
	}
	pgid := cmd.Process.Pid
	_ = syscall.Kill(-pgid, sig)
	var err error
	select {
	case <-done:
	case <-time.After(grace):
		err = fmt.Errorf("stop %s: still running %v after %s, killed", p.Name, sig, grace)
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-done
	}
	// Children that outlived the leader are still in its group.
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	return err
}

// WaitReady polls ready until it returns nil, the process exits, ctx ends or
// timeout passes. Its errors end with the last 8 KiB of the process' log.
func (p *Process) WaitReady(ctx context.Context, timeout time.Duration, ready func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	_, done, _ := p.current()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		if last = ready(ctx); last == nil {
			return nil
		}
		select {
		case <-done:
			_, _, werr := p.current()
			return fmt.Errorf("%s exited before ready (%v); log:\n%s", p.Name, errOrOK(werr), p.Log.Tail(8<<10))
		case <-ctx.Done():
			return fmt.Errorf("%s not ready after %s: %w; log:\n%s", p.Name, timeout, last, p.Log.Tail(8<<10))
		case <-tick.C:
		}
	}
}

// HTTPReady returns a readiness check that expects 200 from a GET of url.
func HTTPReady(url string) func(context.Context) error {
	return func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return fmt.Errorf("new request GET %s: %w", url, err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET %s: %s", url, resp.Status)
		}
		return nil
	}
}
