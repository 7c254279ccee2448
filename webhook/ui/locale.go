package ui

import (
	"embed"
	"fmt"
	"net/http"
	"strings"
	"time"

	"golang.org/x/text/language"
	"golang.org/x/text/message"
	"golang.org/x/text/message/catalog"

	"github.com/kizashi-dev/kizashi/webhook/auth"
	"github.com/kizashi-dev/kizashi/webhook/config"
	"github.com/kizashi-dev/kizashi/webhook/i18n"
	"github.com/kizashi-dev/kizashi/webhook/incident"
	"github.com/kizashi-dev/kizashi/webhook/store"
)

// The page's languages: English (the messages' keys) and Japanese (locales/ja.json, in one
// catalogue with the API's messages of package i18n). A user's language is the one chosen on
// the preferences page (saved for a named user, else cookie langCookie), else the best match
// of the browser's Accept-Language, else page.language of the configuration.

//go:embed locales/*.json
var localeFS embed.FS

// Cookies of the preferences (per browser and user; not secrets).
const (
	langCookie = i18n.Cookie
	zoneCookie = "kizashi_tz"
)

var messages = mustCatalog()

// mustCatalog builds the message catalogue from the embedded files (checked by the tests).
func mustCatalog() catalog.Catalog {
	raw, err := localeFS.ReadFile("locales/ja.json")
	if err != nil {
		panic(err)
	}
	c, err := i18n.NewCatalog(raw)
	if err != nil {
		panic(fmt.Sprintf("locales/ja.json: %v", err))
	}
	return c
}

// Locale is how a page speaks to its user: the language of its messages and the time zone of
// its dates.
type Locale struct {
	// Lang is "en" or "ja".
	Lang string
	Zone *time.Location
	p    *message.Printer
}

func newLocale(lang string, zone *time.Location) *Locale {
	tag := language.English
	if lang == "ja" {
		tag = language.Japanese
	} else {
		lang = "en"
	}
	return &Locale{Lang: lang, Zone: zone, p: message.NewPrinter(tag, message.Catalog(messages))}
}

// locale is the locale of r: the preferences' cookies, the browser's languages, the defaults
// of the configuration.
func (u *UI) locale(r *http.Request) *Locale { return u.localeWith(r, store.UserPreferences{}) }

// localeFor is the locale of p's request r: a named user's saved preferences first.
func (u *UI) localeFor(r *http.Request, p auth.Principal) *Locale {
	saved, err := u.Service.Preferences(r.Context(), p.Caller())
	if err != nil {
		u.Logger.Warn("read user preferences", "user", p.Name, "err", err)
	}
	return u.localeWith(r, saved)
}

func (u *UI) localeWith(r *http.Request, saved store.UserPreferences) *Locale {
	page := config.DefaultPage
	if u.Config != nil {
		if c := u.Config(); c != nil {
			page = c.Page
		}
	}
	choice := saved.Language
	if c, err := r.Cookie(langCookie); err == nil && !validLang(choice) {
		choice = c.Value
	}
	lang := i18n.Negotiate(choice, r.Header.Get("Accept-Language"), page.Language)
	zone := page.Zone()
	if z, ok := loadZone(saved.Zone); ok {
		zone = z
	} else if c, err := r.Cookie(zoneCookie); err == nil {
		if z, ok := loadZone(c.Value); ok {
			zone = z
		}
	}
	return newLocale(lang, zone)
}

func validLang(s string) bool { return i18n.Valid(s) }

// loadZone loads an IANA time zone by name; "Local" and empty names (the server's own zone) are
// not a user's choice.
func loadZone(name string) (*time.Location, bool) {
	if name == "" || name == "Local" || len(name) > 64 {
		return nil, false
	}
	z, err := time.LoadLocation(name)
	return z, err == nil
}

// english is the locale of a page rendered without one.
var english = newLocale("en", time.UTC)

// or is l, or English in UTC when l is nil.
func (l *Locale) or() *Locale {
	if l == nil {
		return english
	}
	return l
}

// T translates a message (an English key) and formats its arguments (fmt verbs).
func (l *Locale) T(key string, args ...any) string { return l.or().p.Sprintf(key, args...) }

// Language is "en" or "ja" (the html element's lang).
func (l *Locale) Language() string { return l.or().Lang }

// ZoneName is the name of the user's time zone.
func (l *Locale) ZoneName() string { return l.or().Zone.String() }

// TS formats a time in the user's zone ("—" for none).
func (l *Locale) TS(t *time.Time) string {
	if t == nil || t.IsZero() {
		return "—"
	}
	return l.Time(*t)
}

// Time formats a time in the user's zone.
func (l *Locale) Time(t time.Time) string { return t.In(l.or().Zone).Format("2006-01-02 15:04:05") }

// RFC3339 is a time for a datetime attribute.
func (l *Locale) RFC3339(t time.Time) string { return t.In(l.or().Zone).Format(time.RFC3339) }

// State is the name of an incident state in the user's language.
func (l *Locale) State(s string) string {
	label := incident.State(s).Label()
	if k := "state:" + label; l.Language() != "en" {
		if t := l.T(k); t != k {
			return t
		}
	}
	return label
}

// Code is a hold reason or a close code (snake case) in the user's language.
func (l *Locale) Code(s string) string {
	if s == "" {
		return ""
	}
	return l.T(strings.ReplaceAll(s, "_", " "))
}

// Remaining formats the time left on an SLA clock ("" for none).
func (l *Locale) Remaining(s *float64) string {
	if s == nil {
		return ""
	}
	d := time.Duration(*s) * time.Second
	if d < 0 {
		return l.T("breached %s ago", (-d).Round(time.Minute).String())
	}
	return d.Round(time.Second).String()
}
