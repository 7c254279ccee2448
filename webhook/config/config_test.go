package config

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"

	"github.com/kizashi-dev/kizashi/webhook/incident"
)

func TestLoadErrors(t *testing.T) {
	for _, tc := range []struct {
		file, err string
	}{
		{"unknown_key.yml", "parse config: yaml: unmarshal errors:\n  line 3: field pathh not found in type config.plain"},
		{"tenant_unknown_key.yml", "parse config: yaml: unmarshal errors:\n  line 5: field reopen_windoww not found in type config.PolicyConfig"},
		{"bad_auto_resolve.yml", `tenant "acme": policy: auto_resolve must be resolve, note or resolve_if_untouched, not "maybe"`},
		{"bad_correlation.yml", `tenant "a": route "r": correlate_by must be group or fingerprint, not "alertname"`},
		{"bad_driver.yml", `storage: driver must be sqlite or postgres, not "mysql"`},
		{"bad_duration.yml", `parse config: not a valid duration string: "soon"`},
		{"bad_matrix.yml", "policy: priority: matrix must have 3 rows (impact high, medium, low)"},
		{"bad_sla_key.yml", `policy: sla: key "P9" must be P1..P5`},
		{"bad_template.yml", "policy: parse title template: template: title:1: unclosed action"},
		{"bad_tenant_name.yml", `tenants[0]: name "a b" must be 1-64 characters of a-z, A-Z, 0-9, '-', '_', '.'`},
		{"duplicate_token.yml", `tenant "b": token already used by another tenant or operator`},
		{"missing_token_file.yml", `tenant "a": read token file: open testdata/missing.token: no such file or directory`},
		{"no_credentials.yml", `tenant "a": needs tokens, token_files or basic_auth`},
		{"short_token.yml", `tenant "a": tokens must have at least 16 characters`},
		{"bad_tenant_limits.yml", `tenant "acme": limits: notifications_burst must be at least 1 when notifications_per_second is set`},
		{"bad_retention.yml", "retention: notifications must be 0 (keep) or at least 1h (duplicates are recognised by the stored notification)"},
	} {
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
	require.Len(t, files, 17, "add new testdata files to TestLoadErrors")
}

func TestGood(t *testing.T) {
	c, err := Load("testdata/good.yml")
	require.NoError(t, err)
	require.Equal(t, []string{"acme", "globex"}, c.TenantNames())

	p, ok := c.Authenticate("acme-secret-token-0123456789")
	require.True(t, ok)
	require.Equal(t, Principal{Name: "acme", Tenant: "acme"}, p)
	p, ok = c.Authenticate("acme-token-file-0123456789")
	require.True(t, ok)
	require.Equal(t, "acme", p.Tenant)
	p, ok = c.Authenticate("noc-operator-token-0123456789")
	require.True(t, ok)
	require.True(t, p.Operator)
	_, ok = c.Authenticate("nope")
	require.False(t, ok)
	p, ok = c.AuthenticateBasic("globex", "globex-password")
	require.True(t, ok)
	require.Equal(t, "globex", p.Tenant)
	_, ok = c.AuthenticateBasic("globex", "wrong")
	require.False(t, ok)

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
	require.Equal(t, "postgres://u@h/db", c.Storage.DSN)
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

func TestPageSessions(t *testing.T) {
	c, err := Load("testdata/good.yml")
	require.NoError(t, err)
	now := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	const tok = "acme-secret-token-0123456789"

	v, ok := c.NewSession(tok, now)
	require.True(t, ok)
	require.NotContains(t, v, tok)
	p, ok := c.AuthenticateSession(v, now.Add(SessionTTL-time.Second))
	require.True(t, ok)
	require.Equal(t, "acme", p.Tenant)

	_, ok = c.NewSession("not-a-configured-token-000", now)
	require.False(t, ok, "unknown token")
	_, ok = c.AuthenticateSession(v, now.Add(SessionTTL))
	require.False(t, ok, "expired")
	_, ok = c.AuthenticateSession(tok, now)
	require.False(t, ok, "the token itself is not a session")
	parts := strings.Split(v, ".")
	longer := strings.Join([]string{parts[0], strconv.FormatInt(now.Add(100*SessionTTL).Unix(), 10), parts[2], parts[3]}, ".")
	_, ok = c.AuthenticateSession(longer, now.Add(SessionTTL))
	require.False(t, ok, "a forged expiry fails the MAC")
	noc, ok := c.NewSession("noc-operator-token-0123456789", now)
	require.True(t, ok)
	nparts := strings.Split(noc, ".")
	_, ok = c.AuthenticateSession(strings.Join([]string{parts[0], parts[1], nparts[2], parts[3]}, "."), now)
	require.False(t, ok, "another token's id with this MAC")
	for _, bad := range []string{"", "1", "1.x.y.z", "2." + strings.Join(parts[1:], "."), v + ".x"} {
		_, ok = c.AuthenticateSession(bad, now)
		require.False(t, ok, bad)
	}

	// A reload without the token ends its sessions.
	c2, err := Parse([]byte(`
tenants:
  - name: acme
    tokens: ["another-acme-token-0123456789"]
`), "testdata")
	require.NoError(t, err)
	_, ok = c2.AuthenticateSession(v, now)
	require.False(t, ok)
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
