package plugin

import (
	"encoding/json"
	"math"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/stretchr/testify/require"

	"github.com/kizashi-dev/kizashi/webhook/apitypes"
	"github.com/kizashi-dev/kizashi/webhook/incident"
	"github.com/kizashi-dev/kizashi/webhook/readmodel"
)

// The fakes of this package's tests: a Prometheus HTTP API with deterministic series and a
// kizashi-webhook incidents API.

// spikeAt is when series b of the fake's test_metric jumps by spikeSize for spikeLen.
var (
	testNow   = time.Date(2026, 1, 5, 12, 0, 0, 0, time.UTC)
	spikeAt   = testNow.Add(-30 * time.Minute)
	spikeLen  = 5 * time.Minute
	spikeSize = 80.0
)

// normal is a daily sine with a little deterministic noise.
func normal(t time.Time, phase float64) float64 {
	day := float64(t.Unix()%86400) / 86400
	noise := math.Sin(float64(t.Unix())*12.9898+phase) * 1.5
	return 100 + 20*math.Sin(2*math.Pi*day+phase) + noise
}

type fakeSeries struct {
	labels map[string]string
	value  func(t time.Time) float64
}

// fakeProm is a Prometheus API on httptest.
type fakeProm struct {
	*httptest.Server
	mu       sync.Mutex
	requests map[string]int // by path
	auth     []string       // Authorization headers seen
	paths    []string       // request paths as sent (escaped)
	series   map[string][]fakeSeries
}

func newFakeProm(t *testing.T) *fakeProm {
	t.Helper()
	f := &fakeProm{requests: map[string]int{}, series: map[string][]fakeSeries{
		"test_metric": {
			{map[string]string{"__name__": "test_metric", "instance": "a", "job": "j"}, func(t time.Time) float64 { return normal(t, 0) }},
			{map[string]string{"__name__": "test_metric", "instance": "b", "job": "j"}, func(t time.Time) float64 {
				v := normal(t, 1)
				if !t.Before(spikeAt) && t.Before(spikeAt.Add(spikeLen)) {
					v += spikeSize
				}
				return v
			}},
		},
		"single": {{map[string]string{"instance": "x"}, func(t time.Time) float64 { return normal(t, 2) }}},
		"rising": {{map[string]string{"disk": "sda"}, func(t time.Time) float64 {
			return 50 + float64(t.Sub(testNow.Add(-48*time.Hour)))/float64(time.Hour)*0.5
		}}},
	}}
	exported := func(name string, field float64) fakeSeries {
		return fakeSeries{map[string]string{"__name__": name, "instance": "a", "job": "j", "kizashi_query": "q1", "kizashi_metric": "test_metric"},
			func(t time.Time) float64 { return field }}
	}
	f.series[exportedSelector("q1")] = []fakeSeries{
		exported("kizashi_baseline", 10), exported("kizashi_lower", 8), exported("kizashi_upper", 12),
		exported("kizashi_anomaly_score", 0.25), exported("kizashi_deviation", 0.5),
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/api/v1/query_range", f.queryRange)
	mux.HandleFunc("/api/v1/status/buildinfo", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"status": "success", "data": map[string]string{"version": "3.0.0-fake"}})
	})
	mux.HandleFunc("/api/v1/labels", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"status": "success", "data": []string{"job", "instance", "__name__"}})
	})
	mux.HandleFunc("/api/v1/label/{name}/values", func(w http.ResponseWriter, r *http.Request) {
		vals := map[string][]string{"__name__": {"up", "test_metric"}, "instance": {"b", "a"}, "kizashi_query": {"q1"},
			"U__service_2e_name": {"checkout"}}[r.PathValue("name")]
		writeJSON(w, http.StatusOK, map[string]any{"status": "success", "data": vals})
	})
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.requests[r.URL.Path]++
		f.auth = append(f.auth, r.Header.Get("Authorization"))
		f.paths = append(f.paths, r.URL.EscapedPath())
		f.mu.Unlock()
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeProm) count(path string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.requests[path]
}

func (f *fakeProm) queryRange(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	expr := r.Form.Get("query")
	switch {
	case strings.Contains(expr, "bad("):
		writeJSON(w, http.StatusBadRequest, map[string]any{"status": "error", "errorType": "bad_data", "error": "parse error: unexpected end of input"})
		return
	case strings.Contains(expr, "boom"):
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "error", "errorType": "unavailable", "error": "too busy"})
		return
	}
	num := func(k string) float64 {
		v, _ := strconv.ParseFloat(r.Form.Get(k), 64)
		return v
	}
	start, end, step := num("start"), num("end"), num("step")
	if (end-start)/step > 11000 {
		writeJSON(w, http.StatusBadRequest, map[string]any{"status": "error", "errorType": "bad_data",
			"error": "exceeded maximum resolution of 11,000 points per timeseries"})
		return
	}
	result := []map[string]any{}
	for _, s := range f.series[expr] {
		var values [][2]any
		for ts := start; ts <= end; ts += step {
			t := time.Unix(int64(ts), 0).UTC()
			if t.After(testNow) {
				break
			}
			values = append(values, [2]any{ts, strconv.FormatFloat(s.value(t), 'f', -1, 64)})
		}
		if len(values) > 0 {
			result = append(result, map[string]any{"metric": s.labels, "values": values})
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "success", "data": map[string]any{"resultType": "matrix", "result": result}})
}

// newFakeWebhook serves GET /api/v1/incidents with a bearer token, as kizashi-webhook does: the
// query is read by the webhook's own parser (readmodel.ParseFilter: a parameter it refuses is a
// 400 here too) and each incident is converted by the webhook's own read model
// (readmodel.FromIncident), so the fake answers only what the real API sends.
func newFakeWebhook(t *testing.T, token string, incidents []*incident.Incident) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != apitypes.IncidentsPath {
			http.NotFound(w, r)
			return
		}
		if r.Header.Get("Authorization") != "Bearer "+token {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		if _, err := (&readmodel.Reader{}).ParseFilter(r.URL.Query(), ""); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		out := apitypes.ListResponse{Incidents: []apitypes.Incident{}}
		for _, in := range incidents {
			out.Incidents = append(out.Incidents, readmodel.FromIncident(in, testNow))
		}
		_ = json.NewEncoder(w).Encode(out)
	}))
	t.Cleanup(s.Close)
	return s
}

// settingsFor returns instance settings for a Prometheus at url with extra jsonData.
func settingsFor(url string, jsonData map[string]any, secure map[string]string) backend.DataSourceInstanceSettings {
	b, _ := json.Marshal(jsonData)
	return backend.DataSourceInstanceSettings{UID: "kz", Name: "Kizashi", Type: ID, URL: url, JSONData: b, DecryptedSecureJSONData: secure}
}

// newTestDatasource returns a data source instance for the settings, with the clock at testNow.
func newTestDatasource(t testing.TB, s backend.DataSourceInstanceSettings) *Datasource {
	t.Helper()
	inst, err := NewDatasource(t.Context(), s)
	require.NoError(t, err)
	d := inst.(*Datasource)
	d.now = func() time.Time { return testNow }
	t.Cleanup(d.Dispose)
	return d
}

// dataQuery builds a query for the panel range [testNow-panel, testNow] at 1m.
func dataQuery(refID, queryType string, panel time.Duration, model map[string]any) backend.DataQuery {
	b, _ := json.Marshal(model)
	return backend.DataQuery{RefID: refID, QueryType: queryType, Interval: time.Minute, MaxDataPoints: 1000,
		TimeRange: backend.TimeRange{From: testNow.Add(-panel), To: testNow}, JSON: b}
}
