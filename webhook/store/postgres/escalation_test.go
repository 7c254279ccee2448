//go:build e2e

package postgres_test

import (
	"testing"

	"github.com/kizashi-dev/kizashi/webhook/storetest"
)

func TestEscalations(t *testing.T) { storetest.RunEscalations(t, open) }
