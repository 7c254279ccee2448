package i18n

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"

	"github.com/kizashi-dev/kizashi/webhook/apitypes"
)

type langKey struct{}

// lazy is a request's language, negotiated when an answer first needs it.
type lazy struct {
	once sync.Once
	f    func() string
	lang string
}

func (l *lazy) get() string {
	l.once.Do(func() { l.lang = l.f() })
	return l.lang
}

// WithLanguage is r with its negotiated language (see Language).
func WithLanguage(r *http.Request, lang string) *http.Request {
	return WithNegotiation(r, func() string { return lang })
}

// WithNegotiation is r with the negotiation of its language, run once when an answer needs
// it (an error answer): a successful request does not pay for reading the user's choice.
func WithNegotiation(r *http.Request, negotiate func() string) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), langKey{}, &lazy{f: negotiate}))
}

// Language is the language of the answer to r: the one set by WithLanguage or
// WithNegotiation (once the caller is known), else the page's language cookie, else
// Accept-Language, else English.
func Language(r *http.Request) string {
	if l, ok := r.Context().Value(langKey{}).(*lazy); ok {
		if lang := l.get(); Valid(lang) {
			return lang
		}
	}
	choice := ""
	if c, err := r.Cookie(Cookie); err == nil {
		choice = c.Value
	}
	return Negotiate(choice, r.Header.Get("Accept-Language"), English)
}

// Vary says in w's headers that the answer depends on Accept-Language (once).
func Vary(w http.ResponseWriter) {
	h := w.Header()
	for _, v := range h.Values("Vary") {
		if v == "Accept-Language" {
			return
		}
	}
	h.Add("Vary", "Accept-Language")
}

// WriteError answers r with status and an apitypes.Error: code, and err's words in r's
// language (Language), which Content-Language names.
func WriteError(w http.ResponseWriter, r *http.Request, status int, code string, err error) {
	lang := Language(r)
	Vary(w)
	w.Header().Set("Content-Language", lang)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(apitypes.Error{Error: Text(lang, err), Code: code})
}
