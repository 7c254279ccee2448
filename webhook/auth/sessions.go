package auth

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/kizashi-dev/kizashi/webhook/store"
)

// SessionCookie holds the service-desk page's session.
const SessionCookie = "kizashi_session"

// CSRFHeader carries the page's CSRF token on REST API calls made with the session cookie.
const CSRFHeader = "X-CSRF-Token"

// SessionTTL is how long a service-desk page session lasts after login.
const SessionTTL = 12 * time.Hour

// Sessions opens, checks and ends the page's sessions. The cookie is 256 random bits and
// nothing else; the store keeps its SHA-256 (a database read gives no usable cookie), the
// reference of the credential it was opened with (see Authenticator: the session ends when the
// credential does) and the expiry. Every replica on the database sees a logout at once. The
// CSRF token of a session is an HMAC of its cookie: the page puts it in its forms, API calls
// with the cookie send it in X-CSRF-Token; another site can read neither.
type Sessions struct {
	store   store.Sessions
	csrfKey []byte
}

// NewSessions returns the sessions of st under the installation's secret.
func NewSessions(st store.Sessions, secret []byte) *Sessions {
	return &Sessions{store: st, csrfKey: DeriveKey(secret, "csrf")}
}

func sessionID(cookie string) string {
	h := sha256.Sum256([]byte(cookie))
	return hex.EncodeToString(h[:])
}

// cookieLen is the length of a cookie value: 32 random bytes in unpadded base64url.
var cookieLen = base64.RawURLEncoding.EncodedLen(32)

// Open logs in with a credential: it returns the new session's cookie value and its
// principal; ErrUnauthenticated when the credential proves nothing or cannot hold a session.
func (s *Sessions) Open(ctx context.Context, a Authenticator, c Credential, now time.Time) (string, Principal, error) {
	p, ref, err := a.Authenticate(ctx, c)
	if err != nil {
		return "", Principal{}, err
	}
	cookie, err := s.OpenRef(ctx, ref, now)
	return cookie, p, err
}

// OpenRef opens a session for a credential already checked (an OpenID Connect log-in): ref is
// its reference (see Authenticator).
func (s *Sessions) OpenRef(ctx context.Context, ref string, now time.Time) (string, error) {
	if ref == "" {
		return "", fmt.Errorf("%w: the credential cannot open a session", ErrUnauthenticated)
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", fmt.Errorf("new session: %w", err)
	}
	cookie := base64.RawURLEncoding.EncodeToString(raw)
	err := s.store.CreateSession(ctx, store.Session{ID: sessionID(cookie), Credential: ref, CreatedAt: now, ExpiresAt: now.Add(SessionTTL)})
	if err != nil {
		return "", err
	}
	return cookie, nil
}

// Principal returns the principal of a live session: false when the cookie is malformed, the
// session expired or was closed, or its credential is no longer valid; an error when the store
// could not be read or the credential could not be checked.
func (s *Sessions) Principal(ctx context.Context, a Authenticator, cookie string, now time.Time) (Principal, bool, error) {
	if len(cookie) != cookieLen {
		return Principal{}, false, nil
	}
	se, err := s.store.Session(ctx, sessionID(cookie), now)
	if errors.Is(err, store.ErrNotFound) {
		return Principal{}, false, nil
	}
	if err != nil {
		return Principal{}, false, err
	}
	p, err := a.Resolve(ctx, se.Credential)
	if errors.Is(err, ErrUnauthenticated) {
		return Principal{}, false, nil
	}
	if err != nil {
		return Principal{}, false, err
	}
	return p, true, nil
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
