package app_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/kizashi-dev/kizashi/webhook/app"
)

// inSweep reports whether the calling goroutine runs the sweeper's service call.
func inSweep() bool {
	buf := make([]byte, 64<<10)
	return strings.Contains(string(buf[:runtime.Stack(buf, false)]), "service.(*Service).Sweep")
}

// TestRunWaitsForTheSweeper holds the sweeper inside a sweep, cancels Run and checks that Run
// does not return (and close the store) while the sweep is still running.
func TestRunWaitsForTheSweeper(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "kizashi-webhook.yml")
	require.NoError(t, os.WriteFile(cfg, []byte(configYAML("storage:\n  driver: sqlite\n  path: "+filepath.Join(dir, "k.db")+"\n")), 0o600))
	var hold atomic.Bool
	entered, release := make(chan struct{}), make(chan struct{})
	var once atomic.Bool
	now := func() time.Time {
		if hold.Load() && inSweep() {
			if once.CompareAndSwap(false, true) {
				close(entered)
			}
			<-release
		}
		return time.Now()
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	ready := make(chan struct{})
	go func() {
		done <- app.Run(ctx, app.Options{ConfigFile: cfg, Listener: l, Registry: prometheus.NewRegistry(), Now: now,
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Ready: func(string) { close(ready) }})
	}()
	<-ready
	hold.Store(true)
	select {
	case <-entered: // the sweeper (every second in configYAML) is inside a sweep
	case err := <-done:
		t.Fatalf("Run stopped: %v", err)
	case <-time.After(time.Minute):
		t.Fatal("the sweeper did not run within a minute")
	}
	cancel()
	// Run must wait for the sweep; give a Run that does not wait a while to show it.
	select {
	case err := <-done:
		close(release)
		t.Fatalf("Run returned (%v) and closed the store while the sweeper was still sweeping", err)
	case <-time.After(time.Second):
	}
	close(release)
	require.NoError(t, <-done)
}
