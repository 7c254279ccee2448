package plugin

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/stretchr/testify/require"

	"github.com/kizashi-dev/kizashi/webhook/incident"
)

func TestCheckHealth(t *testing.T) {
	prom := newFakeProm(t)
	hook := newFakeWebhook(t, "s3cret", nil)
	for _, tc := range []struct {
		name     string
		settings backend.DataSourceInstanceSettings
		status   backend.HealthStatus
		msg      string
	}{
		{"ok", settingsFor(prom.URL, nil, nil), backend.HealthStatusOk, "Prometheus 3.0.0-fake at " + prom.URL + " is reachable."},
		{"ok with webhook", settingsFor(prom.URL, map[string]any{"webhookUrl": hook.URL}, map[string]string{"webhookToken": "s3cret"}),
			backend.HealthStatusOk, "Webhook at " + hook.URL + " is reachable."},
		{"webhook token wrong", settingsFor(prom.URL, map[string]any{"webhookUrl": hook.URL}, map[string]string{"webhookToken": "nope"}),
			backend.HealthStatusError, "401 Unauthorized"},
		{"prometheus down", settingsFor("http://127.0.0.1:1", nil, nil), backend.HealthStatusError, "Prometheus at http://127.0.0.1:1 did not answer"},
		{"no url", settingsFor("", nil, nil), backend.HealthStatusError, "invalid data source settings: Prometheus URL is not set"},
		{"bad url", settingsFor("ftp://x", nil, nil), backend.HealthStatusError, `Prometheus URL "ftp://x": want http(s)://`},
		{"bad json", backend.DataSourceInstanceSettings{URL: prom.URL, JSONData: []byte(`{"timeout":`)}, backend.HealthStatusError, "decode jsonData"},
		{"bearer without token", settingsFor(prom.URL, map[string]any{"authType": "bearer"}, nil), backend.HealthStatusError, "no bearer token"},
		{"bad warm-up", settingsFor(prom.URL, map[string]any{"warmUp": "one day"}, nil), backend.HealthStatusError, `warm-up "one day"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := newTestDatasource(t, tc.settings)
			res, err := d.CheckHealth(t.Context(), &backend.CheckHealthRequest{})
			require.NoError(t, err)
			require.Equal(t, tc.status, res.Status, res.Message)
			require.Contains(t, res.Message, tc.msg)
		})
	}
}

func TestAuthHeaders(t *testing.T) {
	prom := newFakeProm(t)
	for _, tc := range []struct {
		name     string
		settings backend.DataSourceInstanceSettings
		want     string
	}{
		{"bearer", settingsFor(prom.URL, map[string]any{"authType": "bearer"}, map[string]string{"bearerToken": "tok"}), "Bearer tok"},
		{"basic", func() backend.DataSourceInstanceSettings {
			s := settingsFor(prom.URL, nil, map[string]string{"basicAuthPassword": "pw"})
			s.BasicAuthEnabled, s.BasicAuthUser = true, "user"
			return s
		}(), "Basic " + base64.StdEncoding.EncodeToString([]byte("user:pw"))},
		{"stale bearer token is not sent", settingsFor(prom.URL, map[string]any{"authType": "none"}, map[string]string{"bearerToken": "tok"}), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := newTestDatasource(t, tc.settings)
			res, err := d.CheckHealth(t.Context(), &backend.CheckHealthRequest{})
			require.NoError(t, err)
			require.Equal(t, backend.HealthStatusOk, res.Status, res.Message)
			prom.mu.Lock()
			defer prom.mu.Unlock()
			require.Equal(t, tc.want, prom.auth[len(prom.auth)-1])
		})
	}
}

type captureSender struct{ resp *backend.CallResourceResponse }

func (c *captureSender) Send(r *backend.CallResourceResponse) error {
	c.resp = r
	return nil
}

func TestResources(t *testing.T) {
	prom := newFakeProm(t)
	d := newTestDatasource(t, settingsFor(prom.URL, nil, nil))
	for _, tc := range []struct {
		path   string
		status int
		want   any
	}{
		{"metrics", http.StatusOK, []any{"test_metric", "up"}},
		{"labels", http.StatusOK, []any{"__name__", "instance", "job"}},
		{"label-values?label=instance&match[]=up", http.StatusOK, []any{"a", "b"}},
		{"label-values", http.StatusBadRequest, map[string]any{"error": "label is required"}},
		{"queries", http.StatusOK, []any{"q1"}},
		{"metrics?start=abc", http.StatusBadRequest, map[string]any{"error": "start: want Unix seconds"}},
		{"metrics?end=NaN", http.StatusBadRequest, map[string]any{"error": "end: want Unix seconds"}},
		{"metrics?start=-Inf", http.StatusBadRequest, map[string]any{"error": "start: want Unix seconds"}},
	} {
		t.Run(tc.path, func(t *testing.T) {
			var s captureSender
			require.NoError(t, d.CallResource(t.Context(), &backend.CallResourceRequest{Method: http.MethodGet, Path: tc.path, URL: tc.path}, &s))
			require.Equal(t, tc.status, s.resp.Status, string(s.resp.Body))
			var got any
			require.NoError(t, json.Unmarshal(s.resp.Body, &got))
			require.Equal(t, tc.want, got)
		})
	}
}

func TestExportedQuery(t *testing.T) {
	prom := newFakeProm(t)
	d := newTestDatasource(t, settingsFor(prom.URL, nil, nil))
	resp, err := d.QueryData(t.Context(), &backend.QueryDataRequest{Queries: []backend.DataQuery{
		dataQuery("E", "exported", 10*time.Minute, map[string]any{"queryName": "q1"}),
		dataQuery("N", "exported", 10*time.Minute, map[string]any{}),
	}})
	require.NoError(t, err)
	r := resp.Responses["E"]
	require.NoError(t, r.Error)
	checkGolden(t, "exported", r)
	require.Len(t, r.Frames, 1)
	f := r.Frames[0]
	require.Equal(t, `test_metric{instance="a", job="j"}`, f.Name)
	require.Equal(t, 11, f.Rows())
	for name, want := range map[string]float64{"baseline": 10, "lower": 8, "upper": 12, "score": 0.25, "deviation": 0.5} {
		v, ok := floatAt(field(t, f, name), 3)
		require.True(t, ok)
		require.Equal(t, want, v)
	}
	_, ok := floatAt(field(t, f, "value"), 3)
	require.False(t, ok, "no raw series without an expression")
	require.ErrorContains(t, resp.Responses["N"].Error, "exporter query name is empty")

	// With the raw expression, the raw series joins its exported band (same identity).
	resp, err = d.QueryData(t.Context(), &backend.QueryDataRequest{Queries: []backend.DataQuery{
		dataQuery("R", "exported", 10*time.Minute, map[string]any{"queryName": "q1", "expr": `test_metric`}),
	}})
	require.NoError(t, err)
	r = resp.Responses["R"]
	require.NoError(t, r.Error)
	require.Len(t, r.Frames, 2, "series a joined, series b raw only")
	require.Equal(t, `test_metric{instance="a", job="j"}`, r.Frames[0].Name)
	v, ok := floatAt(field(t, r.Frames[0], "value"), 3)
	require.True(t, ok)
	require.InDelta(t, 100, v, 30)
	b, _ := floatAt(field(t, r.Frames[0], "baseline"), 3)
	require.Equal(t, 10.0, b)
}

func TestIncidentsQuery(t *testing.T) {
	prom := newFakeProm(t)
	opened := testNow.Add(-3 * time.Hour)
	resolved := testNow.Add(-time.Hour)
	hook := newFakeWebhook(t, "s3cret", []*incident.Incident{
		{ID: 7, Tenant: "acme", Title: "HighLatency api", State: incident.StateResolved, Priority: 2, CreatedAt: opened, ResolvedAt: resolved},
		{ID: 8, Tenant: "acme", Title: "DiskFull db", State: incident.StateNew, Priority: 1, CreatedAt: testNow.Add(-10 * time.Minute)},
	})
	d := newTestDatasource(t, settingsFor(prom.URL, map[string]any{"webhookUrl": hook.URL + "/"}, map[string]string{"webhookToken": "s3cret"}))
	resp, err := d.QueryData(t.Context(), &backend.QueryDataRequest{Queries: []backend.DataQuery{
		dataQuery("I", "incidents", 6*time.Hour, nil),
	}})
	require.NoError(t, err)
	r := resp.Responses["I"]
	require.NoError(t, r.Error)
	checkGolden(t, "incidents", r)
	f := r.Frames[0]
	require.Equal(t, 2, f.Rows())
	require.Equal(t, opened, field(t, f, "time").At(0))
	require.Equal(t, resolved, field(t, f, "timeEnd").At(0))
	require.Equal(t, testNow, field(t, f, "timeEnd").At(1), "a firing incident's region runs to the range's end")
	require.Equal(t, "DiskFull db", field(t, f, "title").At(1))
	require.Equal(t, "kizashi,P1,new,acme", field(t, f, "tags").At(1))
	require.Equal(t, "resolved", field(t, f, "state").At(0))

	// Without a webhook, the query fails alone.
	d2 := newTestDatasource(t, settingsFor(prom.URL, nil, nil))
	resp, err = d2.QueryData(t.Context(), &backend.QueryDataRequest{Queries: []backend.DataQuery{dataQuery("I", "incidents", time.Hour, nil)}})
	require.NoError(t, err)
	require.ErrorContains(t, resp.Responses["I"].Error, "no webhook URL")
}

// TestLabelValuesPath: whatever a label name holds, the plugin asks Prometheus for its values
// at /api/v1/label/<name>/values and at no other path (every request carries the data
// source's credentials). Names outside the legacy character set (UTF-8 names, as Prometheus 3
// allows) are sent in the U__ escaping Prometheus 3's API decodes; invalid names are refused.
func TestLabelValuesPath(t *testing.T) {
	prom := newFakeProm(t)
	d := newTestDatasource(t, settingsFor(prom.URL, map[string]any{"authType": "bearer"}, map[string]string{"bearerToken": "tok"}))
	for _, tc := range []struct {
		label  string
		path   string // the one request Prometheus sees ("" for none)
		status int
		want   any
	}{
		{"instance", "/api/v1/label/instance/values", http.StatusOK, []any{"a", "b"}},
		{"service.name", "/api/v1/label/U__service_2e_name/values", http.StatusOK, []any{"checkout"}},
		{"../../../x", "/api/v1/label/U___2e__2e__2f__2e__2e__2f__2e__2e__2f_x/values", http.StatusOK, []any{}},
		{"..", "/api/v1/label/U___2e__2e_/values", http.StatusOK, []any{}},
		{"a/b?c=d#e", "/api/v1/label/U__a_2f_b_3f_c_3d_d_23_e/values", http.StatusOK, []any{}},
		{"%2e%2e", "/api/v1/label/U___25_2e_25_2e/values", http.StatusOK, []any{}},
		{"ラベル", "/api/v1/label/U___30e9__30d9__30eb_/values", http.StatusOK, []any{}},
		{"\xff", "", http.StatusBadRequest, map[string]any{"error": `label "\xff": not a valid label name (want UTF-8 text)`}},
	} {
		t.Run(tc.label, func(t *testing.T) {
			prom.mu.Lock()
			prom.paths = nil
			prom.mu.Unlock()
			u := "label-values?" + url.Values{"label": {tc.label}}.Encode()
			var s captureSender
			require.NoError(t, d.CallResource(t.Context(), &backend.CallResourceRequest{Method: http.MethodGet, Path: "label-values", URL: u}, &s))
			require.Equal(t, tc.status, s.resp.Status, string(s.resp.Body))
			var got any
			require.NoError(t, json.Unmarshal(s.resp.Body, &got))
			require.Equal(t, tc.want, got)
			prom.mu.Lock()
			defer prom.mu.Unlock()
			if tc.path == "" {
				require.Empty(t, prom.paths)
			} else {
				require.Equal(t, []string{tc.path}, prom.paths)
			}
		})
	}
}
