package app_test

import (
	"context"
	"encoding/json"
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

	"github.com/kizashi-dev/kizashi/internal/testenv"
	"github.com/kizashi-dev/kizashi/webhook/apitypes"
)

func TestMain(m *testing.M) { testenv.Main(m) }

const (
	tokAcme   = "acme-token-0123456789abcdef"
	tokGlobex = "globex-token-0123456789abcdef"
	tokNOC    = "noc-token-0123456789abcdef"
	// apiAcme and apiGlobex are the tenants' API tokens (role act, named as the tenant): the
	// REST API's and the page's credentials; tokAcme and tokGlobex (Alertmanager's) only post
	// alerts.
	apiAcme   = "acme-api-token-0123456789abcdef"
	apiGlobex = "globex-api-token-0123456789abcdef"
)

func configYAML(storage string) string {
	return storage + `
sweep:
  interval: 1s
tenants:
  - name: acme
    tokens: ["` + tokAcme + `"]
    api_tokens: [{name: acme, role: act, tokens: ["` + apiAcme + `"]}]
    routes:
      - receiver: acme.per-alert
        correlate_by: fingerprint
  - name: globex
    tokens: ["` + tokGlobex + `"]
    api_tokens: [{name: globex, role: act, tokens: ["` + apiGlobex + `"]}]
operators:
  - name: noc
    tokens: ["` + tokNOC + `"]
`
}

type webhook struct {
	URL    string
	cancel context.CancelFunc
	done   chan error
	config string // the configuration file
}

// startWebhook runs the whole program in-process on a free port, with the test tenants and
// the given storage section (SQLite in a temporary directory when empty).
func startWebhook(t testing.TB, storage string) *webhook {
	t.Helper()
	if storage == "" {
		storage = "storage:\n  driver: sqlite\n  path: " + filepath.Join(t.TempDir(), "kizashi.db") + "\n"
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	return runWebhook(t, l, configYAML(storage))
}

func (w *webhook) get(t testing.TB, token, path string, out any) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, w.URL+path, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer func() { require.NoError(t, resp.Body.Close()) }()
	if out != nil && resp.StatusCode == 200 {
		require.NoError(t, json.NewDecoder(resp.Body).Decode(out))
	}
	return resp.StatusCode
}

func (w *webhook) incidents(t testing.TB, token string) []apitypes.Incident {
	var lr apitypes.ListResponse
	require.Equal(t, 200, w.get(t, token, "/api/v1/incidents", &lr))
	return lr.Incidents
}

func amConfig(url, receiver, token string, repeat time.Duration) string {
	return fmt.Sprintf(`route:
  receiver: %q
  group_by: [alertname]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: %s
receivers:
  - name: %q
    webhook_configs:
      - url: %q
        send_resolved: true
        http_config:
          authorization:
            credentials: %q
`, receiver, model(repeat), receiver, url+"/api/v1/alerts", token)
}

func model(d time.Duration) string { return fmt.Sprintf("%dms", d.Milliseconds()) }

// amNotifications reads an Alertmanager's count of webhook notifications sent (-1 if unknown).
func amNotifications(base string) float64 {
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		return -1
	}
	b, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		return -1
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "alertmanager_notifications_total{") && strings.Contains(l, `integration="webhook"`) {
			if v, err := strconv.ParseFloat(l[strings.LastIndexByte(l, ' ')+1:], 64); err == nil {
				return v
			}
		}
	}
	return -1
}

func grep(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
