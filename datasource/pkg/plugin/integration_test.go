//go:build e2e

package plugin

import (
	"encoding/json"
	"iter"
	"math"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"
	"github.com/grafana/grafana-plugin-sdk-go/experimental/datasourcetest"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/kizashi-dev/kizashi/internal/testenv"
)

// startPlugin serves the data source over the real plugin gRPC protocol, as Grafana runs it.
func startPlugin(t testing.TB) *datasourcetest.TestPlugin {
	t.Helper()
	// The SDK registers its metrics on the default registry: a second Manage in one test
	// binary would panic without a fresh one.
	prometheus.DefaultRegisterer = prometheus.NewRegistry()
	tp, err := datasourcetest.Manage(NewDatasource, datasourcetest.ManageOpts{Address: testenv.FreeAddr(t)})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, tp.Shutdown()) })
	return &tp
}

// pluginContext is what Grafana sends with every call: the instance settings by UID.
func pluginContext(uid, url string, jsonData map[string]any) backend.PluginContext {
	s := settingsFor(url, jsonData, nil)
	s.UID, s.Updated = uid, time.Unix(1, 0)
	return backend.PluginContext{PluginID: ID, DataSourceInstanceSettings: &s}
}

// concat chains sample sequences.
func concat[T any](seqs ...iter.Seq[T]) iter.Seq[T] {
	return func(yield func(T) bool) {
		for _, s := range seqs {
			for v := range s {
				if !yield(v) {
					return
				}
			}
		}
	}
}

func TestIntegrationPrometheus(t *testing.T) {
	// Two days of history at 1m for three series; series c jumps for 5 minutes, 30 minutes ago.
	end := time.Now().Truncate(time.Minute).Add(-time.Minute)
	start := end.Add(-48 * time.Hour)
	n := int(end.Sub(start)/time.Minute) + 1
	spike := end.Add(-30 * time.Minute)
	series := func(instance string, phase float64, spiky bool) iter.Seq[testenv.Sample] {
		return testenv.Series("kizashi_ds_test", map[string]string{"instance": instance, "job": "it"}, start, time.Minute, n,
			func(_ int, ts time.Time) float64 {
				v := normal(ts, phase)
				if spiky && !ts.Before(spike) && ts.Before(spike.Add(5*time.Minute)) {
					v += spikeSize
				}
				return v
			})
	}
	prom := testenv.StartPrometheus(t, testenv.PromOptions{
		HistorySamples: concat(series("a", 0, false), series("b", 1, false), series("c", 2, true)),
	})
	tp := startPlugin(t)
	ctx := t.Context()
	pc := pluginContext("it", prom.URL(), nil)

	t.Run("health", func(t *testing.T) {
		res, err := tp.Client.CheckHealth(ctx, &backend.CheckHealthRequest{PluginContext: pc})
		require.NoError(t, err)
		require.Equal(t, backend.HealthStatusOk, res.Status, res.Message)
		require.Contains(t, res.Message, "is reachable")
	})
	t.Run("bad settings give a health error", func(t *testing.T) {
		for uid, p := range map[string]backend.PluginContext{
			"no-url":      pluginContext("no-url", "", nil),
			"bad-json":    {PluginID: ID, DataSourceInstanceSettings: &backend.DataSourceInstanceSettings{UID: "bad-json", URL: prom.URL(), JSONData: []byte(`{`)}},
			"unreachable": pluginContext("unreachable", "http://127.0.0.1:1", map[string]any{"timeout": 2}),
		} {
			res, err := tp.Client.CheckHealth(ctx, &backend.CheckHealthRequest{PluginContext: p})
			require.NoError(t, err, uid)
			require.Equal(t, backend.HealthStatusError, res.Status, uid)
			require.NotEmpty(t, res.Message, uid)
		}
		// The plugin is still serving.
		res, err := tp.Client.CheckHealth(ctx, &backend.CheckHealthRequest{PluginContext: pc})
		require.NoError(t, err)
		require.Equal(t, backend.HealthStatusOk, res.Status)
	})

	query := func(refID, typ string, from, to time.Time, model map[string]any) backend.DataQuery {
		b, err := json.Marshal(model)
		require.NoError(t, err)
		return backend.DataQuery{RefID: refID, QueryType: typ, Interval: time.Minute, MaxDataPoints: 2000,
			TimeRange: backend.TimeRange{From: from, To: to}, JSON: b}
	}
	t.Run("anomaly", func(t *testing.T) {
		resp, err := tp.Client.QueryData(ctx, &backend.QueryDataRequest{PluginContext: pc, Queries: []backend.DataQuery{
			query("A", "anomaly", end.Add(-2*time.Hour), end, map[string]any{"expr": "kizashi_ds_test"}),
		}})
		require.NoError(t, err)
		r := resp.Responses["A"]
		require.NoError(t, r.Error)
		for _, f := range r.Frames {
			f.Meta.ExecutedQueryString = "" // holds the test's absolute times
		}
		checkGolden(t, "integration-anomaly", r)
		require.Len(t, r.Frames, 3)
		peak := func(f *data.Frame) (inSpike, outside float64) {
			times, score := field(t, f, "time"), field(t, f, "score")
			for i := range f.Rows() {
				s, _ := floatAt(score, i)
				if ts := times.At(i).(time.Time); !ts.Before(spike) && ts.Before(spike.Add(5*time.Minute)) {
					inSpike = max(inSpike, s)
				} else if ts.Before(spike) {
					outside = max(outside, s)
				}
			}
			return inSpike, outside
		}
		normalMax := 0.0
		for _, f := range r.Frames[:2] {
			in, out := peak(f)
			normalMax = math.Max(normalMax, math.Max(in, out))
		}
		require.Less(t, normalMax, 0.7, "no alarm at the engine's documented threshold on normal series")
		in, out := peak(r.Frames[2])
		require.Greater(t, in, math.Max(0.5, normalMax+0.2), "the injected anomaly scores high")
		require.Less(t, out, in)
	})
	t.Run("forecast extends past the last sample", func(t *testing.T) {
		resp, err := tp.Client.QueryData(ctx, &backend.QueryDataRequest{PluginContext: pc, Queries: []backend.DataQuery{
			query("F", "forecast", end.Add(-time.Hour), end, map[string]any{"expr": `kizashi_ds_test{instance="a"}`, "horizon": "6h", "threshold": 1000}),
		}})
		require.NoError(t, err)
		r := resp.Responses["F"]
		require.NoError(t, r.Error)
		require.Len(t, r.Frames, 3, "observed rows, forecast, breach ETA")
		f := r.Frames[1]
		last := field(t, f, "time").At(f.Rows() - 1).(time.Time)
		require.Equal(t, end.Add(6*time.Hour), last, "the forecast runs to the horizon after the last sample")
		v, ok := floatAt(field(t, f, "forecast"), f.Rows()-1)
		require.True(t, ok)
		require.InDelta(t, 100, v, 40)
		_, ok = floatAt(field(t, r.Frames[2], "breach eta"), 0)
		require.False(t, ok, "1000 is never reached")
	})
	t.Run("errors per RefID", func(t *testing.T) {
		p := pluginContext("limited", prom.URL(), map[string]any{"maxSeries": 2})
		resp, err := tp.Client.QueryData(ctx, &backend.QueryDataRequest{PluginContext: p, Queries: []backend.DataQuery{
			query("ok", "anomaly", end.Add(-time.Hour), end, map[string]any{"expr": `kizashi_ds_test{instance="a"}`}),
			query("syntax", "anomaly", end.Add(-time.Hour), end, map[string]any{"expr": `rate(kizashi_ds_test[5m]`}),
			query("many", "anomaly", end.Add(-time.Hour), end, map[string]any{"expr": `kizashi_ds_test`}),
			query("unknown", "magic", end.Add(-time.Hour), end, map[string]any{"expr": `kizashi_ds_test`}),
		}})
		require.NoError(t, err)
		require.Len(t, resp.Responses, 4)
		require.NoError(t, resp.Responses["ok"].Error)
		require.Len(t, resp.Responses["ok"].Frames, 1)
		syntax := resp.Responses["syntax"]
		require.ErrorContains(t, syntax.Error, "bad_data")
		require.Equal(t, backend.StatusBadRequest, syntax.Status)
		require.Equal(t, backend.ErrorSourceDownstream, syntax.ErrorSource)
		require.ErrorContains(t, resp.Responses["many"].Error, "returned 3 series, above the data source's max series per query (2)")
		require.ErrorContains(t, resp.Responses["unknown"].Error, `query type "magic"`)
	})
	t.Run("resources", func(t *testing.T) {
		var s captureSender
		require.NoError(t, tp.Client.CallResource(ctx, &backend.CallResourceRequest{PluginContext: pc, Method: http.MethodGet,
			Path: "label-values", URL: "label-values?label=instance&match[]=kizashi_ds_test&start=" + strconv.FormatInt(start.Unix(), 10)}, &s))
		require.Equal(t, http.StatusOK, s.resp.Status, string(s.resp.Body))
		require.JSONEq(t, `["a","b","c"]`, string(s.resp.Body))
	})
}
