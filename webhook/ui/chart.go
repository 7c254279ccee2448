package ui

import (
	"context"
	"fmt"
	"html"
	"math"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"

	"github.com/kizashi-dev/kizashi/webhook/apitypes"
)

// The anomaly chart of an incident: the series behind the alert that opened it (an alert of
// kizashi's rules carries the series' labels, kizashi_query among them), read from the
// configured Prometheus with query_range around the alert's start and drawn on the server as
// SVG: the value with its learned band, the anomaly score, the start, and the engine's reason
// (the alert's annotation "reason").

// chartMetrics are the exporter's series the chart shows.
var chartMetrics = []string{"kizashi_value", "kizashi_lower", "kizashi_upper", "kizashi_anomaly_score"}

// ruleLabels are labels an alerting rule adds to the series' own (left out of the selector).
var ruleLabels = []string{"alertname", "severity", "category", "itil_impact", "itil_urgency"}

// chartInfo is what the incident's page says about its anomaly.
type chartInfo struct {
	// Configured: a Prometheus is configured (page.prometheus_url), the chart can be drawn.
	Configured bool
	Reason     string
	Query      string
	Start      time.Time
}

// anomalyAlert is the incident's first alert of a kizashi series (nil: none).
func anomalyAlert(d *apitypes.Detail) *apitypes.Alert {
	var first *apitypes.Alert
	for i := range d.Alerts {
		a := &d.Alerts[i]
		if a.Labels["kizashi_query"] == "" || a.StartsAt == nil {
			continue
		}
		if first == nil || a.StartsAt.Before(*first.StartsAt) {
			first = a
		}
	}
	return first
}

func (u *UI) chartInfo(d *apitypes.Detail) *chartInfo {
	a := anomalyAlert(d)
	if a == nil {
		return nil
	}
	return &chartInfo{Configured: u.pageConfig().PrometheusURL != "", Reason: a.Annotations["reason"],
		Query: a.Labels["kizashi_query"], Start: *a.StartsAt}
}

// seriesSelector is the PromQL selector of the exporter's series of an alert: its labels but
// those of the rule, and the chart's metric names.
func seriesSelector(labels map[string]string) string {
	names := make([]string, 0, len(labels))
	for k := range labels {
		if !slices.Contains(ruleLabels, k) && model.LegacyValidation.IsValidLabelName(k) && k != model.MetricNameLabel {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	parts := []string{`__name__=~"` + strings.Join(chartMetrics, "|") + `"`}
	for _, k := range names {
		parts = append(parts, k+"="+strconv.Quote(labels[k]))
	}
	return "{" + strings.Join(parts, ",") + "}"
}

// chart draws the incident's anomaly chart (SVG; a message in the SVG when it cannot).
func (u *UI) chart(w http.ResponseWriter, r *http.Request, v viewer) {
	id, ok := u.reader().IncidentID(r.PathValue("id"))
	if !ok {
		http.NotFound(w, r)
		return
	}
	rd := u.reader()
	rd.Groups = v.Groups
	d, err := rd.Detail(r.Context(), v.Scope(), id)
	if err != nil {
		u.fail(w, v, err)
		return
	}
	w.Header().Set("Content-Type", "image/svg+xml")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "private, max-age=60")
	a := anomalyAlert(d)
	cfg := u.pageConfig()
	switch {
	case a == nil:
		_, _ = w.Write([]byte(messageSVG(v.L.T("This incident was not opened by an anomaly alert."))))
		return
	case cfg.PrometheusURL == "":
		_, _ = w.Write([]byte(messageSVG(v.L.T("No Prometheus is configured (page.prometheus_url): the chart cannot be drawn."))))
		return
	}
	window := time.Duration(cfg.ChartWindow)
	start := *a.StartsAt
	from, to := start.Add(-window), start.Add(window)
	if now := time.Now(); to.After(now) {
		to = now
	}
	if !to.After(from) {
		to = from.Add(time.Minute)
	}
	series, err := u.queryChart(r.Context(), cfg.PrometheusURL, seriesSelector(a.Labels), from, to)
	if err != nil {
		u.Logger.Warn("anomaly chart", "prometheus", cfg.PrometheusURL, "err", err)
		_, _ = w.Write([]byte(messageSVG(v.L.T("Prometheus could not be queried: %s", err.Error()))))
		return
	}
	if len(series["kizashi_value"]) == 0 && len(series["kizashi_anomaly_score"]) == 0 {
		_, _ = w.Write([]byte(messageSVG(v.L.T("Prometheus has no kizashi series for this alert's labels between %s and %s.",
			v.L.Time(from), v.L.Time(to)))))
		return
	}
	// Where the series began after the window's start (a series the exporter has modelled for
	// less than the window), the chart starts with its data, read again at a finer step.
	if first := firstSample(series); first.After(from.Add(to.Sub(from) / 4)) {
		nf := first
		if start.Before(nf) {
			nf = start
		}
		nf = nf.Add(-to.Sub(nf) / 20)
		if to.Sub(nf) >= 10*time.Second {
			if again, err := u.queryChart(r.Context(), cfg.PrometheusURL, seriesSelector(a.Labels), nf, to); err == nil {
				series, from = again, nf
			}
		}
	}
	_, _ = w.Write([]byte(chartSVG(v.L, series, from, to, start, a.Annotations["reason"])))
}

// firstSample is the time of the earliest sample of the series (zero: none).
func firstSample(s map[string][]model.SamplePair) time.Time {
	var first time.Time
	for _, ps := range s {
		if len(ps) > 0 {
			if t := ps[0].Timestamp.Time(); first.IsZero() || t.Before(first) {
				first = t
			}
		}
	}
	return first
}

// queryChart reads the chart's series (by metric name) from Prometheus.
func (u *UI) queryChart(ctx context.Context, addr, selector string, from, to time.Time) (map[string][]model.SamplePair, error) {
	c, err := api.NewClient(api.Config{Address: addr, Client: u.Prometheus})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	step := max(time.Second, to.Sub(from)/300).Truncate(time.Second)
	val, _, _, err := v1.NewAPI(c).QueryRange(ctx, selector, v1.Range{Start: from, End: to, Step: step})
	if err != nil {
		return nil, err
	}
	m, ok := val.(model.Matrix)
	if !ok {
		return nil, fmt.Errorf("unexpected result type %s", val.Type())
	}
	out := map[string][]model.SamplePair{}
	for _, s := range m {
		name := string(s.Metric[model.MetricNameLabel])
		if _, seen := out[name]; !seen {
			out[name] = s.Values
		}
	}
	return out, nil
}

// messageSVG is a chart that says why there is none.
func messageSVG(msg string) string {
	return `<svg xmlns="http://www.w3.org/2000/svg" width="720" height="60" viewBox="0 0 720 60" role="img">` +
		`<rect width="720" height="60" fill="#fff" stroke="#dde"/>` +
		`<text x="12" y="34" font-family="sans-serif" font-size="13" fill="#667">` + svgText(msg) + `</text></svg>`
}

// Layout of the chart (pixels).
const (
	chartW, chartH   = 720, 330
	plotL, plotR     = 60, 700
	valueT, valueB   = 40, 210
	scoreT, scoreB   = 240, 300
	chartFontFamily  = `font-family="sans-serif"`
	chartFontSizeSm  = `font-size="11"`
	chartTextColour  = `fill="#445"`
	chartBandColour  = `fill="#a9cce3" fill-opacity="0.6"`
	chartValueColour = `stroke="#1b4f72"`
)

// chartSVG draws the value with its band (top) and the anomaly score (bottom) between from and
// to, a line at the alert's start and the reason.
func chartSVG(l *Locale, s map[string][]model.SamplePair, from, to, start time.Time, reason string) string {
	x := func(t time.Time) float64 {
		return plotL + float64(t.Sub(from))/float64(to.Sub(from))*(plotR-plotL)
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, n := range []string{"kizashi_value", "kizashi_lower", "kizashi_upper"} {
		for _, p := range s[n] {
			f := float64(p.Value)
			if math.IsNaN(f) || math.IsInf(f, 0) {
				continue
			}
			lo, hi = math.Min(lo, f), math.Max(hi, f)
		}
	}
	if math.IsInf(lo, 0) {
		lo, hi = 0, 1
	}
	// Scaled by halves, so that values near ±MaxFloat64 do not overflow the span.
	lo2, span2 := lo/2, hi/2-lo/2
	if !(span2 > 0) || math.IsInf(span2, 0) {
		lo2, span2 = lo/2-0.5, 1
	}
	lo2, span2 = lo2-span2*0.05, span2*1.1
	yv := func(f float64) float64 { return valueB - (f/2-lo2)/span2*(valueB-valueT) }
	ys := func(f float64) float64 { return scoreB - math.Max(0, math.Min(1, f))*(scoreB-scoreT) }
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" role="img">`, chartW, chartH, chartW, chartH)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="#fff"/>`, chartW, chartH)
	title := l.T("Anomaly around the start")
	if reason != "" {
		title += " — " + reason
	}
	fmt.Fprintf(&b, `<text x="%d" y="20" %s font-size="13" fill="#1d232a" class="reason">%s</text>`, plotL, chartFontFamily, svgText(title))
	// Band: the upper bound left to right, then the lower bound back.
	if up, low := s["kizashi_upper"], s["kizashi_lower"]; len(up) > 0 && len(low) > 0 {
		var pts []string
		for _, p := range up {
			pts = append(pts, point(x(p.Timestamp.Time()), yv(float64(p.Value))))
		}
		for i := len(low) - 1; i >= 0; i-- {
			pts = append(pts, point(x(low[i].Timestamp.Time()), yv(float64(low[i].Value))))
		}
		fmt.Fprintf(&b, `<polygon class="band" points="%s" %s/>`, strings.Join(pts, " "), chartBandColour)
	}
	b.WriteString(polyline("value", s["kizashi_value"], x, yv, chartValueColour+` stroke-width="1.5"`))
	b.WriteString(polyline("score", s["kizashi_anomaly_score"], x, ys, `stroke="#b00020" stroke-width="1.2"`))
	// Axes and labels.
	fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="#bbc"/>`, plotL, valueT, plotR-plotL, valueB-valueT)
	fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="#bbc"/>`, plotL, scoreT, plotR-plotL, scoreB-scoreT)
	label := func(xp, yp float64, anchor, text string) {
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="%s" %s %s %s>%s</text>`, xp, yp, anchor, chartFontFamily, chartFontSizeSm, chartTextColour, svgText(text))
	}
	top, bottom := (lo2+span2)*2, lo2*2
	if math.IsInf(top, 0) || math.IsInf(bottom, 0) {
		top, bottom = hi, lo
	}
	label(plotL-4, valueT+10, "end", formatValue(top))
	label(plotL-4, valueB, "end", formatValue(bottom))
	label(plotL-4, scoreT+10, "end", "1")
	label(plotL-4, scoreB, "end", "0")
	label(plotL+4, valueT+14, "start", l.T("value and normal band"))
	label(plotL+4, scoreT+14, "start", l.T("anomaly score"))
	label(plotL, scoreB+16, "start", l.Time(from))
	label(plotR, scoreB+16, "end", l.Time(to))
	sx := x(start)
	fmt.Fprintf(&b, `<line class="start" x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#d35400" stroke-dasharray="4 3"/>`, sx, valueT, sx, scoreB)
	anchor := "middle"
	switch {
	case sx > plotR-110:
		anchor = "end"
	case sx < plotL+110:
		anchor = "start"
	}
	label(sx, scoreB+28, anchor, l.T("start %s", l.Time(start)))
	b.WriteString(`</svg>`)
	return b.String()
}

// svgText is text for the SVG: escaped, without the characters XML 1.0 does not allow (a
// control character in an alert's annotation would make the whole chart unreadable).
func svgText(s string) string {
	s = strings.Map(func(r rune) rune {
		switch {
		case r == '\t' || r == '\n' || r == '\r':
			return ' '
		case r < 0x20, r == 0xFFFE, r == 0xFFFF, r >= 0xD800 && r <= 0xDFFF:
			return -1
		}
		return r
	}, strings.ToValidUTF8(s, "\uFFFD"))
	return html.EscapeString(s)
}

func point(x, y float64) string {
	return strconv.FormatFloat(x, 'f', 1, 64) + "," + strconv.FormatFloat(y, 'f', 1, 64)
}

// polyline draws a series; NaN and infinite samples break the line.
func polyline(class string, ps []model.SamplePair, x func(time.Time) float64, y func(float64) float64, attrs string) string {
	var (
		b   strings.Builder
		pts []string
	)
	flush := func() {
		if len(pts) > 0 {
			fmt.Fprintf(&b, `<polyline class="%s" points="%s" fill="none" %s/>`, class, strings.Join(pts, " "), attrs)
		}
		pts = pts[:0]
	}
	for _, p := range ps {
		f := float64(p.Value)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			flush()
			continue
		}
		pts = append(pts, point(x(p.Timestamp.Time()), y(f)))
	}
	flush()
	return b.String()
}

func formatValue(f float64) string { return strconv.FormatFloat(f, 'g', 4, 64) }
