package seriesset_test

import (
	"reflect"
	"testing"

	"github.com/kizashi-dev/kizashi/anomaly"
	"github.com/kizashi-dev/kizashi/exporter/seriesset"
)

func TestScratchSizes(t *testing.T) {
	for _, v := range []any{anomaly.Model{}, seriesset.Series{}, seriesset.Published{}, anomaly.Result{}, anomaly.Forecast{}} {
		ty := reflect.TypeOf(v)
		t.Logf("%s: %d", ty, ty.Size())
		if ty.Name() == "Model" || ty.Name() == "Series" {
			for i := range ty.NumField() {
				f := ty.Field(i)
				t.Logf("  %-14s off=%5d size=%5d %s", f.Name, f.Offset, f.Type.Size(), f.Type)
			}
		}
	}
}
