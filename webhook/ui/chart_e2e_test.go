//go:build e2e

package ui_test

import (
	"iter"
	"math"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kizashi-dev/kizashi/internal/testenv"
)

func concat(seqs ...iter.Seq[testenv.Sample]) iter.Seq[testenv.Sample] {
	return func(yield func(testenv.Sample) bool) {
		for _, s := range seqs {
			for v := range s {
				if !yield(v) {
					return
				}
			}
		}
	}
}

// TestAnomalyChart: the incident an anomaly alert opened shows the series around the alert's
// start, read from a real Prometheus (query_range of the exporter's series for the alert's
// labels): the value with its band, the score, a line at the start and the engine's reason.
func TestAnomalyChart(t *testing.T) {
	start := time.Now().Add(-48 * time.Hour).Truncate(time.Hour) // history, loaded in blocks
	alertAt := start.Add(2 * time.Hour)
	series := map[string]string{"kizashi_query": "sessions", "kizashi_metric": "demo_active_sessions", "job": "shop", "instance": "shop-1", "tenant": "acme"}
	otherInstance := map[string]string{"kizashi_query": "sessions", "kizashi_metric": "demo_active_sessions", "job": "shop", "instance": "shop-2", "tenant": "acme"}
	young := map[string]string{"kizashi_query": "sessions", "kizashi_metric": "demo_active_sessions", "job": "shop", "instance": "shop-3", "tenant": "acme"}
	spike := func(tm time.Time) bool { return !tm.Before(alertAt) && tm.Before(alertAt.Add(10*time.Minute)) }
	value := func(_ int, tm time.Time) float64 {
		if spike(tm) {
			return 300
		}
		return 100 + 5*math.Sin(float64(tm.Unix())/600)
	}
	score := func(_ int, tm time.Time) float64 {
		if spike(tm) {
			return 0.97
		}
		return 0.1
	}
	n := 4 * 60
	prom := testenv.StartPrometheus(t, testenv.PromOptions{HistorySamples: concat(
		testenv.Series("kizashi_value", series, start, time.Minute, n, value),
		testenv.Series("kizashi_lower", series, start, time.Minute, n, func(int, time.Time) float64 { return 90 }),
		testenv.Series("kizashi_upper", series, start, time.Minute, n, func(int, time.Time) float64 { return 110 }),
		testenv.Series("kizashi_anomaly_score", series, start, time.Minute, n, score),
		testenv.Series("kizashi_value", otherInstance, start, time.Minute, n, func(int, time.Time) float64 { return 50000 }),
		// A series modelled since 5 minutes before its alert.
		testenv.Series("kizashi_value", young, alertAt.Add(-5*time.Minute), 15*time.Second, 60, value),
		testenv.Series("kizashi_anomaly_score", young, alertAt.Add(-5*time.Minute), 15*time.Second, 60, score),
	)})

	d := newDesk(t, "page:\n  prometheus_url: "+prom.URL()+"\n  chart_window: 1h\n")
	labels := map[string]string{"alertname": "KizashiAnomaly", "severity": "warning", "category": "anomaly"}
	for k, v := range series {
		labels[k] = v
	}
	id := d.ingest("acme", "anomaly", alertAt, labels, map[string]string{"reason": "level shift up: 300 against a band of 90-110",
		"summary": "Unusual behaviour"})
	cookie, _ := d.session(tok)
	path := "/incidents/" + strconv.FormatInt(id, 10)
	page := d.do(cookie, http.MethodGet, path, nil, nil).body
	require.Contains(t, page, `<b id="reason">level shift up: 300 against a band of 90-110</b>`)
	require.Contains(t, page, `<img id="chart" src="`+path+`/chart.svg"`)

	ans := d.do(cookie, http.MethodGet, path+"/chart.svg", nil, nil)
	require.Equal(t, http.StatusOK, ans.code)
	require.Equal(t, "image/svg+xml", ans.header.Get("Content-Type"))
	svg := parseSVG(t, ans.body)
	lines := map[string][]pt{}
	for _, p := range svg.Polylines {
		lines[p.Class] = append(lines[p.Class], points(t, p.Points)...)
	}
	require.Greater(t, len(lines["value"]), 100, "the window's samples")
	require.Greater(t, len(lines["score"]), 100)
	require.Len(t, svg.Polygons, 1, "the band")
	require.Len(t, svg.Lines, 1)
	startX := svg.Lines[0].X1
	require.InDelta(t, 380, startX, 1, "the start in the middle of [start-1h, start+1h]")
	// The highest value (smallest y) is the spike, just after the start; the other instance's
	// 50,000 is not on the chart.
	top := lines["value"][0]
	for _, p := range lines["value"] {
		if p.y < top.y {
			top = p
		}
	}
	require.GreaterOrEqual(t, top.x, startX-1)
	require.Less(t, top.x, startX+60, "within the spike's 10 minutes (of 120 across 640 px)")
	var texts []string
	for _, tx := range svg.Texts {
		texts = append(texts, tx.Text)
	}
	require.Contains(t, texts, "Anomaly around the start — level shift up: 300 against a band of 90-110")
	require.NotContains(t, strings.Join(texts, " "), "5e+04")
	require.NotContains(t, strings.Join(texts, " "), "50000")

	// In Japanese and in the user's zone.
	ja := d.do(cookie, http.MethodGet, path+"/chart.svg", nil, map[string]string{"Accept-Language": "ja"},
		&http.Cookie{Name: "kizashi_tz", Value: "Asia/Tokyo"}).body
	require.Contains(t, ja, "開始 "+alertAt.In(mustZone(t, "Asia/Tokyo")).Format("2006-01-02 15:04:05"))

	// A young series: the chart starts with its data (read again at a finer step), not an hour
	// before the alert.
	yl := map[string]string{"alertname": "KizashiAnomaly", "severity": "warning"}
	for k, v := range young {
		yl[k] = v
	}
	yid := d.ingest("acme", "young", alertAt, yl, nil)
	ysvg := parseSVG(t, d.do(cookie, http.MethodGet, "/incidents/"+strconv.FormatInt(yid, 10)+"/chart.svg", nil, nil).body)
	var yvalue []pt
	for _, p := range ysvg.Polylines {
		if p.Class == "value" {
			yvalue = append(yvalue, points(t, p.Points)...)
		}
	}
	require.NotEmpty(t, yvalue)
	require.Less(t, yvalue[0].x, 100.0, "the first sample near the left edge")
	require.Greater(t, len(yvalue), 50, "a finer step for the shorter range")
	require.Len(t, ysvg.Lines, 1)
	require.Greater(t, ysvg.Lines[0].X1, 100.0)
	require.Less(t, ysvg.Lines[0].X1, 300.0, "5 of the 5+(up to 60) minutes shown")

	// Prometheus gone: the chart says so.
	prom.Stop(t)
	ans = d.do(cookie, http.MethodGet, path+"/chart.svg", nil, nil)
	require.Equal(t, http.StatusOK, ans.code)
	require.Contains(t, ans.body, "Prometheus could not be queried")
}
