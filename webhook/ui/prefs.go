package ui

import (
	"net/http"
	"time"

	"github.com/kizashi-dev/kizashi/webhook/store"
)

// zoneChoices are offered on the preferences page (any IANA name is accepted).
var zoneChoices = []string{"Asia/Tokyo", "UTC", "Asia/Seoul", "Asia/Shanghai", "Asia/Singapore", "Asia/Kolkata",
	"Australia/Sydney", "Europe/London", "Europe/Berlin", "America/New_York", "America/Chicago", "America/Los_Angeles"}

type prefsData struct {
	base
	// Lang is the chosen language ("" : the browser's).
	Lang  string
	Zones []string
}

func (u *UI) preferences(w http.ResponseWriter, r *http.Request, v viewer) {
	d := prefsData{base: v.base(), Zones: zoneChoices}
	d.Title = v.L.T("Preferences")
	if c, err := r.Cookie(langCookie); err == nil && validLang(c.Value) {
		d.Lang = c.Value
	}
	if saved, err := u.Service.Preferences(r.Context(), v.Caller()); err == nil && validLang(saved.Language) {
		d.Lang = saved.Language
	}
	if r.URL.Query().Get("saved") == "1" {
		d.Notice = v.L.T("Preferences saved.")
	}
	u.render(w, "preferences.html", http.StatusOK, d)
}

// savePreferences keeps the user's language and time zone in cookies of this browser and, for
// a named user, in the store: they follow the user to other browsers and to the REST API.
func (u *UI) savePreferences(w http.ResponseWriter, r *http.Request, v viewer) {
	lang, zone := r.PostFormValue("lang"), r.PostFormValue("zone")
	if lang != "" && !validLang(lang) {
		lang = ""
	}
	if _, ok := loadZone(zone); !ok {
		d := prefsData{base: v.base(), Zones: zoneChoices, Lang: lang}
		d.Title = v.L.T("Preferences")
		d.Error = v.L.T("Unknown time zone %q: use an IANA name such as Asia/Tokyo.", zone)
		u.render(w, "preferences.html", http.StatusBadRequest, d)
		return
	}
	if u.Service.SavesPreferences(v.Caller()) {
		if err := u.Service.SetPreferences(r.Context(), v.Caller(), store.UserPreferences{Language: lang, Zone: zone}); err != nil {
			u.fail(w, v, err)
			return
		}
	}
	secure := u.Access.SecureCookie(r)
	set := func(name, value string) {
		c := &http.Cookie{Name: name, Value: value, Path: "/", MaxAge: int((365 * 24 * time.Hour).Seconds()), HttpOnly: true,
			SameSite: http.SameSiteLaxMode, Secure: secure}
		if value == "" {
			c.MaxAge = -1
		}
		http.SetCookie(w, c)
	}
	set(langCookie, lang)
	set(zoneCookie, zone)
	http.Redirect(w, r, "/preferences?saved=1", http.StatusSeeOther)
}
