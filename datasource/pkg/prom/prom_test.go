package prom

import (
	"math"
	"testing"

	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"
)

func TestChunkSize(t *testing.T) {
	for _, tc := range []struct{ n, size, chunks int }{
		{1, 1, 1},
		{121, 121, 1},
		{2999, 2999, 1},
		{3999, 2000, 2},
		{10081, 1681, 6},
		{11581, 1931, 6},
		{40000, 6667, 6},
		{70001, 8751, 8},
		{100000, 10000, 10},
	} {
		size := chunkSize(tc.n)
		require.Equal(t, tc.size, size, "n=%d", tc.n)
		require.LessOrEqual(t, size, maxChunkPoints)
		require.Equal(t, tc.chunks, (tc.n+size-1)/size, "n=%d", tc.n)
	}
}

func TestDecodeMatrix(t *testing.T) {
	for _, tc := range []struct {
		name     string
		body     string
		series   []Series
		warnings []string
		err      string
	}{
		{name: "matrix", body: `{"status":"success","data":{"resultType":"matrix","result":[
			{"metric":{"__name__":"up","job":"a\"b\\c","x":"\u00e9"},"values":[[1700000000,"1"],[1700000060.5,"NaN"],[1700000120.123,"+Inf"],[1.7000002e9,"-Inf"],[1700000300,"1e3"]]},
			{"metric":{},"values":[],"histograms":[[1,{"count":"1"}]]}]},"warnings":["w1"],"infos":["i"]}`,
			series: []Series{
				{Metric: model.Metric{"__name__": "up", "job": `a"b\c`, "x": "é"}, Samples: []model.SamplePair{
					{Timestamp: 1700000000000, Value: 1}, {Timestamp: 1700000060500, Value: model.SampleValue(math.NaN())},
					{Timestamp: 1700000120123, Value: model.SampleValue(math.Inf(1))}, {Timestamp: 1700000200000, Value: model.SampleValue(math.Inf(-1))},
					{Timestamp: 1700000300000, Value: 1000}}},
				{Metric: model.Metric{}, Samples: []model.SamplePair{}},
			},
			warnings: []string{"w1"}},
		{name: "empty", body: `{"status":"success","data":{"resultType":"matrix","result":[]}}`},
		{name: "api error", body: `{"status":"error","errorType":"bad_data","error":"parse error"}`, err: "bad_data: parse error"},
		{name: "vector", body: `{"status":"success","data":{"resultType":"vector","result":[]}}`, err: "got a vector result"},
		{name: "truncated", body: `{"status":"success","data":{"resultType":"matrix","result":[{"metric":{}`, err: "invalid JSON"},
		{name: "bad value", body: `{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[1,"x"]]}]}}`, err: "sample value"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, warnings, err := decodeMatrix([]byte(tc.body), 4)
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.warnings, warnings)
			require.Len(t, got, len(tc.series))
			for i, s := range tc.series {
				require.Equal(t, s.Metric, got[i].Metric)
				require.Len(t, got[i].Samples, len(s.Samples))
				for j, p := range s.Samples {
					require.Equal(t, p.Timestamp, got[i].Samples[j].Timestamp)
					if math.IsNaN(float64(p.Value)) {
						require.True(t, math.IsNaN(float64(got[i].Samples[j].Value)))
					} else {
						require.Equal(t, p.Value, got[i].Samples[j].Value)
					}
				}
			}
		})
	}
}

// FuzzLabelPathSegment: any label name either is refused or gives a path segment of letters,
// digits, underscores and colons (nothing that can leave /api/v1/label/<segment>/values) that
// Prometheus 3 decodes back to the name.
func FuzzLabelPathSegment(f *testing.F) {
	for _, s := range []string{"job", "service.name", "../../../x", "..", "a/b?c=d#e", "%2e%2e", "ラベル", "\xff", "", "U__x", "_"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, label string) {
		seg, err := LabelPathSegment(label)
		if err != nil {
			require.False(t, model.UTF8Validation.IsValidLabelName(label), "valid name %q refused", label)
			return
		}
		require.NotEmpty(t, seg)
		for _, r := range seg {
			require.True(t, isPathSafe(r), "segment %q of %q", seg, label)
		}
		if seg != label {
			require.Equal(t, label, model.UnescapeName(seg, model.ValueEncodingEscaping), "segment %q", seg)
		}
	})
}
