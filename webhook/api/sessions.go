package api

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/kizashi-dev/kizashi/webhook/config"
	"github.com/kizashi-dev/kizashi/webhook/store"
)

// SessionCookie holds the service-desk page's session.
const SessionCookie = "kizashi_session"

// CSRFHeader carries the page's CSRF token on REST API calls made with the session cookie.
const CSRFHeader = "X-CSRF-Token"

// DeriveKey derives the key of one purpose from the installation's secret.
func DeriveKey(secret []byte, purpose string) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("kizashi-webhook " + purpose))
	return m.Sum(nil)
}

// Sessions opens, checks and ends the page's sessions. The cookie is 256 random bits and
// nothing else; the store keeps its SHA-256 (a database read gives no usable cookie), an HMAC of
// the token's id (the session ends when the token leaves the configuration) and the expiry.
// Every replica on the database sees a logout at once. The CSRF token of a session is an HMAC
// of its cookie: the page puts it in its forms, API calls with the cookie send it in
// X-CSRF-Token; another site can read neither.
type Sessions struct {
	store   store.Sessions
	credKey []byte
	csrfKey []byte
	index   atomic.Pointer[credIndex]
}

// credIndex maps the session credential of every token of one configuration to its principal.
type credIndex struct {
	auth Auth
	by   map[string]config.Principal
}

// NewSessions returns the sessions of st under the installation's secret.
func NewSessions(st store.Sessions, secret []byte) *Sessions {
	return &Sessions{store: st, credKey: DeriveKey(secret, "session credential"), csrfKey: DeriveKey(secret, "csrf")}
}

func (s *Sessions) credential(id [sha256.Size]byte) string {
	m := hmac.New(sha256.New, s.credKey)
	m.Write(id[:])
	return hex.EncodeToString(m.Sum(nil))
}

func (s *Sessions) credentials(auth Auth) map[string]config.Principal {
	if ix := s.index.Load(); ix != nil && ix.auth == auth {
		return ix.by
	}
	ix := &credIndex{auth: auth, by: map[string]config.Principal{}}
	for id, p := range auth.Tokens() {
		ix.by[s.credential(id)] = p
	}
	s.index.Store(ix)
	return ix.by
}

func sessionID(cookie string) string {
	h := sha256.Sum256([]byte(cookie))
	return hex.EncodeToString(h[:])
}

// cookieLen is the length of a cookie value: 32 random bytes in unpadded base64url.
var cookieLen = base64.RawURLEncoding.EncodedLen(32)

// ErrUnknownToken is returned by Open for a token that is not configured.
var ErrUnknownToken = errors.New("unknown token")

// Open logs in with a token: it returns the new session's cookie value and its principal;
// ErrUnknownToken when the token is not configured.
func (s *Sessions) Open(ctx context.Context, auth Auth, token string, now time.Time) (string, config.Principal, error) {
	id, p, ok := auth.TokenID(token)
	if !ok {
		return "", config.Principal{}, ErrUnknownToken
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", config.Principal{}, fmt.Errorf("new session: %w", err)
	}
	cookie := base64.RawURLEncoding.EncodeToString(raw)
	err := s.store.CreateSession(ctx, store.Session{ID: sessionID(cookie), Credential: s.credential(id), CreatedAt: now,
		ExpiresAt: now.Add(config.SessionTTL)})
	if err != nil {
		return "", config.Principal{}, err
	}
	return cookie, p, nil
}

// Principal returns the principal of a live session: false when the cookie is malformed, the
// session expired or was closed, or its token is no longer configured; an error when the store
// could not be read.
func (s *Sessions) Principal(ctx context.Context, auth Auth, cookie string, now time.Time) (config.Principal, bool, error) {
	if len(cookie) != cookieLen {
		return config.Principal{}, false, nil
	}
	se, err := s.store.Session(ctx, sessionID(cookie), now)
	if errors.Is(err, store.ErrNotFound) {
		return config.Principal{}, false, nil
	}
	if err != nil {
		return config.Principal{}, false, err
	}
	p, ok := s.credentials(auth)[se.Credential]
	return p, ok, nil
}

// Close ends a session (logout).
func (s *Sessions) Close(ctx context.Context, cookie string) error {
	if len(cookie) != cookieLen {
		return nil
	}
	return s.store.DeleteSession(ctx, sessionID(cookie))
}

// CSRFToken is the CSRF token of a session.
func (s *Sessions) CSRFToken(cookie string) string {
	m := hmac.New(sha256.New, s.csrfKey)
	m.Write([]byte(cookie))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// ValidCSRF reports whether token is the CSRF token of the session.
func (s *Sessions) ValidCSRF(cookie, token string) bool {
	return token != "" && hmac.Equal([]byte(token), []byte(s.CSRFToken(cookie)))
}
