package incident

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kizashi-dev/kizashi/webhook/bizhours"
)

func TestSLAInBusinessHours(t *testing.T) {
	tokyo, err := time.LoadLocation("Asia/Tokyo")
	require.NoError(t, err)
	week, err := bizhours.ParseWeek([]string{"mon-fri 09:00-18:00"})
	require.NoError(t, err)
	cal, err := bizhours.New("office", tokyo, week, map[bizhours.Date]string{{Year: 2026, Month: 12, Day: 7}: "company holiday"})
	require.NoError(t, err)
	p := DefaultPolicy()
	p.SLA = map[int]SLATarget{1: {Response: 15 * time.Minute, Resolve: 4 * time.Hour}, 3: {Response: 4 * time.Hour, Resolve: 16 * time.Hour}}
	p.SLAClocks = map[int]SLAClock{3: cal}
	sat := time.Date(2026, 12, 5, 3, 0, 0, 0, tokyo) // saturday 03:00
	p1 := &Incident{Priority: 1, CreatedAt: sat}
	p1.setSLA(p)
	require.True(t, p1.ResponseDue.Equal(sat.Add(15*time.Minute)), "P1 is 24x7: %s", p1.ResponseDue)
	p3 := &Incident{Priority: 3, CreatedAt: sat}
	p3.setSLA(p)
	// Monday is a holiday: the clock starts tuesday 09:00.
	require.True(t, p3.ResponseDue.Equal(time.Date(2026, 12, 8, 13, 0, 0, 0, tokyo)), "P3 response due %s", p3.ResponseDue.In(tokyo))
	require.True(t, p3.ResolveDue.Equal(time.Date(2026, 12, 9, 16, 0, 0, 0, tokyo)), "P3 resolve due %s", p3.ResolveDue.In(tokyo))
	// An hour on hold adds an hour of business time.
	p3.PausedTotal = time.Hour
	p3.setSLA(p)
	require.True(t, p3.ResponseDue.Equal(time.Date(2026, 12, 8, 14, 0, 0, 0, tokyo)))
}
