package incident

import "time"

// SLAClock counts SLA time: package bizhours' calendars implement it. With
// one, a priority's response and resolve targets are business time from the
// incident's creation, and the wall-clock time spent on hold is added to the
// targets as business time (a hold overnight extends the due time by that
// many open hours: generous to the desk, never short).
type SLAClock interface {
	// Add returns the instant d of counted time after t.
	Add(t time.Time, d time.Duration) time.Time
}
