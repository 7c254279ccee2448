//go:build e2e

package plugin

import (
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"
	"github.com/stretchr/testify/require"

	"github.com/kizashi-dev/kizashi/internal/testenv"
)

// TestIntegrationAlerting runs Grafana-managed alert rules on the plugin as Grafana does:
// the rule's query through the plugin gRPC protocol against a real Prometheus, then the
// server-side expressions and the rule's evaluation (sse_test.go) on the frames it answers.
// Rules keep one number field per series with "fields" (several fields of a series share its
// labels, which an alert rule refuses).
func TestIntegrationAlerting(t *testing.T) {
	// A disk filling at 0.5 a hour for 15 days (5m samples), and two 1m series over the
	// default anomaly warm-up, one of which jumps for 3 minutes, 6 minutes ago.
	end := time.Now().Truncate(time.Minute).Add(-time.Minute)
	diskStart := end.Add(-15 * 24 * time.Hour).Truncate(5 * time.Minute)
	disk := func(ts time.Time) float64 { return 50 + ts.Sub(diskStart).Hours()*0.5 + normal(ts, 3)/20 }
	spike := end.Add(-6 * time.Minute)
	start := end.Add(-8 * 24 * time.Hour)
	series := func(instance string, spiky bool) func(int, time.Time) float64 {
		return func(_ int, ts time.Time) float64 {
			v := normal(ts, 1)
			if spiky && !ts.Before(spike) && ts.Before(spike.Add(3*time.Minute)) {
				v += spikeSize
			}
			return v
		}
	}
	prom := testenv.StartPrometheus(t, testenv.PromOptions{HistorySamples: concat(
		testenv.Series("kizashi_alert_disk", map[string]string{"device": "sda"}, diskStart, 5*time.Minute, int(end.Sub(diskStart)/(5*time.Minute))+1,
			func(_ int, ts time.Time) float64 { return disk(ts) }),
		testenv.Series("kizashi_alert_load", map[string]string{"instance": "calm"}, start, time.Minute, int(end.Sub(start)/time.Minute)+1, series("calm", false)),
		testenv.Series("kizashi_alert_load", map[string]string{"instance": "spiky"}, start, time.Minute, int(end.Sub(start)/time.Minute)+1, series("spiky", true)),
	)})
	tp := startPlugin(t)
	pc := pluginContext("alerting", prom.URL(), nil)
	last := disk(end)

	// query is a rule's query evaluated at end (the last sample; evaluating at the wall
	// clock's now would make the test depend on how long Prometheus took to start): Grafana
	// sends the rule's relative time range, here the last 10 minutes, and an interval.
	query := func(t *testing.T, typ string, interval time.Duration, model map[string]any) data.Frames {
		t.Helper()
		b, err := json.Marshal(model)
		require.NoError(t, err)
		resp, err := tp.Client.QueryData(t.Context(), &backend.QueryDataRequest{PluginContext: pc, Queries: []backend.DataQuery{{
			RefID: "A", QueryType: typ, Interval: interval, MaxDataPoints: 43200,
			TimeRange: backend.TimeRange{From: end.Add(-10 * time.Minute), To: end}, JSON: b,
		}}})
		require.NoError(t, err)
		r := resp.Responses["A"]
		require.NoError(t, r.Error)
		return r.Frames
	}
	forecast := map[string]any{"expr": "kizashi_alert_disk", "horizon": "6h", "fields": []string{"forecast"}}

	t.Run("forecast with max fires", func(t *testing.T) {
		frames := query(t, "forecast", 5*time.Minute, forecast)
		// The disk is forecast to pass last-3.6 (0.5 a hour is 3 in 6 hours; the limit is below
		// the last value so that the rule does not depend on how steep the forecast is) ...
		states, err := evalRule(frames, "max", "gt", last-3.6)
		require.NoError(t, err)
		require.Equal(t, []string{"Alerting"}, statesOf(states, "device=sda"), "last value %.2f", last)
		// ... and not to jump by 100.
		states, err = evalRule(frames, "max", "gt", last+100)
		require.NoError(t, err)
		require.Equal(t, []string{"Normal"}, statesOf(states, "device=sda"))
	})
	t.Run("every reducer has numbers", func(t *testing.T) {
		frames := query(t, "forecast", 5*time.Minute, map[string]any{"expr": "kizashi_alert_disk", "horizon": "6h",
			"fields": []string{"forecast", "forecast lower", "forecast upper"}})
		series, _, err := sseConvert(frames)
		require.NoError(t, err)
		require.Len(t, series, 3)
		for _, fn := range []string{"max", "min", "mean", "sum", "last", "count"} {
			for _, n := range sseReduce(series[:1], fn) {
				require.NotNil(t, n.value, fn)
				require.False(t, math.IsNaN(*n.value), "%s of the forecast is NaN", fn)
			}
		}
	})
	t.Run("breach ETA", func(t *testing.T) {
		// The ETA table alone is a set of numbers; the disk passes last+6 within two days.
		frames := query(t, "forecast", 5*time.Minute, map[string]any{"expr": "kizashi_alert_disk", "threshold": last + 6, "fields": []string{"breach eta"}})
		states, err := evalRule(frames, "", "lt", 2*86400)
		require.NoError(t, err)
		require.Equal(t, []string{"Alerting"}, statesOf(states, "series=kizashi_alert_disk{device=\"sda\"}"), "%v", states)
	})
	t.Run("anomaly score with max", func(t *testing.T) {
		frames := query(t, "anomaly", time.Minute, map[string]any{"expr": "kizashi_alert_load", "fields": []string{"score"}})
		states, err := evalRule(frames, "max", "gt", 0.65)
		require.NoError(t, err)
		require.Equal(t, []string{"Alerting"}, statesOf(states, "instance=spiky"))
		require.Equal(t, []string{"Normal"}, statesOf(states, "instance=calm"))
	})
	t.Run("several fields of a series are refused", func(t *testing.T) {
		// What the fields option is for: Grafana refuses a rule whose series share labels.
		_, err := evalRule(query(t, "anomaly", time.Minute, map[string]any{"expr": `kizashi_alert_load{instance="calm"}`, "fields": []string{"score", "deviation"}}),
			"max", "gt", 0.65)
		require.ErrorContains(t, err, "frame cannot uniquely be identified by its labels")
	})
}
