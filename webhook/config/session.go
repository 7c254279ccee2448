package config

import (
	"crypto/sha256"
	"iter"
	"time"
)

// SessionTTL is how long a service-desk page session lasts after login.
const SessionTTL = 12 * time.Hour

// TokenID identifies a configured token without keeping it (its SHA-256, by which the
// configuration finds it) and returns its principal; false if the token is not configured.
// Page sessions remember an HMAC of the id, so that a session ends when its token leaves the
// configuration.
func (c *Config) TokenID(token string) ([sha256.Size]byte, Principal, bool) {
	if token == "" {
		return [sha256.Size]byte{}, Principal{}, false
	}
	id := sha256.Sum256([]byte(token))
	cred, ok := c.tokens[id]
	return id, cred.principal, ok
}

// Tokens yields the id (see TokenID) and principal of every configured token.
func (c *Config) Tokens() iter.Seq2[[sha256.Size]byte, Principal] {
	return func(yield func([sha256.Size]byte, Principal) bool) {
		for id, cred := range c.tokens {
			if !yield(id, cred.principal) {
				return
			}
		}
	}
}
