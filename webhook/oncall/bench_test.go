package oncall_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/kizashi-dev/kizashi/webhook/oncall"
)

func benchSchedule(b *testing.B) *oncall.Schedule {
	tokyo := loc(b, "Asia/Tokyo")
	s := &oncall.Schedule{Name: "ops", Location: tokyo, Members: []string{"a", "b", "c", "d"}, Period: oncall.Daily, Handoff: 9 * time.Hour,
		Start: time.Date(2026, 1, 1, 0, 0, 0, 0, tokyo)}
	for i := range 20 {
		from := time.Date(2026, 12, 1+i, 18, 0, 0, 0, tokyo)
		s.Overrides = append(s.Overrides, oncall.Override{Contact: "e", From: from, To: from.Add(3 * time.Hour)})
	}
	return s
}

// BenchmarkAt is "who is on call now" in a schedule with 20 overrides (the page and the API
// ask it for every schedule, each escalation step for its levels').
func BenchmarkAt(b *testing.B) {
	s := benchSchedule(b)
	at := time.Date(2026, 12, 10, 3, 0, 0, 0, time.UTC)
	b.ReportAllocs()
	for b.Loop() {
		_ = s.At(at)
	}
}

// BenchmarkICal is one calendar export: 63 days of a daily rotation with 20 overrides.
func BenchmarkICal(b *testing.B) {
	s := benchSchedule(b)
	now := time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC)
	var buf bytes.Buffer
	b.ReportAllocs()
	for b.Loop() {
		buf.Reset()
		if err := oncall.WriteICal(&buf, s, now.Add(-7*24*time.Hour), now.Add(56*24*time.Hour), now, nil); err != nil {
			b.Fatal(err)
		}
	}
}
