package ui

import (
	"bytes"
	"encoding/csv"
	"encoding/xml"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/stretchr/testify/require"
)

// FuzzSeriesSelector: whatever an alert's labels say (they come from a tenant), the selector
// parses as PromQL and selects exactly the chart's metrics with those labels: a value cannot
// break out of its string.
func FuzzSeriesSelector(f *testing.F) {
	f.Add("instance", `db1`, "job", `x"} or vector(1) or {a="`)
	f.Add("kizashi_query", "sessions\\", "tenant", "日本\n\t\x00")
	f.Add("severity", "critical", "__name__", "up")
	p := parser.NewParser(parser.Options{})
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2 string) {
		if !utf8.ValidString(v1) || !utf8.ValidString(v2) {
			t.Skip("label values reach the page as UTF-8 (package sanitize)")
		}
		labels := map[string]string{k1: v1, k2: v2}
		ms, err := p.ParseMetricSelector(seriesSelector(labels))
		require.NoError(t, err, seriesSelector(labels))
		want := map[string]string{}
		for k, v := range labels {
			if model.LegacyValidation.IsValidLabelName(k) && k != "__name__" && !contains(ruleLabels, k) {
				want[k] = v
			}
		}
		got := map[string]string{}
		for _, m := range ms {
			if m.Name == "__name__" {
				require.Equal(t, strings.Join(chartMetrics, "|"), m.Value)
				continue
			}
			got[m.Name] = m.Value
		}
		require.Equal(t, want, got)
	})
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// FuzzChartSVG: the chart is well-formed XML whatever the reason says, and the reason is text
// in it (never markup).
func FuzzChartSVG(f *testing.F) {
	f.Add("level shift up", 1.0, 2.0)
	f.Add(`</text><script>alert(1)</script>`, -1e308, 1e308)
	f.Add("\x01\x02\uFFFE\xff", 0.0, 0.0)
	f.Fuzz(func(t *testing.T, reason string, v1, v2 float64) {
		from := time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC)
		to := from.Add(time.Hour)
		s := map[string][]model.SamplePair{}
		for _, n := range chartMetrics {
			s[n] = []model.SamplePair{{Timestamp: model.TimeFromUnixNano(from.UnixNano()), Value: model.SampleValue(v1)},
				{Timestamp: model.TimeFromUnixNano(to.UnixNano()), Value: model.SampleValue(v2)}}
		}
		out := chartSVG(english, s, from, to, from.Add(30*time.Minute), reason)
		d := xml.NewDecoder(strings.NewReader(out))
		for {
			tok, err := d.Token()
			if err != nil {
				require.ErrorContains(t, err, "EOF", out)
				break
			}
			if se, ok := tok.(xml.StartElement); ok {
				require.NotEqual(t, "script", se.Name.Local)
			}
		}
		require.NotContains(t, out, "NaN")
		require.NotContains(t, out, "Inf")
	})
}

// FuzzCSVCell: a cell never starts with a character a spreadsheet takes for a formula, and a
// CSV row of such cells reads back as written.
func FuzzCSVCell(f *testing.F) {
	for _, s := range []string{"=1+1", "+1", "-1", "@A1", "\tx", "\rx", "ok", "", "日本"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c := csvCell(s)
		if c != "" {
			require.False(t, strings.ContainsRune("=+-@\t\r", rune(c[0])), "%q", c)
		}
		require.True(t, c == s || c == "'"+s)
		var b bytes.Buffer
		w := csv.NewWriter(&b)
		require.NoError(t, w.Write([]string{c, "x"}))
		w.Flush()
		if !utf8.ValidString(s) || strings.ContainsRune(s, '\r') {
			return // the page's text is valid UTF-8; encoding/csv turns \r\n into \n on reading
		}
		rows, err := csv.NewReader(&b).ReadAll()
		require.NoError(t, err)
		require.Equal(t, [][]string{{c, "x"}}, rows)
	})
}
