package seriesset

import (
	"strings"
	"testing"

	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"
)

// TestPackLabels: raw labels packed into one string come back as they were, whatever their
// names and values (empty, UTF-8, invalid UTF-8, longer than a one-byte length).
func TestPackLabels(t *testing.T) {
	for _, m := range []model.Metric{
		{},
		{model.MetricNameLabel: "up"},
		{model.MetricNameLabel: "node_load1", "instance": "host-1.example.net:9100", "job": "node"},
		{"": "empty name", "empty": "", "service.name": "チェックアウト", "bad": "\xff\xfe", "long": model.LabelValue(strings.Repeat("x", 70_000))},
	} {
		got := unpackLabels(packLabels(m))
		require.Equal(t, m, got)
		require.Equal(t, m.Fingerprint(), got.Fingerprint())
	}
}

func FuzzPackLabels(f *testing.F) {
	f.Add("a", "b", "c", "d")
	f.Fuzz(func(t *testing.T, n1, v1, n2, v2 string) {
		m := model.Metric{model.LabelName(n1): model.LabelValue(v1), model.LabelName(n2): model.LabelValue(v2)}
		require.Equal(t, m, unpackLabels(packLabels(m)))
	})
}
