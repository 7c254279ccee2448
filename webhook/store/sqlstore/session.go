package sqlstore

import (
	"context"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/kizashi-dev/kizashi/webhook/store"
)

// sessionMigration adds the service-desk page's sessions (one row per log-in, deleted at
// logout: shared by every replica) and the installation's secrets. It creates only what does
// not exist: a database that applied it as migration 4 applies it again (see forkAt4).
const sessionMigration = `
CREATE TABLE IF NOT EXISTS sessions (
	id         TEXT PRIMARY KEY,
	credential TEXT NOT NULL,
	created_at BIGINT NOT NULL,
	expires_at BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS sessions_expiry ON sessions (expires_at);

CREATE TABLE IF NOT EXISTS secrets (
	name  TEXT PRIMARY KEY,
	value TEXT NOT NULL
);
`

var _ store.Sessions = (*Store)(nil)

// CreateSession implements store.Sessions.
func (s *Store) CreateSession(ctx context.Context, se store.Session) error {
	defer s.timed("create_session")()
	err := s.write(ctx, func(ctx context.Context, t *tx) error {
		if _, err := t.exec(ctx, `DELETE FROM sessions WHERE expires_at <= ?`, TS(se.CreatedAt)); err != nil {
			return err
		}
		_, err := t.exec(ctx, `INSERT INTO sessions (id, credential, created_at, expires_at) VALUES (?, ?, ?, ?)`,
			se.ID, se.Credential, TS(se.CreatedAt), TS(se.ExpiresAt))
		return err
	})
	if err != nil {
		return fmt.Errorf("create session: %w", err)
	}
	return nil
}

// Session implements store.Sessions.
func (s *Store) Session(ctx context.Context, id string, now time.Time) (store.Session, error) {
	defer s.timed("session")()
	se := store.Session{ID: id}
	var created, expires int64
	err := s.r.QueryRowContext(ctx, s.q(`SELECT credential, created_at, expires_at FROM sessions WHERE id = ? AND expires_at > ?`),
		id, TS(now)).Scan(&se.Credential, &created, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return store.Session{}, store.ErrNotFound
	}
	if err != nil {
		return store.Session{}, fmt.Errorf("read session: %w", err)
	}
	se.CreatedAt, se.ExpiresAt = FromTS(created), FromTS(expires)
	return se, nil
}

// DeleteSession implements store.Sessions.
func (s *Store) DeleteSession(ctx context.Context, id string) error {
	defer s.timed("delete_session")()
	err := s.write(ctx, func(ctx context.Context, t *tx) error {
		_, err := t.exec(ctx, `DELETE FROM sessions WHERE id = ?`, id)
		return err
	})
	if err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}

// ServerSecret implements store.Sessions.
func (s *Store) ServerSecret(ctx context.Context, fresh []byte) ([]byte, error) {
	var v string
	err := s.write(ctx, func(ctx context.Context, t *tx) error {
		if _, err := t.exec(ctx, `INSERT INTO secrets (name, value) VALUES ('server', ?) ON CONFLICT (name) DO NOTHING`,
			base64.StdEncoding.EncodeToString(fresh)); err != nil {
			return err
		}
		return t.queryRow(ctx, `SELECT value FROM secrets WHERE name = 'server'`).Scan(&v)
	})
	if err != nil {
		return nil, fmt.Errorf("server secret: %w", err)
	}
	b, err := base64.StdEncoding.DecodeString(v)
	if err != nil {
		return nil, fmt.Errorf("server secret: %w", err)
	}
	return b, nil
}
