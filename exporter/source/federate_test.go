package source

import (
	"fmt"
	"math"
	"testing"

	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"
)

func TestPlainSelector(t *testing.T) {
	for expr, want := range map[string]string{
		`up`:                                  `up`,
		` node_load1{job="node"} `:            `node_load1{job="node"}`,
		`{__name__="a:b:rate5m"}`:             `{__name__="a:b:rate5m"}`,
		`{"service.name"="x"}`:                `{"service.name"="x"}`,
		`up offset 5m`:                        ``,
		`up @ 1700000000`:                     ``,
		`rate(x[5m])`:                         ``,
		`sum by (job) (up)`:                   ``,
		`up > 0`:                              ``,
		`x[5m]`:                               ``,
		`1`:                                   ``,
		`not promql (`:                        ``,
		`label_replace(up, "a", "b", "", "")`: ``,
	} {
		require.Equal(t, want, plainSelector(expr), expr)
	}
}

func TestDecodeFederate(t *testing.T) {
	// As Prometheus writes it: untyped families, instance="" for a series without one.
	body := []byte("# TYPE x untyped\n" +
		`x{a="1",b="q\"uo\\te\nd",instance=""} 1.5 1700000000000` + "\n" +
		`x{a="2",instance="i"} NaN 1700000000000` + "\n" +
		"# TYPE h histogram\n" +
		`h_count{instance=""} 3 1700000000000` + "\n" +
		`h_sum{instance=""} 3 1700000000000` + "\n" +
		"# TYPE y untyped\n" +
		`y{a="4",instance=""} +Inf 1700000000000` + "\n" +
		`{"my.metric","service.name"="s",a="5",instance=""} -2 1700000000000` + "\n")
	ts := model.Time(1700000001000)
	vec, err := decodeFederate(body, 0, ts)
	require.NoError(t, err)
	require.Len(t, vec, 4, vec)
	require.Equal(t, model.Metric{"__name__": "x", "a": "1", "b": "q\"uo\\te\nd"}, vec[0].Metric)
	require.Equal(t, model.SampleValue(1.5), vec[0].Value)
	require.Equal(t, ts, vec[0].Timestamp)
	require.Equal(t, model.Metric{"__name__": "x", "a": "2", "instance": "i"}, vec[1].Metric)
	require.True(t, math.IsNaN(float64(vec[1].Value)))
	require.Equal(t, model.Metric{"__name__": "y", "a": "4"}, vec[2].Metric)
	require.True(t, math.IsInf(float64(vec[2].Value), 1))
	require.Equal(t, model.Metric{"__name__": "my.metric", "service.name": "s", "a": "5"}, vec[3].Metric)

	_, err = decodeFederate(body, 3, ts)
	require.ErrorIs(t, err, ErrTooLarge)
	_, err = decodeFederate([]byte("x{a=1} 1\n"), 0, ts)
	require.Error(t, err)
}

// BenchmarkDecodeFederate reads the /federate answer of BenchmarkDecodeInstant's 1,000 series
// (the exporter's side of a live cycle read from /federate).
//
//	go test ./exporter/source -run '^$' -bench 'Decode(Instant|Federate)' -benchmem
func BenchmarkDecodeFederate(b *testing.B) {
	body := []byte("# TYPE node_load1 untyped\n")
	for i := range 1000 {
		body = fmt.Appendf(body, "node_load1{instance=\"host-%d.example.net:9100\",job=\"node\",service=\"svc%d\",tenant=\"t%d\"} %d.25 1700000000000\n", i, i%20, i%50, i)
	}
	for b.Loop() {
		if _, err := decodeFederate(body, 0, 1700000000000); err != nil {
			b.Fatal(err)
		}
	}
}
