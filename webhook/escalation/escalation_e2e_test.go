//go:build e2e

package escalation_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kizashi-dev/kizashi/internal/testenv"
	"github.com/kizashi-dev/kizashi/webhook/store/postgres"
)

func postgresOpener(t *testing.T) opener {
	dsn := testenv.PostgresDSN(t)
	return func(t *testing.T) escStore {
		s, err := postgres.Open(context.Background(), dsn, postgres.Options{})
		require.NoError(t, err)
		return s
	}
}

// TestNightP1EscalatesTwiceAndStopsOnAckPostgres is TestNightP1EscalatesTwiceAndStopsOnAck on
// a real PostgreSQL.
func TestNightP1EscalatesTwiceAndStopsOnAckPostgres(t *testing.T) { nightP1(t, postgresOpener(t)) }
