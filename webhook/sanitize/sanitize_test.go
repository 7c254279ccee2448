package sanitize_test

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/kizashi-dev/kizashi/webhook/sanitize"
)

func TestText(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		max      int
		want     string
	}{
		{"valid unchanged", "disk full on db1", 0, "disk full on db1"},
		{"NUL replaced", "Disk\x00Full", 0, "Disk\uFFFDFull"},
		{"invalid byte replaced", "caf\xe9", 0, "caf\uFFFD"},
		{"each invalid byte is one replacement", "\xff\xfe", 0, "\uFFFD\uFFFD"},
		{"surrogate half replaced per byte", "\xed\xa0\x80", 0, "\uFFFD\uFFFD\uFFFD"},
		{"cut on a rune boundary", strings.Repeat("あ", 200), 512, strings.Repeat("あ", 170)},
		{"cut before a replacement that does not fit", "ab\x00", 4, "ab"},
		{"limit exactly met", "abcd", 4, "abcd"},
		{"empty", "", 10, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := sanitize.Text(tc.in, tc.max)
			require.Equal(t, tc.want, got)
			require.True(t, sanitize.Valid(got))
		})
	}
}

func TestID(t *testing.T) {
	short := sanitize.ID("{}:{alertname=\"X\"}", sanitize.MaxKey)
	require.Equal(t, "{}:{alertname=\"X\"}", short)
	a := sanitize.ID(strings.Repeat("g", 5000)+"a", 100)
	b := sanitize.ID(strings.Repeat("g", 5000)+"b", 100)
	require.NotEqual(t, a, b, "long identifiers stay distinct")
	require.LessOrEqual(t, len(a), 100)
	require.Equal(t, a, sanitize.ID(a, 100), "idempotent")
	require.True(t, strings.HasPrefix(a, "ggg"))
	require.Equal(t, "g\uFFFD", sanitize.ID("g\x00", 100))
}

func TestMap(t *testing.T) {
	m := map[string]string{"a": "b"}
	require.Equal(t, m, sanitize.Map(m))
	require.Nil(t, sanitize.Map(nil))
	got := sanitize.Map(map[string]string{"alert\x00name": "X\xff", "alert\uFFFDname": "kept", "z": "\x00"})
	require.Equal(t, map[string]string{"alert\uFFFDname": "X\uFFFD", "z": "\uFFFD"}, got,
		"colliding keys keep the value of the smaller original key (\\x00 < \\uFFFD)")
}

func TestTime(t *testing.T) {
	epoch := time.Unix(0, 0).UTC()
	for _, tc := range []struct {
		in, want time.Time
		moved    bool
	}{
		{time.Time{}, time.Time{}, false},
		{epoch, epoch, false},
		{time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC), sanitize.MaxTime, true},
		{time.Date(1500, 1, 1, 0, 0, 0, 0, time.UTC), sanitize.MinTime, true},
		{time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), false},
	} {
		got, moved := sanitize.Time(tc.in)
		require.Equal(t, tc.want, got, tc.in)
		require.Equal(t, tc.moved, moved, tc.in)
	}
	// The bounds fit int64 nanoseconds.
	require.Equal(t, sanitize.MinTime, time.Unix(0, sanitize.MinTime.UnixNano()).UTC())
	require.Equal(t, sanitize.MaxTime, time.Unix(0, sanitize.MaxTime.UnixNano()).UTC())
}

// decoded is s decoded rune by rune the way Text repairs it.
func decoded(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r == 0 {
			r = utf8.RuneError
		}
		b.WriteRune(r)
	}
	return b.String()
}

func FuzzText(f *testing.F) {
	for _, s := range []string{"", "plain", "Disk\x00Full", "caf\xe9", strings.Repeat("あ", 200), "\xed\xa0\x80", "\xf4\x90\x80\x80", "a\uFFFDb"} {
		f.Add(s, 512)
		f.Add(s, 3)
	}
	f.Fuzz(func(t *testing.T, s string, max int) {
		max %= 2048
		got := sanitize.Text(s, max)
		if !utf8.ValidString(got) || strings.IndexByte(got, 0) >= 0 {
			t.Fatalf("Text(%q, %d) = %q: not valid UTF-8 without NUL", s, max, got)
		}
		if max > 0 && len(got) > max {
			t.Fatalf("Text(%q, %d) = %q: %d bytes", s, max, got, len(got))
		}
		if again := sanitize.Text(got, max); again != got {
			t.Fatalf("not idempotent: %q then %q", got, again)
		}
		if !strings.HasPrefix(decoded(s), got) {
			t.Fatalf("Text(%q, %d) = %q is not a prefix of the decoded input %q", s, max, got, decoded(s))
		}
		if sanitize.Valid(s) && !strings.HasPrefix(s, got) {
			t.Fatalf("Text(%q, %d) = %q is not a prefix of the valid input", s, max, got)
		}
		if max > 0 && len(got) < max-utf8.UTFMax && len(decoded(s)) > len(got) {
			t.Fatalf("Text(%q, %d) = %q cut more than one rune short of the limit", s, max, got)
		}
		id := sanitize.ID(s, 64)
		if !sanitize.Valid(id) || len(id) > 64 || sanitize.ID(id, 64) != id {
			t.Fatalf("ID(%q) = %q", s, id)
		}
	})
}
