package testenv

import (
	"fmt"
	"net"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kizashi-dev/kizashi/internal/proc"
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

// Program returns the path of a Debian-packaged program (proc.Promtool,
// proc.Amtool, ...). When it is missing, the test is skipped in -short mode
// and otherwise fails with the apt-get command that installs it.
func Program(t testing.TB, b proc.Binary) string {
	t.Helper()
	p, err := b.Find()
	if err != nil {
		if testing.Short() {
			t.Skipf("testenv: -short: %v", err)
		}
		t.Fatalf("testenv: %v", err)
	}
	return p
}

// skipShort skips the test in -short mode: starting real servers is not short.
func skipShort(t testing.TB, what string) {
	t.Helper()
	if testing.Short() {
		t.Skipf("testenv: -short: not starting %s", what)
	}
}

// cleanup registers with t: stop p at the end of the test and, if the test failed, save its
// log to a file and print its last lines.
func cleanup(t testing.TB, p *proc.Process) {
	t.Cleanup(func() {
		if err := p.Stop(syscall.SIGTERM, 10*time.Second); err != nil {
			t.Errorf("testenv: %v", err)
		}
		if t.Failed() {
			t.Log(logReport(t.Name(), p.Name, p.Log.String()))
		}
	})
}
