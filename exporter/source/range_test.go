package source

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"

	"github.com/kizashi-dev/kizashi/exporter/queryconfig"
)

const matrixAnswer = `{"status":"success","data":{"resultType":"matrix","result":[` +
	`{"metric":{"__name__":"up","job":"a\"b\\n\u00e9"},"values":[[1700000000.5,"1.25"],[1700000060.5,"NaN"]]},` +
	`{"metric":{},"values":[[1700000000,"+Inf"]]},` +
	`{"metric":{"h":"1"},"histograms":[[1700000000,{"count":"1","sum":"1"}]]},` +
	`{"metric":{"both":"1"},"values":[[1700000000,"-1e-3"]],"histograms":[[1700000060,{"count":"1","sum":"1"}]]}]},"warnings":["w"]}`

// TestRangeAnswers: the answers a Prometheus-compatible API gives a range query, decoded from
// the stream, and the errors they become.
func TestRangeAnswers(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status int
		body   string
		want   model.Matrix
		err    string
	}{
		{name: "matrix", status: 200, body: matrixAnswer, want: model.Matrix{
			{Metric: model.Metric{"__name__": "up", "job": "a\"b\\né"}, Values: []model.SamplePair{{Timestamp: 1700000000500, Value: 1.25}, {Timestamp: 1700000060500, Value: model.SampleValue(math.NaN())}}},
			{Metric: model.Metric{}, Values: []model.SamplePair{{Timestamp: 1700000000000, Value: model.SampleValue(math.Inf(1))}}},
			{Metric: model.Metric{"h": "1"}},
			{Metric: model.Metric{"both": "1"}, Values: []model.SamplePair{{Timestamp: 1700000000000, Value: -1e-3}}},
		}},
		{name: "empty matrix", status: 200, body: `{"status":"success","data":{"resultType":"matrix","result":[]}}`, want: model.Matrix{}},
		{name: "type after result", status: 200, body: `{"data":{"result":[{"values":[[1,"2"]],"metric":{"a":"b"}}],"resultType":"matrix"},"status":"success"}`,
			want: model.Matrix{{Metric: model.Metric{"a": "b"}, Values: []model.SamplePair{{Timestamp: 1000, Value: 2}}}}},
		{name: "vector", status: 200, body: `{"status":"success","data":{"resultType":"vector","result":[]}}`,
			err: `query range "q": got vector, want matrix`},
		{name: "bad data", status: 400, body: `{"status":"error","errorType":"bad_data","error":"parse error"}`,
			err: `query range "q": bad_data: parse error`},
		{name: "execution", status: 422, body: `{"status":"error","errorType":"execution","error":"too many samples"}`,
			err: `query range "q": execution: too many samples`},
		{name: "proxy error", status: 502, body: `<html>bad gateway</html>`, err: `query range "q": server_error: server error: 502`},
		{name: "error with 200", status: 200, body: `{"status":"error","errorType":"timeout","error":"query timed out"}`,
			err: `query range "q": timeout: query timed out`},
		{name: "truncated", status: 200, body: `{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"a":"b"},"values":[[17000`,
			err: `query range "q": bad_response: `},
		{name: "bad value", status: 200, body: `{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[1,"x"]]}]}}`,
			err: `query range "q": bad_response: `},
		{name: "no status", status: 200, body: `{"data":{"resultType":"matrix","result":[]}}`, err: `query range "q": bad_response: status ""`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				require.NoError(t, r.ParseForm())
				require.Equal(t, "/api/v1/query_range", r.URL.Path)
				require.Equal(t, "q", r.Form.Get("query"))
				require.Equal(t, "1700000000", r.Form.Get("start"))
				require.Equal(t, "1700000060.5", r.Form.Get("end"))
				require.Equal(t, "60", r.Form.Get("step"))
				require.Equal(t, "30s", r.Form.Get("timeout"))
				w.WriteHeader(tc.status)
				_, _ = w.Write([]byte(tc.body))
			}))
			defer srv.Close()
			c := queryconfig.DefaultSource
			c.URL = srv.URL
			p, err := New(c)
			require.NoError(t, err)
			got, err := p.QueryRange(context.Background(), "q", time.Unix(1700000000, 0), time.Unix(1700000060, 5e8), time.Minute)
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			requireSameMatrix(t, tc.want, got)
		})
	}
}

// TestRangeAsV1API: a range answer decodes as client_golang's v1 API decodes it, and its
// request is the one the v1 API sends (POST, then GET to a server that refuses POST).
func TestRangeAsV1API(t *testing.T) {
	var forms []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && strings.HasPrefix(r.URL.Path, "/refuse/") {
			w.WriteHeader(http.StatusMethodNotAllowed)
			return
		}
		require.NoError(t, r.ParseForm())
		forms = append(forms, r.Method+" "+r.Form.Encode())
		_, _ = w.Write([]byte(matrixAnswer))
	}))
	defer srv.Close()
	start, end := time.Unix(1700000000, 250e6), time.Unix(1700003600, 0)
	for _, prefix := range []string{"", "/refuse"} {
		forms = nil
		c := queryconfig.DefaultSource
		c.URL = srv.URL + prefix
		p, err := New(c)
		require.NoError(t, err)
		got, err := p.QueryRange(context.Background(), `rate(x{a="b"}[5m])`, start, end, 90*time.Second)
		require.NoError(t, err)

		ac, err := api.NewClient(api.Config{Address: srv.URL + prefix})
		require.NoError(t, err)
		v, _, _, err := v1.NewAPI(ac).QueryRange(context.Background(), `rate(x{a="b"}[5m])`, v1.Range{Start: start, End: end, Step: 90 * time.Second}, v1.WithTimeout(30*time.Second))
		require.NoError(t, err)
		want := v.(model.Matrix)
		for _, ss := range want {
			ss.Histograms = nil
		}
		requireSameMatrix(t, want, got)
		require.Len(t, forms, 2)
		require.Equal(t, forms[1], forms[0], "the same request")
		if prefix != "" {
			require.True(t, strings.HasPrefix(forms[0], "GET "), forms[0])
		}
	}
}

// TestRangeCancelled: a range query whose context ends while its answer arrives returns the
// context's error (a timeout is counted as one).
func TestRangeCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"a":"b"},"values":[[1,"1"]]}`))
		w.(http.Flusher).Flush()
		cancel()
		<-r.Context().Done()
	}))
	defer srv.Close()
	c := queryconfig.DefaultSource
	c.URL = srv.URL
	p, err := New(c)
	require.NoError(t, err)
	_, err = p.QueryRange(ctx, "q", time.Unix(0, 0), time.Unix(60, 0), time.Minute)
	require.ErrorIs(t, err, context.Canceled)
}

func requireSameMatrix(t *testing.T, want, got model.Matrix) {
	t.Helper()
	require.Len(t, got, len(want))
	for i := range want {
		require.Equal(t, want[i].Metric, got[i].Metric, i)
		require.Len(t, got[i].Values, len(want[i].Values), i)
		for j, w := range want[i].Values {
			g := got[i].Values[j]
			require.Equal(t, w.Timestamp, g.Timestamp, "%d/%d", i, j)
			require.True(t, w.Value == g.Value || math.IsNaN(float64(w.Value)) && math.IsNaN(float64(g.Value)),
				"%d/%d: %g, want %g", i, j, g.Value, w.Value)
		}
		require.Empty(t, got[i].Histograms)
	}
}

// FuzzDecodeRange: whatever the body, decodeRange does not panic, and an answer that
// encoding/json and prometheus/common's model decode as a successful matrix without
// histograms decodes to the same series.
func FuzzDecodeRange(f *testing.F) {
	for _, s := range []string{
		matrixAnswer,
		`{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"a":"\ud800x\u00e9"},"values":[[1,"-Inf"],[2.001,"1e400"]]}]}}`,
		`{"data":{"result":[{"values":[[1,"2"]],"metric":{"b":"c","b":"d"}}],"resultType":"matrix"},"status":"success"}`,
		`{"status":"error","errorType":"bad_data","error":"x"}`,
		`[]`, `{}`, `{"status":"success","data":null}`, "",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		got, err := decodeRange(bytes.NewReader(body), 1000, 3)
		if err != nil && errors.Is(err, ErrTooLarge) {
			return
		}
		var std struct {
			Status string `json:"status"`
			Data   struct {
				ResultType string          `json:"resultType"`
				Result     json.RawMessage `json:"result"`
			} `json:"data"`
		}
		if json.Unmarshal(body, &std) != nil || std.Status != "success" || std.Data.ResultType != "matrix" {
			return
		}
		var want model.Matrix
		if json.Unmarshal(std.Data.Result, &want) != nil || want == nil ||
			strings.Contains(string(std.Data.Result), "histogram") || !exactRangeKeys(body, std.Data.Result) {
			return
		}
		n := 0
		for _, ss := range want {
			n += len(ss.Values)
		}
		if n > 1000 {
			return
		}
		require.NoError(t, err, "%s", body)
		for _, ss := range want {
			validValues(ss.Metric)
		}
		for _, ss := range got {
			validLabels(ss.Metric)
		}
		requireSameMatrix(t, want, got)
	})
}

// exactRangeKeys reports whether the answer spells its keys as Prometheus does and every
// series has a metric and values.
func exactRangeKeys(body, result []byte) bool {
	var top map[string]json.RawMessage
	var data map[string]json.RawMessage
	var streams []map[string]json.RawMessage
	if json.Unmarshal(body, &top) != nil || json.Unmarshal(top["data"], &data) != nil || json.Unmarshal(result, &streams) != nil {
		return false
	}
	if top["status"] == nil || data["resultType"] == nil || data["result"] == nil {
		return false
	}
	for _, s := range streams {
		var pairs []json.RawMessage
		if s["metric"] == nil || s["values"] == nil || len(s) != 2 || json.Unmarshal(s["values"], &pairs) != nil {
			return false
		}
		for _, p := range pairs {
			if !isPair(p) {
				return false
			}
		}
	}
	return true
}
