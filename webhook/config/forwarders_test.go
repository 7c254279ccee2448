package config

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	commoncfg "github.com/prometheus/common/config"
	"github.com/stretchr/testify/require"

	"github.com/kizashi-dev/kizashi/webhook/incident"
)

func TestForwardingErrors(t *testing.T) {
	for _, tc := range []struct {
		file, err string
	}{
		{"bad_type.yml", `tenant "a": forwarders[0]: type must be servicenow, jira, pagerduty or webhook, not "remedy"`},
		{"bad_section.yml", `tenant "a": forwarders[0]: section jira does not apply to type "servicenow"`},
		{"dup_forwarder.yml", `tenant "a": duplicate forwarder "x"`},
		{"no_routing_key.yml", `tenant "a": forwarders[0]: pagerduty: routing_key or routing_key_file required`},
		{"short_secret.yml", `tenant "a": forwarders[0]: webhook: secret must have at least 16 characters`},
		{"jira_no_project.yml", `tenant "a": forwarders[0]: jira: project required`},
		{"bad_url.yml", `tenant "a": forwarders[0]: url "acme.service-now.com" must be an absolute http(s) URL`},
		{"bad_severity.yml", `tenant "a": forwarders[0]: pagerduty: severities: P1 = "fatal" must be one of critical, error, warning, info`},
		{"bad_gone.yml", `tenant "a": alertmanager: gone must be resolve, note or resolve_if_untouched, not "close"`},
		{"bad_watchdog.yml", `tenant "a": watchdog: impact and urgency must be 1-3`},
		{"bad_breaker.yml", `line 2: forwarding.circuit_breaker.failures: must be at least 1`},
		{"bad_retry_after.yml", `line 2: forwarding.max_retry_after: must be positive`},
		{"unknown_key.yml", "parse config: yaml: unmarshal errors:\n  line 5: field tabel not found in type config.plain"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			path := filepath.Join("testdata", "forward", tc.file)
			_, err := Load(path)
			require.EqualError(t, err, "load "+path+": "+tc.err)
		})
	}
	files, err := filepath.Glob("testdata/forward/*.yml")
	require.NoError(t, err)
	require.Len(t, files, 14, "add new testdata/forward files to TestForwardingErrors")
}

func TestForwardingGood(t *testing.T) {
	c, err := Load("testdata/forward/good.yml")
	require.NoError(t, err)
	require.Equal(t, 4, c.Forwarding.Concurrency)
	require.Equal(t, 3, c.Forwarding.Breaker.Failures)
	require.Equal(t, DefaultForwarding.Breaker.OpenFor, c.Forwarding.Breaker.OpenFor, "defaults kept inside a section")
	require.Equal(t, 30*time.Second, time.Duration(c.Reconcile.Interval))
	require.Equal(t, []string{"acme/snow", "acme/jira", "acme/pd", "acme/hook"}, c.TargetKeys("acme"))
	require.Empty(t, c.TargetKeys("globex"))
	require.Len(t, c.Targets(), 4)

	snow, ok := c.Target("acme/snow")
	require.True(t, ok)
	require.Equal(t, "https://acme.service-now.com", snow.URL)
	require.Equal(t, "incident", snow.ServiceNow.Table)
	require.Equal(t, "Workaround provided", snow.ServiceNow.CloseCodes["solved_workaround"])
	require.Equal(t, "Solved (Permanently)", snow.ServiceNow.CloseCodes["solved_permanently"])
	require.True(t, snow.HTTPConfig.FollowRedirects, "http_config defaults")
	jira, _ := c.Target("acme/jira")
	require.Equal(t, "Incident", jira.Jira.IssueType)
	require.Equal(t, "cloud", jira.Jira.Deployment)
	require.Equal(t, "Waiting", jira.Jira.Statuses["on_hold"])
	require.Equal(t, "Done", jira.Jira.Statuses["resolved"])
	pd, _ := c.Target("acme/pd")
	require.Equal(t, DefaultPagerDutyURL, pd.URL)
	require.Empty(t, pd.PagerDuty.RoutingKey, "routing_key_file is read where it is used")
	require.Equal(t, filepath.Join("testdata", "forward", "pd.key"), pd.PagerDuty.RoutingKeyFile)
	key, err := pd.PagerDuty.ReadRoutingKey()
	require.NoError(t, err)
	require.Equal(t, commoncfg.Secret("x-secret-pagerduty-key-0001"), key)
	require.Equal(t, "critical", pd.PagerDuty.Severities["P1"])
	_, ok = c.Target("acme/nope")
	require.False(t, ok)

	acme, ok := c.Tenant("acme")
	require.True(t, ok)
	require.Equal(t, 2*time.Hour, acme.Alertmanager.EffectiveStaleness(), "twice the repeat interval")
	require.Equal(t, incident.AutoResolveNote, c.GonePolicy("acme"))
	require.Equal(t, incident.AutoResolveResolve, c.GonePolicy("globex"), "the tenant's auto_resolve")
	require.Equal(t, 5*time.Minute, time.Duration(acme.Watchdog.Timeout))
	require.Equal(t, 1, acme.Watchdog.Impact)
	require.NotEmpty(t, acme.Watchdog.Title)
}

func TestForwardingDefaults(t *testing.T) {
	c, err := Parse(nil, ".")
	require.NoError(t, err)
	require.Equal(t, DefaultForwarding, c.Forwarding)
	require.Equal(t, DefaultReconcile, c.Reconcile)
	require.Empty(t, c.Targets())
}

func TestExampleForwarding(t *testing.T) {
	c, err := Load("../kizashi-webhook.example.yml")
	require.NoError(t, err)
	require.Equal(t, DefaultForwarding, c.Forwarding, "the example documents the defaults")
	require.Equal(t, DefaultReconcile, c.Reconcile)
	require.Equal(t, []string{"acme/snow", "acme/jira", "acme/pagerduty", "acme/hook"}, c.TargetKeys("acme"))
	acme, _ := c.Tenant("acme")
	require.Equal(t, DefaultAlertmanager.RepeatInterval, acme.Alertmanager.RepeatInterval)
	require.Equal(t, DefaultAlertmanager.StartupGrace, acme.Alertmanager.StartupGrace)
	require.Equal(t, DefaultWatchdogConfig, *acme.Watchdog)
}

// TestForwarderSecretsReadWhenUsed: a routing key or signing secret file is checked when the
// configuration is loaded and read again by each use: a new content counts without a reload,
// and one the check refuses is refused then too.
func TestForwarderSecretsReadWhenUsed(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600))
	}
	write("pd.key", "first-routing-key\n")
	write("hook.secret", "first-signing-secret-0123\n")
	c, err := Parse([]byte(`
tenants:
  - name: a
    tokens: ["a-token-0123456789abcdef"]
    forwarders:
      - {name: pd, type: pagerduty, pagerduty: {routing_key_file: pd.key}}
      - {name: hook, type: webhook, url: "https://hooks.example", webhook: {secret_file: hook.secret}}
`), dir)
	require.NoError(t, err)
	pd, _ := c.Target("a/pd")
	hook, _ := c.Target("a/hook")
	key, err := pd.PagerDuty.ReadRoutingKey()
	require.NoError(t, err)
	require.Equal(t, commoncfg.Secret("first-routing-key"), key)
	write("pd.key", "second-routing-key")
	write("hook.secret", "second-signing-secret-0123")
	key, err = pd.PagerDuty.ReadRoutingKey()
	require.NoError(t, err)
	require.Equal(t, commoncfg.Secret("second-routing-key"), key)
	secret, err := hook.Webhook.ReadSecret()
	require.NoError(t, err)
	require.Equal(t, commoncfg.Secret("second-signing-secret-0123"), secret)
	write("hook.secret", "short")
	_, err = hook.Webhook.ReadSecret()
	require.EqualError(t, err, "secret must have at least 16 characters")
	require.NoError(t, os.Remove(filepath.Join(dir, "pd.key")))
	_, err = pd.PagerDuty.ReadRoutingKey()
	require.ErrorContains(t, err, "read routing_key_file")
}
