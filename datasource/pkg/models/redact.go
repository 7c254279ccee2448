package models

import (
	"cmp"
	"encoding/base64"
	"encoding/json"
	"net/url"
	"slices"
	"strings"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
)

// redacted replaces a secret in text that users see or logs keep.
const redacted = "xxxxx"

// minSecretLen: shorter secret values are not searched for in text (replacing every "ab"
// would garble messages, and secrets that short protect nothing anyway).
const minSecretLen = 4

// Redactor hides a data source's secrets in text that users see or logs keep: the passwords
// of its URLs, the values of its secure settings (bearer token, webhook token, basic-auth
// password, TLS keys) and the basic-auth header they make. It is built from the raw instance
// settings, so that it works even when the settings are invalid.
type Redactor struct {
	secrets []string // longest first
}

// NewRedactor returns the redactor of the data source's secrets.
func NewRedactor(s backend.DataSourceInstanceSettings) *Redactor {
	var secrets []string
	add := func(v string) {
		if len(v) >= minSecretLen {
			secrets = append(secrets, v, url.PathEscape(v), url.QueryEscape(v))
		}
	}
	urls := []string{s.URL}
	var jd struct {
		WebhookURL string `json:"webhookUrl"`
	}
	if json.Unmarshal(s.JSONData, &jd) == nil {
		urls = append(urls, jd.WebhookURL)
	}
	for _, raw := range urls {
		if pw, ok := urlPassword(raw); ok {
			add(pw)
		}
	}
	for _, v := range s.DecryptedSecureJSONData {
		add(v)
	}
	if pw := s.DecryptedSecureJSONData[SecureBasicAuth]; s.BasicAuthEnabled && pw != "" {
		add(base64.StdEncoding.EncodeToString([]byte(s.BasicAuthUser + ":" + pw)))
	}
	slices.SortFunc(secrets, func(a, b string) int { return cmp.Compare(len(b), len(a)) })
	return &Redactor{secrets: slices.Compact(secrets)}
}

// Redact returns text with every secret replaced by xxxxx.
func (r *Redactor) Redact(text string) string {
	if r == nil {
		return text
	}
	for _, s := range r.secrets {
		text = strings.ReplaceAll(text, s, redacted)
	}
	return text
}

// RedactURL returns a URL for messages: its password and its query's values, if any, replaced
// by xxxxx (a query may carry a token). A string
// that does not parse as a hierarchical URL (scheme://authority/path) keeps nothing of the
// part after the first ":" of its user information.
func RedactURL(raw string) string {
	if u, err := url.Parse(raw); err == nil && u.Opaque == "" {
		if u.RawQuery != "" {
			q := u.Query()
			for k := range q {
				q[k] = []string{redacted}
			}
			u.RawQuery = q.Encode()
		}
		return u.Redacted()
	}
	if i := strings.IndexAny(raw, "?#"); i >= 0 {
		raw = raw[:i] + "?" + redacted
	}
	rest, scheme := raw, ""
	if i := strings.Index(raw, "://"); i >= 0 {
		scheme, rest = raw[:i+3], raw[i+3:]
	}
	authority := rest
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		authority = rest[:i]
	}
	if i := strings.LastIndex(authority, "@"); i >= 0 {
		user, _, _ := strings.Cut(authority[:i], ":")
		return scheme + user + ":" + redacted + rest[i:]
	}
	return raw
}

// urlPassword returns the password of a URL's user information, also from a URL that does
// not parse as a hierarchical URL (the part after the first ":" of what precedes the last "@"
// of the authority).
func urlPassword(raw string) (string, bool) {
	if u, err := url.Parse(raw); err == nil && u.Opaque == "" {
		if u.User == nil {
			return "", false
		}
		return u.User.Password()
	}
	rest := raw
	if i := strings.Index(raw, "://"); i >= 0 {
		rest = raw[i+3:]
	}
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		rest = rest[:i]
	}
	i := strings.LastIndex(rest, "@")
	if i < 0 {
		return "", false
	}
	_, pw, ok := strings.Cut(rest[:i], ":")
	return pw, ok
}
