package seriesset

import (
	"math/rand/v2"
	"testing"

	"github.com/prometheus/common/model"
)

// TestFingerprint: fingerprint agrees with model.Metric.Fingerprint, for any labels.
func TestFingerprint(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	str := func() string {
		b := make([]byte, r.IntN(12))
		for i := range b {
			b[i] = byte(r.IntN(256))
		}
		return string(b)
	}
	for range 20_000 {
		m := model.Metric{}
		for range r.IntN(20) {
			m[model.LabelName(str())] = model.LabelValue(str())
		}
		if got, want := fingerprint(m), m.Fingerprint(); got != want {
			t.Fatalf("fingerprint(%v) = %x, want %x", m, got, want)
		}
	}
}

func FuzzFingerprint(f *testing.F) {
	f.Add("__name__", "up", "job", "node", "instance", "a:9100")
	f.Fuzz(func(t *testing.T, n1, v1, n2, v2, n3, v3 string) {
		m := model.Metric{model.LabelName(n1): model.LabelValue(v1), model.LabelName(n2): model.LabelValue(v2), model.LabelName(n3): model.LabelValue(v3)}
		if got, want := fingerprint(m), m.Fingerprint(); got != want {
			t.Fatalf("fingerprint(%v) = %x, want %x", m, got, want)
		}
	})
}
