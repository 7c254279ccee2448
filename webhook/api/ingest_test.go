package api_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/kizashi-dev/kizashi/webhook/api"
	"github.com/kizashi-dev/kizashi/webhook/apitypes"
	"github.com/kizashi-dev/kizashi/webhook/auth"
	"github.com/kizashi-dev/kizashi/webhook/bench"
	"github.com/kizashi-dev/kizashi/webhook/config"
	"github.com/kizashi-dev/kizashi/webhook/incident"
	"github.com/kizashi-dev/kizashi/webhook/service"
	"github.com/kizashi-dev/kizashi/webhook/store/sqlite"
)

// newLimitsFixture serves the API for tenant a with the given limits section
// (the defaults when empty) and returns what the API logs, from debug up.
func newLimitsFixture(t *testing.T, limits string) (*fixture, *bytes.Buffer) {
	cfg, err := config.Parse([]byte("tenants: [{name: a, tokens: [\""+tokA+"\"], api_tokens: [{name: a-ops, role: act, tokens: [\""+apiA+"\"]}]}]\n"+limits), ".")
	require.NoError(t, err)
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "k.db"), sqlite.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, st.Close()) })
	reg := prometheus.NewRegistry()
	m := service.NewMetrics(reg)
	logs := &bytes.Buffer{}
	svc := &service.Service{Store: st, Rules: func() service.Rules { return cfg }, Metrics: m}
	a := &api.API{Service: svc, Access: &auth.Access{Authenticator: auth.NewTokens(func() *config.Config { return cfg }, nil)}, MaxBodyBytes: func() int64 { return cfg.Limits.MaxBodyBytes },
		MaxAlerts: func() int { return cfg.Limits.MaxAlerts }, Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	mux := http.NewServeMux()
	a.Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &fixture{srv: srv, st: st, reg: reg, metrics: m}, logs
}

func (f *fixture) detail(t *testing.T, body []byte) apitypes.Detail {
	t.Helper()
	var recv struct{ Incidents []int64 }
	require.NoError(t, json.Unmarshal(body, &recv))
	require.Len(t, recv.Incidents, 1)
	code, b := f.do(t, http.MethodGet, fmt.Sprintf("/api/v1/incidents/%d", recv.Incidents[0]), apiA, nil)
	require.Equal(t, 200, code)
	var d apitypes.Detail
	require.NoError(t, json.Unmarshal(b, &d))
	return d
}

func TestAlertStormIsAccepted(t *testing.T) {
	// One group of 100,000 alerts (28 MB) with the default limits: it got 413
	// (dropped by Alertmanager) above 4 MiB.
	f, _ := newLimitsFixture(t, "")
	body := bench.Payload(0, 1, 100_000, false)
	code, b := f.do(t, http.MethodPost, "/api/v1/alerts", tokA, body)
	require.Equal(t, 200, code, string(b))
	d := f.detail(t, b)
	require.Equal(t, 100_000, d.Incident.FiringAlerts)
	require.Len(t, d.Alerts, 100_000)
	require.Zero(t, testutil.ToFloat64(f.metrics.Truncated))
}

func TestAlertsBeyondMaxAlertsAreStoredTruncated(t *testing.T) {
	f, logs := newLimitsFixture(t, "limits: {max_alerts: 3}\n")
	body := bench.Payload(0, 1, 5, false)
	code, b := f.do(t, http.MethodPost, "/api/v1/alerts", tokA, body)
	require.Equal(t, 200, code, string(b))
	d := f.detail(t, b)
	require.Equal(t, 3, d.Incident.FiringAlerts)
	require.Equal(t, incident.KindNotification, d.Journal[0].Kind)
	require.Contains(t, d.Journal[0].Message, "truncated: 2 more alerts over the receiver's max_alerts not kept")
	require.Equal(t, 1.0, testutil.ToFloat64(f.metrics.Truncated))
	require.Contains(t, logs.String(), "notification truncated to max_alerts")
	code, b = f.do(t, http.MethodPost, "/api/v1/alerts", tokA, body)
	require.Equal(t, 200, code)
	require.Contains(t, string(b), `"duplicate":true`)
}

func TestBodyOverMaxBodyBytesIsRetried(t *testing.T) {
	f, _ := newLimitsFixture(t, "limits: {max_body_bytes: 1000}\n")
	req, err := http.NewRequest(http.MethodPost, f.srv.URL+"/api/v1/alerts", bytes.NewReader(bench.Payload(1, 1, 10, false)))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+tokA)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, "Alertmanager drops a 413")
	require.NotEmpty(t, resp.Header.Get("Retry-After"))
	require.Equal(t, 1.0, testutil.ToFloat64(f.metrics.Rejected.WithLabelValues(service.RejectTooLarge)))
}

func TestClientGoneIsNotAClientError(t *testing.T) {
	f, logs := newLimitsFixture(t, "")
	body := bench.Payload(1, 1, 10, false)
	conn, err := net.Dial("tcp", strings.TrimPrefix(f.srv.URL, "http://"))
	require.NoError(t, err)
	defer func() { require.NoError(t, conn.Close()) }()
	_, err = fmt.Fprintf(conn, "POST /api/v1/alerts HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
		tokA, len(body), body[:len(body)/2])
	require.NoError(t, err)
	// The client stops sending before its Content-Length (it went away).
	require.NoError(t, conn.(*net.TCPConn).CloseWrite())
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	require.Zero(t, testutil.ToFloat64(f.metrics.Rejected.WithLabelValues(service.RejectMalformed)))
	require.Equal(t, 1.0, testutil.ToFloat64(f.metrics.Rejected.WithLabelValues(service.RejectAborted)))
	require.NotContains(t, logs.String(), "level=ERROR")
	require.NotContains(t, logs.String(), "level=WARN")
}
