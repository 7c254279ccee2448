package source

import (
	"context"
	"encoding/json"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"

	"github.com/kizashi-dev/kizashi/exporter/queryconfig"
)

// TestInstantAnswers: the answers a Prometheus-compatible API gives an instant query, and
// the errors they become.
func TestInstantAnswers(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status int
		body   string
		want   model.Vector
		err    string
	}{
		{name: "vector", status: 200, body: `{"status":"success","data":{"resultType":"vector","result":[` +
			`{"metric":{"__name__":"up","job":"a\"b\\n\u00e9"},"value":[1700000000.5,"1.25"]},` +
			`{"metric":{},"value":[1700000000,"NaN"]},{"metric":{"x":"y"},"value":[1700000000,"+Inf"]},` +
			`{"metric":{"h":"1"},"histogram":[1700000000,{"count":"1","sum":"1"}]}]},"warnings":["w"]}`,
			want: model.Vector{
				{Metric: model.Metric{"__name__": "up", "job": "a\"b\\né"}, Value: 1.25, Timestamp: 1700000000500},
				{Metric: model.Metric{}, Value: model.SampleValue(math.NaN()), Timestamp: 1700000000000},
				{Metric: model.Metric{"x": "y"}, Value: model.SampleValue(math.Inf(1)), Timestamp: 1700000000000},
			}},
		{name: "empty vector", status: 200, body: `{"status":"success","data":{"resultType":"vector","result":[]}}`, want: model.Vector{}},
		{name: "scalar", status: 200, body: `{"status":"success","data":{"resultType":"scalar","result":[1700000000,"3"]}}`,
			want: model.Vector{{Metric: model.Metric{}, Value: 3, Timestamp: 1700000000000}}},
		{name: "string", status: 200, body: `{"status":"success","data":{"resultType":"string","result":[1700000000,"x"]}}`,
			err: `query "q": got string, want vector`},
		{name: "bad data", status: 400, body: `{"status":"error","errorType":"bad_data","error":"parse error"}`,
			err: `query "q": bad_data: parse error`},
		{name: "execution", status: 422, body: `{"status":"error","errorType":"execution","error":"too many samples"}`,
			err: `query "q": execution: too many samples`},
		{name: "proxy error", status: 502, body: `<html>bad gateway</html>`, err: `query "q": server_error: server error: 502`},
		{name: "not found", status: 404, body: `404 page not found`, err: `query "q": client_error: client error: 404`},
		{name: "error with 200", status: 200, body: `{"status":"error","errorType":"timeout","error":"query timed out"}`,
			err: `query "q": timeout: query timed out`},
		{name: "truncated", status: 200, body: `{"status":"success","data":{"resultType":"vector","result":[{"metric":{"a":"b"},"value":[17000`,
			err: `query "q": bad_response: `},
		{name: "bad value", status: 200, body: `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"x"]}]}}`,
			err: `query "q": bad_response: `},
		{name: "no status", status: 200, body: `{"data":{"resultType":"vector","result":[]}}`, err: `query "q": bad_response: status ""`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				require.NoError(t, r.ParseForm())
				require.Equal(t, "q", r.Form.Get("query"))
				w.WriteHeader(tc.status)
				_, _ = w.Write([]byte(tc.body))
			}))
			defer srv.Close()
			c := queryconfig.DefaultSource
			c.URL = srv.URL
			p, err := New(c)
			require.NoError(t, err)
			got, err := p.Query(context.Background(), "q", time.Unix(1700000000, 0))
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			requireSameVector(t, tc.want, got)
		})
	}
}

// TestInstantGetFallback: a server that refuses POST gets the query as a GET, as
// client_golang's v1 API sends it.
func TestInstantGetFallback(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			w.WriteHeader(http.StatusMethodNotAllowed)
			return
		}
		require.Equal(t, "q", r.URL.Query().Get("query"))
		_, _ = w.Write([]byte(`{"status":"success","data":{"resultType":"vector","result":[{"metric":{"a":"b"},"value":[1,"2"]}]}}`))
	}))
	defer srv.Close()
	c := queryconfig.DefaultSource
	c.URL = srv.URL
	p, err := New(c)
	require.NoError(t, err)
	got, err := p.Query(context.Background(), "q", time.Unix(1, 0))
	require.NoError(t, err)
	requireSameVector(t, model.Vector{{Metric: model.Metric{"a": "b"}, Value: 2, Timestamp: 1000}}, got)
}

func requireSameVector(t *testing.T, want, got model.Vector) {
	t.Helper()
	require.Len(t, got, len(want))
	for i := range want {
		require.Equal(t, want[i].Metric, got[i].Metric, i)
		require.Equal(t, want[i].Timestamp, got[i].Timestamp, i)
		w, g := float64(want[i].Value), float64(got[i].Value)
		require.True(t, w == g || math.IsNaN(w) && math.IsNaN(g), "sample %d: %g, want %g", i, g, w)
	}
}

// FuzzDecodeInstant: whatever the body, decodeInstant does not panic, and an answer that
// encoding/json and prometheus/common's model decode as a successful vector without
// histograms decodes to the same samples.
func FuzzDecodeInstant(f *testing.F) {
	for _, s := range []string{
		`{"status":"success","data":{"resultType":"vector","result":[{"metric":{"__name__":"up","job":"a"},"value":[1700000000.5,"1.25"]}]}}`,
		`{"status":"success","data":{"resultType":"vector","result":[{"metric":{"a":"\ud800x\u00e9"},"value":[1,"-Inf"]},{"metric":{},"value":[2.001,"1e400"]}]}}`,
		`{"status":"success","data":{"resultType":"scalar","result":[1,"2"]}}`,
		`{"status":"error","errorType":"bad_data","error":"x"}`,
		`{"data":{"result":[{"value":[1,"2"],"metric":{"b":"c","b":"d"}}],"resultType":"vector"},"status":"success"}`,
		`[]`, `{}`, `{"status":"success","data":null}`, "",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		got, err := decodeInstant(body, 1000, newInterner())
		var std struct {
			Status string `json:"status"`
			Data   struct {
				ResultType string          `json:"resultType"`
				Result     json.RawMessage `json:"result"`
			} `json:"data"`
		}
		if json.Unmarshal(body, &std) != nil || std.Status != "success" || std.Data.ResultType != "vector" {
			return
		}
		var want model.Vector
		if json.Unmarshal(std.Data.Result, &want) != nil || want == nil || len(want) > 1000 ||
			strings.Contains(string(std.Data.Result), "histogram") || !exactKeys(body, std.Data.Result) {
			return
		}
		require.NoError(t, err, "%s", body)
		for _, s := range want {
			validValues(s.Metric)
		}
		for _, s := range got {
			validLabels(s.Metric)
		}
		requireSameVector(t, want, got)
	})
}

// validValues makes m's label values valid UTF-8 as encoding/json does when it decodes them
// (the exporter does it later), for comparing the decoders' answers with encoding/json's.
func validValues(m model.Metric) {
	for n, v := range m {
		m[n] = model.LabelValue(strings.ToValidUTF8(string(v), "\uFFFD"))
	}
}

// validLabels makes m's label names and values valid UTF-8.
func validLabels(m model.Metric) {
	for n, v := range m {
		delete(m, n)
		m[model.LabelName(strings.ToValidUTF8(string(n), "\uFFFD"))] = model.LabelValue(strings.ToValidUTF8(string(v), "\uFFFD"))
	}
}

// exactKeys reports whether the answer spells its keys as Prometheus does (encoding/json also
// matches them ignoring case) and every sample has a metric and a value.
func exactKeys(body, result []byte) bool {
	var top map[string]json.RawMessage
	var data map[string]json.RawMessage
	var samples []map[string]json.RawMessage
	if json.Unmarshal(body, &top) != nil || json.Unmarshal(top["data"], &data) != nil || json.Unmarshal(result, &samples) != nil {
		return false
	}
	if top["status"] == nil || data["resultType"] == nil || data["result"] == nil {
		return false
	}
	for _, s := range samples {
		if s["metric"] == nil || s["value"] == nil || len(s) != 2 || !isPair(s["value"]) {
			return false
		}
	}
	return true
}

// isPair reports whether a sample's JSON is [time, value]: prometheus/common reads a shorter
// array as zeros, the source refuses it.
func isPair(b json.RawMessage) bool {
	var pair []json.RawMessage
	return json.Unmarshal(b, &pair) == nil && len(pair) >= 2
}
