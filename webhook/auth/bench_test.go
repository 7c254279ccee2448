package auth_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/kizashi-dev/kizashi/webhook/auth"
	"github.com/kizashi-dev/kizashi/webhook/config"
)

// BenchmarkAuthenticate is the cost of checking one request's credential among 100 tenants:
// an inline token, a token of a file (read again at each check) and an unknown token (every
// file read).
func BenchmarkAuthenticate(b *testing.B) {
	dir := b.TempDir()
	var y strings.Builder
	y.WriteString("tenants:\n")
	for i := range 100 {
		f := filepath.Join(dir, fmt.Sprintf("t%d.token", i))
		require.NoError(b, os.WriteFile(f, []byte(fmt.Sprintf("# tenant %d\nfile-token-%d-0123456789abc\n", i, i)), 0o600))
		fmt.Fprintf(&y, "  - name: t%d\n    tokens: [\"inline-token-%d-0123456789abc\"]\n    token_files: [%s]\n", i, i, f)
	}
	c, err := config.Parse([]byte(y.String()), dir)
	require.NoError(b, err)
	a := auth.NewTokens(func() *config.Config { return c }, []byte("secret"))
	ctx := context.Background()
	for _, bc := range []struct{ name, token string }{
		{"inline", "inline-token-50-0123456789abc"},
		{"file", "file-token-50-0123456789abc"},
		{"unknown", "unknown-token-0123456789abc"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_, _, err := a.Authenticate(ctx, auth.Credential{Token: bc.token})
				if bc.name == "unknown" {
					require.ErrorIs(b, err, auth.ErrUnauthenticated)
				} else {
					require.NoError(b, err)
				}
			}
		})
	}
}

// BenchmarkUsers is the cost of a named user's password check (bcrypt at its default cost 10)
// and, with 100 users configured, of a tenant's token (the users are not consulted).
func BenchmarkUsers(b *testing.B) {
	h, err := bcrypt.GenerateFromPassword([]byte("user-password-0123"), bcrypt.DefaultCost)
	require.NoError(b, err)
	var y strings.Builder
	y.WriteString("tenants:\n  - {name: acme, tokens: [\"acme-token-0123456789abc\"]}\nusers:\n")
	for i := range 100 {
		fmt.Fprintf(&y, "  - {name: u%d, role: operator, password_hash: %q}\n", i, h)
	}
	c, err := config.Parse([]byte(y.String()), ".")
	require.NoError(b, err)
	cfg := func() *config.Config { return c }
	a := auth.WithUsers(auth.NewTokens(cfg, []byte("secret")), auth.NewUsers(cfg, []byte("secret")))
	ctx := context.Background()
	for _, bc := range []struct {
		name string
		cred auth.Credential
	}{
		{"password", auth.Credential{Username: "u50", Password: "user-password-0123"}},
		{"tenant token", auth.Credential{Token: "acme-token-0123456789abc"}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_, _, err := a.Authenticate(ctx, bc.cred)
				require.NoError(b, err)
			}
		})
	}
}
