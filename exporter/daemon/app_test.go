package daemon_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kizashi-dev/kizashi/exporter/daemon"
)

// running is an exporter started in-process by start.
type running struct {
	url  string
	stop func()
}

func start(t *testing.T, opts daemon.Options) *running {
	t.Helper()
	return startAt(t, "127.0.0.1:0", opts)
}

func startAt(t *testing.T, addr string, opts daemon.Options) *running {
	t.Helper()
	l, err := net.Listen("tcp", addr)
	require.NoError(t, err)
	opts.Listener = l
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- daemon.Run(ctx, opts) }()
	r := &running{url: "http://" + l.Addr().String()}
	stopped := false
	r.stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			require.NoError(t, err)
		case <-time.After(patience):
			t.Fatal("exporter did not stop")
		}
	}
	t.Cleanup(r.stop)
	return r
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer func() { require.NoError(t, resp.Body.Close()) }()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

func post(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Post(url, "text/plain", nil)
	require.NoError(t, err)
	defer func() { require.NoError(t, resp.Body.Close()) }()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

const configTmpl = `source:
  url: http://127.0.0.1:1
queries:
  - name: load
    expr: node_load1
    step: 1s
    training_window: 10m
    warm_up: 2m
    daily: off
    weekly: off
    horizons: [30s, 2m]
    thresholds: [12.1]
    sensitivity: %g
    publish: [all]
`

func writeConfig(t *testing.T, path, text string) {
	t.Helper()
	require.NoError(t, os.WriteFile(path, []byte(text), 0o600))
}

// patience bounds every wait of these tests: far longer than anything takes on a loaded
// machine, it only decides how long a failing test takes to fail.
const patience = 2 * time.Minute

// waitFor polls ok until it holds; it fails the test after timeout.
func waitFor(t *testing.T, what string, timeout time.Duration, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestCheckConfig(t *testing.T) {
	require.NoError(t, daemon.CheckConfig("../queryconfig/testdata/good.yml"))
	require.ErrorContains(t, daemon.CheckConfig("../queryconfig/testdata/unknown_key.yml"), `line 6: query "q": field stepp not found`)
	require.ErrorContains(t, daemon.CheckConfig("../queryconfig/testdata/bad_promql.yml"), `line 5: query "q": expr: 1:16: parse error`)
}
