//go:build !e2e

package app_test

// e2e is false in the hermetic suite: no Debian program (Chromium, PostgreSQL, ...) is used.
const e2e = false
