package auth_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/kizashi-dev/kizashi/webhook/auth"
	"github.com/kizashi-dev/kizashi/webhook/config"
)

func usersConfig(t *testing.T, alicePassword, carolTenant string) *config.Config {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(alicePassword), bcrypt.MinCost)
	require.NoError(t, err)
	c, err := config.Parse([]byte(fmt.Sprintf(`
tenants:
  - {name: acme, tokens: ["acme-secret-token-0123456789"]}
  - {name: globex, tokens: ["globex-secret-token-0123456789"]}
users:
  - {name: alice, role: operator, password_hash: %q}
  - {name: carol, role: customer, tenant: %s, password_hash: %q}
`, h, carolTenant, h)), ".")
	require.NoError(t, err)
	return c
}

func TestUsers(t *testing.T) {
	ctx := context.Background()
	cfg := usersConfig(t, "first-password-1", "acme")
	u := auth.NewUsers(func() *config.Config { return cfg }, []byte("secret"))
	p, ref, err := u.Authenticate(ctx, auth.Credential{Username: "alice", Password: "first-password-1"})
	require.NoError(t, err)
	require.Equal(t, auth.Principal{Name: "alice", Role: auth.RoleOperator, User: true}, p)
	require.True(t, p.AllTenants())
	for _, c := range []auth.Credential{
		{Username: "alice", Password: "wrong"},
		{Username: "nobody", Password: "first-password-1"},
		{Token: "first-password-1"},
		{},
	} {
		_, _, err := u.Authenticate(ctx, c)
		require.ErrorIs(t, err, auth.ErrUnauthenticated, c.Username)
	}
	got, err := u.Resolve(ctx, ref)
	require.NoError(t, err)
	require.Equal(t, p, got)

	cp, cref, err := u.Authenticate(ctx, auth.Credential{Username: "carol", Password: "first-password-1"})
	require.NoError(t, err)
	require.Equal(t, auth.Principal{Name: "carol", Tenant: "acme", Role: auth.RoleCustomer, User: true}, cp)
	require.True(t, cp.ReadOnly())
	require.False(t, cp.SeesInternal())
	require.False(t, cp.SendsAlerts())
	require.Equal(t, "acme", cp.Scope())

	// A new password ends alice's sessions; moving carol to another tenant ends hers.
	cfg = usersConfig(t, "second-password-2", "globex")
	_, err = u.Resolve(ctx, ref)
	require.ErrorIs(t, err, auth.ErrUnauthenticated)
	_, err = u.Resolve(ctx, cref)
	require.ErrorIs(t, err, auth.ErrUnauthenticated)
	_, err = u.Resolve(ctx, "acme-secret-token-0123456789")
	require.ErrorIs(t, err, auth.ErrUnauthenticated)

	// Chained with the tokens, each credential finds its authenticator.
	ch := auth.WithUsers(auth.NewTokens(func() *config.Config { return cfg }, []byte("secret")), u)
	p, _, err = ch.Authenticate(ctx, auth.Credential{Token: "acme-secret-token-0123456789"})
	require.NoError(t, err)
	require.Equal(t, auth.RoleTenant, p.Role)
	p, _, err = ch.Authenticate(ctx, auth.Credential{Username: "alice", Password: "second-password-2"})
	require.NoError(t, err)
	require.Equal(t, "alice", p.Name)
	_, _, err = ch.Authenticate(ctx, auth.Credential{Username: "alice", Password: "first-password-1"})
	require.ErrorIs(t, err, auth.ErrUnauthenticated)
	p, _, err = ch.Authenticate(ctx, auth.Credential{Username: "carol", Password: "second-password-2"})
	require.NoError(t, err)
	_, err = ch.Resolve(ctx, u.OIDCRef(&cfg.Users[0]))
	require.ErrorIs(t, err, auth.ErrUnauthenticated, "no OpenID Connect configured: no such session")
}

func TestUsersConfigErrors(t *testing.T) {
	for _, tc := range []struct{ users, want string }{
		{`[{name: acme, role: operator, password_hash: "x"}]`, `users[0].name: user name "acme" is already the name of tenants[0]`},
		{`[{name: a, role: boss, password_hash: "x"}]`, "users[0].role: role must be one of admin, operator, customer"},
		{`[{name: a, role: customer, password_hash: "x"}]`, `users[0].tenant: customer "a" needs the name of a configured tenant`},
		{`[{name: a, role: operator, tenant: acme, password_hash: "x"}]`, "users[0].tenant: only customers have a tenant"},
		{`[{name: a, role: operator, password_hash: "plain"}]`, "users[0].password_hash: not a bcrypt hash"},
		{`[{name: a, role: operator}]`, `users[0]: user "a" needs password_hash, oidc_subject or email`},
		{`[{name: a, role: operator, email: a@x.example}]`, "oidc is not configured"},
		{`[{name: a, role: admin, groups: [dba], password_hash: "x"}]`, "users[0].groups: only operators are limited to assignment groups"},
		{`[{name: a, role: customer, tenant: acme, groups: [dba], password_hash: "x"}]`, "users[0].groups: only operators are limited to assignment groups"},
		{`[{name: a, role: operator, groups: [" dba"], password_hash: "x"}]`, "users[0].groups[0]: assignment group \" dba\" must be non-empty"},
		{`[{name: acme-itsm, role: operator, password_hash: "x"}]`, `users[0].name: user name "acme-itsm" is already the name of tenants[0].api_tokens[0]`},
	} {
		_, err := config.Parse([]byte(`
tenants:
  - {name: acme, tokens: ["acme-secret-token-0123456789"], api_tokens: [{name: acme-itsm, role: act, tokens: ["acme-itsm-token-0123456789"]}]}
users: `+tc.users+"\n"), ".")
		require.ErrorContains(t, err, tc.want, tc.users)
	}
}
