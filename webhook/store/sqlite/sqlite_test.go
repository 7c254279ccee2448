package sqlite_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kizashi-dev/kizashi/webhook/store"
	"github.com/kizashi-dev/kizashi/webhook/store/sqlite"
	"github.com/kizashi-dev/kizashi/webhook/storetest"
)

// open opens a fresh store for the conformance suites.
func open(t *testing.T) store.Store {
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "kizashi.db"), sqlite.Options{})
	require.NoError(t, err)
	return s
}

func TestConformance(t *testing.T) { storetest.Run(t, open) }

func TestForwarding(t *testing.T) { storetest.RunForwarding(t, open) }

func TestSessions(t *testing.T) { storetest.RunSessions(t, open) }

func TestProblems(t *testing.T) { storetest.RunProblems(t, open) }

func TestForkedMigrations(t *testing.T) {
	storetest.RunForkedMigrations(t, func(t *testing.T) storetest.Database {
		path := filepath.Join(t.TempDir(), "k.db")
		db, err := sql.Open("sqlite", "file:"+path)
		require.NoError(t, err)
		t.Cleanup(func() { require.NoError(t, db.Close()) })
		return storetest.Database{DB: db, Open: func(t *testing.T) store.Store {
			s, err := sqlite.Open(context.Background(), path, sqlite.Options{})
			require.NoError(t, err)
			return s
		}}
	})
}

func TestReopenKeepsData(t *testing.T) {
	path := filepath.Join(t.TempDir(), "k.db")
	ctx := context.Background()
	s, err := sqlite.Open(ctx, path, sqlite.Options{})
	require.NoError(t, err)
	require.NoError(t, s.Update(ctx, func(ctx context.Context, tx store.Tx) error {
		_, err := tx.InsertNotification(ctx, &store.Notification{Key: "k", Tenant: "t", Body: []byte("{}")})
		return err
	}))
	require.NoError(t, s.Close())
	s, err = sqlite.Open(ctx, path, sqlite.Options{})
	require.NoError(t, err)
	c, err := s.Counts(ctx)
	require.NoError(t, err)
	require.Equal(t, int64(1), c.Notifications)
	require.NoError(t, s.Close())
}

func TestKPIs(t *testing.T) {
	storetest.RunKPIs(t, func(t *testing.T) storetest.Database {
		path := filepath.Join(t.TempDir(), "k.db")
		return storetest.Database{Open: func(t *testing.T) store.Store {
			s, err := sqlite.Open(context.Background(), path, sqlite.Options{})
			require.NoError(t, err)
			return s
		}}
	})
}

func TestIncidentJobs(t *testing.T) { storetest.RunIncidentJobs(t, open) }
