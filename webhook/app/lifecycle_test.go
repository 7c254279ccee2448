package app_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/exporter-toolkit/web"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

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

// TestReloadOverHTTP: POST /-/reload is off unless --web.enable-lifecycle, refused cross-site,
// behind the web config's users when it has some, and a failed reload says nothing of the file.
func TestReloadOverHTTP(t *testing.T) {
	storage := func(t *testing.T) string {
		return "storage: {driver: sqlite, path: " + filepath.Join(t.TempDir(), "k.db") + "}\n"
	}
	listen := func(t *testing.T) net.Listener {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		return l
	}
	t.Run("off by default", func(t *testing.T) {
		w := runWebhook(t, listen(t), configYAML(storage(t)))
		require.Equal(t, http.StatusForbidden, send(t, http.MethodPost, w.URL+"/-/reload", nil, "", nil).code)
	})
	t.Run("on", func(t *testing.T) {
		w := runWebhook(t, listen(t), configYAML(storage(t)), func(o *app.Options) { o.EnableLifecycle = true })
		require.Equal(t, http.StatusForbidden, send(t, http.MethodPost, w.URL+"/-/reload", nil, "", map[string]string{"Origin": anotherPort}).code,
			"a page on another port cannot reload")
		require.Equal(t, 200, send(t, http.MethodPost, w.URL+"/-/reload", nil, "", nil).code)

		const secret = "leaky-secret-0123456789ABC"
		require.NoError(t, os.WriteFile(w.config, []byte(configYAML(storage(t))+"limits: {max_body_bytes: "+secret+"}\n"), 0o600))
		a := send(t, http.MethodPost, w.URL+"/-/reload", nil, "", nil)
		require.Equal(t, http.StatusInternalServerError, a.code)
		require.NotContains(t, a.body, "leaky", "the answer quotes nothing of the file")
		require.NotContains(t, a.body, "max_body_bytes")
		require.True(t, strings.Contains(send(t, http.MethodGet, w.URL+"/metrics", nil, "", nil).body, "kizashi_webhook_config_last_reload_successful 0"))
	})
	t.Run("behind the web config's users", func(t *testing.T) {
		dir := t.TempDir()
		hash, err := bcrypt.GenerateFromPassword([]byte("ops-password"), bcrypt.MinCost)
		require.NoError(t, err)
		webPath := filepath.Join(dir, "web.yml")
		require.NoError(t, os.WriteFile(webPath, []byte("basic_auth_users:\n  ops: "+string(hash)+"\n"), 0o600))
		w := runWebhook(t, listen(t), configYAML(storage(t)), func(o *app.Options) {
			o.EnableLifecycle = true
			o.Web = &web.FlagConfig{WebConfigFile: &webPath, WebListenAddresses: &[]string{}}
		})
		require.Equal(t, http.StatusUnauthorized, send(t, http.MethodPost, w.URL+"/-/reload", nil, "", nil).code)
		req, _ := http.NewRequest(http.MethodPost, "/", nil)
		req.SetBasicAuth("ops", "ops-password")
		require.Equal(t, 200, send(t, http.MethodPost, w.URL+"/-/reload", nil, "", map[string]string{"Authorization": req.Header.Get("Authorization")}).code)
	})
}

// TestRunWaitsForAReload: a reload that SIGHUP started is finished before Run returns and
// closes the store. The configuration file is a named pipe, so the reload blocks in reading
// it until the test writes it.
func TestRunWaitsForAReload(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "kizashi-webhook.yml")
	require.NoError(t, syscall.Mkfifo(cfg, 0o600))
	content := []byte(configYAML("storage:\n  driver: sqlite\n  path: " + filepath.Join(dir, "k.db") + "\n"))
	written := make(chan error, 1)
	write := func() { written <- os.WriteFile(cfg, content, 0o600) } // blocks until a reader opens the pipe
	go write()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	hangup := make(chan os.Signal) // unbuffered: a send returns once the daemon took it
	reg := prometheus.NewRegistry()
	done, ready := make(chan error, 1), make(chan struct{})
	go func() {
		done <- app.Run(ctx, app.Options{ConfigFile: cfg, Listener: l, Registry: reg, Hangup: hangup,
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Ready: func(string) { close(ready) }})
	}()
	require.NoError(t, <-written)
	<-ready
	hangup <- syscall.SIGHUP // the reload now waits for the pipe
	cancel()
	select {
	case err := <-done:
		t.Fatalf("Run returned (%v) and closed the store while a reload was in progress", err)
	case <-time.After(time.Second): // a Run that does not wait returns at once
	}
	go write()
	require.NoError(t, <-written)
	require.NoError(t, <-done)
	n, err := testutil.GatherAndCount(reg, "kizashi_webhook_config_last_reload_successful")
	require.NoError(t, err)
	require.Equal(t, 1, n)
	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP kizashi_webhook_config_last_reload_successful 1 if the last configuration reload succeeded.
# TYPE kizashi_webhook_config_last_reload_successful gauge
kizashi_webhook_config_last_reload_successful 1
`), "kizashi_webhook_config_last_reload_successful"), "the reload finished")
}

// TestLifecycleAnswers: the webhook answers /-/healthy and /-/ready as the exporter does
// (Prometheus' texts) and publishes its build_info.
func TestLifecycleAnswers(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	w := runWebhook(t, l, configYAML("storage: {driver: sqlite, path: "+filepath.Join(t.TempDir(), "k.db")+"}\n"))
	require.Eventually(t, func() bool { return send(t, http.MethodGet, w.URL+"/-/ready", nil, "", nil).code == 200 }, time.Minute, 20*time.Millisecond)
	require.Equal(t, "Ready.\n", send(t, http.MethodGet, w.URL+"/-/ready", nil, "", nil).body)
	require.Equal(t, "Healthy.\n", send(t, http.MethodGet, w.URL+"/-/healthy", nil, "", nil).body)
	metrics := send(t, http.MethodGet, w.URL+"/metrics", nil, "", nil).body
	require.Contains(t, metrics, "kizashi_webhook_build_info{")
	require.Contains(t, metrics, "kizashi_webhook_config_last_reload_success_timestamp_seconds ")
}
