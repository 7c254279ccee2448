package auth_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kizashi-dev/kizashi/webhook/auth"
	"github.com/kizashi-dev/kizashi/webhook/config"
)

func static(c *config.Config) func() *config.Config { return func() *config.Config { return c } }

func TestTokensOfTheConfiguration(t *testing.T) {
	c, err := config.Load("../config/testdata/good.yml")
	require.NoError(t, err)
	a := auth.NewTokens(static(c), []byte("secret"))
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		cred auth.Credential
		want auth.Principal
		err  error
	}{
		{"inline token", auth.Credential{Token: "acme-secret-token-0123456789"}, auth.Principal{Name: "acme", Tenant: "acme", Role: auth.RoleTenant}, nil},
		{"token of a file", auth.Credential{Token: "acme-token-file-0123456789"}, auth.Principal{Name: "acme", Tenant: "acme", Role: auth.RoleTenant}, nil},
		{"read API token", auth.Credential{Token: "acme-grafana-token-0123456789"}, auth.Principal{Name: "acme-grafana", Tenant: "acme", Role: auth.RoleAPIRead}, nil},
		{"act API token of a file", auth.Credential{Token: "acme-itsm-file-0123456789abc"}, auth.Principal{Name: "acme-itsm", Tenant: "acme", Role: auth.RoleAPIAct}, nil},
		{"operator", auth.Credential{Token: "noc-operator-token-0123456789"}, auth.Principal{Name: "noc", Role: auth.RoleOperator}, nil},
		{"unknown token", auth.Credential{Token: "nope"}, auth.Principal{}, auth.ErrUnauthenticated},
		{"no credential", auth.Credential{}, auth.Principal{}, auth.ErrUnauthenticated},
		{"basic auth", auth.Credential{Username: "globex", Password: "globex-password-0123"}, auth.Principal{Name: "globex", Tenant: "globex", Role: auth.RoleTenant}, nil},
		{"wrong password", auth.Credential{Username: "globex", Password: "wrong"}, auth.Principal{}, auth.ErrUnauthenticated},
		{"unknown user", auth.Credential{Username: "nobody", Password: "globex-password-0123"}, auth.Principal{}, auth.ErrUnauthenticated},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, ref, err := a.Authenticate(ctx, tc.cred)
			require.ErrorIs(t, err, tc.err)
			require.Equal(t, tc.want, p)
			if tc.err != nil || tc.cred.Token == "" {
				require.Empty(t, ref, "only tokens open sessions")
				return
			}
			require.NotContains(t, ref, tc.cred.Token)
			got, err := a.Resolve(ctx, ref)
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
	_, err = a.Resolve(ctx, "")
	require.ErrorIs(t, err, auth.ErrUnauthenticated)
	require.True(t, auth.Principal{Role: auth.RoleOperator}.AllTenants())
	require.False(t, auth.Principal{Role: auth.RoleOperator}.SendsAlerts())
	require.Equal(t, "acme", auth.Principal{Name: "acme", Tenant: "acme", Role: auth.RoleTenant}.Scope())
}

// TestWhatEachRoleMay: Alertmanager's credential only posts alerts; API tokens post none, a
// read one reads as a customer, an act one works on its tenant.
func TestWhatEachRoleMay(t *testing.T) {
	for _, tc := range []struct {
		role                                            auth.Role
		ingestOnly, sendsAlerts, readOnly, seesInternal bool
	}{
		{auth.RoleTenant, true, true, false, true},
		{auth.RoleAPIRead, false, false, true, false},
		{auth.RoleAPIAct, false, false, false, true},
		{auth.RoleCustomer, false, false, true, false},
		{auth.RoleOperator, false, false, false, true},
	} {
		p := auth.Principal{Name: "x", Tenant: "acme", Role: tc.role}
		if tc.role == auth.RoleOperator {
			p.Tenant = ""
		}
		require.Equal(t, tc.ingestOnly, p.IngestOnly(), tc.role)
		require.Equal(t, tc.sendsAlerts, p.SendsAlerts(), tc.role)
		require.Equal(t, tc.readOnly, p.ReadOnly(), tc.role)
		require.Equal(t, tc.seesInternal, p.SeesInternal(), tc.role)
		require.Equal(t, tc.role == auth.RoleOperator, p.AllTenants(), tc.role)
	}
}

// fileConfig is a configuration with acme's token in a file and globex's password in another.
func fileConfig(t *testing.T, dir string) *config.Config {
	t.Helper()
	c, err := config.Parse([]byte(`
tenants:
  - name: acme
    token_files: [acme.token]
  - name: globex
    basic_auth: [{username: globex, password_file: globex.password}]
  - name: initech
    tokens: ["initech-token-0123456789"]
`), dir)
	require.NoError(t, err)
	return c
}

// write replaces a file as an editor or a secret manager would: in place, or by renaming a
// new file over it.
func write(t *testing.T, path, content string, rename bool) {
	t.Helper()
	if !rename {
		require.NoError(t, os.WriteFile(path, []byte(content), 0o600))
		return
	}
	tmp := path + ".new"
	require.NoError(t, os.WriteFile(tmp, []byte(content), 0o600))
	require.NoError(t, os.Rename(tmp, path))
}

// TestSecretFilesAreReadWhenUsed: a token or password file changed while the configuration
// stays loaded counts from the next check on, with no reload; the old token and the sessions
// opened with it end. The test fails against a configuration that read its files when loaded.
func TestSecretFilesAreReadWhenUsed(t *testing.T) {
	for _, rename := range []bool{false, true} {
		t.Run(map[bool]string{false: "rewritten", true: "renamed"}[rename], func(t *testing.T) {
			dir := t.TempDir()
			tokens, password := filepath.Join(dir, "acme.token"), filepath.Join(dir, "globex.password")
			write(t, tokens, "# acme\nacme-old-token-0123456789\n", false)
			write(t, password, "globex-old-password-01\n", false)
			a := auth.NewTokens(static(fileConfig(t, dir)), []byte("secret"))
			ctx := context.Background()
			acme := auth.Principal{Name: "acme", Tenant: "acme", Role: auth.RoleTenant}

			p, oldRef, err := a.Authenticate(ctx, auth.Credential{Token: "acme-old-token-0123456789"})
			require.NoError(t, err)
			require.Equal(t, acme, p)
			_, _, err = a.Authenticate(ctx, auth.Credential{Username: "globex", Password: "globex-old-password-01"})
			require.NoError(t, err)

			write(t, tokens, "acme-new-token-0123456789\n", rename)
			write(t, password, "globex-new-password-01", rename)
			_, _, err = a.Authenticate(ctx, auth.Credential{Token: "acme-old-token-0123456789"})
			require.ErrorIs(t, err, auth.ErrUnauthenticated, "the old token left its file")
			_, err = a.Resolve(ctx, oldRef)
			require.ErrorIs(t, err, auth.ErrUnauthenticated, "its sessions end")
			p, newRef, err := a.Authenticate(ctx, auth.Credential{Token: "acme-new-token-0123456789"})
			require.NoError(t, err, "the new token works without a reload")
			require.Equal(t, acme, p)
			p, err = a.Resolve(ctx, newRef)
			require.NoError(t, err)
			require.Equal(t, acme, p)
			_, _, err = a.Authenticate(ctx, auth.Credential{Username: "globex", Password: "globex-old-password-01"})
			require.ErrorIs(t, err, auth.ErrUnauthenticated)
			_, _, err = a.Authenticate(ctx, auth.Credential{Username: "globex", Password: "globex-new-password-01"})
			require.NoError(t, err)
		})
	}
}

// TestBrokenSecretFilesFailClosed: a file that cannot be read, or that holds a token the
// configuration would refuse, authenticates nobody and says so with an error that is not
// ErrUnauthenticated (the caller answers "retry": Alertmanager keeps its notifications), while
// the other credentials keep working.
func TestBrokenSecretFilesFailClosed(t *testing.T) {
	dir := t.TempDir()
	tokens, password := filepath.Join(dir, "acme.token"), filepath.Join(dir, "globex.password")
	write(t, tokens, "acme-old-token-0123456789\n", false)
	write(t, password, "globex-old-password-01\n", false)
	a := auth.NewTokens(static(fileConfig(t, dir)), []byte("secret"))
	ctx := context.Background()
	_, ref, err := a.Authenticate(ctx, auth.Credential{Token: "acme-old-token-0123456789"})
	require.NoError(t, err)

	for _, tc := range []struct {
		name   string
		break_ func()
	}{
		{"removed", func() { require.NoError(t, os.Remove(tokens)) }},
		{"weak token", func() { write(t, tokens, "acme-old-token-0123456789\naaaaaaaaaaaaaaaaaaaa\n", false) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.break_()
			_, _, err := a.Authenticate(ctx, auth.Credential{Token: "acme-old-token-0123456789"})
			require.Error(t, err)
			require.False(t, errors.Is(err, auth.ErrUnauthenticated), "cannot check is not a wrong credential: %v", err)
			require.NotContains(t, err.Error(), "acme-old-token")
			_, err = a.Resolve(ctx, ref)
			require.Error(t, err)
			require.False(t, errors.Is(err, auth.ErrUnauthenticated))
			p, _, err := a.Authenticate(ctx, auth.Credential{Token: "initech-token-0123456789"})
			require.NoError(t, err, "inline tokens are not affected")
			require.Equal(t, "initech", p.Tenant)
			write(t, tokens, "acme-old-token-0123456789\n", false)
			_, _, err = a.Authenticate(ctx, auth.Credential{Token: "acme-old-token-0123456789"})
			require.NoError(t, err, "mended")
		})
	}
	require.NoError(t, os.Remove(password))
	_, _, err = a.Authenticate(ctx, auth.Credential{Username: "globex", Password: "globex-old-password-01"})
	require.Error(t, err)
	require.False(t, errors.Is(err, auth.ErrUnauthenticated))
}

// TestReloadSwapsCredentials: the authenticator follows the configuration it is given.
func TestReloadSwapsCredentials(t *testing.T) {
	parse := func(tok string) *config.Config {
		c, err := config.Parse([]byte("tenants:\n  - name: acme\n    tokens: [\""+tok+"\"]\n"), ".")
		require.NoError(t, err)
		return c
	}
	var cur atomic.Pointer[config.Config]
	cur.Store(parse("acme-first-token-0123456789"))
	a := auth.NewTokens(cur.Load, []byte("secret"))
	ctx := context.Background()
	_, ref, err := a.Authenticate(ctx, auth.Credential{Token: "acme-first-token-0123456789"})
	require.NoError(t, err)
	cur.Store(parse("acme-second-token-0123456789"))
	_, _, err = a.Authenticate(ctx, auth.Credential{Token: "acme-first-token-0123456789"})
	require.ErrorIs(t, err, auth.ErrUnauthenticated)
	_, err = a.Resolve(ctx, ref)
	require.ErrorIs(t, err, auth.ErrUnauthenticated)
	_, _, err = a.Authenticate(ctx, auth.Credential{Token: "acme-second-token-0123456789"})
	require.NoError(t, err)
}

// TestConcurrentChecksWhileAFileChanges: checks from many requests at once while the token file
// is replaced (run with -race): every check returns the old or the new token's answer, never
// another principal, and once the file is replaced the old token is refused.
func TestConcurrentChecksWhileAFileChanges(t *testing.T) {
	dir := t.TempDir()
	tokens := filepath.Join(dir, "acme.token")
	write(t, tokens, "acme-old-token-0123456789\n", false)
	write(t, filepath.Join(dir, "globex.password"), "globex-old-password-01\n", false)
	a := auth.NewTokens(static(fileConfig(t, dir)), []byte("secret"))
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	stop := make(chan struct{})
	for range 8 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				for _, tok := range []string{"acme-old-token-0123456789", "acme-new-token-0123456789"} {
					p, _, err := a.Authenticate(ctx, auth.Credential{Token: tok})
					if err == nil && p.Tenant != "acme" || err != nil && !errors.Is(err, auth.ErrUnauthenticated) {
						errs <- fmt.Errorf("%s: %v %v", tok, p, err)
						return
					}
				}
			}
		})
	}
	for i := range 20 {
		write(t, tokens, fmt.Sprintf("# %d\nacme-new-token-0123456789\n", i), true)
	}
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	_, _, err := a.Authenticate(ctx, auth.Credential{Token: "acme-old-token-0123456789"})
	require.ErrorIs(t, err, auth.ErrUnauthenticated)
}
