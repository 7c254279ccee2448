package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/kizashi-dev/kizashi/webhook/store"
)

// prefsMigration adds the named users' preferences (language, time zone), one row per user
// who saved some. It creates only what does not exist, so it may be applied again under
// another number.
const prefsMigration = `
CREATE TABLE IF NOT EXISTS user_preferences (
	name       TEXT PRIMARY KEY,
	language   TEXT NOT NULL,
	zone       TEXT NOT NULL,
	updated_at BIGINT NOT NULL
);
`

var _ store.Preferences = (*Store)(nil)

// UserPreferences implements store.Preferences.
func (s *Store) UserPreferences(ctx context.Context, user string) (store.UserPreferences, error) {
	defer s.timed("user_preferences")()
	var p store.UserPreferences
	err := s.r.QueryRowContext(ctx, s.q(`SELECT language, zone FROM user_preferences WHERE name = ?`), user).Scan(&p.Language, &p.Zone)
	if errors.Is(err, sql.ErrNoRows) {
		return store.UserPreferences{}, nil
	}
	if err != nil {
		return store.UserPreferences{}, fmt.Errorf("read user preferences: %w", err)
	}
	return p, nil
}

// SetUserPreferences implements store.Preferences.
func (s *Store) SetUserPreferences(ctx context.Context, user string, p store.UserPreferences, now time.Time) error {
	defer s.timed("set_user_preferences")()
	err := s.write(ctx, func(ctx context.Context, t *tx) error {
		if p == (store.UserPreferences{}) {
			_, err := t.exec(ctx, `DELETE FROM user_preferences WHERE name = ?`, user)
			return err
		}
		_, err := t.exec(ctx, `INSERT INTO user_preferences (name, language, zone, updated_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (name) DO UPDATE SET language = excluded.language, zone = excluded.zone, updated_at = excluded.updated_at`,
			user, p.Language, p.Zone, TS(now))
		return err
	})
	if err != nil {
		return fmt.Errorf("save user preferences: %w", err)
	}
	return nil
}
