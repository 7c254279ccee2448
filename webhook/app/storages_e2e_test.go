//go:build e2e

package app_test

import (
	"fmt"
	"testing"

	"github.com/kizashi-dev/kizashi/internal/testenv"
)

// The e2e suite runs the tests that take any store against Debian's PostgreSQL too.
func init() {
	storages = append(storages, storage{"postgres", func(t *testing.T) string {
		return fmt.Sprintf("storage:\n  driver: postgres\n  dsn: %q\n", testenv.PostgresDSN(t))
	}})
}
