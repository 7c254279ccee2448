package app_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kizashi-dev/kizashi/webhook/bench"
)

// TestStalledUploadIsRetried sends half a notification and then nothing: the
// server's read timeout (limits.read_timeout, short here) ends the wait, and
// the answer is 503, which Alertmanager retries, not 400, which it drops.
func TestStalledUploadIsRetried(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	storage := "storage:\n  driver: sqlite\n  path: " + filepath.Join(t.TempDir(), "kizashi.db") + "\n"
	w := runWebhook(t, l, configYAML(storage)+"limits:\n  read_timeout: 300ms\n")
	body := bench.Payload(0, 1, 10, false)
	conn, err := net.Dial("tcp", strings.TrimPrefix(w.URL, "http://"))
	require.NoError(t, err)
	defer func() { require.NoError(t, conn.Close()) }()
	_, err = fmt.Fprintf(conn, "POST /api/v1/alerts HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
		tokAcme, len(body), body[:len(body)/2])
	require.NoError(t, err)
	// The rest of the body never comes; the answer must come from the server's deadline.
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(time.Minute)))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	require.NotEmpty(t, resp.Header.Get("Retry-After"))
	require.Empty(t, w.incidents(t, apiAcme))
}

// storage is a store the tests run against: its configuration section.
type storage struct {
	name    string
	storage func(t *testing.T) string
}

// storages are the stores the tests that take any run against: SQLite, and PostgreSQL in the
// e2e suite (storages_e2e_test.go).
var storages = []storage{
	{"sqlite", func(t *testing.T) string {
		return "storage:\n  driver: sqlite\n  path: " + filepath.Join(t.TempDir(), "kizashi.db") + "\n"
	}},
}

// TestQuotasHoldBackWithRetry fills each quota of a tenant: the next
// notification is answered 503 with Retry-After (Alertmanager retries, never
// drops it), another tenant is not held, and nothing held is stored.
func TestQuotasHoldBackWithRetry(t *testing.T) {
	for _, st := range storages {
		t.Run(st.name, func(t *testing.T) {
			l, err := net.Listen("tcp", "127.0.0.1:0")
			require.NoError(t, err)
			// Rates so slow that nothing refills while the test runs.
			w := runWebhook(t, l, st.storage(t)+`
tenants:
  - name: acme
    tokens: ["`+tokAcme+`"]
    api_tokens: [{name: acme, role: act, tokens: ["`+apiAcme+`"]}]
    limits: {notifications_per_second: 0.0001, notifications_burst: 2}
  - name: globex
    tokens: ["`+tokGlobex+`"]
    api_tokens: [{name: globex, role: act, tokens: ["`+apiGlobex+`"]}]
    limits: {bytes_per_second: 1, bytes_burst: 1000}
`)
			post := func(token string, seq uint64) *http.Response {
				req, err := http.NewRequest(http.MethodPost, w.URL+"/api/v1/alerts", bytes.NewReader(bench.Payload(seq, 100, 3, false)))
				require.NoError(t, err)
				req.Header.Set("Authorization", "Bearer "+token)
				resp, err := http.DefaultClient.Do(req)
				require.NoError(t, err)
				require.NoError(t, resp.Body.Close())
				return resp
			}
			require.Equal(t, 200, post(tokAcme, 0).StatusCode)
			require.Equal(t, 200, post(tokAcme, 1).StatusCode)
			held := post(tokAcme, 2)
			require.Equal(t, http.StatusServiceUnavailable, held.StatusCode, "acme's notification quota is spent")
			ra, err := strconv.Atoi(held.Header.Get("Retry-After"))
			require.NoError(t, err)
			require.Greater(t, ra, 3600, "one notification per 10,000 s")

			// globex's first body is larger than its burst: it passes, and leaves a debt.
			require.Equal(t, 200, post(tokGlobex, 0).StatusCode)
			held = post(tokGlobex, 1)
			require.Equal(t, http.StatusServiceUnavailable, held.StatusCode, "globex's byte quota is spent")
			require.NotEmpty(t, held.Header.Get("Retry-After"))

			require.Len(t, w.incidents(t, apiAcme), 2, "held notifications are not stored")
			require.Len(t, w.incidents(t, apiGlobex), 1)
			resp, err := http.Get(w.URL + "/metrics")
			require.NoError(t, err)
			b, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			require.NoError(t, resp.Body.Close())
			require.Contains(t, string(b), `kizashi_webhook_ingest_held_total{reason="notifications_quota",tenant="acme"} 1`)
			require.Contains(t, string(b), `kizashi_webhook_ingest_held_total{reason="bytes_quota",tenant="globex"} 1`)
		})
	}
}
