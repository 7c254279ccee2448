package store

import (
	"context"
	"time"
)

// Session is one log-in to the service-desk page. Sessions live in the database so that every
// replica sees a logout at once; the store never holds the cookie nor the token.
type Session struct {
	// ID is the SHA-256 (hex) of the cookie's value.
	ID string
	// Credential names the token the session was opened with: an HMAC of it under the
	// installation's secret, so that the session ends when the token leaves the configuration.
	Credential string
	CreatedAt  time.Time
	ExpiresAt  time.Time
}

// Sessions is the store side of the page's sessions and of the installation's secret. The SQL
// stores implement it next to Store.
type Sessions interface {
	// CreateSession stores a new session and deletes the expired ones.
	CreateSession(ctx context.Context, s Session) error
	// Session returns a live session by id: ErrNotFound when it does not exist, was deleted
	// (logout) or expired at now.
	Session(ctx context.Context, id string, now time.Time) (Session, error)
	// DeleteSession ends a session (no error if it does not exist).
	DeleteSession(ctx context.Context, id string) error
	// ServerSecret returns the installation's secret (page sessions, CSRF tokens, public ids):
	// fresh is stored the first time, and the stored value returned ever after, to every
	// replica sharing the database.
	ServerSecret(ctx context.Context, fresh []byte) ([]byte, error)
}

// UserPreferences are a named user's choices on the page's preferences: saved in the database,
// they follow the user to every browser and replica, and to the REST API (the language of its
// messages).
type UserPreferences struct {
	// Language is en or ja ("": the browser's).
	Language string
	// Zone is an IANA time zone name ("": the configuration's).
	Zone string
}

// Preferences keeps the named users' preferences. The SQL stores implement it next to
// Sessions.
type Preferences interface {
	// UserPreferences returns a user's preferences: the zero value when none are saved.
	UserPreferences(ctx context.Context, user string) (UserPreferences, error)
	// SetUserPreferences saves a user's preferences (the zero value forgets them).
	SetUserPreferences(ctx context.Context, user string, p UserPreferences, now time.Time) error
}
