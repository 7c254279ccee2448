package collector_test

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strings"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/textparse"
)

// sample is one parsed sample: its metric name, labels and value.
type sample struct {
	name   string
	labels map[string]string
	value  float64
}

func (s sample) key() string {
	return s.name + fmt.Sprint(model.LabelSet(labelSet(s.labels)))
}

func labelSet(m map[string]string) model.LabelSet {
	ls := model.LabelSet{}
	for k, v := range m {
		ls[model.LabelName(k)] = model.LabelValue(v)
	}
	return ls
}

// validation is the name validation a scraper applies to an exposition written for scheme.
func validation(scheme model.EscapingScheme) model.ValidationScheme {
	if scheme == model.NoEscaping {
		return model.UTF8Validation
	}
	return model.LegacyValidation
}

// parseBoth parses an exposition written for scheme with expfmt's text parser and with
// Prometheus' own (the scrape loop's), checks that both read the same samples, with valid and
// unique label names, and returns the kizashi_* samples (not the self-metrics), sorted.
func parseBoth(text []byte, scheme model.EscapingScheme) ([]sample, error) {
	a, err := parseExpfmt(text, scheme)
	if err != nil {
		return nil, fmt.Errorf("expfmt: %w", err)
	}
	b, err := parseProm(text, scheme)
	if err != nil {
		return nil, fmt.Errorf("prometheus: %w", err)
	}
	if len(a) != len(b) {
		return nil, fmt.Errorf("expfmt read %d samples, prometheus %d", len(a), len(b))
	}
	for i := range a {
		if a[i].key() != b[i].key() || !sameFloat(a[i].value, b[i].value) {
			return nil, fmt.Errorf("expfmt read %v, prometheus %v", a[i], b[i])
		}
	}
	return a, nil
}

// published reports whether name is a family of the collector (not a self-metric).
func published(name string) bool {
	return strings.HasPrefix(name, "kizashi_") && !strings.HasPrefix(name, "kizashi_exporter_")
}

func sameFloat(a, b float64) bool { return a == b || math.IsNaN(a) && math.IsNaN(b) }

func sortSamples(s []sample) []sample {
	type keyed struct {
		key string
		s   sample
	}
	k := make([]keyed, len(s))
	for i := range s {
		k[i] = keyed{s[i].key(), s[i]}
	}
	slices.SortFunc(k, func(a, b keyed) int { return strings.Compare(a.key, b.key) })
	for i := range k {
		s[i] = k[i].s
	}
	return s
}

func parseExpfmt(text []byte, scheme model.EscapingScheme) ([]sample, error) {
	p := expfmt.NewTextParser(validation(scheme))
	mfs, err := p.TextToMetricFamilies(strings.NewReader(string(text)))
	if err != nil {
		return nil, err
	}
	var out []sample
	for _, name := range slices.Sorted(maps.Keys(mfs)) {
		if !published(name) {
			continue
		}
		for _, m := range mfs[name].Metric {
			s := sample{name: name, labels: map[string]string{}, value: m.GetGauge().GetValue()}
			if m.Untyped != nil {
				s.value = m.GetUntyped().GetValue()
			}
			for _, l := range m.Label {
				s.labels[l.GetName()] = l.GetValue()
			}
			out = append(out, s)
		}
	}
	return sortSamples(out), nil
}

func parseProm(text []byte, scheme model.EscapingScheme) ([]sample, error) {
	p, err := textparse.New(text, "text/plain; version=0.0.4; charset=utf-8", labels.NewSymbolTable(), textparse.ParserOptions{})
	if err != nil {
		return nil, err
	}
	var out []sample
	for {
		e, err := p.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		if e != textparse.EntrySeries {
			continue
		}
		_, _, v := p.Series()
		var ls labels.Labels
		p.Labels(&ls)
		if !ls.IsValid(validation(scheme)) {
			return nil, fmt.Errorf("invalid label names: %s", ls)
		}
		if name, dup := ls.HasDuplicateLabelNames(); dup {
			return nil, fmt.Errorf("duplicate label name %q: %s", name, ls)
		}
		m := ls.Map()
		if !published(m[model.MetricNameLabel]) {
			continue
		}
		s := sample{name: m[model.MetricNameLabel], labels: m, value: v}
		delete(m, model.MetricNameLabel)
		out = append(out, s)
	}
	return sortSamples(out), nil
}
