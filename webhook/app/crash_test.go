package app_test

import (
	"context"
	"database/sql"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	_ "modernc.org/sqlite"

	"github.com/kizashi-dev/kizashi/internal/testenv"
	"github.com/kizashi-dev/kizashi/webhook/alertmsg"
	"github.com/kizashi-dev/kizashi/webhook/bench"
)

func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "kizashi-webhook")
	gobin, err := exec.LookPath("go")
	require.NoError(t, err, "the crash test builds the real binary with the go command")
	out, err := exec.Command(gobin, "build", "-o", bin, "github.com/kizashi-dev/kizashi/webhook/cmd/kizashi-webhook").CombinedOutput()
	require.NoError(t, err, "go build: %s", out)
	return bin
}

type server struct {
	cmd *exec.Cmd
	log *os.File
}

func startServer(t *testing.T, bin, cfg, addr string, logPath string) *server {
	t.Helper()
	lf, err := os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	require.NoError(t, err)
	cmd := exec.Command(bin, "--config.file", cfg, "--web.listen-address", addr)
	cmd.Stdout, cmd.Stderr = lf, lf
	require.NoError(t, cmd.Start())
	s := &server{cmd: cmd, log: lf}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
		_ = lf.Close()
	})
	require.Eventually(t, func() bool {
		resp, err := http.Get("http://" + addr + "/-/ready")
		if err != nil {
			return false
		}
		_ = resp.Body.Close()
		return resp.StatusCode == 200
	}, time.Minute, 20*time.Millisecond)
	return s
}

// TestCrashSafety kills the webhook with SIGKILL while a load generator
// sends notifications, restarts it, and checks that every notification that
// got a 2xx is stored and applied exactly once.
func TestCrashSafety(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and crashes the binary")
	}
	bin := buildBinary(t)
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "kizashi.db")
	cfg := filepath.Join(dir, "cfg.yml")
	require.NoError(t, os.WriteFile(cfg, []byte(configYAML("storage:\n  driver: sqlite\n  path: "+dbPath+"\n")), 0o600))
	addr := testenv.FreeAddr(t)
	logPath := filepath.Join(dir, "server.log")
	srv := startServer(t, bin, cfg, addr, logPath)

	const groups = 50
	type result struct {
		res bench.Result
		err error
	}
	done := make(chan result, 1)
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	go func() {
		res, err := bench.Run(ctx, bench.Options{URL: "http://" + addr + "/api/v1/alerts", Token: tokAcme,
			Duration: 10 * time.Minute, Concurrency: 16, Alerts: 10, Groups: groups,
			Client: &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: false}}})
		done <- result{res, err}
	}()
	// The load runs until stopped: the server is killed while notifications are being
	// accepted, and the load stops once the restarted server accepts them again.
	accepted := func() float64 {
		return metric(t, "http://"+addr, `kizashi_webhook_notifications_total{result="accepted"}`)
	}
	require.Eventually(t, func() bool { return accepted() >= 100 }, time.Minute, 20*time.Millisecond, "load accepted")
	require.NoError(t, srv.cmd.Process.Signal(syscall.SIGKILL))
	err := srv.cmd.Wait()
	var ee *exec.ExitError
	require.True(t, errors.As(err, &ee), "killed: %v", err)
	srv = startServer(t, bin, cfg, addr, logPath)
	require.Eventually(t, func() bool { return accepted() >= 100 }, time.Minute, 20*time.Millisecond, "load accepted after the restart")
	stop()
	r := <-done
	require.NoError(t, r.err)
	t.Logf("load: %s", r.res)
	require.Positive(t, r.res.Failed, "some requests hit the dead server")
	require.NoError(t, srv.cmd.Process.Signal(syscall.SIGTERM))
	require.NoError(t, srv.cmd.Wait())

	db, err := sql.Open("sqlite", "file:"+dbPath+"?mode=ro")
	require.NoError(t, err)
	defer func() { require.NoError(t, db.Close()) }()
	stored := map[string]bool{}
	rows, err := db.Query(`SELECT key FROM notifications`)
	require.NoError(t, err)
	for rows.Next() {
		var k string
		require.NoError(t, rows.Scan(&k))
		stored[k] = true
	}
	require.NoError(t, rows.Err())
	require.NoError(t, rows.Close())
	for _, seq := range r.res.Acked {
		m, err := alertmsg.Parse(bench.Payload(seq, groups, 10, false))
		require.NoError(t, err)
		require.True(t, stored[m.IdempotencyKey("acme")], "acknowledged notification %d is stored", seq)
	}
	require.GreaterOrEqual(t, len(stored), len(r.res.Acked))
	require.LessOrEqual(t, len(stored), r.res.Sent)
	// Each stored notification changed its incident once: one journal line
	// per notification, never two.
	var journal int
	require.NoError(t, db.QueryRow(`SELECT COUNT(*) FROM journal WHERE kind = 'notification'`).Scan(&journal))
	require.Equal(t, len(stored), journal)
	var open, dupKeys int
	require.NoError(t, db.QueryRow(`SELECT COUNT(*) FROM incidents WHERE state NOT IN ('closed','canceled')`).Scan(&open))
	require.Equal(t, groups, open)
	require.NoError(t, db.QueryRow(`SELECT COUNT(*) FROM (SELECT correlation_key FROM incidents GROUP BY correlation_key HAVING COUNT(*) > 1)`).Scan(&dupKeys))
	require.Zero(t, dupKeys)
}
