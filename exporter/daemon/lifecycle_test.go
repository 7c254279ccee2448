package daemon_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/exporter-toolkit/web"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/kizashi-dev/kizashi/exporter/daemon"
	"github.com/kizashi-dev/kizashi/exporter/internal/fakesource"
)

// request sends method to url with the given headers (and basic auth if user is set).
func request(t *testing.T, method, url string, header map[string]string, user, pass string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	require.NoError(t, err)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer func() { require.NoError(t, resp.Body.Close()) }()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

// syncBuffer is a log destination tests read while the exporter writes to it.
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

// TestReloadEndpoint: POST /-/reload is off unless EnableLifecycle (--web.enable-lifecycle),
// sits behind the web configuration's basic auth, refuses requests a browser sends from
// another site, and its errors show neither secrets nor the file.
func TestReloadEndpoint(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "kizashi.yml")
	writeConfig(t, cfgPath, fmt.Sprintf(configTmpl, 0.5))
	src := fakesource.New(fakesource.Many("node_load1", 1), func(int, time.Time) float64 { return 1 })

	t.Run("disabled", func(t *testing.T) {
		ex := start(t, daemon.Options{ConfigFile: cfgPath, Source: src})
		code, body := post(t, ex.url+"/-/reload")
		require.Equal(t, http.StatusForbidden, code)
		require.Equal(t, "Lifecycle API is not enabled.\n", body)
		code, _ = request(t, http.MethodGet, ex.url+"/-/reload", nil, "", "")
		require.Equal(t, http.StatusMethodNotAllowed, code)
	})

	hash, err := bcrypt.GenerateFromPassword([]byte("s3cret"), bcrypt.MinCost)
	require.NoError(t, err)
	webPath := filepath.Join(dir, "web.yml")
	writeConfig(t, webPath, "basic_auth_users:\n  prom: "+string(hash)+"\n")
	var logs syncBuffer
	ex := start(t, daemon.Options{ConfigFile: cfgPath, Source: src, EnableLifecycle: true,
		Web:    &web.FlagConfig{WebConfigFile: &webPath, WebListenAddresses: &[]string{}},
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	reload := func(header map[string]string, user, pass string) (int, string) {
		return request(t, http.MethodPost, ex.url+"/-/reload", header, user, pass)
	}

	code, _ := reload(nil, "", "")
	require.Equal(t, http.StatusUnauthorized, code, "behind basic auth")
	code, _ = reload(nil, "prom", "wrong")
	require.Equal(t, http.StatusUnauthorized, code)
	code, body := reload(nil, "prom", "s3cret")
	require.Equal(t, http.StatusOK, code, body)
	code, body = reload(map[string]string{"Origin": ex.url, "Sec-Fetch-Site": "same-origin"}, "prom", "s3cret")
	require.Equal(t, http.StatusOK, code, "the exporter's own page: %s", body)

	// Cross-site: a page elsewhere makes the operator's browser (with its credentials) post.
	for _, h := range []map[string]string{
		{"Sec-Fetch-Site": "cross-site"},
		{"Sec-Fetch-Site": "same-site"},
		{"Origin": "http://evil.example"},
	} {
		code, _ := reload(h, "prom", "s3cret")
		require.Equal(t, http.StatusForbidden, code, "%v", h)
	}

	// Errors name the line and key, never the password nor the file's content.
	for _, bad := range []string{
		"source:\n  url: ftp://kizashi:hunter2-s3cr3t@prometheus:9090\nqueries:\n  - {name: q, expr: up}\n",
		"source:\n  url: \"http://kizashi:hunter2-s3cr3t@prometheus :9090\"\nqueries:\n  - {name: q, expr: up}\n",
		"source:\n  url: http://127.0.0.1:1\n  basic_auth: {username: kizashi, password: hunter2-s3cr3t}\n  query_timeout: hunter2-s3cr3t\nqueries:\n  - {name: q, expr: up}\n",
		"source:\n  url: http://127.0.0.1:1\n  max_samples_per_query: hunter2-s3cr3t\nqueries:\n  - {name: q, expr: up}\n",
		"hunter2-s3cr3t\n",
		"source:\n  url: http://127.0.0.1:1\n  basic_auth: {username: kizashi, password: hunter2-s3cr3t}\nqueries:\n  - name: q\n    expr: \"up\n",
	} {
		writeConfig(t, cfgPath, bad)
		code, body := reload(nil, "prom", "s3cret")
		require.Equal(t, http.StatusInternalServerError, code)
		require.Contains(t, body, "failed to reload config: parse config "+cfgPath+": ")
		require.Contains(t, body, "line ")
		for _, secret := range []string{"hunter2", "s3cr3t"} {
			require.NotContains(t, body, secret)
			require.NotContains(t, logs.String(), secret)
		}
	}
}

// exprSource fails the queries of the expressions in broken, and answers the others as Source.
type exprSource struct {
	*fakesource.Source
	broken map[string]bool
}

var errBroken = errors.New("bad_data: parse error: unexpected identifier")

func (s exprSource) Query(ctx context.Context, expr string, t time.Time) (model.Vector, error) {
	if s.broken[expr] {
		return nil, errBroken
	}
	return s.Source.Query(ctx, expr, t)
}

func (s exprSource) QueryRange(ctx context.Context, expr string, start, end time.Time, step time.Duration) (model.Matrix, error) {
	if s.broken[expr] {
		return nil, errBroken
	}
	return s.Source.QueryRange(ctx, expr, start, end, step)
}

// TestOneBrokenQuery: a query that keeps failing does not keep the exporter unready (it is
// reported, per query, on /-/ready, the page and in metrics), and its source_up does not
// say the source is down for the others.
func TestOneBrokenQuery(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "kizashi.yml")
	writeConfig(t, cfgPath, `source:
  url: http://127.0.0.1:1
queries:
  - name: good
    expr: node_load1
    step: 1s
    training_window: 1m
    publish: [all]
  - name: broken
    expr: node_load1 * 2
    step: 1s
    training_window: 1m
`)
	src := exprSource{fakesource.New(fakesource.Many("node_load1", 2), func(i int, _ time.Time) float64 { return float64(i) }),
		map[string]bool{"node_load1 * 2": true}}
	ex := start(t, daemon.Options{ConfigFile: cfgPath, Source: src})
	var body string
	waitFor(t, "ready", patience, func() bool {
		var code int
		code, body = get(t, ex.url+"/-/ready")
		return code == http.StatusOK
	})
	require.True(t, strings.HasPrefix(body, "Ready.\nbroken: failing (backfilling, "), body)
	require.True(t, strings.HasSuffix(body, " queries to the source failed in a row): bad_data: parse error: unexpected identifier\ngood: ready\n"), body)
	_, metrics := get(t, ex.url+"/metrics")
	for _, want := range []string{
		`kizashi_exporter_source_up{query="good"} 1`, `kizashi_exporter_source_up{query="broken"} 0`,
		`kizashi_exporter_query_ready{query="good"} 1`, `kizashi_exporter_query_ready{query="broken"} 0`,
		`kizashi_exporter_query_errors_total{kind="instant",query="broken",reason="error"} `,
	} {
		require.Contains(t, metrics, want)
	}
	require.Equal(t, 2, strings.Count(metrics, `kizashi_baseline{`))
	_, page := get(t, ex.url+"/")
	require.Contains(t, page, `class="failing">Failing: `)
	require.Contains(t, page, "bad_data: parse error: unexpected identifier")
}

// TestServerTimeouts: a client that never finishes its request header, or leaves a
// keep-alive connection idle, is disconnected.
func TestServerTimeouts(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "kizashi.yml")
	writeConfig(t, cfgPath, fmt.Sprintf(configTmpl, 0.5))
	src := fakesource.New(fakesource.Many("node_load1", 1), func(int, time.Time) float64 { return 1 })
	ex := start(t, daemon.Options{ConfigFile: cfgPath, Source: src,
		Timeouts: daemon.Timeouts{ReadHeader: 200 * time.Millisecond, Idle: 200 * time.Millisecond}})
	addr := strings.TrimPrefix(ex.url, "http://")

	closed := func(c net.Conn, r *bufio.Reader) {
		t.Helper()
		require.NoError(t, c.SetReadDeadline(time.Now().Add(patience)))
		_, err := r.ReadByte()
		require.ErrorIs(t, err, io.EOF, "the server closes the connection")
	}
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer c.Close()
	_, err = c.Write([]byte("GET /-/healthy HTTP/1.1\r\nHost: x\r\n"))
	require.NoError(t, err)
	closed(c, bufio.NewReader(c))

	c2, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer c2.Close()
	_, err = c2.Write([]byte("GET /-/healthy HTTP/1.1\r\nHost: x\r\n\r\n"))
	require.NoError(t, err)
	r := bufio.NewReader(c2)
	resp, err := http.ReadResponse(r, nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	_, err = io.Copy(io.Discard, resp.Body)
	require.NoError(t, err)
	closed(c2, r)
}

// TestSnapshotMetrics: the time of the last snapshot written is published, and failures to
// write one (a full or read-only disk) are counted.
func TestSnapshotMetrics(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "kizashi.yml")
	writeConfig(t, cfgPath, fmt.Sprintf(configTmpl, 0.5))
	src := fakesource.New(fakesource.Many("node_load1", 1), func(int, time.Time) float64 { return 1 })

	good := start(t, daemon.Options{ConfigFile: cfgPath, Source: src, DataDir: filepath.Join(dir, "data"),
		SnapshotInterval: 10 * time.Millisecond})
	waitFor(t, "a snapshot", patience, func() bool {
		_, m := get(t, good.url+"/metrics")
		return strings.Contains(m, `kizashi_exporter_last_snapshot_success_timestamp_seconds{query="load"} `)
	})
	good.stop()

	// The data directory's place is taken by a file: nothing can be written.
	blocked := filepath.Join(dir, "blocked")
	require.NoError(t, os.WriteFile(blocked, nil, 0o600))
	bad := start(t, daemon.Options{ConfigFile: cfgPath, Source: src, DataDir: blocked, SnapshotInterval: 10 * time.Millisecond})
	waitFor(t, "failed snapshots", patience, func() bool {
		_, m := get(t, bad.url+"/metrics")
		return strings.Contains(m, `kizashi_exporter_snapshot_failures_total{query="load"} `) &&
			!strings.Contains(m, `kizashi_exporter_snapshot_failures_total{query="load"} 0`)
	})
	_, m := get(t, bad.url+"/metrics")
	require.NotContains(t, m, "kizashi_exporter_last_snapshot_success_timestamp_seconds{")
}

// TestReloadOnHangup: each value on Options.Hangup (main hands SIGHUP over) reloads the
// configuration; a bad file sets the reload gauge to 0 and keeps the running queries.
func TestReloadOnHangup(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "kizashi.yml")
	writeConfig(t, cfgPath, fmt.Sprintf(configTmpl, 0.5))
	src := fakesource.New(fakesource.Many("node_load1", 1), func(int, time.Time) float64 { return 1 })
	hangup := make(chan os.Signal)
	ex := start(t, daemon.Options{ConfigFile: cfgPath, Source: src, Hangup: hangup})
	readyLines := func() string { _, body := get(t, ex.url+"/-/ready"); return body }
	require.Contains(t, readyLines(), "load: ")

	writeConfig(t, cfgPath, strings.Replace(fmt.Sprintf(configTmpl, 0.5), "name: load", "name: load2", 1))
	hangup <- syscall.SIGHUP
	waitFor(t, "the renamed query", patience, func() bool { return strings.Contains(readyLines(), "load2: ") })

	writeConfig(t, cfgPath, "queries: [\n")
	hangup <- syscall.SIGHUP
	waitFor(t, "the failed reload", patience, func() bool {
		_, m := get(t, ex.url+"/metrics")
		return strings.Contains(m, "\nkizashi_exporter_config_last_reload_successful 0\n")
	})
	require.Contains(t, readyLines(), "load2: ", "a bad file changes nothing")
}
