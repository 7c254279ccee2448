package deploy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// root is the repository root, where `go tool mage release` runs.
const root = ".."

// ReleaseDirEnv names a release directory built by `go tool mage release` (go tool mage test
// builds one and passes it); when unset, the tests that need one build it in a temporary
// directory.
const ReleaseDirEnv = "KIZASHI_RELEASE_DIR"

var release struct {
	once sync.Once
	dir  string
	err  error
	tmp  string // built here, removed by TestMain
}

func TestMain(m *testing.M) {
	code := m.Run()
	if release.tmp != "" {
		_ = os.RemoveAll(release.tmp)
	}
	os.Exit(code)
}

// releaseDir returns a release directory for the tests: $KIZASHI_RELEASE_DIR, or one built once
// for this test binary. In -short mode the test is skipped (a release takes minutes to build).
func releaseDir(t *testing.T) string {
	t.Helper()
	if d := os.Getenv(ReleaseDirEnv); d != "" {
		return d
	}
	if testing.Short() {
		t.Skip("-short: not building a release (go tool mage release)")
	}
	release.once.Do(func() {
		tmp, err := os.MkdirTemp("", "kizashi-deploy-test-")
		if err != nil {
			release.err = err
			return
		}
		release.tmp = tmp
		dir := filepath.Join(tmp, "dist")
		cmd := exec.Command("go", "tool", "mage", "release", "-dir="+dir)
		cmd.Dir = root
		out, err := cmd.CombinedOutput()
		if err != nil {
			release.err = fmt.Errorf("go tool mage release: %w\n%s", err, out)
			return
		}
		release.dir = dir
	})
	if release.err != nil {
		t.Fatal(release.err)
	}
	return release.dir
}

// version is the release's version (the file VERSION).
func version(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "VERSION"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// binary is the release's binary of daemon for this machine.
func binary(t *testing.T, daemon string) string {
	t.Helper()
	p := filepath.Join(releaseDir(t), "linux-"+runtime.GOARCH, daemon)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("the release has no %s for this machine: %v", daemon, err)
	}
	return p
}

// daemons are the released programs, by the name of their binary, image and unit.
var daemons = []string{"kizashi-exporter", "kizashi-webhook"}

// defaultPort reads the daemon's default listen port from its --help.
func defaultPort(t *testing.T, daemon string) int {
	t.Helper()
	out, err := exec.Command(binary(t, daemon), "--help").Output()
	if err != nil {
		t.Fatalf("%s --help: %v", daemon, err)
	}
	m := regexp.MustCompile(`--web\.listen-address=:(\d+)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("%s --help shows no default --web.listen-address:\n%s", daemon, out)
	}
	var port int
	_, _ = fmt.Sscan(string(m[1]), &port)
	return port
}

// syncBuffer collects a process' output.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// daemon is a released binary running on 127.0.0.1.
type daemon struct {
	url string
	log *syncBuffer
}

// start runs bin with args plus --web.listen-address on a free loopback port until the test
// ends, and waits until it answers /-/healthy.
func start(t *testing.T, bin string, args ...string) daemon {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	d := daemon{url: "http://" + addr, log: &syncBuffer{}}
	cmd := exec.Command(bin, append(args, "--web.listen-address="+addr)...)
	cmd.Stdout, cmd.Stderr = d.log, d.log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
		if t.Failed() {
			t.Logf("%s log:\n%s", filepath.Base(bin), d.log.String())
		}
	})
	deadline := time.Now().Add(time.Minute)
	for {
		if code, _, err := get(d.url + "/-/healthy"); err == nil && code == http.StatusOK {
			return d
		}
		select {
		case err := <-exited:
			t.Fatalf("%s exited before it served (%v):\n%s", filepath.Base(bin), err, d.log.String())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s does not answer /-/healthy after a minute:\n%s", filepath.Base(bin), d.log.String())
		}
	}
}

// get returns the status and body of a GET of url.
func get(url string) (int, string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	var b bytes.Buffer
	_, err = b.ReadFrom(resp.Body)
	return resp.StatusCode, b.String(), errors.Join(err, resp.Body.Close())
}
