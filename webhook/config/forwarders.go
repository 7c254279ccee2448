package config

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	commoncfg "github.com/prometheus/common/config"
	"github.com/prometheus/common/model"

	"github.com/kizashi-dev/kizashi/webhook/incident"
)

// Forwarding configures the outbox workers that deliver incidents to the
// tenants' ticket systems.
type Forwarding struct {
	// PollInterval is how often idle workers look for work.
	PollInterval model.Duration `yaml:"poll_interval"`
	// Concurrency is the number of deliveries in flight per target.
	Concurrency int `yaml:"concurrency"`
	// Timeout bounds one HTTP request to a target.
	Timeout model.Duration `yaml:"timeout"`
	// MaxAttempts failed deliveries make a dead letter.
	MaxAttempts int `yaml:"max_attempts"`
	// MinBackoff and MaxBackoff bound the exponential backoff (with jitter).
	MinBackoff model.Duration `yaml:"min_backoff"`
	MaxBackoff model.Duration `yaml:"max_backoff"`
	Breaker    Breaker        `yaml:"circuit_breaker"`
	// OutboxRetention keeps dispatched outbox rows this long.
	OutboxRetention model.Duration `yaml:"outbox_retention"`
	// CorrelationPrefix starts every correlation id stored in a ticket
	// ("<prefix>-<tenant>-<incident id>"); distinct per installation.
	CorrelationPrefix string `yaml:"correlation_prefix"`
	// ExternalURL is where people reach this webhook's service-desk page
	// (links in tickets to <external_url>/incidents/<id>); empty: no links.
	ExternalURL string `yaml:"external_url"`
	// MaxRetryAfter caps a target's Retry-After (a 429 pauses the whole target that long).
	MaxRetryAfter model.Duration `yaml:"max_retry_after"`
}

// Breaker is the circuit breaker of each target.
type Breaker struct {
	// Failures in a row open the circuit.
	Failures int `yaml:"failures"`
	// OpenFor is the first pause before a probe; it doubles after each
	// failed probe up to MaxOpenFor.
	OpenFor    model.Duration `yaml:"open_for"`
	MaxOpenFor model.Duration `yaml:"max_open_for"`
}

// Reconcile schedules the Alertmanager reconciliation and the watchdogs.
type Reconcile struct {
	Interval model.Duration `yaml:"interval"`
}

// Forwarder types.
const (
	TypeServiceNow = "servicenow"
	TypeJira       = "jira"
	TypePagerDuty  = "pagerduty"
	TypeWebhook    = "webhook"
)

// ForwarderConfig is one ticket system of a tenant.
type ForwarderConfig struct {
	Name string `yaml:"name"`
	Type string `yaml:"type"`
	// URL: the ServiceNow instance, the Jira site, the PagerDuty Events API
	// (default https://events.pagerduty.com) or the webhook's URL.
	URL        string                     `yaml:"url"`
	HTTPConfig commoncfg.HTTPClientConfig `yaml:"http_config"`
	// Concurrency overrides forwarding.concurrency.
	Concurrency int               `yaml:"concurrency"`
	ServiceNow  *ServiceNowConfig `yaml:"servicenow"`
	Jira        *JiraConfig       `yaml:"jira"`
	PagerDuty   *PagerDutyConfig  `yaml:"pagerduty"`
	Webhook     *WebhookConfig    `yaml:"webhook"`
}

// ServiceNowConfig maps incidents to the Table API's incident records.
type ServiceNowConfig struct {
	Table string `yaml:"table"`
	// CallerID is the caller_id of created incidents (sys_id or user name).
	CallerID string `yaml:"caller_id"`
	// AssignmentGroup replaces the incident's assignment group when set.
	AssignmentGroup string `yaml:"assignment_group"`
	// CloseCodes maps Kizashi close codes to the instance's close_code
	// choices; DefaultCloseCode serves the others.
	CloseCodes         map[string]string `yaml:"close_codes"`
	DefaultCloseCode   string            `yaml:"default_close_code"`
	CorrelationDisplay string            `yaml:"correlation_display"`
}

// JiraConfig maps incidents to issues of one project.
type JiraConfig struct {
	Project   string `yaml:"project"`
	IssueType string `yaml:"issue_type"`
	// Deployment selects the search API: cloud (/rest/api/2/search/jql) or
	// datacenter (/rest/api/2/search).
	Deployment string `yaml:"deployment"`
	// Priorities maps P1..P5 to Jira priority names (unset: not sent).
	Priorities map[string]string `yaml:"priorities"`
	// Statuses maps incident states to the Jira status to transition to
	// (unset or empty: no transition).
	Statuses map[string]string `yaml:"statuses"`
	Labels   []string          `yaml:"labels"`
}

// PagerDutyConfig sends Events API v2 events.
type PagerDutyConfig struct {
	RoutingKey     commoncfg.Secret `yaml:"routing_key"`
	RoutingKeyFile string           `yaml:"routing_key_file"`
	// Source of triggered alerts (default: the incident's CI, or "kizashi").
	Source string `yaml:"source"`
	// Severities maps P1..P5 to critical, error, warning or info.
	Severities map[string]string `yaml:"severities"`
}

// WebhookConfig signs generic JSON deliveries with HMAC-SHA256.
type WebhookConfig struct {
	Secret     commoncfg.Secret `yaml:"secret"`
	SecretFile string           `yaml:"secret_file"`
}

// AlertmanagerConfig is the Alertmanager a tenant's alerts come from, for
// reconciliation.
type AlertmanagerConfig struct {
	URL        string                     `yaml:"url"`
	HTTPConfig commoncfg.HTTPClientConfig `yaml:"http_config"`
	// RepeatInterval of the tenant's routes; Staleness defaults to twice it.
	RepeatInterval model.Duration `yaml:"repeat_interval"`
	Staleness      model.Duration `yaml:"staleness"`
	// Gone is what happens to an incident whose alerts left Alertmanager
	// without a resolve: resolve, note or resolve_if_untouched (default:
	// the tenant's auto_resolve).
	Gone string `yaml:"gone"`
	// StartupGrace: while Alertmanager has been up for less than this, its
	// alerts may not all be back from Prometheus yet (Alertmanager keeps
	// no alerts across restarts), so no incident is taken for gone.
	StartupGrace model.Duration `yaml:"startup_grace"`
}

// WatchdogConfig is a tenant's dead-man's switch: Alertmanager sends an
// always-firing alert to /api/v1/watchdog; when it stops for Timeout, an
// incident is opened.
type WatchdogConfig struct {
	Timeout model.Duration `yaml:"timeout"`
	Title   string         `yaml:"title"`
	Impact  int            `yaml:"impact"`
	Urgency int            `yaml:"urgency"`
}

// Defaults.
var (
	DefaultForwarding = Forwarding{
		PollInterval:      model.Duration(time.Second),
		Concurrency:       8,
		Timeout:           model.Duration(10 * time.Second),
		MaxAttempts:       12,
		MinBackoff:        model.Duration(5 * time.Second),
		MaxBackoff:        model.Duration(5 * time.Minute),
		Breaker:           Breaker{Failures: 5, OpenFor: model.Duration(5 * time.Second), MaxOpenFor: model.Duration(time.Minute)},
		OutboxRetention:   model.Duration(7 * 24 * time.Hour),
		CorrelationPrefix: "kizashi",
		MaxRetryAfter:     model.Duration(time.Hour),
	}
	DefaultReconcile      = Reconcile{Interval: model.Duration(time.Minute)}
	DefaultServiceNow     = ServiceNowConfig{Table: "incident", DefaultCloseCode: "Solved (Permanently)", CorrelationDisplay: "Kizashi"}
	DefaultJira           = JiraConfig{IssueType: "Incident", Deployment: "cloud"}
	DefaultPagerDutyURL   = "https://events.pagerduty.com"
	DefaultAlertmanager   = AlertmanagerConfig{RepeatInterval: model.Duration(4 * time.Hour), StartupGrace: model.Duration(10 * time.Minute)}
	DefaultWatchdogConfig = WatchdogConfig{Timeout: model.Duration(10 * time.Minute), Title: "Monitoring pipeline down: no watchdog heartbeat", Impact: 1, Urgency: 1}
)

// DefaultServiceNowCloseCodes map Kizashi's close codes to ServiceNow's
// classic close_code choices.
func DefaultServiceNowCloseCodes() map[string]string {
	return map[string]string{
		"solved_permanently":          "Solved (Permanently)",
		"solved_workaround":           "Solved (Work Around)",
		"not_solved_not_reproducible": "Not Solved (Not Reproducible)",
		"not_solved_too_costly":       "Not Solved (Too Costly)",
		"resolved_by_caller":          "Closed/Resolved by Caller",
	}
}

// DefaultJiraStatuses transition issues to Jira's default workflow statuses.
func DefaultJiraStatuses() map[string]string {
	return map[string]string{
		string(incident.StateInProgress): "In Progress",
		string(incident.StateResolved):   "Done",
		string(incident.StateClosed):     "Done",
		string(incident.StateCanceled):   "Done",
	}
}

// DefaultPagerDutySeverities map priorities to PagerDuty severities.
func DefaultPagerDutySeverities() map[string]string {
	return map[string]string{"P1": "critical", "P2": "error", "P3": "warning", "P4": "info", "P5": "info"}
}

// UnmarshalYAML sets defaults.
func (f *Forwarding) UnmarshalYAML(unmarshal func(any) error) error {
	*f = DefaultForwarding
	type plain Forwarding
	return unmarshal((*plain)(f))
}

// UnmarshalYAML sets defaults.
func (r *Reconcile) UnmarshalYAML(unmarshal func(any) error) error {
	*r = DefaultReconcile
	type plain Reconcile
	return unmarshal((*plain)(r))
}

// UnmarshalYAML sets defaults.
func (f *ForwarderConfig) UnmarshalYAML(unmarshal func(any) error) error {
	*f = ForwarderConfig{HTTPConfig: commoncfg.DefaultHTTPClientConfig}
	type plain ForwarderConfig
	return unmarshal((*plain)(f))
}

// UnmarshalYAML sets defaults.
func (s *ServiceNowConfig) UnmarshalYAML(unmarshal func(any) error) error {
	*s = DefaultServiceNow
	type plain ServiceNowConfig
	return unmarshal((*plain)(s))
}

// UnmarshalYAML sets defaults.
func (j *JiraConfig) UnmarshalYAML(unmarshal func(any) error) error {
	*j = DefaultJira
	type plain JiraConfig
	return unmarshal((*plain)(j))
}

// UnmarshalYAML sets defaults.
func (a *AlertmanagerConfig) UnmarshalYAML(unmarshal func(any) error) error {
	*a = DefaultAlertmanager
	a.HTTPConfig = commoncfg.DefaultHTTPClientConfig
	type plain AlertmanagerConfig
	return unmarshal((*plain)(a))
}

// UnmarshalYAML sets defaults.
func (w *WatchdogConfig) UnmarshalYAML(unmarshal func(any) error) error {
	*w = DefaultWatchdogConfig
	type plain WatchdogConfig
	return unmarshal((*plain)(w))
}

// EffectiveStaleness is the configured staleness or twice the repeat
// interval.
func (a *AlertmanagerConfig) EffectiveStaleness() time.Duration {
	if a.Staleness > 0 {
		return time.Duration(a.Staleness)
	}
	return 2 * time.Duration(a.RepeatInterval)
}

// Target is one configured forwarder of one tenant.
type Target struct {
	// Key is "tenant/name", the target's id in the store and in metrics.
	Key    string
	Tenant string
	*ForwarderConfig
}

func (f *Forwarding) validate() error {
	for _, d := range []struct {
		key string
		v   model.Duration
	}{{"poll_interval", f.PollInterval}, {"timeout", f.Timeout}, {"min_backoff", f.MinBackoff},
		{"circuit_breaker.open_for", f.Breaker.OpenFor}, {"outbox_retention", f.OutboxRetention}, {"max_retry_after", f.MaxRetryAfter}} {
		if d.v <= 0 {
			return keyErrorf("forwarding."+d.key, "must be positive")
		}
	}
	switch {
	case f.Concurrency < 1 || f.Concurrency > 256:
		return keyErrorf("forwarding.concurrency", "must be 1-256")
	case f.MaxAttempts < 1:
		return keyErrorf("forwarding.max_attempts", "must be at least 1")
	case f.MaxBackoff < f.MinBackoff:
		return keyErrorf("forwarding.max_backoff", "must not be shorter than min_backoff")
	case f.Breaker.Failures < 1:
		return keyErrorf("forwarding.circuit_breaker.failures", "must be at least 1")
	case f.Breaker.MaxOpenFor < f.Breaker.OpenFor:
		return keyErrorf("forwarding.circuit_breaker.max_open_for", "must not be shorter than open_for")
	case !validName(f.CorrelationPrefix):
		return fmt.Errorf("forwarding: correlation_prefix %q must be 1-64 characters of a-z, A-Z, 0-9, '-', '_', '.'", f.CorrelationPrefix)
	}
	if f.ExternalURL != "" {
		if err := validURL(f.ExternalURL); err != nil {
			return fmt.Errorf("forwarding: external_%w", err)
		}
		f.ExternalURL = strings.TrimSuffix(f.ExternalURL, "/")
	}
	return nil
}

// readSecret returns an inline secret or the content of its file (resolved against dir),
// read now.
func readSecret(dir string, inline commoncfg.Secret, file, what string) (commoncfg.Secret, error) {
	if inline != "" && file != "" {
		return "", fmt.Errorf("%s and %s_file are exclusive", what, what)
	}
	if file == "" {
		if inline == "" {
			return "", fmt.Errorf("%s or %s_file required", what, what)
		}
		return inline, nil
	}
	b, err := os.ReadFile(resolve(dir, file))
	if err != nil {
		return "", fmt.Errorf("read %s_file: %w", what, err)
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		return "", fmt.Errorf("%s_file %s is empty", what, file)
	}
	return commoncfg.Secret(s), nil
}

// ReadRoutingKey returns the routing key: routing_key, or the content of routing_key_file read
// now (the PagerDuty integration reads it for every event, so a new key needs no reload).
func (p *PagerDutyConfig) ReadRoutingKey() (commoncfg.Secret, error) {
	return p.readRoutingKey("")
}

func (p *PagerDutyConfig) readRoutingKey(dir string) (commoncfg.Secret, error) {
	return readSecret(dir, p.RoutingKey, p.RoutingKeyFile, "routing_key")
}

// MinWebhookSecret is the shortest signing secret of a generic webhook.
const MinWebhookSecret = 16

// ReadSecret returns the signing secret: secret, or the content of secret_file read now (the
// webhook integration reads it for every delivery, so a new secret needs no reload).
func (w *WebhookConfig) ReadSecret() (commoncfg.Secret, error) {
	return w.readSecret("")
}

func (w *WebhookConfig) readSecret(dir string) (commoncfg.Secret, error) {
	s, err := readSecret(dir, w.Secret, w.SecretFile, "secret")
	if err != nil {
		return "", err
	}
	if len(s) < MinWebhookSecret {
		return "", fmt.Errorf("secret must have at least %d characters", MinWebhookSecret)
	}
	return s, nil
}

func validURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("url: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("url %q must be an absolute http(s) URL", s)
	}
	return nil
}

func priorityKeys(m map[string]string, what string, allowed []string) error {
	for k, v := range m {
		var p int
		if _, err := fmt.Sscanf(k, "P%d", &p); err != nil || p < 1 || p > 5 || k != fmt.Sprintf("P%d", p) {
			return fmt.Errorf("%s: key %q must be P1..P5", what, k)
		}
		if allowed != nil && !validOf(v, allowed) {
			return fmt.Errorf("%s: %s = %q must be one of %s", what, k, v, strings.Join(allowed, ", "))
		}
	}
	return nil
}

func validOf(s string, set []string) bool {
	for _, v := range set {
		if s == v {
			return true
		}
	}
	return false
}

// setDefaults fills what the forwarder leaves out: PagerDuty's URL, the type's section and the
// default close codes, statuses and severities under the configured ones.
func (f *ForwarderConfig) setDefaults() {
	if f.Type == TypePagerDuty && f.URL == "" {
		f.URL = DefaultPagerDutyURL
	}
	f.URL = strings.TrimSuffix(f.URL, "/")
	if f.Type == TypeServiceNow && f.ServiceNow == nil {
		c := DefaultServiceNow
		f.ServiceNow = &c
	}
	merge := func(defaults, m map[string]string) map[string]string {
		for k, v := range m {
			defaults[k] = v
		}
		return defaults
	}
	if f.ServiceNow != nil {
		f.ServiceNow.CloseCodes = merge(DefaultServiceNowCloseCodes(), f.ServiceNow.CloseCodes)
	}
	if f.Jira != nil {
		f.Jira.Statuses = merge(DefaultJiraStatuses(), f.Jira.Statuses)
	}
	if f.PagerDuty != nil {
		f.PagerDuty.Severities = merge(DefaultPagerDutySeverities(), f.PagerDuty.Severities)
	}
}

func (f *ForwarderConfig) validate(baseDir string) error {
	if !validName(f.Name) {
		return fmt.Errorf("name %q must be 1-64 characters of a-z, A-Z, 0-9, '-', '_', '.'", f.Name)
	}
	if f.Concurrency < 0 || f.Concurrency > 256 {
		return errors.New("concurrency must be 0-256")
	}
	if err := validURL(f.URL); err != nil {
		return err
	}
	f.HTTPConfig.SetDirectory(baseDir)
	if err := f.HTTPConfig.Validate(); err != nil {
		return fmt.Errorf("http_config: %w", err)
	}
	sections := map[string]bool{TypeServiceNow: f.ServiceNow != nil, TypeJira: f.Jira != nil, TypePagerDuty: f.PagerDuty != nil, TypeWebhook: f.Webhook != nil}
	for typ, set := range sections {
		if set && typ != f.Type {
			return fmt.Errorf("section %s does not apply to type %q", typ, f.Type)
		}
	}
	switch f.Type {
	case TypeServiceNow:
		return f.ServiceNow.validate()
	case TypeJira:
		return f.Jira.validate()
	case TypePagerDuty:
		return f.PagerDuty.validate(baseDir)
	case TypeWebhook:
		if f.Webhook == nil {
			return errors.New("webhook: secret or secret_file required")
		}
		if _, err := f.Webhook.readSecret(baseDir); err != nil {
			return fmt.Errorf("webhook: %w", err)
		}
		return nil
	}
	return fmt.Errorf("type must be servicenow, jira, pagerduty or webhook, not %q", f.Type)
}

func (sn *ServiceNowConfig) validate() error {
	for k := range sn.CloseCodes {
		if !validOf(k, incident.CloseCodes) {
			return fmt.Errorf("servicenow: close_codes: %q is not a close code (%s)", k, strings.Join(incident.CloseCodes, ", "))
		}
	}
	if sn.Table == "" || sn.DefaultCloseCode == "" {
		return errors.New("servicenow: table and default_close_code must not be empty")
	}
	return nil
}

func (j *JiraConfig) validate() error {
	if j == nil || j.Project == "" {
		return errors.New("jira: project required")
	}
	if j.Deployment != "cloud" && j.Deployment != "datacenter" {
		return fmt.Errorf("jira: deployment must be cloud or datacenter, not %q", j.Deployment)
	}
	if j.IssueType == "" {
		return errors.New("jira: issue_type must not be empty")
	}
	if err := priorityKeys(j.Priorities, "jira: priorities", nil); err != nil {
		return err
	}
	for k := range j.Statuses {
		if !incident.State(k).Valid() {
			return fmt.Errorf("jira: statuses: %q is not a state", k)
		}
	}
	for _, l := range j.Labels {
		if l == "" || strings.ContainsAny(l, " \t\n") {
			return fmt.Errorf("jira: label %q must be non-empty without spaces", l)
		}
	}
	return nil
}

func (pd *PagerDutyConfig) validate(baseDir string) error {
	if pd == nil {
		return errors.New("pagerduty: routing_key or routing_key_file required")
	}
	if _, err := pd.readRoutingKey(baseDir); err != nil {
		return fmt.Errorf("pagerduty: %w", err)
	}
	return priorityKeys(pd.Severities, "pagerduty: severities", []string{"critical", "error", "warning", "info"})
}

func (a *AlertmanagerConfig) validate(baseDir string) error {
	if err := validURL(a.URL); err != nil {
		return err
	}
	a.URL = strings.TrimSuffix(a.URL, "/")
	a.HTTPConfig.SetDirectory(baseDir)
	if err := a.HTTPConfig.Validate(); err != nil {
		return fmt.Errorf("http_config: %w", err)
	}
	switch {
	case a.RepeatInterval <= 0:
		return keyErrorf("repeat_interval", "must be positive")
	case a.Staleness < 0:
		return keyErrorf("staleness", "must not be negative")
	case a.StartupGrace < 0:
		return keyErrorf("startup_grace", "must not be negative")
	}
	if a.Gone != "" && !incident.AutoResolve(a.Gone).Valid() {
		return fmt.Errorf("gone must be resolve, note or resolve_if_untouched, not %q", a.Gone)
	}
	return nil
}

func (w *WatchdogConfig) validate() error {
	if w.Timeout <= 0 {
		return keyErrorf("timeout", "must be positive")
	}
	if w.Impact < 1 || w.Impact > 3 || w.Urgency < 1 || w.Urgency > 3 {
		return errors.New("impact and urgency must be 1-3")
	}
	if strings.TrimSpace(w.Title) == "" {
		return errors.New("title must not be empty")
	}
	return nil
}

// validateForwarding checks the forwarding, reconciliation and watchdog
// settings (global and per tenant).
func (c *Config) validateForwarding(baseDir string) error {
	if err := c.Forwarding.validate(); err != nil {
		return err
	}
	if c.Reconcile.Interval <= 0 {
		return keyErrorf("reconcile.interval", "must be positive")
	}
	for i := range c.Tenants {
		t := &c.Tenants[i]
		owner := fmt.Sprintf("tenant %q", t.Name)
		seen := map[string]bool{}
		for j := range t.Forwarders {
			f := &t.Forwarders[j]
			f.setDefaults()
			if err := f.validate(baseDir); err != nil {
				return fmt.Errorf("%s: forwarders[%d]: %w", owner, j, err)
			}
			if seen[f.Name] {
				return fmt.Errorf("%s: duplicate forwarder %q", owner, f.Name)
			}
			seen[f.Name] = true
		}
		if t.Alertmanager != nil {
			if err := t.Alertmanager.validate(baseDir); err != nil {
				return nest(fmt.Sprintf("tenants[%d].alertmanager", i), owner+": alertmanager", err)
			}
		}
		if t.Watchdog != nil {
			if err := t.Watchdog.validate(); err != nil {
				return nest(fmt.Sprintf("tenants[%d].watchdog", i), owner+": watchdog", err)
			}
		}
	}
	return nil
}

// Targets lists every tenant's forwarders.
func (c *Config) Targets() []Target {
	var out []Target
	for _, t := range c.Tenants {
		out = append(out, c.targets[t.Name]...)
	}
	return out
}

// TargetKeys lists the keys of a tenant's forwarders.
func (c *Config) TargetKeys(tenant string) []string {
	ts := c.targets[tenant]
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.Key
	}
	return out
}

// Target returns a forwarder by key.
func (c *Config) Target(key string) (Target, bool) {
	tenant, _, _ := strings.Cut(key, "/")
	for _, t := range c.targets[tenant] {
		if t.Key == key {
			return t, true
		}
	}
	return Target{}, false
}

// Tenant returns a tenant's configuration.
func (c *Config) Tenant(name string) (*TenantConfig, bool) {
	t, ok := c.tenants[name]
	return t, ok
}

// GonePolicy is what reconciliation does to incidents whose alerts left
// Alertmanager without a resolve.
func (c *Config) GonePolicy(tenant string) incident.AutoResolve {
	if t, ok := c.tenants[tenant]; ok && t.Alertmanager != nil && t.Alertmanager.Gone != "" {
		return incident.AutoResolve(t.Alertmanager.Gone)
	}
	return c.Policy(tenant).AutoResolve
}
