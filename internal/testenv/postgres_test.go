//go:build e2e

package testenv_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/kizashi-dev/kizashi/internal/testenv"
)

func roundTrip(t *testing.T, dsn string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	require.NoError(t, err)
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, `CREATE TABLE incident (id bigserial PRIMARY KEY, title text NOT NULL)`)
	require.NoError(t, err)
	var id int64
	require.NoError(t, conn.QueryRow(ctx, `INSERT INTO incident (title) VALUES ($1) RETURNING id`, "disk full").Scan(&id))
	require.Equal(t, int64(1), id)
	var fsync string
	require.NoError(t, conn.QueryRow(ctx, `SHOW fsync`).Scan(&fsync))
	require.Equal(t, "on", fsync)
}

func TestPostgresShared(t *testing.T) {
	t.Parallel()
	// Two fresh databases side by side: same table name, no conflict.
	a, b := testenv.PostgresDSN(t), testenv.PostgresDSN(t)
	require.NotEqual(t, a, b)
	roundTrip(t, a)
	roundTrip(t, b)
}

func TestPostgresOwnServer(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pg := testenv.StartPostgres(t)
	roundTrip(t, pg.DSN())

	// Committed rows survive a crash.
	pg.Kill(t)
	_, err := pgx.Connect(ctx, pg.DSN())
	require.Error(t, err)
	pg.Restart(t)
	conn, err := pgx.Connect(ctx, pg.DSN())
	require.NoError(t, err)
	defer conn.Close(ctx)
	var title string
	require.NoError(t, conn.QueryRow(ctx, `SELECT title FROM incident WHERE id = 1`).Scan(&title))
	require.Equal(t, "disk full", title)

	other := pg.CreateDatabase(t)
	roundTrip(t, other)
}
