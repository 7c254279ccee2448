//go:build e2e

package postgres_test

import (
	"context"
	"database/sql"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/stretchr/testify/require"

	"github.com/kizashi-dev/kizashi/internal/testenv"
	"github.com/kizashi-dev/kizashi/webhook/store"
	"github.com/kizashi-dev/kizashi/webhook/store/postgres"
	"github.com/kizashi-dev/kizashi/webhook/storetest"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// open opens a store on a fresh database for the conformance suites.
func open(t *testing.T) store.Store {
	s, err := postgres.Open(context.Background(), testenv.PostgresDSN(t), postgres.Options{})
	require.NoError(t, err)
	return s
}

func TestConformance(t *testing.T) { storetest.Run(t, open) }

func TestForwarding(t *testing.T) { storetest.RunForwarding(t, open) }

func TestSessions(t *testing.T) { storetest.RunSessions(t, open) }

func TestProblems(t *testing.T) { storetest.RunProblems(t, open) }

func TestForkedMigrations(t *testing.T) {
	storetest.RunForkedMigrations(t, func(t *testing.T) storetest.Database {
		dsn := testenv.PostgresDSN(t)
		db, err := sql.Open("pgx", dsn)
		require.NoError(t, err)
		t.Cleanup(func() { require.NoError(t, db.Close()) })
		return storetest.Database{DB: db, Open: func(t *testing.T) store.Store {
			s, err := postgres.Open(context.Background(), dsn, postgres.Options{})
			require.NoError(t, err)
			return s
		}}
	})
}

func TestMigrationsTwice(t *testing.T) {
	dsn := testenv.PostgresDSN(t)
	ctx := context.Background()
	for i := 0; i < 2; i++ {
		s, err := postgres.Open(ctx, dsn, postgres.Options{})
		require.NoError(t, err)
		require.NoError(t, s.Close())
	}
}

func TestKPIs(t *testing.T) {
	storetest.RunKPIs(t, func(t *testing.T) storetest.Database {
		dsn := testenv.PostgresDSN(t)
		return storetest.Database{Open: func(t *testing.T) store.Store {
			s, err := postgres.Open(context.Background(), dsn, postgres.Options{})
			require.NoError(t, err)
			return s
		}}
	})
}

func TestIncidentJobs(t *testing.T) { storetest.RunIncidentJobs(t, open) }
