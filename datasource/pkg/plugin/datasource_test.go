package plugin

import (
	"encoding/json"
	"flag"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"
	"github.com/stretchr/testify/require"

	"github.com/kizashi-dev/kizashi/anomaly"
	"github.com/kizashi-dev/kizashi/datasource/pkg/models"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// shape is what the golden files pin of a response: each frame's schema (names, types,
// labels, field config, meta but the engine's readiness) and row count. Values are checked by properties instead, so
// that tuning the engine does not rewrite the goldens.
type shape struct {
	Error  string            `json:"error,omitempty"`
	Status backend.Status    `json:"status,omitempty"`
	Source string            `json:"source,omitempty"`
	Frames []json.RawMessage `json:"frames"`
	Rows   []int             `json:"rows"`
}

func responseShape(t *testing.T, r backend.DataResponse) shape {
	t.Helper()
	s := shape{Status: r.Status, Source: string(r.ErrorSource), Frames: []json.RawMessage{}, Rows: []int{}}
	if r.Error != nil {
		s.Error = r.Error.Error()
	}
	for _, f := range r.Frames {
		if f.Meta != nil { // readiness and its notices depend on the engine's tuning
			meta := *f.Meta
			meta.Custom, meta.Notices = nil, nil
			f = &data.Frame{Name: f.Name, RefID: f.RefID, Fields: f.Fields, Meta: &meta}
		}
		b, err := data.FrameToJSON(f, data.IncludeSchemaOnly)
		require.NoError(t, err)
		s.Frames = append(s.Frames, b)
		n, err := f.RowLen()
		require.NoError(t, err)
		s.Rows = append(s.Rows, n)
	}
	return s
}

// checkGolden compares the response's shape with testdata/<name>.golden.json (-update rewrites it).
func checkGolden(t *testing.T, name string, r backend.DataResponse) {
	t.Helper()
	got, err := json.MarshalIndent(responseShape(t, r), "", "  ")
	require.NoError(t, err)
	path := filepath.Join("testdata", name+".golden.json")
	if *update {
		require.NoError(t, os.WriteFile(path, append(got, '\n'), 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test -update to create the golden file")
	require.JSONEq(t, string(want), string(got))
}

func field(t *testing.T, f *data.Frame, name string) *data.Field {
	t.Helper()
	fl, idx := f.FieldByName(name)
	require.GreaterOrEqual(t, idx, 0, "field %q in frame %q", name, f.Name)
	return fl
}

func floatAt(fl *data.Field, i int) (float64, bool) {
	v, ok := fl.ConcreteAt(i)
	if !ok {
		return math.NaN(), false
	}
	return v.(float64), true
}

func TestAnomalyQuery(t *testing.T) {
	prom := newFakeProm(t)
	d := newTestDatasource(t, settingsFor(prom.URL, nil, nil))
	resp, err := d.QueryData(t.Context(), &backend.QueryDataRequest{Queries: []backend.DataQuery{
		dataQuery("A", "anomaly", 2*time.Hour, map[string]any{"expr": "test_metric"}),
	}})
	require.NoError(t, err)
	r := resp.Responses["A"]
	require.NoError(t, r.Error)
	checkGolden(t, "anomaly", r)

	require.Len(t, r.Frames, 2)
	a, b := r.Frames[0], r.Frames[1]
	require.Equal(t, `test_metric{instance="a", job="j"}`, a.Name)
	require.Equal(t, 121, a.Rows())
	// The band is drawn from upper down to the lower of the same series.
	require.Equal(t, a.Name+" lower", field(t, a, "upper").Config.Custom["fillBelowTo"])
	require.Equal(t, b.Name+" lower", field(t, b, "upper").Config.Custom["fillBelowTo"])

	// Series a is normal: after warm-up its values stay in the band and its score stays low.
	maxScore := func(f *data.Frame, from, to time.Time) float64 {
		m := 0.0
		times := field(t, f, "time")
		for i := range f.Rows() {
			ts := times.At(i).(time.Time)
			if ts.Before(from) || ts.After(to) {
				continue
			}
			if s, ok := floatAt(field(t, f, "score"), i); ok {
				m = max(m, s)
			}
		}
		return m
	}
	normalMax := maxScore(a, testNow.Add(-2*time.Hour), testNow)
	require.Less(t, normalMax, 0.7, "no alarm at the engine's documented threshold on a normal series")
	// Series b's injected spike scores high: far above the normal series and above anything
	// before it (the thresholds leave room for the engine's tuning), with a large deviation.
	spike := maxScore(b, spikeAt, spikeAt.Add(spikeLen))
	require.Greater(t, spike, max(0.5, normalMax+0.2), "spike score")
	require.Less(t, maxScore(b, testNow.Add(-2*time.Hour), spikeAt.Add(-time.Minute)), spike)
	i, err := b.RowLen()
	require.NoError(t, err)
	for i = range b.Rows() {
		if field(t, b, "time").At(i).(time.Time).Equal(spikeAt) {
			break
		}
	}
	dev, _ := floatAt(field(t, b, "deviation"), i)
	require.Greater(t, dev, 6.0, "deviation at the spike, in robust sigmas")
	// Every row of 0.5 or more says why; the rows below say nothing.
	reasons := 0
	for _, f := range r.Frames {
		for i := range f.Rows() {
			s, _ := floatAt(field(t, f, "score"), i)
			reason := field(t, f, "reason").At(i).(string)
			if s >= anomaly.ReasonMinScore {
				_, err := anomaly.ParseReason(reason)
				require.NoError(t, err, "row %d of %s: score %.2f", i, f.Name, s)
				require.NotEqual(t, "none", reason)
				reasons++
			} else {
				require.Empty(t, reason, "row %d of %s: score %.2f", i, f.Name, s)
			}
		}
	}
	require.Positive(t, reasons, "the spike's rows carry a reason")
	for i := range a.Rows() {
		v, _ := floatAt(field(t, a, "value"), i)
		lo, ok1 := floatAt(field(t, a, "lower"), i)
		hi, ok2 := floatAt(field(t, a, "upper"), i)
		require.True(t, ok1 && ok2)
		require.LessOrEqual(t, lo, hi)
		require.InDelta(t, (lo+hi)/2, v, 3*(hi-lo), "value far outside the band at row %d", i)
	}
	// The default warm-up (the exporter's 7-day training window) plus two hours at 1m: 10,201
	// points per series, read in six chunks.
	require.Equal(t, 6, prom.count("/api/v1/query_range"))
}

func TestForecastQuery(t *testing.T) {
	prom := newFakeProm(t)
	d := newTestDatasource(t, settingsFor(prom.URL, nil, nil))
	threshold := 90.0
	resp, err := d.QueryData(t.Context(), &backend.QueryDataRequest{Queries: []backend.DataQuery{
		dataQuery("F", "forecast", time.Hour, map[string]any{"expr": "rising", "horizon": "2d", "threshold": threshold, "warmUp": "2d", "trend": "on"}),
	}})
	require.NoError(t, err)
	r := resp.Responses["F"]
	require.NoError(t, r.Error)
	checkGolden(t, "forecast", r)

	// The observed rows, then the forecast in a frame of its own: future rows only, each
	// field set on every row (what alert rules reduce).
	require.Len(t, r.Frames, 3)
	obs, fc := r.Frames[0], r.Frames[1]
	require.Equal(t, 61, obs.Rows())
	require.Equal(t, testNow, field(t, obs, "time").At(obs.Rows()-1))
	_, idx := obs.FieldByName("forecast")
	require.Equal(t, -1, idx, "no forecast field on the observed rows")
	require.Equal(t, obs.Name+" forecast", fc.Name)
	require.Equal(t, field(t, obs, "value").Labels, field(t, fc, "forecast").Labels)
	times := field(t, fc, "time")
	require.Equal(t, testNow.Add(3*time.Minute), times.At(0), "the forecast starts after the last sample")
	require.Equal(t, testNow.Add(48*time.Hour), times.At(fc.Rows()-1), "the forecast runs to the horizon")
	for _, name := range []string{"forecast", "forecast lower", "forecast upper"} {
		for i := range fc.Rows() {
			_, ok := floatAt(field(t, fc, name), i)
			require.True(t, ok, "%s set on row %d", name, i)
		}
	}
	fcv, lo, hi := field(t, fc, "forecast"), field(t, fc, "forecast lower"), field(t, fc, "forecast upper")
	v, _ := floatAt(fcv, fc.Rows()-1)
	l, _ := floatAt(lo, fc.Rows()-1)
	u, _ := floatAt(hi, fc.Rows()-1)
	require.LessOrEqual(t, l, v)
	require.LessOrEqual(t, v, u)

	// The path and the ETA are the engine's for the same samples and settings.
	m, err := anomaly.New(anomaly.Config{Step: time.Minute, Trend: anomaly.On,
		Horizons: []time.Duration{time.Hour, 6 * time.Hour, 24 * time.Hour, 48 * time.Hour}})
	require.NoError(t, err)
	rising := func(ts time.Time) float64 {
		return 50 + float64(ts.Sub(testNow.Add(-48*time.Hour)))/float64(time.Hour)*0.5
	}
	for ts := testNow.Add(-49 * time.Hour); !ts.After(testNow); ts = ts.Add(time.Minute) {
		_, err := m.Update(ts, rising(ts))
		require.NoError(t, err)
	}
	want := m.Forecast(48 * time.Hour)
	require.InDelta(t, want.Value, v, 1e-9)
	require.InDelta(t, want.Lower, l, 1e-9)
	require.InDelta(t, want.Upper, u, 1e-9)
	eta := r.Frames[2]
	require.Equal(t, "breach ETA", eta.Name)
	secs, ok := floatAt(field(t, eta, "breach eta"), 0)
	wantETA, wantOK := m.BreachETA(threshold, models.DefaultBreachWithin)
	require.Equal(t, wantOK, ok)
	if ok {
		require.Equal(t, wantETA.Seconds(), secs)
	}
}

func TestQueryErrorsPerRefID(t *testing.T) {
	prom := newFakeProm(t)
	d := newTestDatasource(t, settingsFor(prom.URL, map[string]any{"maxSeries": 1}, nil))
	resp, err := d.QueryData(t.Context(), &backend.QueryDataRequest{Queries: []backend.DataQuery{
		dataQuery("ok", "anomaly", time.Hour, map[string]any{"expr": "single"}),
		dataQuery("syntax", "anomaly", time.Hour, map[string]any{"expr": "bad("}),
		dataQuery("down", "anomaly", time.Hour, map[string]any{"expr": "boom"}),
		dataQuery("series", "anomaly", time.Hour, map[string]any{"expr": "test_metric"}),
		dataQuery("type", "nonsense", time.Hour, map[string]any{"expr": "single"}),
		dataQuery("sens", "anomaly", time.Hour, map[string]any{"expr": "single", "sensitivity": 3}),
		{RefID: "json", QueryType: "anomaly", TimeRange: backend.TimeRange{From: testNow.Add(-time.Hour), To: testNow}, JSON: []byte(`{"expr":`)},
	}})
	require.NoError(t, err)
	require.Len(t, resp.Responses, 7)
	require.NoError(t, resp.Responses["ok"].Error)
	require.Len(t, resp.Responses["ok"].Frames, 1)
	for _, tc := range []struct {
		refID  string
		status backend.Status
		source backend.ErrorSource
		msg    string
	}{
		{"syntax", backend.StatusBadRequest, backend.ErrorSourceDownstream, "bad_data: parse error"},
		{"down", backend.StatusBadGateway, backend.ErrorSourceDownstream, "unavailable: too busy"},
		{"series", backend.StatusBadRequest, backend.ErrorSourceDownstream, "returned 2 series, above the data source's max series per query (1)"},
		{"type", backend.StatusBadRequest, backend.ErrorSourceDownstream, `query type "nonsense"`},
		{"sens", backend.StatusBadRequest, backend.ErrorSourceDownstream, "sensitivity 3: must be in [0,1]"},
		{"json", backend.StatusBadRequest, backend.ErrorSourceDownstream, "decode query"},
	} {
		t.Run(tc.refID, func(t *testing.T) {
			r := resp.Responses[tc.refID]
			require.Error(t, r.Error)
			require.Contains(t, r.Error.Error(), tc.msg)
			require.Equal(t, tc.status, r.Status)
			require.Equal(t, tc.source, r.ErrorSource)
			require.Empty(t, r.Frames)
		})
	}
}

func TestLimitsAndChunks(t *testing.T) {
	prom := newFakeProm(t)
	t.Run("max points", func(t *testing.T) {
		d := newTestDatasource(t, settingsFor(prom.URL, map[string]any{"maxPoints": 1000}, nil))
		resp, err := d.QueryData(t.Context(), &backend.QueryDataRequest{Queries: []backend.DataQuery{
			dataQuery("A", "anomaly", time.Hour, map[string]any{"expr": "single"}),
		}})
		require.NoError(t, err)
		require.ErrorContains(t, resp.Responses["A"].Error, "needs 10141 points per series at step 1m0s, above the data source's max points per query (1000)")
	})
	t.Run("chunks", func(t *testing.T) {
		before := prom.count("/api/v1/query_range")
		d := newTestDatasource(t, settingsFor(prom.URL, nil, nil))
		// 8 days of warm-up and 1 day of panel at 1m: 12,961 points, in six requests read three at a time.
		resp, err := d.QueryData(t.Context(), &backend.QueryDataRequest{Queries: []backend.DataQuery{
			dataQuery("A", "anomaly", 24*time.Hour, map[string]any{"expr": "single", "warmUp": "8d"}),
		}})
		require.NoError(t, err)
		r := resp.Responses["A"]
		require.NoError(t, r.Error)
		require.Equal(t, 6, prom.count("/api/v1/query_range")-before)
		require.Equal(t, 1441, r.Frames[0].Rows())
		require.Equal(t, true, r.Frames[0].Meta.Custom.(map[string]any)["ready"])
	})
}

func TestFieldsFilterAndLegend(t *testing.T) {
	prom := newFakeProm(t)
	d := newTestDatasource(t, settingsFor(prom.URL, nil, nil))
	resp, err := d.QueryData(t.Context(), &backend.QueryDataRequest{Queries: []backend.DataQuery{
		dataQuery("A", "anomaly", time.Hour, map[string]any{"expr": "test_metric", "fields": []string{"score"}, "legendFormat": "{{instance}}"}),
		dataQuery("B", "anomaly", time.Hour, map[string]any{"expr": "test_metric", "legendFormat": "{{job}}"}),
	}})
	require.NoError(t, err)
	a := resp.Responses["A"]
	require.NoError(t, a.Error)
	require.Len(t, a.Frames[0].Fields, 2)
	require.Equal(t, "a score", field(t, a.Frames[0], "score").Config.DisplayNameFromDS)
	// Both series have job="j": names fall back to the label sets to stay unique.
	b := resp.Responses["B"]
	require.NotEqual(t, b.Frames[0].Name, b.Frames[1].Name)
}

// TestConsistentWithStreaming: the data source's batch run equals a streaming run of the
// engine over the same samples, one Update at a time (what the exporter does).
func TestConsistentWithStreaming(t *testing.T) {
	prom := newFakeProm(t)
	d := newTestDatasource(t, settingsFor(prom.URL, map[string]any{"sensitivity": 0.7}, nil))
	resp, err := d.QueryData(t.Context(), &backend.QueryDataRequest{Queries: []backend.DataQuery{
		dataQuery("A", "anomaly", 2*time.Hour, map[string]any{"expr": "single"}),
	}})
	require.NoError(t, err)
	f := resp.Responses["A"].Frames[0]

	m, err := anomaly.New(anomaly.Config{Step: time.Minute, Sensitivity: anomaly.Float(0.7)})
	require.NoError(t, err)
	want := map[time.Time]anomaly.Result{}
	for ts := testNow.Add(-2*time.Hour - models.DefaultWarmUp); !ts.After(testNow); ts = ts.Add(time.Minute) {
		r, err := m.Update(ts, normal(ts, 2))
		require.NoError(t, err)
		want[ts] = r
	}
	times := field(t, f, "time")
	for i := range f.Rows() {
		w := want[times.At(i).(time.Time)]
		for name, v := range map[string]float64{"baseline": w.Baseline, "lower": w.Lower, "upper": w.Upper, "score": w.Score, "deviation": w.Deviation} {
			got, _ := floatAt(field(t, f, name), i)
			require.InDelta(t, v, got, 1e-9, "%s at %s", name, times.At(i))
		}
		wantReason := ""
		if w.Reason != anomaly.ReasonNone {
			wantReason = w.Reason.String()
		}
		require.Equal(t, wantReason, field(t, f, "reason").At(i), "reason at %s", times.At(i))
	}
}

// TestErrorsNameThePanelRange: an error from Prometheus names the panel's time range (and
// the warm-up before it), never the internal chunk of the range that failed.
func TestErrorsNameThePanelRange(t *testing.T) {
	prom := newFakeProm(t)
	d := newTestDatasource(t, settingsFor(prom.URL, nil, nil))
	// 8 days of warm-up and 1 day of panel: read in six chunks.
	resp, err := d.QueryData(t.Context(), &backend.QueryDataRequest{Queries: []backend.DataQuery{
		dataQuery("A", "anomaly", 24*time.Hour, map[string]any{"expr": "boom", "warmUp": "8d"}),
		dataQuery("E", "exported", 24*time.Hour, map[string]any{"queryName": "q1", "expr": "boom"}),
	}})
	require.NoError(t, err)
	from, to := testNow.Add(-24*time.Hour).Format(time.RFC3339), testNow.Format(time.RFC3339)
	stamp := regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ`)
	for ref, want := range map[string]string{
		"A": "anomaly query: panel range " + from + ".." + to + " and 8d of warm-up before it: query_range: unavailable: too busy",
		"E": "exported query: raw series: panel range " + from + ".." + to + ": query_range: unavailable: too busy",
	} {
		r := resp.Responses[ref]
		require.Error(t, r.Error, ref)
		require.Equal(t, want, r.Error.Error())
		require.Equal(t, []string{from, to}, stamp.FindAllString(r.Error.Error(), -1), "%s: only the panel's range", ref)
	}
}

// TestExportedQueryUnknownName: a query name the exporter does not publish is an error that
// lists the names it publishes; a known name with no series in the range is no data.
func TestExportedQueryUnknownName(t *testing.T) {
	prom := newFakeProm(t)
	d := newTestDatasource(t, settingsFor(prom.URL, nil, nil))
	resp, err := d.QueryData(t.Context(), &backend.QueryDataRequest{Queries: []backend.DataQuery{
		dataQuery("U", "exported", time.Hour, map[string]any{"queryName": "nope"}),
	}})
	require.NoError(t, err)
	r := resp.Responses["U"]
	require.EqualError(t, r.Error, `exported query: the exporter publishes no query "nope" in the panel range `+
		testNow.Add(-time.Hour).Format(time.RFC3339)+".."+testNow.Format(time.RFC3339)+`; it publishes: q1`)
	require.Equal(t, backend.StatusBadRequest, r.Status)

	// A known name with no series in the range (the fake has no samples after testNow).
	q := dataQuery("K", "exported", time.Hour, map[string]any{"queryName": "q1"})
	q.TimeRange = backend.TimeRange{From: testNow.Add(time.Hour), To: testNow.Add(2 * time.Hour)}
	resp, err = d.QueryData(t.Context(), &backend.QueryDataRequest{Queries: []backend.DataQuery{q}})
	require.NoError(t, err)
	require.NoError(t, resp.Responses["K"].Error)
	require.Empty(t, resp.Responses["K"].Frames)
}
