package sqlite_test

import (
	"testing"

	"github.com/kizashi-dev/kizashi/webhook/storetest"
)

func TestDeliveries(t *testing.T) { storetest.RunDeliveries(t, open) }
