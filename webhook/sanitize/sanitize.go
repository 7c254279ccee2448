// Package sanitize makes text safe to store before it enters the webhook:
// valid UTF-8 without NUL bytes (PostgreSQL refuses both in text columns,
// SQLite keeps them, so the stores would disagree), cut to a byte limit on a
// rune boundary. Every path text comes in by uses it: alert notifications,
// REST API bodies, query parameters, the service-desk page's form fields and
// ticket systems' answers.
//
// Text repairs and never fails: an invalid byte or a NUL becomes U+FFFD, the
// way encoding/json and a Go range loop decode it. Callers answer 400 only for
// input that is malformed in itself (not JSON, a missing field), never for the
// bytes of a string.
package sanitize

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"time"
	"unicode/utf8"
)

// Limits of the texts the webhook stores, in bytes.
const (
	// MaxName bounds short names: a receiver, a status, a notification reason.
	MaxName = 200
	// MaxTitle bounds an incident's title, category, CI and assignment group.
	MaxTitle = 512
	// MaxKey bounds identifiers that must stay distinct (group keys,
	// fingerprints): longer ones keep a prefix and a hash of the whole (see
	// ID). PostgreSQL refuses index entries above about 2,700 bytes.
	MaxKey = 1024
	// MaxURL bounds an alert's generatorURL.
	MaxURL = 4096
)

// replacement is what an invalid byte or a NUL becomes.
const replacement = "\uFFFD"

// Valid reports whether s needs no repair: valid UTF-8 without NUL.
func Valid(s string) bool {
	return strings.IndexByte(s, 0) < 0 && utf8.ValidString(s)
}

// Text returns s as valid UTF-8 without NUL, at most maxBytes long
// (maxBytes <= 0: no limit). Each invalid byte and each NUL becomes U+FFFD;
// the cut falls on a rune boundary. Text is idempotent, and its result is
// always a prefix of s decoded rune by rune (so a prefix of s itself when s
// was valid).
func Text(s string, maxBytes int) string {
	if maxBytes <= 0 {
		maxBytes = len(s) * len(replacement)
	}
	if len(s) <= maxBytes && Valid(s) {
		return s
	}
	var b strings.Builder
	b.Grow(min(len(s), maxBytes))
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		piece := s[i : i+size]
		if r == 0 || (r == utf8.RuneError && size == 1) {
			piece = replacement
		}
		if b.Len()+len(piece) > maxBytes {
			break
		}
		b.WriteString(piece)
		i += size
	}
	return b.String()
}

// ID returns an identifier as valid UTF-8 without NUL, at most maxBytes
// long. Unlike Text it keeps long identifiers distinct: one
// longer than maxBytes becomes a prefix, "~" and 16 hex digits of the
// SHA-256 of the original.
func ID(s string, maxBytes int) string {
	t := Text(s, 0)
	if len(t) <= maxBytes {
		return t
	}
	sum := sha256.Sum256([]byte(s))
	suffix := "~" + hex.EncodeToString(sum[:8])
	if maxBytes <= len(suffix) {
		return suffix[len(suffix)-max(maxBytes, 0):]
	}
	return Text(t, maxBytes-len(suffix)) + suffix
}

// Map sanitizes the keys and values of a label or annotation set in place
// of a copy (nil stays nil). Keys that become equal keep the value of the
// smallest original key, so the result does not depend on map order.
func Map(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	clean := true
	for k, v := range m {
		if !Valid(k) || !Valid(v) {
			clean = false
			break
		}
	}
	if clean {
		return m
	}
	out := make(map[string]string, len(m))
	from := make(map[string]string, len(m))
	for k, v := range m {
		ck := Text(k, 0)
		if prev, ok := from[ck]; ok && prev < k {
			continue
		}
		out[ck], from[ck] = Text(v, 0), k
	}
	return out
}

// The times the stores can hold: nanoseconds since the Unix epoch in an
// int64 reach from 1677-09-21 to 2262-04-11. Times outside are clamped to
// these bounds (whole days inside the range).
var (
	MinTime = time.Date(1678, 1, 1, 0, 0, 0, 0, time.UTC)
	MaxTime = time.Date(2262, 4, 11, 0, 0, 0, 0, time.UTC)
)

// Time clamps t into [MinTime, MaxTime]; the zero time stays zero. It
// reports whether t was moved.
func Time(t time.Time) (time.Time, bool) {
	switch {
	case t.IsZero():
		return t, false
	case t.Before(MinTime):
		return MinTime, true
	case t.After(MaxTime):
		return MaxTime, true
	}
	return t, false
}
