package config

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"strconv"
	"strings"
	"time"
)

// SessionTTL is how long a service-desk page session lasts after login.
const SessionTTL = 12 * time.Hour

// Page sessions. The cookie does not hold the token: it holds an expiry, the token's SHA-256
// (how the configuration finds it) and an HMAC of both under a key derived from the token,
// which only the configuration knows. A stolen cookie opens the page until it expires, it does not
// give away the token (which also writes notifications and calls the API with no expiry); a
// session ends when its token leaves the configuration (reload).
var b64 = base64.RawURLEncoding

func sessionKey(token string) [32]byte {
	m := hmac.New(sha256.New, []byte(token))
	m.Write([]byte("kizashi-webhook page session"))
	var k [32]byte
	copy(k[:], m.Sum(nil))
	return k
}

func sessionMAC(key [32]byte, exp, id string) []byte {
	m := hmac.New(sha256.New, key[:])
	m.Write([]byte("1|" + exp + "|" + id))
	return m.Sum(nil)
}

// NewSession returns the page-session cookie value for a token, valid for SessionTTL from now;
// false if the token is unknown.
func (c *Config) NewSession(token string, now time.Time) (string, bool) {
	if token == "" {
		return "", false
	}
	h := sha256.Sum256([]byte(token))
	cred, ok := c.tokens[h]
	if !ok {
		return "", false
	}
	exp := strconv.FormatInt(now.Add(SessionTTL).Unix(), 10)
	id := b64.EncodeToString(h[:])
	return "1." + exp + "." + id + "." + b64.EncodeToString(sessionMAC(cred.sessionKey, exp, id)), true
}

// AuthenticateSession maps a page-session cookie value to its principal: false when it is
// malformed, forged, expired, or its token is no longer configured.
func (c *Config) AuthenticateSession(value string, now time.Time) (Principal, bool) {
	parts := strings.Split(value, ".")
	if len(parts) != 4 || parts[0] != "1" {
		return Principal{}, false
	}
	exp, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil || now.Unix() >= exp {
		return Principal{}, false
	}
	h, err := b64.DecodeString(parts[2])
	if err != nil || len(h) != sha256.Size {
		return Principal{}, false
	}
	mac, err := b64.DecodeString(parts[3])
	if err != nil {
		return Principal{}, false
	}
	cred, ok := c.tokens[[sha256.Size]byte(h)]
	if !ok || !hmac.Equal(mac, sessionMAC(cred.sessionKey, parts[1], parts[2])) {
		return Principal{}, false
	}
	return cred.principal, true
}
