//go:build e2e

package postgres_test

import (
	"testing"

	"github.com/kizashi-dev/kizashi/webhook/storetest"
)

func TestDeliveries(t *testing.T) { storetest.RunDeliveries(t, open) }
