package postgres_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kizashi-dev/kizashi/internal/testenv"
	"github.com/kizashi-dev/kizashi/webhook/store"
	"github.com/kizashi-dev/kizashi/webhook/store/postgres"
	"github.com/kizashi-dev/kizashi/webhook/store/storetest"
)

func TestForwarding(t *testing.T) {
	storetest.RunForwarding(t, func(t *testing.T) store.Store {
		s, err := postgres.Open(context.Background(), testenv.PostgresDSN(t), postgres.Options{})
		require.NoError(t, err)
		return s
	})
}
