package oncall

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"
)

// WriteICal writes the schedule's shifts in [from, to) as an iCalendar
// object (RFC 5545): one VEVENT per shift with times in UTC (so no VTIMEZONE
// is needed), a UID stable across exports (so calendar clients update rather
// than duplicate), TEXT values escaped (3.3.11) and lines folded at 75 octets
// on character boundaries (3.1), CRLF line ends. names maps a member to the
// name shown (nil or missing: the member itself).
func WriteICal(w io.Writer, s *Schedule, from, to, now time.Time, names map[string]string) error {
	iw := &icalWriter{w: w}
	iw.line("BEGIN:VCALENDAR")
	iw.line("VERSION:2.0")
	iw.line("PRODID:-//Kizashi//On-call schedule//EN")
	iw.line("CALSCALE:GREGORIAN")
	iw.line("METHOD:PUBLISH")
	iw.line("X-WR-CALNAME:" + EscapeText("On call: "+s.Name))
	stamp := now.UTC().Format("20060102T150405Z")
	for _, sh := range s.Shifts(from, to) {
		name := sh.Contact
		if n, ok := names[sh.Contact]; ok && n != "" {
			name = n
		}
		sum := sha256.Sum256([]byte(fmt.Sprintf("%s\x00%s\x00%d\x00%d\x00%t", s.Name, sh.Contact, sh.Start.UnixNano(), sh.End.UnixNano(), sh.Override)))
		iw.line("BEGIN:VEVENT")
		iw.line("UID:" + hex.EncodeToString(sum[:16]) + "@kizashi")
		iw.line("DTSTAMP:" + stamp)
		iw.line("DTSTART:" + sh.Start.UTC().Format("20060102T150405Z"))
		iw.line("DTEND:" + sh.End.UTC().Format("20060102T150405Z"))
		summary := "On call: " + name
		if sh.Override {
			summary += " (override)"
		}
		iw.line("SUMMARY:" + EscapeText(summary))
		iw.line("DESCRIPTION:" + EscapeText(s.Name+": "+name))
		iw.line("TRANSP:TRANSPARENT")
		iw.line("END:VEVENT")
	}
	iw.line("END:VCALENDAR")
	return iw.err
}

// EscapeText escapes an RFC 5545 TEXT value: backslash, semicolon, comma and
// newlines; other control characters (not allowed in TEXT) become spaces.
func EscapeText(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\\':
			b.WriteString(`\\`)
		case r == ';':
			b.WriteString(`\;`)
		case r == ',':
			b.WriteString(`\,`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
		case r == utf8.RuneError:
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f:
			b.WriteByte(' ')
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

type icalWriter struct {
	w   io.Writer
	err error
}

// line writes a content line folded at 75 octets: continuation lines start
// with one space, and a multi-byte character is never split.
func (iw *icalWriter) line(s string) {
	if iw.err != nil {
		return
	}
	var b strings.Builder
	n := 0
	limit := 75
	for _, r := range s {
		l := utf8.RuneLen(r)
		if l < 0 {
			l = 3 // written as U+FFFD
		}
		if n+l > limit {
			b.WriteString("\r\n ")
			n = 0
			limit = 74 // the leading space counts
		}
		b.WriteRune(r)
		n += l
	}
	b.WriteString("\r\n")
	_, iw.err = io.WriteString(iw.w, b.String())
}
