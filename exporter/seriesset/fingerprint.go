package seriesset

import (
	"slices"
	"strings"

	"github.com/prometheus/common/model"
)

// fingerprint returns m.Fingerprint() (FNV-1a over the labels sorted by name), without its
// allocation and map lookups for series of up to 16 labels: the live cycle computes it for
// every series of every answer (TestFingerprint checks that they agree).
func fingerprint(m model.Metric) model.Fingerprint {
	if len(m) == 0 || len(m) > 16 {
		return m.Fingerprint()
	}
	type label struct{ name, value string }
	var arr [16]label
	labels := arr[:0]
	for n, v := range m {
		labels = append(labels, label{string(n), string(v)})
	}
	slices.SortFunc(labels, func(a, b label) int { return strings.Compare(a.name, b.name) })
	const (
		offset64 = 14695981039346656037
		prime64  = 1099511628211
	)
	h := uint64(offset64)
	for _, l := range labels {
		for i := 0; i < len(l.name); i++ {
			h ^= uint64(l.name[i])
			h *= prime64
		}
		h ^= uint64(model.SeparatorByte)
		h *= prime64
		for i := 0; i < len(l.value); i++ {
			h ^= uint64(l.value[i])
			h *= prime64
		}
		h ^= uint64(model.SeparatorByte)
		h *= prime64
	}
	return model.Fingerprint(h)
}
