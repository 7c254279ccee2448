package ui_test

import (
	"encoding/xml"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// svgDoc is what the tests read of a chart.
type svgDoc struct {
	Polylines []struct {
		Class  string `xml:"class,attr"`
		Points string `xml:"points,attr"`
	} `xml:"polyline"`
	Polygons []struct {
		Class  string `xml:"class,attr"`
		Points string `xml:"points,attr"`
	} `xml:"polygon"`
	Lines []struct {
		Class string  `xml:"class,attr"`
		X1    float64 `xml:"x1,attr"`
	} `xml:"line"`
	Texts []struct {
		Class string `xml:"class,attr"`
		Text  string `xml:",chardata"`
	} `xml:"text"`
}

func parseSVG(t *testing.T, body string) svgDoc {
	t.Helper()
	var d svgDoc
	require.NoError(t, xml.Unmarshal([]byte(body), &d), body)
	return d
}

type pt struct{ x, y float64 }

func points(t *testing.T, s string) []pt {
	t.Helper()
	var out []pt
	for _, p := range strings.Fields(s) {
		x, y, ok := strings.Cut(p, ",")
		require.True(t, ok, p)
		xf, err := strconv.ParseFloat(x, 64)
		require.NoError(t, err)
		yf, err := strconv.ParseFloat(y, 64)
		require.NoError(t, err)
		out = append(out, pt{xf, yf})
	}
	return out
}

func mustZone(t *testing.T, name string) *time.Location {
	t.Helper()
	z, err := time.LoadLocation(name)
	require.NoError(t, err)
	return z
}

// TestAnomalyChartWithoutPrometheus: without page.prometheus_url the incident says that the
// chart cannot be drawn; an incident of another alert has no anomaly section.
func TestAnomalyChartWithoutPrometheus(t *testing.T) {
	d := newDesk(t, "")
	id := d.ingest("acme", "anomaly", time.Now(), map[string]string{"alertname": "KizashiAnomaly", "kizashi_query": "q", "instance": "a"},
		map[string]string{"reason": "spike"})
	plain := d.ingest("acme", "disk", time.Now(), map[string]string{"alertname": "DiskFull"}, nil)
	cookie, _ := d.session(tok)
	path := "/incidents/" + strconv.FormatInt(id, 10)
	page := d.do(cookie, http.MethodGet, path, nil, nil).body
	require.Contains(t, page, `<p id="no-chart" class="muted">No Prometheus is configured (page.prometheus_url)`)
	require.Contains(t, page, `<b id="reason">spike</b>`)
	require.NotContains(t, page, `<img id="chart"`)
	require.Contains(t, d.do(cookie, http.MethodGet, path+"/chart.svg", nil, nil).body, "No Prometheus is configured")
	page = d.do(cookie, http.MethodGet, "/incidents/"+strconv.FormatInt(plain, 10), nil, nil).body
	require.NotContains(t, page, `id="anomaly"`)
	require.Contains(t, d.do(cookie, http.MethodGet, "/incidents/"+strconv.FormatInt(plain, 10)+"/chart.svg", nil, nil).body, "not opened by an anomaly alert")
	// Another tenant's chart: not found.
	gcookie, _ := d.session(tokGlobx)
	require.Equal(t, http.StatusNotFound, d.do(gcookie, http.MethodGet, path+"/chart.svg", nil, nil).code)
}
