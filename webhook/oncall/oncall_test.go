package oncall_test

import (
	"bytes"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/kizashi-dev/kizashi/webhook/oncall"
)

func loc(t testing.TB, name string) *time.Location {
	l, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestDailyRotationAcrossDST(t *testing.T) {
	berlin := loc(t, "Europe/Berlin")
	s := &oncall.Schedule{Name: "dba", Location: berlin, Members: []string{"alice", "bob", "carol"}, Period: oncall.Daily,
		Handoff: 9 * time.Hour, Start: time.Date(2026, 3, 27, 0, 0, 0, 0, berlin)}
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		at   time.Time
		want string
	}{
		{time.Date(2026, 3, 27, 8, 59, 0, 0, berlin), "carol"}, // before the first hand-off: the shift before it
		{time.Date(2026, 3, 27, 9, 0, 0, 0, berlin), "alice"},
		{time.Date(2026, 3, 28, 3, 0, 0, 0, berlin), "alice"},
		{time.Date(2026, 3, 28, 9, 0, 0, 0, berlin), "bob"},
		{time.Date(2026, 3, 29, 8, 59, 0, 0, berlin), "bob"}, // the night the clocks go forward
		{time.Date(2026, 3, 29, 9, 0, 0, 0, berlin), "carol"},
		{time.Date(2026, 3, 30, 9, 0, 0, 0, berlin), "alice"},
		{time.Date(2026, 10, 25, 8, 0, 0, 0, berlin), s.Members[(days(2026, 3, 27, 2026, 10, 24))%3]},
	}
	for _, c := range cases {
		if got := s.At(c.at).Contact; got != c.want {
			t.Errorf("at %s: %s, want %s", c.at, got, c.want)
		}
	}
	// The shift over the spring change lasts 23 hours, the autumn one 25, and hand-offs stay at 09:00.
	sh := s.Rotation(time.Date(2026, 3, 28, 12, 0, 0, 0, berlin))
	if d := sh.End.Sub(sh.Start); d != 23*time.Hour {
		t.Errorf("spring shift lasts %s", d)
	}
	sh = s.Rotation(time.Date(2026, 10, 24, 12, 0, 0, 0, berlin))
	if d := sh.End.Sub(sh.Start); d != 25*time.Hour || sh.End.In(berlin).Hour() != 9 {
		t.Errorf("autumn shift lasts %s, ends %s", d, sh.End.In(berlin))
	}
}

func days(y1 int, m1 time.Month, d1, y2 int, m2 time.Month, d2 int) int {
	return int(time.Date(y2, m2, d2, 0, 0, 0, 0, time.UTC).Sub(time.Date(y1, m1, d1, 0, 0, 0, 0, time.UTC)).Hours() / 24)
}

func TestWeeklyRotationAndOverrides(t *testing.T) {
	tokyo := loc(t, "Asia/Tokyo")
	s := &oncall.Schedule{Name: "ops", Location: tokyo, Members: []string{"hanako", "taro"}, Period: oncall.Weekly,
		Handoff: 10 * time.Hour, Start: time.Date(2026, 12, 7, 0, 0, 0, 0, tokyo)} // a Monday
	if got := s.At(time.Date(2026, 12, 13, 23, 0, 0, 0, tokyo)).Contact; got != "hanako" {
		t.Errorf("sunday night: %s", got)
	}
	if got := s.At(time.Date(2026, 12, 14, 10, 0, 0, 0, tokyo)).Contact; got != "taro" {
		t.Errorf("second monday 10:00: %s", got)
	}
	if got := s.At(time.Date(2026, 12, 21, 9, 59, 0, 0, tokyo)).Contact; got != "taro" {
		t.Errorf("third monday 09:59: %s", got)
	}
	if got := s.At(time.Date(2026, 11, 30, 9, 0, 0, 0, tokyo)).Contact; got != "hanako" { // two weeks before the start
		t.Errorf("before the start: %s", got)
	}
	s.Overrides = []oncall.Override{
		{Contact: "jiro", From: time.Date(2026, 12, 9, 18, 0, 0, 0, tokyo), To: time.Date(2026, 12, 10, 9, 0, 0, 0, tokyo)},
		{Contact: "saburo", From: time.Date(2026, 12, 10, 0, 0, 0, 0, tokyo), To: time.Date(2026, 12, 10, 1, 0, 0, 0, tokyo)},
	}
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	at := s.At(time.Date(2026, 12, 9, 23, 0, 0, 0, tokyo))
	if at.Contact != "jiro" || !at.Override {
		t.Errorf("override: %+v", at)
	}
	if got := s.At(time.Date(2026, 12, 10, 0, 30, 0, 0, tokyo)).Contact; got != "saburo" {
		t.Errorf("the later override wins: %s", got)
	}
	shifts := s.Shifts(time.Date(2026, 12, 9, 0, 0, 0, 0, tokyo), time.Date(2026, 12, 15, 0, 0, 0, 0, tokyo))
	var got []string
	for _, sh := range shifts {
		got = append(got, sh.Contact+"@"+sh.Start.In(tokyo).Format("02T15"))
	}
	want := "hanako@09T00 jiro@09T18 saburo@10T00 jiro@10T01 hanako@10T09 taro@14T10"
	if strings.Join(got, " ") != want {
		t.Errorf("shifts %s\nwant   %s", strings.Join(got, " "), want)
	}
	for i := 1; i < len(shifts); i++ {
		if !shifts[i].Start.Equal(shifts[i-1].End) {
			t.Errorf("gap between %+v and %+v", shifts[i-1], shifts[i])
		}
	}
}

func TestValidate(t *testing.T) {
	utc := time.UTC
	good := oncall.Schedule{Name: "x", Location: utc, Members: []string{"a"}, Period: oncall.Daily, Start: time.Unix(0, 0)}
	for name, mut := range map[string]func(*oncall.Schedule){
		"name":    func(s *oncall.Schedule) { s.Name = "" },
		"zone":    func(s *oncall.Schedule) { s.Location = nil },
		"members": func(s *oncall.Schedule) { s.Members = nil },
		"period":  func(s *oncall.Schedule) { s.Period = "monthly" },
		"handoff": func(s *oncall.Schedule) { s.Handoff = 24 * time.Hour },
		"start":   func(s *oncall.Schedule) { s.Start = time.Time{} },
		"override": func(s *oncall.Schedule) {
			s.Overrides = []oncall.Override{{Contact: "a", From: time.Unix(10, 0), To: time.Unix(5, 0)}}
		},
	} {
		s := good
		mut(&s)
		if s.Validate() == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// parseICal unfolds and splits an iCalendar object into (name, value) lines,
// checking the framing rules WriteICal promises.
func parseICal(t testing.TB, b []byte) [][2]string {
	t.Helper()
	if !utf8.Valid(b) {
		t.Fatal("not UTF-8")
	}
	s := string(b)
	if !strings.HasSuffix(s, "\r\n") {
		t.Fatal("no final CRLF")
	}
	raw := strings.Split(strings.TrimSuffix(s, "\r\n"), "\r\n")
	var lines []string
	for _, l := range raw {
		if len(l) > 75 {
			t.Fatalf("line of %d octets: %q", len(l), l)
		}
		if strings.ContainsAny(l, "\r\n") {
			t.Fatalf("bare CR or LF in %q", l)
		}
		if strings.HasPrefix(l, " ") {
			if len(lines) == 0 {
				t.Fatal("continuation first")
			}
			lines[len(lines)-1] += l[1:]
			continue
		}
		lines = append(lines, l)
	}
	var out [][2]string
	for _, l := range lines {
		name, value, ok := strings.Cut(l, ":")
		if !ok {
			t.Fatalf("line without a colon: %q", l)
		}
		out = append(out, [2]string{name, value})
	}
	return out
}

func unescape(t testing.TB, v string) string {
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c == ';' || c == ',' {
			t.Fatalf("unescaped %q in %q", c, v)
		}
		if c != '\\' {
			b.WriteByte(c)
			continue
		}
		i++
		if i == len(v) {
			t.Fatalf("trailing backslash in %q", v)
		}
		switch v[i] {
		case 'n', 'N':
			b.WriteByte('\n')
		case '\\', ';', ',':
			b.WriteByte(v[i])
		default:
			t.Fatalf("bad escape \\%c in %q", v[i], v)
		}
	}
	return b.String()
}

func TestICal(t *testing.T) {
	tokyo := loc(t, "Asia/Tokyo")
	s := &oncall.Schedule{Name: "ops; night, 夜間", Location: tokyo, Members: []string{"hanako", "taro"}, Period: oncall.Daily,
		Handoff: 9 * time.Hour, Start: time.Date(2026, 12, 1, 0, 0, 0, 0, tokyo)}
	var buf bytes.Buffer
	from := time.Date(2026, 12, 1, 9, 0, 0, 0, tokyo)
	if err := oncall.WriteICal(&buf, s, from, from.Add(72*time.Hour), time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC),
		map[string]string{"hanako": "山田花子\\ 長い名前の担当者さんです、よろしくお願いします。これは折り返しの試験です"}); err != nil {
		t.Fatal(err)
	}
	lines := parseICal(t, buf.Bytes())
	if lines[0] != [2]string{"BEGIN", "VCALENDAR"} || lines[len(lines)-1] != [2]string{"END", "VCALENDAR"} {
		t.Fatalf("frame %v", lines)
	}
	var events, uids []string
	var starts []string
	for _, l := range lines {
		switch l[0] {
		case "SUMMARY":
			events = append(events, unescape(t, l[1]))
		case "UID":
			uids = append(uids, l[1])
		case "DTSTART":
			starts = append(starts, l[1])
		case "X-WR-CALNAME":
			if got := unescape(t, l[1]); got != "On call: ops; night, 夜間" {
				t.Errorf("calendar name %q", got)
			}
		}
	}
	if len(events) != 3 || events[0] != "On call: 山田花子\\ 長い名前の担当者さんです、よろしくお願いします。これは折り返しの試験です" || events[1] != "On call: taro" {
		t.Errorf("events %q", events)
	}
	if starts[0] != "20261201T000000Z" || starts[1] != "20261202T000000Z" {
		t.Errorf("starts %v", starts)
	}
	if uids[0] == uids[1] {
		t.Error("UIDs repeat")
	}
	// The same shift exported again keeps its UID.
	var again bytes.Buffer
	if err := oncall.WriteICal(&again, s, from.Add(24*time.Hour), from.Add(48*time.Hour), time.Now(), nil); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(again.String(), "UID:"+uids[1]+"\r\n") {
		t.Error("a shift's UID changed between exports")
	}
}

func FuzzICalText(f *testing.F) {
	for _, s := range []string{"", "a,b;c\\d\ne", "長い名前", strings.Repeat("é", 80), "\x00\x1f\r\n\t", "\xff\xfe"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		s := &oncall.Schedule{Name: name, Location: time.UTC, Members: []string{name}, Period: oncall.Daily, Start: time.Unix(0, 0)}
		var buf bytes.Buffer
		if err := oncall.WriteICal(&buf, s, time.Unix(0, 0), time.Unix(86400, 0), time.Unix(0, 0), nil); err != nil {
			t.Fatal(err)
		}
		for _, l := range parseICal(t, buf.Bytes()) {
			if l[0] == "X-WR-CALNAME" {
				got := unescape(t, l[1])
				want := oncall.EscapeText("On call: " + name)
				if oncall.EscapeText(got) != want && utf8.ValidString(name) {
					t.Errorf("round trip of %q: %q", name, got)
				}
			}
		}
	})
}
