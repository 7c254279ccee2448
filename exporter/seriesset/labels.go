package seriesset

import (
	"encoding/binary"
	"slices"
	"strings"

	"github.com/prometheus/common/model"

	"github.com/kizashi-dev/kizashi/exporter/exposition"
	"github.com/kizashi-dev/kizashi/exporter/metricnames"
)

// reserved are the label names the exporter adds itself (kizashi_query, horizon, threshold,
// reason)
// or gives the raw metric name (kizashi_metric): a raw label of one of these names is
// published as exported_<name>.
var reserved = map[string]bool{metricnames.LabelQuery: true, metricnames.LabelMetric: true, metricnames.LabelHorizon: true, metricnames.LabelThreshold: true, metricnames.LabelReason: true}

// labelTexts returns the published labels of a raw series in exposition syntax, without
// braces, for each escaping scheme (see labelText). Most series have only legacy label names,
// spelled the same for every scheme: they share one string.
func labelTexts(raw model.Metric, query string) [exposition.Schemes]string {
	var out [exposition.Schemes]string
	out[model.NoEscaping] = labelText(raw, query, model.NoEscaping)
	legacy := true
	for n := range raw {
		if n != model.MetricNameLabel && !model.LegacyValidation.IsValidLabelName(string(n)) {
			legacy = false
			break
		}
	}
	for s := range out[1:] {
		scheme := model.EscapingScheme(s + 1)
		if legacy {
			out[scheme] = out[model.NoEscaping]
		} else {
			out[scheme] = labelText(raw, query, scheme)
		}
	}
	return out
}

// pubLabel is a raw label with its published name.
type pubLabel struct {
	raw, name, value string
	kept             bool // name is the raw name (or kizashi_metric for __name__)
}

// labelText returns the published labels of a raw series for scrapers that use scheme:
// `instance="a",kizashi_metric="up",kizashi_query="q"`. The raw metric name becomes
// kizashi_metric, raw labels keep their names (spelled for the scheme, see exposition.Name),
// reserved names become exported_<name>, and kizashi_query comes last. Label names are
// unique: when two raw names are published under one name (service.name and service_name,
// escaped with underscores), the raw name that is kept as it is wins and the other gets
// exported_ prefixes until it is unique (several changed names: in the order of their raw
// names). Labels with an empty name cannot be published and are left out, like those with an
// empty value (no label, to Prometheus). Values are made valid UTF-8 (exposition.Valid).
func labelText(raw model.Metric, query string, scheme model.EscapingScheme) string {
	labels := make([]pubLabel, 0, len(raw))
	for n, v := range raw {
		l := pubLabel{raw: string(n), value: exposition.Valid(string(v))}
		if n == model.MetricNameLabel {
			l.name, l.kept = metricnames.LabelMetric, true
		} else {
			l.name = exposition.Name(string(n), scheme)
			l.kept = l.name == string(n)
			if reserved[l.name] {
				l.name, l.kept = "exported_"+l.name, false
			}
		}
		if l.name != "" && l.value != "" {
			labels = append(labels, l)
		}
	}
	slices.SortFunc(labels, func(a, b pubLabel) int {
		if a.kept != b.kept {
			if a.kept {
				return -1
			}
			return 1
		}
		return strings.Compare(a.raw, b.raw)
	})
	taken := func(name string, upTo int) bool {
		if name == metricnames.LabelQuery || name == metricnames.LabelHorizon || name == metricnames.LabelThreshold || name == model.MetricNameLabel {
			return true
		}
		for _, l := range labels[:upTo] {
			if l.name == name {
				return true
			}
		}
		return false
	}
	for i := range labels {
		for taken(labels[i].name, i) {
			labels[i].name = "exported_" + labels[i].name
		}
	}
	slices.SortFunc(labels, func(a, b pubLabel) int { return strings.Compare(a.name, b.name) })
	b := make([]byte, 0, 16*len(labels)+32)
	for _, l := range labels {
		b = exposition.AppendLabel(b, l.name, l.value)
		b = append(b, ',')
	}
	b = exposition.AppendLabel(b, metricnames.LabelQuery, query)
	return string(b)
}

// owners are the series that publish one label text, by escaping scheme.
type owners [exposition.Schemes]*Series

// claim makes s the owner of its published label text for every scheme where no series owns
// it yet, and marks it shadowed for the others: two series whose published labels are equal
// (raw label sets that differ only in names that escape alike, or in names that are renamed,
// such as kizashi_query and exported_kizashi_query) would be one series to a scraper, so only
// the first is published. q.mu held for writing.
func (q *Query) claim(s *Series) {
	for scheme, text := range s.text {
		o := q.owners[text]
		if o == nil {
			o = &owners{}
			q.owners[text] = o
		}
		if o[scheme] == nil {
			o[scheme] = s
		} else {
			s.shadowed[scheme] = true
			q.shadowed++
		}
	}
}

// release gives up what s owns to the first series it shadowed; q.mu held for writing, s
// already out of q.series.
func (q *Query) release(s *Series) {
	for scheme, text := range s.text {
		if s.shadowed[scheme] {
			s.shadowed[scheme] = false
			q.shadowed--
			continue
		}
		o := q.owners[text]
		if o == nil || o[scheme] != s {
			continue
		}
		o[scheme] = nil
		if q.shadowed > 0 {
			for _, t := range q.list {
				if t.shadowed[scheme] && t.text[scheme] == text && q.series[t.fp] == t {
					o[scheme], t.shadowed[scheme] = t, false
					q.shadowed--
					break
				}
			}
		}
		if *o == (owners{}) {
			delete(q.owners, text)
		}
	}
}

// packLabels returns a series' raw labels as one string, each name and value (names in order)
// preceded by its length as a uvarint: a tenth of a model.Metric's memory (a map, and two
// strings per label), for what is only read to take snapshots and show pages (unpackLabels).
func packLabels(m model.Metric) string {
	names := make([]model.LabelName, 0, len(m))
	size := 0
	for n, v := range m {
		names = append(names, n)
		size += len(n) + len(v) + 2*binary.MaxVarintLen32
	}
	slices.Sort(names)
	b := make([]byte, 0, size)
	for _, n := range names {
		b = binary.AppendUvarint(b, uint64(len(n)))
		b = append(b, n...)
		b = binary.AppendUvarint(b, uint64(len(m[n])))
		b = append(b, m[n]...)
	}
	return string(b)
}

// unpackLabels returns the labels packLabels packed.
func unpackLabels(p string) model.Metric {
	m := model.Metric{}
	for len(p) > 0 {
		var name string
		name, p = unpackString(p)
		var value string
		value, p = unpackString(p)
		m[model.LabelName(name)] = model.LabelValue(value)
	}
	return m
}

func unpackString(p string) (s, rest string) {
	n, k := binary.Uvarint([]byte(p[:min(len(p), binary.MaxVarintLen64)]))
	return p[k : k+int(n)], p[k+int(n):]
}
