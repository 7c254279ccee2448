//go:build e2e

package app_test

// e2e is true with the e2e build tag: the tests may start Debian's programs.
const e2e = true
