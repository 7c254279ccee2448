package plugin

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/backend/log"
	"github.com/stretchr/testify/require"
)

// captureLogger keeps every log line (message and arguments) as text.
type captureLogger struct {
	mu    *sync.Mutex
	lines *[]string
}

func newCaptureLogger() captureLogger { return captureLogger{mu: &sync.Mutex{}, lines: &[]string{}} }

func (l captureLogger) log(msg string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	*l.lines = append(*l.lines, fmt.Sprint(append([]any{msg}, args...)...))
}
func (l captureLogger) Debug(msg string, args ...any)          { l.log(msg, args...) }
func (l captureLogger) Info(msg string, args ...any)           { l.log(msg, args...) }
func (l captureLogger) Warn(msg string, args ...any)           { l.log(msg, args...) }
func (l captureLogger) Error(msg string, args ...any)          { l.log(msg, args...) }
func (l captureLogger) With(...any) log.Logger                 { return l }
func (l captureLogger) Level() log.Level                       { return log.Debug }
func (l captureLogger) FromContext(context.Context) log.Logger { return l }
func (l captureLogger) text() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(*l.lines, "\n")
}

// echoServer answers every request with an error that repeats the request's URL and its
// Authorization header: a careless proxy in front of Prometheus or the webhook.
func echoServer(t *testing.T) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		msg := fmt.Sprintf("denied %s with %q", r.URL, r.Header.Get("Authorization"))
		writeJSON(w, http.StatusBadRequest, map[string]any{"status": "error", "errorType": "bad_data", "error": msg})
	}))
	t.Cleanup(s.Close)
	return s
}

// TestCredentialsRedacted: the Prometheus and webhook passwords, the bearer and webhook
// tokens and the basic-auth password appear in no health message, query error, resource
// error or log line, whatever the servers answer.
func TestCredentialsRedacted(t *testing.T) {
	const (
		pw       = "pr0m-Pass!"
		token    = "bearer-t0ken-value"
		hookPW   = "h00k-pass"
		hookTok  = "w3bhook-token"
		basicPW  = "b4sic-password"
		userinfo = "kz:" + pw + "@"
	)
	secrets := []string{pw, token, hookPW, hookTok, basicPW}
	prom := newFakeProm(t)
	echo := echoServer(t)
	withUser := func(u, info string) string { return strings.Replace(u, "http://", "http://"+info, 1) }
	requireClean := func(t *testing.T, what, text string) {
		t.Helper()
		for _, s := range secrets {
			require.NotContains(t, text, s, "%s shows a secret", what)
		}
		require.NotContains(t, text, "YjRzaWMtcGFzc3dvcmQ", "%s shows the basic-auth header", what) // base64 of the basic password
	}
	basic := func(url string) backend.DataSourceInstanceSettings {
		s := settingsFor(url, nil, map[string]string{"basicAuthPassword": basicPW})
		s.BasicAuthEnabled, s.BasicAuthUser = true, "kz"
		return s
	}

	for _, tc := range []struct {
		name     string
		settings backend.DataSourceInstanceSettings
		health   backend.HealthStatus
		shown    string // what the health message shows instead of the password
	}{
		{"password in the URL, reachable", settingsFor(withUser(prom.URL, userinfo), nil, nil), backend.HealthStatusOk, "kz:xxxxx@"},
		{"password in the URL, unreachable", settingsFor("http://"+userinfo+"127.0.0.1:1", map[string]any{"timeout": 2}, nil), backend.HealthStatusError, "kz:xxxxx@"},
		{"password in an invalid URL", settingsFor("ftp://"+userinfo+"prom", nil, nil), backend.HealthStatusError, "kz:xxxxx@"},
		{"URL with a query", settingsFor(withUser(prom.URL, userinfo)+"/?token="+token, nil, nil), backend.HealthStatusError, "want http(s)://"},
		{"bearer token echoed", settingsFor(echo.URL, map[string]any{"authType": "bearer"}, map[string]string{"bearerToken": token}), backend.HealthStatusError, "xxxxx"},
		{"basic auth echoed", basic(echo.URL), backend.HealthStatusError, "xxxxx"},
		{"webhook password and token", settingsFor(prom.URL, map[string]any{"webhookUrl": withUser(echo.URL, "hook:"+hookPW+"@")},
			map[string]string{"webhookToken": hookTok}), backend.HealthStatusError, "hook:xxxxx@"},
		{"webhook with an invalid URL", settingsFor(prom.URL, map[string]any{"webhookUrl": "hook:" + hookPW + "@x"},
			map[string]string{"webhookToken": hookTok}), backend.HealthStatusError, "webhook URL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			logs := newCaptureLogger()
			inst, err := newDatasource(t.Context(), tc.settings, logs)
			require.NoError(t, err)
			d := inst.(*Datasource)
			t.Cleanup(d.Dispose)

			res, err := d.CheckHealth(t.Context(), &backend.CheckHealthRequest{})
			require.NoError(t, err)
			require.Equal(t, tc.health, res.Status, res.Message)
			require.Contains(t, res.Message, tc.shown)
			requireClean(t, "health message "+res.Message, res.Message)

			resp, err := d.QueryData(t.Context(), &backend.QueryDataRequest{Queries: []backend.DataQuery{
				dataQuery("A", "anomaly", time.Hour, map[string]any{"expr": "test_metric"}),
				dataQuery("E", "exported", time.Hour, map[string]any{"queryName": "q1"}),
				dataQuery("I", "incidents", time.Hour, nil),
			}})
			require.NoError(t, err)
			for ref, r := range resp.Responses {
				if r.Error != nil {
					requireClean(t, "query "+ref+" error "+r.Error.Error(), r.Error.Error())
				}
			}

			var s captureSender
			require.NoError(t, d.CallResource(t.Context(), &backend.CallResourceRequest{Method: http.MethodGet, Path: "labels", URL: "labels"}, &s))
			requireClean(t, "resource answer "+string(s.resp.Body), string(s.resp.Body))
			var body any
			require.NoError(t, json.Unmarshal(s.resp.Body, &body))

			requireClean(t, "logs", logs.text())
		})
	}
}
