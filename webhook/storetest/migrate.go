package storetest

import (
	"context"
	"database/sql"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kizashi-dev/kizashi/webhook/store"
	"github.com/kizashi-dev/kizashi/webhook/store/sqlstore"
)

// Database is one database on which a test opens a store several times.
type Database struct {
	// Open opens a store on the database (and migrates it); the caller closes it.
	Open func(t *testing.T) store.Store
	// DB reaches the database directly.
	DB *sql.DB
}

// RunForkedMigrations checks that a database at either schema 4 of two lines of development
// upgrades to the current schema, keeping its rows: 4 as compact bodies and retention (now 4)
// and 4 as the page's sessions (now 5). fresh returns a new, empty database.
//
// Each case opens a store (current schema), takes the other line's migration back out by hand
// and opens the store again.
func RunForkedMigrations(t *testing.T, fresh func(t *testing.T) Database) {
	ctx := context.Background()
	t0 := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	exec := func(t *testing.T, db *sql.DB, script string) {
		t.Helper()
		for _, q := range strings.Split(script, ";") {
			if q = strings.TrimSpace(q); q != "" {
				_, err := db.ExecContext(ctx, q)
				require.NoError(t, err, q)
			}
		}
	}
	versions := func(t *testing.T, db *sql.DB) []int {
		t.Helper()
		rows, err := db.QueryContext(ctx, `SELECT version FROM schema_migrations ORDER BY version`)
		require.NoError(t, err)
		defer func() { require.NoError(t, rows.Close()) }()
		var out []int
		for rows.Next() {
			var v int
			require.NoError(t, rows.Scan(&v))
			out = append(out, v)
		}
		require.NoError(t, rows.Err())
		return out
	}
	current := func() []int {
		var out []int
		for v := 1; v <= sqlstore.SchemaVersion(); v++ {
			out = append(out, v)
		}
		return out
	}()
	insert := func(t *testing.T, st store.Store, n *store.Notification) {
		t.Helper()
		require.NoError(t, st.Update(ctx, func(ctx context.Context, tx store.Tx) error {
			_, err := tx.InsertNotification(ctx, n)
			return err
		}))
	}
	session := store.Session{ID: "s1", Credential: "cred", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}

	t.Run("sessions as migration 4: migration 4 is applied and the sessions kept", func(t *testing.T) {
		d := fresh(t)
		st := d.Open(t)
		require.NoError(t, st.(store.Sessions).CreateSession(ctx, session))
		secret, err := st.(store.Sessions).ServerSecret(ctx, []byte("first"))
		require.NoError(t, err)
		insert(t, st, &store.Notification{Key: "old", Tenant: "acme", Body: []byte("{}"), ReceivedAt: t0})
		require.NoError(t, st.Close())
		// What the sessions branch left: migrations 1-3 and its sessions recorded as 4.
		exec(t, d.DB, `
DROP INDEX notifications_last_seen;
DROP INDEX journal_kind_at;
ALTER TABLE notifications DROP COLUMN body_encoding;
ALTER TABLE journal DROP COLUMN actor_type;
DELETE FROM schema_migrations WHERE version > 4`)
		require.Equal(t, []int{1, 2, 3, 4}, versions(t, d.DB))

		st = d.Open(t)
		defer func() { require.NoError(t, st.Close()) }()
		require.Equal(t, current, versions(t, d.DB), "each version recorded once")
		got, err := st.(store.Sessions).Session(ctx, "s1", t0)
		require.NoError(t, err, "the session survives")
		require.Equal(t, session, got)
		again, err := st.(store.Sessions).ServerSecret(ctx, []byte("second"))
		require.NoError(t, err)
		require.Equal(t, secret, again, "the secret survives")
		insert(t, st, &store.Notification{Key: "new", Tenant: "acme", Body: []byte{0x1f, 0x8b}, BodyEncoding: "gzip", ReceivedAt: t0})
		var enc string
		require.NoError(t, d.DB.QueryRowContext(ctx, `SELECT body_encoding FROM notifications WHERE key = 'old'`).Scan(&enc))
		require.Empty(t, enc, "rows from before are JSON as received")
		c, err := st.Counts(ctx)
		require.NoError(t, err)
		require.Equal(t, int64(2), c.Notifications)
	})

	t.Run("retention as migration 4: the sessions migration is applied", func(t *testing.T) {
		d := fresh(t)
		st := d.Open(t)
		insert(t, st, &store.Notification{Key: "old", Tenant: "acme", Body: []byte{0x1f, 0x8b}, BodyEncoding: "gzip", ReceivedAt: t0})
		require.NoError(t, st.Close())
		exec(t, d.DB, `
DROP TABLE sessions;
DROP TABLE secrets;
ALTER TABLE journal DROP COLUMN actor_type;
DELETE FROM schema_migrations WHERE version > 4`)

		st = d.Open(t)
		defer func() { require.NoError(t, st.Close()) }()
		require.Equal(t, current, versions(t, d.DB))
		require.NoError(t, st.(store.Sessions).CreateSession(ctx, session))
		_, err := st.(store.Sessions).Session(ctx, "s1", t0)
		require.NoError(t, err)
		var enc string
		require.NoError(t, d.DB.QueryRowContext(ctx, `SELECT body_encoding FROM notifications WHERE key = 'old'`).Scan(&enc))
		require.Equal(t, "gzip", enc)
	})

	t.Run("journal lines of earlier releases get an actor type", func(t *testing.T) {
		d := fresh(t)
		require.NoError(t, d.Open(t).Close())
		// Back to the schema before the actor types (migration 6 when written).
		exec(t, d.DB, `
ALTER TABLE journal DROP COLUMN actor_type;
DELETE FROM schema_migrations WHERE version > 5`)
		for _, actor := range []string{"alertmanager", "system", "reconciler", "acme", "typed by someone"} {
			_, err := d.DB.ExecContext(ctx, sqlstore.Rebind(`INSERT INTO journal (tenant, incident_id, at, actor, kind, message)
				VALUES ('acme', 1, 1, '`+actor+`', 'note', 'x')`))
			require.NoError(t, err)
		}
		st := d.Open(t)
		defer func() { require.NoError(t, st.Close()) }()
		j, err := st.Journal(ctx, 1)
		require.NoError(t, err)
		types := map[string]string{}
		for _, e := range j {
			types[e.Actor] = e.ActorType
		}
		require.Equal(t, map[string]string{"alertmanager": "system", "system": "system", "reconciler": "system",
			"acme": "credential", "typed by someone": "credential"}, types)
	})

	t.Run("the current schema opens again unchanged", func(t *testing.T) {
		d := fresh(t)
		for range 2 {
			require.NoError(t, d.Open(t).Close())
		}
		require.Equal(t, current, versions(t, d.DB))
	})
}
