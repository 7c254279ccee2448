package web

import (
	"fmt"
	"html/template"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/kizashi-dev/kizashi/anomaly"
	"github.com/kizashi-dev/kizashi/exporter/seriesset"
)

// chart is an inline SVG of a series: band (area), raw (line), baseline (line), forecast path
// with its interval (dashed), and the anomaly score in a strip below. Everything in it is
// numbers written by us, so it is safe as template.HTML.
func chart(pts []seriesset.ChartPoint, path []anomaly.Forecast, last time.Time, w, h int, labelled bool, zone *time.Location) template.HTML {
	if len(pts) == 0 && len(path) == 0 {
		return template.HTML(fmt.Sprintf(`<svg class="chart empty" width="%d" height="%d" role="img" aria-label="no data yet"><text x="8" y="%d">no data yet</text></svg>`, w, h, h/2))
	}
	scoreH := h / 5
	mainH := h - scoreH - 4
	// Time and value ranges.
	t0, t1 := int64(math.MaxInt64), int64(math.MinInt64)
	lo, hi := math.Inf(1), math.Inf(-1)
	seeT := func(t time.Time) {
		n := t.UnixNano()
		t0, t1 = min(t0, n), max(t1, n)
	}
	seeV := func(vs ...float64) {
		for _, v := range vs {
			if !math.IsNaN(v) && !math.IsInf(v, 0) {
				lo, hi = min(lo, v), max(hi, v)
			}
		}
	}
	for _, p := range pts {
		seeT(p.Time)
		seeV(p.Value, p.Lower, p.Upper, p.Baseline)
	}
	for _, f := range path {
		seeT(last.Add(f.Horizon))
		seeV(f.Value, f.Lower, f.Upper)
	}
	if t1 <= t0 {
		t1 = t0 + 1
	}
	if math.IsInf(lo, 0) {
		lo, hi = 0, 1
	}
	if hi <= lo {
		hi, lo = lo+1, lo-1
	}
	pad := (hi - lo) * 0.05
	lo, hi = lo-pad, hi+pad
	x := func(t time.Time) float64 { return float64(t.UnixNano()-t0) / float64(t1-t0) * float64(w) }
	y := func(v float64) float64 {
		return float64(mainH) - (v-lo)/(hi-lo)*float64(mainH)
	}
	ys := func(s float64) float64 { return float64(h) - s*float64(scoreH) }

	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" width="%d" height="%d" viewBox="0 0 %d %d" role="img" aria-label="series chart">`, w, h, w, h)
	line := func(class string, n int, at func(i int) (float64, float64, bool)) {
		var d strings.Builder
		pen := false
		for i := range n {
			px, py, ok := at(i)
			if !ok || math.IsNaN(py) || math.IsInf(py, 0) {
				pen = false
				continue
			}
			if pen {
				fmt.Fprintf(&d, "L%.1f %.1f", px, py)
			} else {
				fmt.Fprintf(&d, "M%.1f %.1f", px, py)
				pen = true
			}
		}
		if d.Len() > 0 {
			fmt.Fprintf(&b, `<path class="%s" d="%s"/>`, class, d.String())
		}
	}
	area := func(class string, n int, at func(i int) (float64, float64, float64)) {
		if n == 0 {
			return
		}
		var d strings.Builder
		for i := range n {
			px, top, _ := at(i)
			if i == 0 {
				fmt.Fprintf(&d, "M%.1f %.1f", px, top)
			} else {
				fmt.Fprintf(&d, "L%.1f %.1f", px, top)
			}
		}
		for i := n - 1; i >= 0; i-- {
			px, _, bot := at(i)
			fmt.Fprintf(&d, "L%.1f %.1f", px, bot)
		}
		d.WriteString("Z")
		fmt.Fprintf(&b, `<path class="%s" d="%s"/>`, class, d.String())
	}
	finite := func(v float64, alt float64) float64 {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return alt
		}
		return v
	}
	area("band", len(pts), func(i int) (float64, float64, float64) {
		p := pts[i]
		return x(p.Time), y(finite(p.Upper, hi)), y(finite(p.Lower, lo))
	})
	area("forecast-band", len(path), func(i int) (float64, float64, float64) {
		f := path[i]
		return x(last.Add(f.Horizon)), y(finite(f.Upper, hi)), y(finite(f.Lower, lo))
	})
	line("baseline", len(pts), func(i int) (float64, float64, bool) { return x(pts[i].Time), y(pts[i].Baseline), true })
	line("raw", len(pts), func(i int) (float64, float64, bool) { return x(pts[i].Time), y(pts[i].Value), true })
	line("forecast", len(path), func(i int) (float64, float64, bool) {
		return x(last.Add(path[i].Horizon)), y(path[i].Value), true
	})
	fmt.Fprintf(&b, `<line class="axis" x1="0" y1="%d" x2="%d" y2="%d"/>`, mainH+2, w, mainH+2)
	line("score", len(pts), func(i int) (float64, float64, bool) { return x(pts[i].Time), ys(pts[i].Score), true })
	if labelled {
		fmt.Fprintf(&b, `<text class="tick" x="2" y="10">%s</text>`, template.HTMLEscapeString(format(hi)))
		fmt.Fprintf(&b, `<text class="tick" x="2" y="%d">%s</text>`, mainH-2, template.HTMLEscapeString(format(lo)))
		fmt.Fprintf(&b, `<text class="tick" x="2" y="%d">score</text>`, h-2)
		fmt.Fprintf(&b, `<text class="tick" x="%d" y="%d" text-anchor="end">%s</text>`, w-2, h-2,
			template.HTMLEscapeString(InZone(time.Unix(0, t1), zone).Format("2006-01-02 15:04 MST")))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) // numbers and escaped text only
}

// format writes v for people: four significant digits, with an SI prefix from k (10^3) to
// E (10^18) for large magnitudes and from m (10^-3) to n (10^-9) for small ones (9.526e+10 is
// "95.26 G"), as Grafana's "short" unit does; beyond those, the exponent. The exact value is
// on /metrics.
func format(v float64) string {
	a := math.Abs(v)
	switch {
	case math.IsNaN(v):
		return "–"
	case v == 0, math.IsInf(v, 0), a >= 999.95e18, a < 1e-9:
		return strconv.FormatFloat(v, 'g', 4, 64)
	case a >= 0.001 && a < 999.95:
		return strconv.FormatFloat(v, 'g', 4, 64)
	}
	exp := int(math.Floor(math.Log10(a)/3)) * 3 // ..., -6, -3, 3, 6, ...
	m := v / math.Pow10(exp)
	if math.Abs(m) >= 999.95 { // rounds up to the next prefix
		exp += 3
		m = v / math.Pow10(exp)
	}
	if exp == 0 {
		return strconv.FormatFloat(v, 'g', 4, 64)
	}
	return strconv.FormatFloat(m, 'g', 4, 64) + " " + siPrefix[exp]
}

var siPrefix = map[int]string{-9: "n", -6: "µ", -3: "m", 3: "k", 6: "M", 9: "G", 12: "T", 15: "P", 18: "E"}

// Chart is the chart of a replayed series (no forecast path), with its value range and end
// time labelled (in zone; UTC without one): what kizashi-exporter's Prometheus backtest report
// draws per series.
func Chart(pts []seriesset.ChartPoint, w, h int, zone *time.Location) template.HTML {
	return chart(pts, nil, time.Time{}, w, h, true, zone)
}
