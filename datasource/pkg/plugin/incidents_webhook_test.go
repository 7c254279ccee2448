package plugin

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/kizashi-dev/kizashi/webhook/app"
	"github.com/kizashi-dev/kizashi/webhook/testkit"
)

// TestIncidentsFromRealWebhook runs the `incidents` query against kizashi-webhook itself
// (in-process, SQLite): the API contract, the active-in-range filter and the paging.
func TestIncidentsFromRealWebhook(t *testing.T) {
	// token is Alertmanager's (it posts the alerts); readToken the tenant's API token of role
	// read, what the data source is configured with.
	const token = "acme-token-0123456789abcdef"
	const readToken = "acme-grafana-0123456789abcdef"
	dir := t.TempDir()
	cfg := filepath.Join(dir, "kizashi-webhook.yml")
	require.NoError(t, os.WriteFile(cfg, []byte(`storage:
  driver: sqlite
  path: `+filepath.Join(dir, "kizashi.db")+`
tenants:
  - name: acme
    tokens: ["`+token+`"]
    api_tokens: [{name: grafana, role: read, tokens: ["`+readToken+`"]}]
`), 0o600))
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- app.Run(ctx, app.Options{ConfigFile: cfg, Listener: l, Registry: prometheus.NewRegistry(),
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	}()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
	hook := "http://" + l.Addr().String()
	require.Eventually(t, func() bool {
		resp, err := http.Get(hook + "/-/ready")
		if err != nil {
			return false
		}
		_ = resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 10*time.Second, 20*time.Millisecond)

	post := func(body []byte) {
		req, err := http.NewRequest(http.MethodPost, hook+"/api/v1/alerts", bytes.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		require.NoError(t, resp.Body.Close())
		require.Equal(t, http.StatusOK, resp.StatusCode)
	}
	// More incidents than one page of the webhook's API (500), one of them resolved.
	const n = 520
	start := time.Now().Add(-time.Minute)
	for i := range n {
		alert := map[string]string{"alertname": fmt.Sprint("Load", i), "instance": "a", "severity": "warning"}
		post(testkit.Payload("acme", fmt.Sprint("{}:g", i), "firing", start, alert))
	}
	post(testkit.Payload("acme", "{}:g0", "resolved", start, map[string]string{"alertname": "Load0", "instance": "a", "severity": "warning"}))

	prom := newFakeProm(t)
	// Alertmanager's token only posts alerts: the data source says which credential it needs.
	am := newTestDatasource(t, settingsFor(prom.URL, map[string]any{"webhookUrl": hook}, map[string]string{"webhookToken": token}))
	resp, err := am.QueryData(t.Context(), &backend.QueryDataRequest{Queries: []backend.DataQuery{
		{RefID: "I", QueryType: "incidents", TimeRange: backend.TimeRange{From: time.Now().Add(-time.Hour), To: time.Now()}, JSON: []byte(`{}`)},
	}})
	require.NoError(t, err)
	require.Error(t, resp.Responses["I"].Error)
	require.Contains(t, resp.Responses["I"].Error.Error(), "403")
	require.Contains(t, resp.Responses["I"].Error.Error(), "api_tokens")

	d := newTestDatasource(t, settingsFor(prom.URL, map[string]any{"webhookUrl": hook}, map[string]string{"webhookToken": readToken}))
	query := func(from, to time.Time) backend.DataResponse {
		resp, err := d.QueryData(t.Context(), &backend.QueryDataRequest{Queries: []backend.DataQuery{
			{RefID: "I", QueryType: "incidents", TimeRange: backend.TimeRange{From: from, To: to}, JSON: []byte(`{}`)},
		}})
		require.NoError(t, err)
		return resp.Responses["I"]
	}
	now := time.Now()
	d.now = func() time.Time { return now }
	r := query(now.Add(-time.Hour), now)
	require.NoError(t, r.Error)
	require.Equal(t, n, r.Frames[0].Rows(), "every incident of the range, across pages")

	// An hour from now only the incidents still open are active.
	d.now = func() time.Time { return now.Add(2 * time.Hour) }
	r = query(now.Add(time.Hour), now.Add(2*time.Hour))
	require.NoError(t, r.Error)
	require.Equal(t, n-1, r.Frames[0].Rows(), "the resolved incident is not active later")

	// Before any of them existed there is nothing.
	d.now = func() time.Time { return now.Add(-2 * time.Hour) }
	r = query(now.Add(-3*time.Hour), now.Add(-2*time.Hour))
	require.NoError(t, r.Error)
	require.Equal(t, 0, r.Frames[0].Rows())
}
