package testenv

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestWriteOpenMetrics(t *testing.T) {
	start := time.Unix(1700000000, 250e6)
	var b strings.Builder
	require.NoError(t, WriteOpenMetrics(&b, Series("m", map[string]string{"z": "1", "a": `q"\`}, start, time.Second, 2,
		func(i int, _ time.Time) float64 { return []float64{1.5, 2}[i] })))
	require.Equal(t, `m{a="q\"\\",z="1"} 1.5 1700000000.250
m{a="q\"\\",z="1"} 2 1700000001.250
# EOF
`, b.String())

	err := WriteOpenMetrics(&b, slices.Values([]Sample{{Metric: "bad-name"}}))
	require.ErrorContains(t, err, `invalid metric name "bad-name"`)
}

func TestMergeFlags(t *testing.T) {
	got := mergeFlags([]string{"--a=1", "--b", "--c=3"}, []string{"--c=4", "--d"})
	require.Equal(t, []string{"--a=1", "--b", "--c=4", "--d"}, got)
}

func TestFreePortUnique(t *testing.T) {
	seen := map[int]bool{}
	for range 50 {
		p := FreePort(t)
		require.False(t, seen[p], "port %d handed out twice", p)
		seen[p] = true
	}
}
