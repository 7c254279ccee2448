package source

import (
	"fmt"
	"math"
	"testing"

	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"
)

// FuzzFastInstant: an answer fastInstant reads, it reads as the general decoder does (the same
// samples, labels and values, bit for bit), with or without interning, also when one interner
// reads several answers; max_response_samples is left to the general decoder.
func FuzzFastInstant(f *testing.F) {
	for _, s := range []string{
		`{"status":"success","data":{"resultType":"vector","result":[{"metric":{"__name__":"up","job":"a"},"value":[1700000000.5,"1.25"]}]}}`,
		`{"status":"success","data":{"resultType":"vector","result":[{"metric":{"a":"\ud800x\u00e9"},"value":[1,"-Inf"]},{"metric":{},"value":[2.001,"1e400"]}]}}`,
		`{"status":"success","data":{"resultType":"vector","result":[{"metric":{"b":"c","b":"d"},"value":[1,"NaN"]},{"metric":{"b":"é\xff"},"value":[-1.5e3,"0x1p-2"]}]}}` + "\n",
		`{"status":"success","data":{"resultType":"vector","result":[]}}`,
		`{"status":"success","data":{"resultType":"vector","result":[{"metric":{"a":"b"},"value":[1.2.3,"1"]}]}}`,
		`{"status":"success","data":{"resultType":"vector","result":[{"metric":{"a":"b"},"value":[1,"2",3]}]}}`,
		`{"status":"success","data":{"resultType":"vector","result":[{"metric":{"__name__":"node_load1","instance":"h:9100","job":"node","tenant":"t1","":"x"},"value":[1.7e9,"-0"]},{"metric":{"job":"node","tenant":"t1"},"value":[01,"+1_0"]}]}}`,
		`{"status":"success","data":{"resultType":"vector","result":[{"metric":{"a":""},"value":[-1,"inf"]}]},"warnings":["w"]}`,
	} {
		f.Add([]byte(s), 1000)
	}
	f.Fuzz(func(t *testing.T, body []byte, max int) {
		max = max % 2000
		in := newInterner()
		for range 2 { // the second time with the strings of the first
			fast, ok := fastInstant(body, max, in)
			if !ok {
				return
			}
			plain, ok := fastInstant(body, max, nil)
			require.True(t, ok)
			slow, err := decodeInstantSlow(body, max)
			require.NoError(t, err, "%q", body)
			for _, got := range []model.Vector{fast, plain} {
				require.Equal(t, dump(slow), dump(got), "%q", body)
			}
		}
	})
}

// dump spells a vector with its labels (sorted, quoted) and its values' bits (NaN equal to
// NaN).
func dump(v model.Vector) []string {
	out := []string{}
	for _, s := range v {
		out = append(out, fmt.Sprintf("%s %d %x %d", s.Metric, s.Timestamp, math.Float64bits(float64(s.Value)), len(s.Metric)))
	}
	return out
}

// TestFastInstantInterns: the strings of label names and of the values of labels with few
// values are shared between series; a label with many values (instance) stops being interned.
func TestFastInstantInterns(t *testing.T) {
	body := []byte(fastHead)
	for i := range maxValues + 10 {
		if i > 0 {
			body = append(body, ',')
		}
		body = fmt.Appendf(body, `{"metric":{"__name__":"up","instance":"h%d","job":"node"},"value":[1,"%d"]}`, i, i)
	}
	body = append(body, fastTail...)
	in := newInterner()
	vec, ok := fastInstant(body, 0, in)
	require.True(t, ok)
	require.Len(t, vec, maxValues+10)
	require.NotNil(t, in.values["job"])
	require.Nil(t, in.values["instance"], "too many values")
	require.Equal(t, float64(maxValues+9), float64(vec[maxValues+9].Value))
	require.False(t, math.IsNaN(float64(vec[0].Value)))
}

// BenchmarkDecodeInstant: an answer of 1,000 node_exporter-like series, read by the general
// decoder and by fastInstant (interning).
//
//	go test ./exporter/source -run '^$' -bench DecodeInstant -benchmem
func BenchmarkDecodeInstant(b *testing.B) {
	body := []byte(fastHead)
	for i := range 1000 {
		if i > 0 {
			body = append(body, ',')
		}
		body = fmt.Appendf(body, `{"metric":{"__name__":"node_load1","instance":"host-%d.example.net:9100","job":"node","tenant":"t%d","service":"svc%d"},"value":[1700000000,"%d.25"]}`, i, i%50, i%20, i)
	}
	body = append(body, fastTail...)
	b.Run("general", func(b *testing.B) {
		for b.Loop() {
			if _, err := decodeInstantSlow(body, 0); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("fast", func(b *testing.B) {
		in := newInterner()
		for b.Loop() {
			if _, ok := fastInstant(body, 0, in); !ok {
				b.Fatal("not read")
			}
		}
	})
}
