package app_test

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
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
	require.Empty(t, w.incidents(t, tokAcme))
}
