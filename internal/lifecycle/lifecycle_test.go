package lifecycle_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/kizashi-dev/kizashi/internal/lifecycle"
)

func gauge(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}

// TestCoordinator: each load goes to the subscribers in order; a load that fails, or that a
// subscriber refuses, sets the gauge to 0 and stops before the later subscribers.
func TestCoordinator(t *testing.T) {
	reg := prometheus.NewRegistry()
	next, loadErr := 1, error(nil)
	c := lifecycle.NewCoordinator(reg, "kizashi_test", nil, func() (int, error) { return next, loadErr })
	var got []int
	refuse := false
	c.Subscribe(func(v int) error {
		if refuse {
			return errors.New("refused")
		}
		got = append(got, v)
		return nil
	}, func(v int) error { got = append(got, -v); return nil })

	require.NoError(t, c.Load())
	require.Equal(t, []int{1, -1}, got)
	require.Equal(t, 1.0, gauge(t, reg, "kizashi_test_config_last_reload_successful"))
	first := gauge(t, reg, "kizashi_test_config_last_reload_success_timestamp_seconds")
	require.Positive(t, first)

	next, loadErr = 2, errors.New("bad file")
	require.ErrorContains(t, c.Reload(), "bad file")
	require.Equal(t, []int{1, -1}, got, "a configuration that fails to load reaches nobody")
	require.Equal(t, 0.0, gauge(t, reg, "kizashi_test_config_last_reload_successful"))
	require.Equal(t, first, gauge(t, reg, "kizashi_test_config_last_reload_success_timestamp_seconds"))

	loadErr, refuse = nil, true
	require.ErrorContains(t, c.Reload(), "refused")
	require.Equal(t, []int{1, -1}, got, "the subscribers after one that refused do not see it")
	require.Equal(t, 0.0, gauge(t, reg, "kizashi_test_config_last_reload_successful"))

	refuse, next = false, 3
	require.NoError(t, c.Reload())
	require.Equal(t, []int{1, -1, 3, -3}, got)
	require.Equal(t, 1.0, gauge(t, reg, "kizashi_test_config_last_reload_successful"))
}

func TestBuildInfo(t *testing.T) {
	reg := prometheus.NewRegistry()
	lifecycle.RegisterBuildInfo(reg, "kizashi_test")
	n, err := testutil.GatherAndCount(reg, "kizashi_test_build_info")
	require.NoError(t, err)
	require.Equal(t, 1, n)
}

func serve(t *testing.T, h http.Handler, method, target string, header map[string]string) (int, string, http.Header) {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	b, err := io.ReadAll(w.Result().Body)
	require.NoError(t, err)
	return w.Code, string(b), w.Result().Header
}

// TestReloadHandler: Prometheus' answers; off unless enabled; cross-site requests refused;
// errors shown only when the daemon says they may be.
func TestReloadHandler(t *testing.T) {
	reg := prometheus.NewRegistry()
	var fail atomic.Bool
	loads := 0
	c := lifecycle.NewCoordinator(reg, "kizashi_test", nil, func() (string, error) {
		loads++
		if fail.Load() {
			return "", errors.New("line 3: field stepp not found")
		}
		return "ok", nil
	})
	const url = "http://127.0.0.1:9/-/reload"

	code, body, _ := serve(t, c.ReloadHandler(false, true), http.MethodPost, url, nil)
	require.Equal(t, http.StatusForbidden, code)
	require.Equal(t, "Lifecycle API is not enabled.\n", body)
	require.Zero(t, loads)

	on := c.ReloadHandler(true, true)
	code, body, h := serve(t, on, http.MethodGet, url, nil)
	require.Equal(t, http.StatusMethodNotAllowed, code)
	require.Equal(t, "POST, PUT", h.Get("Allow"))
	require.Equal(t, "Only POST or PUT requests allowed.\n", body)
	for _, m := range []string{http.MethodPost, http.MethodPut} {
		code, body, _ = serve(t, on, m, url, nil)
		require.Equal(t, http.StatusOK, code)
		require.Equal(t, "Reloaded.\n", body)
	}
	require.Equal(t, 2, loads)
	for _, hdr := range []map[string]string{{"Sec-Fetch-Site": "cross-site"}, {"Origin": "http://evil.example"}} {
		code, _, _ = serve(t, on, http.MethodPost, url, hdr)
		require.Equal(t, http.StatusForbidden, code, "%v", hdr)
	}
	require.Equal(t, 2, loads, "a refused request does not reload")

	fail.Store(true)
	code, body, _ = serve(t, on, http.MethodPost, url, nil)
	require.Equal(t, http.StatusInternalServerError, code)
	require.Equal(t, "failed to reload config: line 3: field stepp not found\n", body)
	code, body, _ = serve(t, c.ReloadHandler(true, false), http.MethodPost, url, nil)
	require.Equal(t, http.StatusInternalServerError, code)
	require.NotContains(t, body, "stepp")
	require.Equal(t, 0.0, gauge(t, reg, "kizashi_test_config_last_reload_successful"))
}

func TestHealthyAndReady(t *testing.T) {
	code, body, h := serve(t, lifecycle.Healthy(), http.MethodGet, "/-/healthy", nil)
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "Healthy.\n", body)
	require.Equal(t, "text/plain; charset=utf-8", h.Get("Content-Type"))

	var state lifecycle.Readiness
	ready := lifecycle.Ready(func(context.Context) lifecycle.Readiness { return state })
	state = lifecycle.Readiness{Reason: "backfilling", Lines: []string{"q: backfilling"}}
	code, body, _ = serve(t, ready, http.MethodGet, "/-/ready", nil)
	require.Equal(t, http.StatusServiceUnavailable, code)
	require.Equal(t, "Not ready: backfilling.\nq: backfilling\n", body)
	state = lifecycle.Readiness{Ready: true, Lines: []string{"q: ready"}}
	code, body, _ = serve(t, ready, http.MethodGet, "/-/ready", nil)
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "Ready.\nq: ready\n", body)
}

// TestStopJoinsAReloadInProgress: a reload that SIGHUP started is finished before Stop
// returns (the daemon closes its store after Stop).
func TestStopJoinsAReloadInProgress(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	var finished atomic.Bool
	calls := 0
	c := lifecycle.NewCoordinator(prometheus.NewRegistry(), "kizashi_test", nil, func() (int, error) {
		calls++
		if calls > 1 { // the reload, not the first load
			close(entered)
			<-release
			finished.Store(true)
		}
		return calls, nil
	})
	require.NoError(t, c.Load())
	g := lifecycle.NewGroup(context.Background())
	hup := make(chan os.Signal, 1)
	g.Go(func(ctx context.Context) { c.Watch(ctx, hup) })
	hup <- syscall.SIGHUP
	<-entered
	stopped := make(chan struct{})
	go func() { g.Stop(); close(stopped) }()
	select {
	case <-stopped:
		t.Fatal("Stop returned while a reload was in progress")
	case <-time.After(200 * time.Millisecond): // a Stop that does not wait returns at once
	}
	close(release)
	<-stopped
	require.True(t, finished.Load())
}

// TestEvery: fn runs each interval, read again before each wait.
func TestEvery(t *testing.T) {
	g := lifecycle.NewGroup(context.Background())
	var runs atomic.Int64
	var intervals atomic.Int64
	three := make(chan struct{})
	g.Every(func() time.Duration { intervals.Add(1); return time.Millisecond }, func(context.Context) {
		if runs.Add(1) == 3 {
			close(three)
		}
	})
	<-three
	g.Stop()
	require.GreaterOrEqual(t, intervals.Load(), runs.Load(), "the interval is read before each run")
}
