// Package i18n is the service desk's one message catalogue, shared by the page (package ui) and
// the REST API: English is the messages' keys (fmt formats), Japanese their translations in
// locales/ja.json (the API's and the service rules' messages; the page adds its own file, see
// NewCatalog). It negotiates a request's language (Negotiate) and carries translatable errors
// (Errorf, New): their English text is what fmt.Errorf would give, errors.Is and errors.As see
// what they wrap, and Text says them in another language.
package i18n

import (
	"embed"
	"encoding/json"
	"fmt"
	"strings"

	"golang.org/x/text/language"
	"golang.org/x/text/message/catalog"
)

// The languages: English (the keys) and Japanese.
const (
	English  = "en"
	Japanese = "ja"
)

// Cookie is the cookie of the language a user chose on the page's preferences (en or ja;
// per browser).
const Cookie = "kizashi_lang"

//go:embed locales/*.json
var localeFS embed.FS

// JapaneseFile is the Japanese of the API's and the service rules' messages (locales/ja.json).
func JapaneseFile() []byte {
	b, err := localeFS.ReadFile("locales/ja.json")
	if err != nil {
		panic(err) // embedded
	}
	return b
}

// NewCatalog builds a catalogue of this package's messages and of more Japanese translations
// (JSON objects from English key to Japanese, such as the page's): a key translated twice
// differently is an error.
func NewCatalog(more ...[]byte) (catalog.Catalog, error) {
	b := catalog.NewBuilder(catalog.Fallback(language.English))
	seen := map[string]string{}
	for i, raw := range append([][]byte{JapaneseFile()}, more...) {
		var ja map[string]string
		if err := json.Unmarshal(raw, &ja); err != nil {
			return nil, fmt.Errorf("translations %d: %w", i, err)
		}
		for k, v := range ja {
			if old, ok := seen[k]; ok && old != v {
				return nil, fmt.Errorf("%q is translated twice: %q and %q", k, old, v)
			}
			seen[k] = v
			if err := b.SetString(language.Japanese, k, v); err != nil {
				return nil, fmt.Errorf("translation of %q: %w", k, err)
			}
		}
	}
	return b, nil
}

// messages is the catalogue of this package's messages.
var messages = func() catalog.Catalog {
	c, err := NewCatalog()
	if err != nil {
		panic(err) // checked by the tests
	}
	return c
}()

var matcher = language.NewMatcher([]language.Tag{language.English, language.Japanese})

// maxAcceptLanguage bounds the Accept-Language header read: a longer one (no browser sends
// one) is ignored rather than parsed.
const maxAcceptLanguage = 1024

// Valid reports whether lang is one of the languages (en, ja).
func Valid(lang string) bool { return lang == English || lang == Japanese }

// Negotiate is a request's language: choice (the user's own, saved) when it is en or ja, else
// the best match of the Accept-Language header (RFC 9110: quality values, ranges, "*"), else
// def when it is en or ja, else English. A malformed or over-long header counts as absent.
func Negotiate(choice, acceptLanguage, def string) string {
	if Valid(choice) {
		return choice
	}
	if acceptLanguage != "" && len(acceptLanguage) <= maxAcceptLanguage {
		if tags, _, err := language.ParseAcceptLanguage(acceptLanguage); err == nil && len(tags) > 0 {
			if _, i, conf := matcher.Match(tags...); conf != language.No {
				return []string{English, Japanese}[i]
			}
		}
	}
	if Valid(def) {
		return def
	}
	return English
}

// tag is the language tag of lang (English for anything but ja).
func tag(lang string) language.Tag {
	if lang == Japanese {
		return language.Japanese
	}
	return language.English
}

// capture receives a catalogue's message as it is stored (a fmt format).
type capture struct{ s strings.Builder }

func (c *capture) Render(s string) { c.s.WriteString(s) }
func (c *capture) Arg(int) any     { return nil }
func (c *capture) String() string  { return c.s.String() }

// Format is the translation of key (a fmt format) in lang from cat, and whether there is
// one; English is the key itself. Formats are filled by fmt, not by message.Printer, so that a
// number reads the same in every language (an incident id is not 1,234).
func Format(cat catalog.Catalog, lang, key string) (string, bool) {
	if lang != Japanese {
		return key, true
	}
	var c capture
	if err := cat.Context(tag(lang), &c).Execute(key); err != nil {
		return key, false
	}
	return c.String(), true
}

// T is a message of this package's catalogue in lang, formatted with args.
func T(lang, key string, args ...any) string {
	f, _ := Format(messages, lang, key)
	return fmt.Sprintf(f, args...)
}

// Lang is a language for a template: its method T says a message of this package's catalogue
// in it (a template holding a Lang as L calls L.T with a literal key), and it prints as its
// name (en, ja).
type Lang string

// T is the message key in l, formatted with args.
func (l Lang) T(key string, args ...any) string { return T(string(l), key, args...) }

func (l Lang) String() string { return string(l) }
