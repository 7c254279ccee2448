// Package exposition holds the pieces of the Prometheus text exposition format that
// kizashi-exporter writes itself (for speed, see package collector): label names and values,
// sample values, and the content negotiation that decides how label names are spelled for a
// scraper.
//
// Label names come from the source and may be anything (UTF-8 names like OpenTelemetry's
// service.name, or hostile ones such as `a"} 1` + "\n"). How they are written depends on the
// escaping scheme negotiated with the scraper, as prometheus/common's model defines them:
//
//   - model.NoEscaping (the scraper sent escaping=allow-utf-8, e.g. Prometheus 3): names that
//     are not legacy label names are quoted, {"service.name"="x"};
//   - model.UnderscoreEscaping (the default, e.g. Prometheus 2), model.DotsEscaping and
//     model.ValueEncodingEscaping: such names are escaped into legacy names (service_name,
//     service_dot_name, U__service_2e_name) as model.EscapeName does.
//
// Either way the result parses, and nothing a name or value holds can end a label, a line or
// a series. Text that is not valid UTF-8 cannot be written (the format is UTF-8): invalid
// bytes in names and values become U+FFFD, and so does NUL in names (Prometheus' lexer cannot
// read it in a quoted name).
package exposition

import (
	"math"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Schemes is the number of escaping schemes: model.NoEscaping (0) to
// model.ValueEncodingEscaping (3), usable as array indexes.
const Schemes = int(model.ValueEncodingEscaping) + 1

// FmtText1 is the text format 1.0.0, which Prometheus 3 asks for with escaping=allow-utf-8:
// the 0.0.4 format with quoted UTF-8 names. expfmt does not offer it.
const FmtText1 expfmt.Format = `text/plain; version=1.0.0; charset=utf-8`

// Negotiate returns the format to answer a scrape with (its Content-Type) and the escaping
// scheme of its label names, from the request's Accept header: text 1.0.0 or 0.0.4, with the
// escaping the matching Accept clause asks for, else prometheus/common's default
// (underscores), so that a scraper that says nothing gets names any Prometheus can read.
func Negotiate(h http.Header) (expfmt.Format, model.EscapingScheme) {
	f := expfmt.NegotiateAccept(h, FmtText1, expfmt.FmtText)
	return f, f.ToEscapingScheme()
}

// Valid returns s with every invalid UTF-8 sequence replaced by U+FFFD.
func Valid(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

// Name returns the label name n as written to a scraper that uses scheme: with NoEscaping,
// n made valid UTF-8 without NUL (it is quoted when written if it is not a legacy name);
// otherwise a legacy label name ([a-zA-Z_][a-zA-Z0-9_]*), n itself if it is one, else n
// escaped as model.EscapeName does (which, unlike this, leaves colons in label names).
// The empty name stays empty: no label can have it.
func Name(n string, scheme model.EscapingScheme) string {
	n = Valid(n)
	if scheme == model.NoEscaping {
		return strings.ReplaceAll(n, "\x00", "\uFFFD")
	}
	if n == "" || model.LegacyValidation.IsValidLabelName(n) {
		return n
	}
	var b strings.Builder
	b.Grow(len(n) + 8)
	switch scheme {
	case model.DotsEscaping:
		for i, r := range n {
			switch {
			case r == '_':
				b.WriteString("__")
			case r == '.':
				b.WriteString("_dot_")
			case legacyRune(r, i):
				b.WriteRune(r)
			default:
				b.WriteString("__")
			}
		}
	case model.ValueEncodingEscaping:
		b.WriteString("U__")
		for i, r := range n {
			switch {
			case r == '_':
				b.WriteString("__")
			case legacyRune(r, i):
				b.WriteRune(r)
			default:
				b.WriteByte('_')
				b.WriteString(strconv.FormatInt(int64(r), 16))
				b.WriteByte('_')
			}
		}
	default: // model.UnderscoreEscaping
		for i, r := range n {
			if legacyRune(r, i) {
				b.WriteRune(r)
			} else {
				b.WriteByte('_')
			}
		}
	}
	return b.String()
}

// legacyRune reports whether r may be the i-th byte of a legacy label name.
func legacyRune(r rune, i int) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r == '_' || r >= '0' && r <= '9' && i > 0
}

// AppendLabel appends name="value": the name as it is if it is a legacy label name, else
// quoted, and the value escaped (backslash, double quote, newline). Both must be valid UTF-8
// (see Name and Valid).
func AppendLabel(b []byte, name, value string) []byte {
	if model.LegacyValidation.IsValidLabelName(name) {
		b = append(b, name...)
	} else {
		b = append(b, '"')
		b = appendEscaped(b, name)
		b = append(b, '"')
	}
	b = append(b, '=', '"')
	b = appendEscaped(b, value)
	return append(b, '"')
}

func appendEscaped(b []byte, s string) []byte {
	for {
		i := strings.IndexAny(s, "\\\"\n")
		if i < 0 {
			return append(b, s...)
		}
		b = append(b, s[:i]...)
		switch s[i] {
		case '\n':
			b = append(b, '\\', 'n')
		default:
			b = append(b, '\\', s[i])
		}
		s = s[i+1:]
	}
}

// AppendFloat appends a sample value as the text format spells it (NaN, +Inf, -Inf).
func AppendFloat(b []byte, v float64) []byte {
	switch {
	case math.IsNaN(v):
		return append(b, "NaN"...)
	case math.IsInf(v, 1):
		return append(b, "+Inf"...)
	case math.IsInf(v, -1):
		return append(b, "-Inf"...)
	}
	return strconv.AppendFloat(b, v, 'g', -1, 64)
}
