package sqlstore

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	_ "modernc.org/sqlite"
)

// A database at schema 2 with undelivered and delivered outbox items upgrades to the current
// schema without losing them, and the dropped columns are gone.
func TestMigrationDropsUnusedColumnsAndKeepsRows(t *testing.T) {
	ctx := context.Background()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(t.TempDir(), "v2.db"))
	require.NoError(t, err)
	db.SetMaxOpenConns(1)
	d := &Dialect{Name: "sqlite", IDColumn: "INTEGER PRIMARY KEY AUTOINCREMENT", BlobType: "BLOB"}
	_, err = db.ExecContext(ctx, `CREATE TABLE schema_migrations (version INTEGER NOT NULL)`)
	require.NoError(t, err)
	tx, err := db.BeginTx(ctx, nil)
	require.NoError(t, err)
	require.NoError(t, applyMigrations(ctx, tx, d, 0, 2))
	require.NoError(t, tx.Commit())
	_, err = db.ExecContext(ctx, `INSERT INTO outbox (tenant, incident_id, event, payload, created_at, attempts, delivered_at)
		VALUES ('acme', 1, 'created', '{}', 10, 3, 0), ('acme', 2, 'created', '{}', 11, 0, 12)`)
	require.NoError(t, err)

	s, err := New(ctx, d, db, db, Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	var v int
	require.NoError(t, db.QueryRowContext(ctx, `SELECT MAX(version) FROM schema_migrations`).Scan(&v))
	require.Equal(t, SchemaVersion(), v)
	items, err := s.Outbox(ctx, 0, 10)
	require.NoError(t, err)
	require.Len(t, items, 2)
	var pending int
	require.NoError(t, db.QueryRowContext(ctx, `SELECT COUNT(*) FROM outbox WHERE delivered_at = 0`).Scan(&pending))
	require.Equal(t, 1, pending)
	for _, q := range []string{`SELECT attempts FROM outbox`, `SELECT last_error FROM outbox`, `SELECT external_refs FROM incidents`} {
		_, err := db.ExecContext(ctx, q)
		require.ErrorContains(t, err, "no such column", q)
	}
}
