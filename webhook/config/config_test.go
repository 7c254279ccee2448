package config

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"

	"github.com/kizashi-dev/kizashi/webhook/incident"
)

// loadErrors are the testdata files with the exact error of each.
var loadErrors = []struct {
	file, err string
}{
	{"api_token_bad_role.yml", `line 6: tenants[0].api_tokens[0].role: role must be read (read the tenant's incidents) or act (read and work on them)`},
	{"api_token_named_like_operator.yml", `line 9: operators[0].name: operator name "noc" is already the name of tenants[0].api_tokens[0]`},
	{"api_token_reuses_alertmanager_token.yml", `line 7: tenants[0].api_tokens[0].tokens[0]: token already used by another tenant or operator`},
	{"api_token_without_token.yml", `line 5: tenants[0].api_tokens[0]: API token "acme-itsm" needs tokens or token_files`},
	{"unknown_key.yml", "parse config: yaml: unmarshal errors:\n  line 3: field pathh not found in type config.plain"},
	{"tenant_unknown_key.yml", "parse config: yaml: unmarshal errors:\n  line 5: field reopen_windoww not found in type config.PolicyConfig"},
	{"bad_auto_resolve.yml", `tenant "acme": policy: auto_resolve must be resolve, note or resolve_if_untouched, not "maybe"`},
	{"bad_correlation.yml", `tenant "a": route "r": correlate_by must be group or fingerprint, not "alertname"`},
	{"bad_driver.yml", `storage: driver must be sqlite or postgres, not "mysql"`},
	{"bad_duration.yml", `parse config: line 2: policy.reopen_window: not a valid duration string: "soon"`},
	{"bad_matrix.yml", "policy: priority: matrix must have 3 rows (impact high, medium, low)"},
	{"bad_sla_key.yml", `policy: sla: key "P9" must be P1..P5`},
	{"bad_sla_order.yml", `line 8: tenants[0].policy.sla.P2.resolve: must not be shorter than response`},
	{"bad_template.yml", "policy: parse title template: template: title:1: unclosed action"},
	{"bad_tenant_limits.yml", `line 9: tenants[0].limits.notifications_burst: must be at least 1 when notifications_per_second is set`},
	{"bad_retention.yml", "line 2: retention.notifications: must be 0 (keep) or at least 1h (duplicates are recognised by the stored notification)"},
	{"bad_limits_tenant.yml", "line 4: limits.tenant.wait: must be positive"},
	{"bad_tenant_name.yml", `tenants[0]: name "a b" must be 1-64 characters of a-z, A-Z, 0-9, '-', '_', '.'`},
	{"basic_user_named_like_tenant.yml", `line 4: tenants[0].basic_auth[0].username: basic_auth username "b" is already the name of tenants[1]`},
	{"bad_trusted_proxy.yml", `line 4: server.trusted_proxies[1]: "proxy.example" is not an IP address or CIDR range`},
	{"bad_auth_failures.yml", "line 4: server.auth_failures.per_minute: must be positive"},
	{"big_body.yml", "line 2: limits.max_body_bytes: must be 1-1073741824 (1 GiB), not 1000000000000"},
	{"duplicate_operator.yml", `line 4: operators[1].name: operator name "noc" is already the name of operators[0]`},
	{"duplicate_token.yml", `line 5: tenants[1].tokens[0]: token already used by another tenant or operator`},
	{"missing_token_file.yml", `line 3: tenants[0].token_files[0]: read token file: open testdata/missing.token: no such file or directory`},
	{"no_credentials.yml", `line 2: tenants[0]: tenant "a" needs tokens, token_files or basic_auth`},
	{"one_kind_token.yml", "line 3: operators[0].tokens[0]: token must mix at least two kinds of characters (lower-case letters, upper-case letters, digits, others)"},
	{"operator_named_like_tenant.yml", `line 5: operators[0].name: operator name "acme" is already the name of tenants[0]`},
	{"short_token.yml", `line 3: tenants[0].tokens[0]: token must have at least 16 characters`},
	{"tenant_bad_duration.yml", `parse config: line 6: tenants[0].policy.flapping.window: not a valid duration string: "-1h"`},
	{"token_file_weak.yml", "line 3: tenants[0].token_files[0]: weak.token line 2: token must mix at least two kinds of characters (lower-case letters, upper-case letters, digits, others)"},
	{"token_only_spaces.yml", "line 5: tenants[0].tokens[1]: token is empty or only white space"},
	{"token_spaces.yml", "line 3: tenants[0].tokens[0]: token has leading or trailing white space"},
	{"weak_password.yml", "line 5: tenants[0].basic_auth[0].password: password must have at least 16 characters"},
	{"weak_token.yml", "line 3: tenants[0].tokens[0]: token must not be made mostly of one character"},
	{"zero_close_after.yml", "line 2: policy.close_after: must be positive"},
}

func TestLoadErrors(t *testing.T) {
	for _, tc := range loadErrors {
		t.Run(tc.file, func(t *testing.T) {
			path := filepath.Join("testdata", tc.file)
			_, err := Load(path)
			require.EqualError(t, err, "load "+path+": "+tc.err)
		})
	}
}

func TestAllTestdataCovered(t *testing.T) {
	files, err := filepath.Glob("testdata/*.yml")
	require.NoError(t, err)
	covered := map[string]bool{"good.yml": true}
	for _, tc := range loadErrors {
		covered[tc.file] = true
	}
	for _, f := range files {
		require.True(t, covered[filepath.Base(f)], "add %s to loadErrors", f)
	}
}

func TestGood(t *testing.T) {
	c, err := Load("testdata/good.yml")
	require.NoError(t, err)
	require.Equal(t, []string{"acme", "globex"}, c.TenantNames())

	require.Equal(t, incident.CorrelateFingerprint, c.Correlation("acme", "acme-per-alert"))
	require.Equal(t, incident.CorrelateGroup, c.Correlation("acme", "other"))

	acme := c.Policy("acme")
	require.Equal(t, incident.AutoResolveIfUntouched, acme.AutoResolve, "tenant override")
	require.Equal(t, 30*time.Minute, acme.ReopenWindow, "inherited from global policy")
	require.Equal(t, map[string]int{"checkout": 1, "wiki": 3, "erp": 1}, acme.Priority.Services, "maps merge")
	require.Equal(t, incident.SLATarget{Response: 10 * time.Minute, Resolve: 2 * time.Hour}, acme.SLA[1])
	require.Equal(t, 30*time.Minute, acme.SLA[2].Response, "default SLA kept")
	globex := c.Policy("globex")
	require.Equal(t, incident.AutoResolveResolve, globex.AutoResolve)
	require.Equal(t, map[string]int{"checkout": 1, "wiki": 3}, globex.Priority.Services)
	require.Equal(t, "sqlite", c.Storage.Driver)
	require.Equal(t, "FULL", c.Storage.Synchronous)
	require.Equal(t, int64(1048576), c.Limits.MaxBodyBytes)
}

func TestEmptyIsDefault(t *testing.T) {
	c, err := Parse(nil, ".")
	require.NoError(t, err)
	require.Equal(t, DefaultStorage, c.Storage)
	require.Equal(t, incident.AutoResolveResolve, c.Policy("x").AutoResolve)
}

func TestDSNFile(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "dsn"), []byte("postgres://u@h/db\n"), 0o600))
	c, err := Parse([]byte("storage:\n  driver: postgres\n  dsn_file: dsn\n"), dir)
	require.NoError(t, err)
	require.Empty(t, c.Storage.DSN, "the DSN is read when the store opens")
	dsn, err := c.Storage.ReadDSN()
	require.NoError(t, err)
	require.Equal(t, "postgres://u@h/db", dsn)
	_, err = Parse([]byte("storage:\n  driver: postgres\n  dsn_file: nope\n"), dir)
	require.ErrorContains(t, err, "storage: read dsn_file: open "+filepath.Join(dir, "nope"))
	_, err = Parse([]byte("storage:\n  driver: postgres\n"), dir)
	require.True(t, strings.Contains(err.Error(), "dsn or dsn_file required"))
}

func TestExampleConfig(t *testing.T) {
	c, err := Load("../kizashi-webhook.example.yml")
	require.NoError(t, err)
	def := DefaultPolicyConfig()
	require.Equal(t, def.SLA, c.Defaults.SLA, "the example documents the defaults")
	require.Equal(t, def.Priority.SeverityUrgency, c.Defaults.Priority.SeverityUrgency)
	require.Equal(t, incident.AutoResolveIfUntouched, c.Policy("acme").AutoResolve)
	require.Equal(t, DefaultLimits, c.Limits, "the example documents the limits' defaults")
	require.Equal(t, DefaultRetention, c.Retention)
}

// TestCredentialFilesResolved: token and password files are named relative to the
// configuration's directory and read where they are used (package auth), so the loaded
// configuration holds their resolved names.
func TestCredentialFilesResolved(t *testing.T) {
	c, err := Load("testdata/good.yml")
	require.NoError(t, err)
	require.Equal(t, []string{filepath.Join("testdata", "acme.token")}, c.Tenants[0].TokenFiles)
}

func TestTenantLimitsOverlay(t *testing.T) {
	c, err := Parse([]byte(`
limits:
  tenant:
    concurrency: 8
    bytes_per_second: 1000
    bytes_burst: 5000
retention:
  journal_notifications: 30d
tenants:
  - name: big
    tokens: ["big-token-0123456789abcdef"]
    limits: {bytes_per_second: 9000, bytes_burst: 90000}
  - name: small
    tokens: ["small-token-0123456789abcdef"]
`), ".")
	require.NoError(t, err)
	big, small := c.TenantLimits("big"), c.TenantLimits("small")
	require.Equal(t, 8, big.Concurrency, "inherited")
	require.Equal(t, 9000.0, big.BytesPerSecond, "overridden")
	require.Equal(t, 90000.0, big.BytesBurst)
	require.Equal(t, 1000.0, small.BytesPerSecond)
	require.Equal(t, int64(4<<20), small.InflightBytes, "default")
	require.Equal(t, 5*time.Second, small.Wait)
	require.Equal(t, c.TenantLimits("small"), c.TenantLimits("unknown"), "unknown tenants get limits.tenant")
	require.Equal(t, model.Duration(7*24*time.Hour), c.Retention.Notifications, "default kept")
	require.Equal(t, model.Duration(30*24*time.Hour), c.Retention.JournalNotifications)
}

func TestServerSection(t *testing.T) {
	c, err := Load("testdata/good.yml")
	require.NoError(t, err)
	require.Equal(t, DefaultServer.AuthFailures, c.Server.AuthFailures)
	require.Equal(t, []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.0.2.7/32"), netip.MustParsePrefix("2001:db8::/32")},
		c.Server.Proxies())
	require.True(t, c.Server.SecureCookies)
}
