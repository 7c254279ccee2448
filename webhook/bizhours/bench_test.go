package bizhours_test

import (
	"testing"
	"time"
)

// BenchmarkAdd is the cost of one SLA due time in business hours: a 16h resolve target from
// a Friday evening over a weekend and a holiday (the sweep and every incident change compute
// due times).
func BenchmarkAdd(b *testing.B) {
	c := cal(b, "Asia/Tokyo", []string{"mon-fri 09:00-12:00,13:00-18:00"}, "2026-12-07\n")
	tokyo := mustLoc(b, "Asia/Tokyo")
	from := time.Date(2026, 12, 4, 17, 0, 0, 0, tokyo)
	b.ReportAllocs()
	for b.Loop() {
		_ = c.Add(from, 16*time.Hour)
	}
}
