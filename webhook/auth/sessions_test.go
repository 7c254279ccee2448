package auth_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kizashi-dev/kizashi/webhook/auth"
	"github.com/kizashi-dev/kizashi/webhook/config"
	"github.com/kizashi-dev/kizashi/webhook/store/sqlite"
)

const (
	tokA = "a-token-0123456789abcdef"
)

var cfgYAML = `
tenants:
  - name: a
    tokens: ["` + tokA + `"]
  - name: b
    tokens: ["b-token-0123456789abcdef"]
    basic_auth: [{username: bee, password: bee-password-0123}]
`

// TestSessionsEndAtLogoutEverywhere: a session is a row in the store; closing it (logout) ends
// it for every replica at once, and so does removing its token from the configuration. The
// cookie holds neither the token nor its hash.
func TestSessionsEndAtLogoutEverywhere(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	var secrets [][]byte
	open := func() *auth.Sessions {
		st, err := sqlite.Open(ctx, filepath.Join(dir, "k.db"), sqlite.Options{})
		require.NoError(t, err)
		t.Cleanup(func() { require.NoError(t, st.Close()) })
		secret, err := st.ServerSecret(ctx, []byte(t.Name()))
		require.NoError(t, err)
		secrets = append(secrets, secret)
		return auth.NewSessions(st, secret)
	}
	r1, r2 := open(), open()
	require.Equal(t, secrets[0], secrets[1], "the replicas share the installation's secret")
	cfg, err := config.Parse([]byte(cfgYAML), ".")
	require.NoError(t, err)
	var cur atomic.Pointer[config.Config]
	cur.Store(cfg)
	a := auth.NewTokens(cur.Load, secrets[0])
	now := time.Now()
	cookie, p, err := r1.Open(ctx, a, auth.Credential{Token: tokA}, now)
	require.NoError(t, err)
	require.Equal(t, "a", p.Tenant)
	h := sha256.Sum256([]byte(tokA))
	for _, leak := range []string{tokA, hex.EncodeToString(h[:]), base64.RawURLEncoding.EncodeToString(h[:])} {
		require.NotContains(t, cookie, leak)
	}
	_, _, err = r1.Open(ctx, a, auth.Credential{Token: "not-a-configured-token-0"}, now)
	require.ErrorIs(t, err, auth.ErrUnauthenticated)
	_, _, err = r1.Open(ctx, a, auth.Credential{Username: "bee", Password: "bee-password-0123"}, now)
	require.ErrorIs(t, err, auth.ErrUnauthenticated, "basic-auth users open no session")

	p, ok, err := r2.Principal(ctx, a, cookie, now)
	require.NoError(t, err)
	require.True(t, ok, "the other replica knows the session")
	require.Equal(t, "a", p.Tenant)
	_, ok, err = r2.Principal(ctx, a, cookie, now.Add(auth.SessionTTL))
	require.NoError(t, err)
	require.False(t, ok, "expired")

	other, _, err := r1.Open(ctx, a, auth.Credential{Token: tokA}, now)
	require.NoError(t, err)
	require.NoError(t, r1.Close(ctx, cookie))
	_, ok, err = r2.Principal(ctx, a, cookie, now)
	require.NoError(t, err)
	require.False(t, ok, "logged out on r1: ended on r2")
	_, ok, err = r2.Principal(ctx, a, other, now)
	require.NoError(t, err)
	require.True(t, ok, "another session of the same token lives on")

	rotated, err := config.Parse([]byte(strings.Replace(cfgYAML, tokA, "rotated-a-token-0123456789", 1)), ".")
	require.NoError(t, err)
	cur.Store(rotated)
	_, ok, err = r2.Principal(ctx, a, other, now)
	require.NoError(t, err)
	require.False(t, ok, "the token left the configuration")
	for _, bad := range []string{"", "x", cookie + "x", strings.Repeat("A", len(cookie))} {
		_, ok, err = r2.Principal(ctx, a, bad, now)
		require.NoError(t, err)
		require.False(t, ok, bad)
	}
	require.False(t, r1.ValidCSRF(other, ""))
	require.False(t, r1.ValidCSRF(other, r1.CSRFToken(cookie)), "another session's token")
	require.True(t, r2.ValidCSRF(other, r1.CSRFToken(other)), "the replicas share the CSRF key")
}
