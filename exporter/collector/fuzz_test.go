package collector_test

import (
	"context"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"

	"github.com/kizashi-dev/kizashi/exporter/collector"
	"github.com/kizashi-dev/kizashi/exporter/exposition"
	"github.com/kizashi-dev/kizashi/exporter/internal/fakesource"
	"github.com/kizashi-dev/kizashi/exporter/queryconfig"
	"github.com/kizashi-dev/kizashi/exporter/seriesset"
)

// FuzzExposition writes one series with two fuzzed labels and a fuzzed metric name for every
// escaping scheme and reads it back with expfmt's and Prometheus' text parsers: it always
// parses, holds exactly the 16 samples of the series (no forged or duplicated series), every
// label value comes back as it was (made valid UTF-8), the sample values are those published,
// and names round-trip exactly where the scheme allows: legacy names always, valid UTF-8
// names for scrapers that accept them, model.EscapeName's spelling for the others.
//
//	go test ./exporter/collector -run '^$' -fuzz FuzzExposition -fuzztime 5m
func FuzzExposition(f *testing.F) {
	for _, s := range [][5]string{
		{"service.name", "checkout", "job", "node", "up"},
		{hostile, "v", "kizashi_query", `"} 1` + "\n", "up"},
		{`a\b"c`, "x\ny", "a\x00b", "\x00", "m"},
		{"\xff\xfe", "\xc3\x28", "サービス", "値", "\xff"},
		{"service_name", "a", "service.name", "a", ""},
		{"kizashi_metric", "x", "exported_kizashi_metric", "y", "m"},
		{"a:b", "1", "1abc", "2", "up"},
		{"", "empty name", "horizon", "h", "up"},
		{"__name__", "x", "exported_horizon", "z", `m"} 1`},
		{"a b", "c", "{", "}", "a\tb"},
	} {
		f.Add(s[0], s[1], s[2], s[3], s[4])
	}
	cfg := queryconfig.DefaultQuery
	cfg.Name, cfg.Expr = "q", "x"
	cfg.Publish = []string{"all"}
	cfg.TrainingWindow = model.Duration(10 * time.Minute)
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, n1, v1, n2, v2, name string) {
		raw := model.Metric{model.LabelName(n1): model.LabelValue(v1), model.LabelName(n2): model.LabelValue(v2)}
		if name != "" {
			raw[model.MetricNameLabel] = model.LabelValue(name)
		}
		q, err := seriesset.New(cfg, seriesset.Options{Metrics: seriesset.NewMetrics(prometheus.NewRegistry()),
			Now: func() time.Time { return now }})
		if err != nil {
			t.Fatal(err)
		}
		src := fakesource.New([]model.Metric{raw}, func(_ int, t time.Time) float64 { return float64(t.Unix()%7) / 3 })
		if _, err := q.Cycle(ctx, src, now); err != nil {
			t.Fatal(err)
		}
		if _, err := q.Backfill(ctx, src); err != nil {
			t.Fatal(err)
		}
		var pub seriesset.Published
		_ = q.Range(1, func(s *seriesset.Series) { pub = *s.Published() }, func() error { return nil })

		// The label values a scrape must show: those of the raw labels that are labels
		// (non-empty name and value), made valid UTF-8.
		wantValues := map[string]int{"q": 1}
		for n, v := range raw {
			if n != "" && v != "" {
				wantValues[exposition.Valid(string(v))]++
			}
		}
		for _, scheme := range schemes {
			var b strings.Builder
			if _, err := collector.WriteText(&b, []*seriesset.Query{q}, scheme); err != nil {
				t.Fatal(err)
			}
			text := b.String()
			samples, err := parseBoth([]byte(text), scheme)
			if err != nil {
				t.Fatalf("%s: %v\n%s", scheme, err, text)
			}
			if len(samples) != 16 {
				t.Fatalf("%s: %d samples, want 16 (7 families, 3 forecasts of 3 horizons):\n%s", scheme, len(samples), text)
			}
			var labels map[string]string
			for _, s := range samples {
				l := map[string]string{}
				for k, v := range s.labels {
					if k != "horizon" {
						l[k] = v
					}
				}
				if labels == nil {
					labels = l
				} else if labelSet(l).Fingerprint() != labelSet(labels).Fingerprint() {
					t.Fatalf("%s: two label sets %v and %v", scheme, labels, l)
				}
				switch s.name {
				case "kizashi_value":
					checkValue(t, scheme, s, pub.Value)
				case "kizashi_baseline":
					checkValue(t, scheme, s, pub.Result.Baseline)
				}
			}
			got := map[string]int{}
			for _, v := range labels {
				got[v]++
			}
			if !equalCounts(got, wantValues) {
				t.Fatalf("%s: label values %v, want %v", scheme, got, wantValues)
			}
			if labels["kizashi_query"] != "q" {
				t.Fatalf("%s: kizashi_query %q", scheme, labels["kizashi_query"])
			}
			if name != "" && labels["kizashi_metric"] != exposition.Valid(name) {
				t.Fatalf("%s: kizashi_metric %q, want %q", scheme, labels["kizashi_metric"], exposition.Valid(name))
			}
			for n, v := range raw {
				if want, exact := exactName(string(n), raw, scheme); exact && v != "" && labels[want] != exposition.Valid(string(v)) {
					t.Fatalf("%s: label %q published as %q=%q, want %q in %v", scheme, n, want, labels[want], v, labels)
				}
			}
		}
	})
}

func checkValue(t *testing.T, scheme model.EscapingScheme, s sample, want float64) {
	t.Helper()
	if !sameFloat(s.value, want) {
		t.Fatalf("%s: %s = %v, published %v", scheme, s.name, s.value, want)
	}
}

func equalCounts(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, n := range a {
		if b[k] != n {
			return false
		}
	}
	return true
}

// exactName returns the name a raw label must be published under for scheme, when the
// spelling is certain: a legacy name keeps it; a valid UTF-8 name keeps it for scrapers that
// accept UTF-8 names; otherwise it is model.EscapeName's spelling, unless another label of
// the series claims that name or the name has a colon (which model.EscapeName keeps).
func exactName(n string, raw model.Metric, scheme model.EscapingScheme) (string, bool) {
	reserved := map[string]bool{"kizashi_query": true, "kizashi_metric": true, "horizon": true, "threshold": true, "": true, "__name__": true}
	if reserved[n] || !utf8.ValidString(n) || strings.Contains(n, "\x00") {
		return "", false
	}
	if scheme == model.NoEscaping || model.LegacyValidation.IsValidLabelName(n) {
		return n, true
	}
	e := model.EscapeName(n, scheme)
	if strings.Contains(n, ":") || reserved[e] {
		return "", false
	}
	for other := range raw {
		if string(other) != n && (string(other) == e || exposition.Name(string(other), scheme) == e) {
			return "", false
		}
	}
	return e, true
}
