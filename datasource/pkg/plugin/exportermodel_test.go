package plugin

import (
	"fmt"
	"math"
	"os"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/kizashi-dev/kizashi/anomaly"
	"github.com/kizashi-dev/kizashi/dashboards"
	"github.com/kizashi-dev/kizashi/demo"
	"github.com/kizashi-dev/kizashi/exporter/queryconfig"
)

// exporterModel runs the engine as kizashi-exporter runs one series of the query in yaml
// (its configuration, defaults applied by the exporter's own parser): started at start, it
// backfills its training window before start at the query's step, then takes one sample per
// step up to end. It returns what it published for every sample from start on.
func exporterModel(t *testing.T, yaml string, value func(time.Time) float64, start, end time.Time) (map[time.Time]anomaly.Result, *anomaly.Model, *queryconfig.Query) {
	t.Helper()
	cfg, err := queryconfig.Parse([]byte("source: {url: http://prometheus:9090}\nqueries:\n" + yaml))
	require.NoError(t, err)
	q := &cfg.Queries[0]
	ac, err := q.Anomaly()
	require.NoError(t, err)
	m, err := anomaly.New(ac)
	require.NoError(t, err)
	step := time.Duration(q.Step)
	out := map[time.Time]anomaly.Result{}
	for ts := alignDown(start.Add(-time.Duration(q.TrainingWindow)), step); !ts.After(end); ts = ts.Add(step) {
		r, err := m.Update(ts, value(ts))
		require.NoError(t, err)
		if !ts.Before(start) {
			out[ts] = r
		}
	}
	return out, m, q
}

// demoSeries serves one series of the demo's workload from the fake Prometheus under expr.
func demoSeries(prom *fakeProm, expr string, w *demo.Workload, s *demo.Series) func(time.Time) float64 {
	labels := map[string]string{"__name__": s.Metric, "job": w.Job, "instance": w.Instance}
	for k, v := range s.Labels {
		labels[k] = v
	}
	value := func(t time.Time) float64 { return w.Value(s, t) }
	prom.mu.Lock()
	prom.series[expr] = []fakeSeries{{labels, value}}
	prom.mu.Unlock()
	return value
}

func bandWidth(t *testing.T, f *data.Frame) (mean float64) {
	lo, hi := field(t, f, "lower"), field(t, f, "upper")
	for i := range f.Rows() {
		l, _ := floatAt(lo, i)
		h, _ := floatAt(hi, i)
		mean += (h - l) / float64(f.Rows())
	}
	return mean
}

// TestBandsMatchTheExporter: with its default settings, an anomaly query gives, on the demo
// shop's checkout sessions (a daily and weekly rhythm up to about 420), the bands and scores
// kizashi-exporter publishes for the same series with its default settings (its 7-day
// training window): same engine, same configuration, same history behind every point.
func TestBandsMatchTheExporter(t *testing.T) {
	prom := newFakeProm(t)
	w := demo.NewWorkload(testNow.Add(-30*24*time.Hour), time.Minute)
	value := demoSeries(prom, `demo_active_sessions{service="checkout",tenant="acme"}`, w, w.Series[0])
	panel := 6 * time.Hour
	d := newTestDatasource(t, settingsFor(prom.URL, nil, nil))
	query := func(model map[string]any) *data.Frame {
		t.Helper()
		model["expr"] = `demo_active_sessions{service="checkout",tenant="acme"}`
		resp, err := d.QueryData(t.Context(), &backend.QueryDataRequest{Queries: []backend.DataQuery{dataQuery("A", "anomaly", panel, model)}})
		require.NoError(t, err)
		r := resp.Responses["A"]
		require.NoError(t, r.Error)
		require.Len(t, r.Frames, 1)
		return r.Frames[0]
	}
	f := query(map[string]any{})

	// The exporter started at the panel's start (its training window behind it), at the step
	// of the panel.
	want, _, q := exporterModel(t, "  - {name: sessions, expr: demo_active_sessions}\n", value, testNow.Add(-panel), testNow)
	require.Equal(t, time.Minute, time.Duration(q.Step))
	times := field(t, f, "time")
	require.Equal(t, len(want), f.Rows())
	for i := range f.Rows() {
		ts := times.At(i).(time.Time)
		r, ok := want[ts]
		require.True(t, ok, "row %s", ts)
		for name, v := range map[string]float64{"baseline": r.Baseline, "lower": r.Lower, "upper": r.Upper, "score": r.Score, "deviation": r.Deviation} {
			got, _ := floatAt(field(t, f, name), i)
			require.InDelta(t, v, got, 1e-9*math.Max(1, math.Abs(v)), "%s at %s: the exporter published %g", name, ts.Format(time.RFC3339), v)
		}
	}

	// For the record: band widths with the exporter's history and with shorter warm-ups.
	line := fmt.Sprintf("mean band width over the panel: default %.1f", bandWidth(t, f))
	for _, wu := range []string{"1d", "2d", "3d"} {
		line += fmt.Sprintf(", warm-up %s %.1f", wu, bandWidth(t, query(map[string]any{"warmUp": wu})))
	}
	t.Log(line)
}

// provisionedSettings are the instance settings of the Kizashi data source as shipped in
// dashboards/grafana/provisioning, with promURL for $PROMETHEUS_URL and no webhook.
func provisionedSettings(t *testing.T, promURL string) backend.DataSourceInstanceSettings {
	t.Helper()
	raw, err := dashboards.Files.ReadFile("grafana/provisioning/datasources/kizashi.yml")
	require.NoError(t, err)
	expanded := os.Expand(string(raw), func(k string) string {
		if k == "PROMETHEUS_URL" {
			return promURL
		}
		return ""
	})
	var doc struct {
		Datasources []struct {
			Type     string         `yaml:"type"`
			URL      string         `yaml:"url"`
			JSONData map[string]any `yaml:"jsonData"`
		} `yaml:"datasources"`
	}
	require.NoError(t, yaml.Unmarshal([]byte(expanded), &doc))
	for _, ds := range doc.Datasources {
		if ds.Type == ID {
			return settingsFor(ds.URL, ds.JSONData, nil)
		}
	}
	t.Fatalf("no %s data source in the provisioning file", ID)
	return backend.DataSourceInstanceSettings{}
}

// TestCapacityForecastMatchesTheExporter: a forecast query with the provisioned settings and
// nothing but the threshold finds the breach of the demo's acme volume (95 GB used of 100,
// growing 2 GB a day) that kizashi-exporter's storage query of the demo (trend on, two weeks
// of training, breaches looked for within 7 days) publishes, within 10 %.
func TestCapacityForecastMatchesTheExporter(t *testing.T) {
	const tolerance = 0.10
	prom := newFakeProm(t)
	w := demo.NewWorkload(testNow, time.Minute)
	expr := `demo_disk_used_bytes{tenant="acme"}`
	value := demoSeries(prom, expr, w, w.Series[4])
	require.Equal(t, "acme", w.Series[4].Labels["tenant"])

	// The exporter, started now, at the panel's step (see demo/queryconfig.go, whose
	// step is the demo's scrape interval).
	_, m, q := exporterModel(t, `  - name: storage
    expr: demo_disk_used_bytes
    step: 1m
    training_window: 14d
    min: 0
    trend: "on"
    thresholds: [1e11]
    breach_within: 7d
`, value, testNow, testNow)
	want, ok := m.BreachETA(q.Thresholds[0], q.BreachHorizon())
	require.True(t, ok, "the exporter forecasts the breach")

	// The capacity dashboard's range (the last two days) at the same step.
	d := newTestDatasource(t, provisionedSettings(t, prom.URL))
	resp, err := d.QueryData(t.Context(), &backend.QueryDataRequest{Queries: []backend.DataQuery{
		dataQuery("F", "forecast", 48*time.Hour, map[string]any{"expr": expr, "threshold": demo.DiskCapacity}),
	}})
	require.NoError(t, err)
	r := resp.Responses["F"]
	require.NoError(t, r.Error)
	eta := r.Frames[len(r.Frames)-1]
	require.Equal(t, "breach ETA", eta.Name)
	secs, ok := floatAt(field(t, eta, "breach eta"), 0)
	require.True(t, ok, "the data source forecasts the breach (the exporter: in %s)", want)
	got := time.Duration(secs * float64(time.Second))
	t.Logf("breach ETA: exporter %s, data source %s", want.Round(time.Minute), got.Round(time.Minute))
	require.InEpsilon(t, want.Seconds(), got.Seconds(), tolerance)
}
