package ui_test

import (
	"net/http"
	"strconv"
	"testing"
	"time"
)

// BenchmarkQueue: the queue sorted by SLA due and its CSV export, over 5,000 open incidents of
// one tenant in SQLite (every page of the store read, converted, sorted, rendered): the cost of
// one operator's refresh at the queue's limit.
func BenchmarkQueue(b *testing.B) {
	d := newDesk(b, "")
	now := time.Now()
	for i := range 5000 {
		d.ingest("acme", "g"+strconv.Itoa(i), now, map[string]string{"alertname": "A" + strconv.Itoa(i), "instance": "host" + strconv.Itoa(i%97),
			"itil_impact": strconv.Itoa(1 + i%3), "itil_urgency": strconv.Itoa(1 + i/3%3)}, nil)
	}
	cookie, _ := d.session(tok)
	for _, bc := range []struct{ name, path string }{{"page", "/incidents?open=true"}, {"csv", "/incidents.csv?open=true"}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			var size int
			for b.Loop() {
				a := d.do(cookie, http.MethodGet, bc.path, nil, nil)
				if a.code != http.StatusOK {
					b.Fatalf("%s: %d", bc.path, a.code)
				}
				size = len(a.body)
			}
			b.ReportMetric(float64(size), "bytes/answer")
		})
	}
}
