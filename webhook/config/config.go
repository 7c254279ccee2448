// Package config loads kizashi-webhook's YAML configuration: it decodes the file (unknown keys
// are errors, with their line; every section has Default* values), lays each tenant's
// overrides over the global sections, validates section by section (errors name the key and
// its line), and indexes what the program looks up by tenant (compiled policies, forwarders).
// It is configuration only: the secret files it names (token, password, DSN, routing key and
// signing secret files) are checked here but read again where they are used, by package auth,
// the store and the integrations, so that a changed file needs no reload; credentials are
// checked by package auth.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"time"

	"github.com/prometheus/common/model"
	"go.yaml.in/yaml/v3"

	"github.com/kizashi-dev/kizashi/webhook/incident"
)

// Config is the whole configuration file.
type Config struct {
	Storage   Storage        `yaml:"storage"`
	Limits    Limits         `yaml:"limits"`
	Retention Retention      `yaml:"retention"`
	Sweep     Sweep          `yaml:"sweep"`
	Defaults  PolicyConfig   `yaml:"policy"`
	Tenants   []TenantConfig `yaml:"tenants"`
	Operators []Operator     `yaml:"operators"`
	// Users and OIDC: named people (see users.go).
	Users []User `yaml:"users"`
	OIDC  *OIDC  `yaml:"oidc"`
	// Forwarding and Reconcile: see forward.go.
	Forwarding Forwarding `yaml:"forwarding"`
	Reconcile  Reconcile  `yaml:"reconcile"`
	// Server: see server.go.
	Server Server `yaml:"server"`
	// Page: see page.go.
	Page Page `yaml:"page"`
	// Problems: see problems.go.
	Problems Problems `yaml:"problems"`
	// Notify: see notify.go.
	Notify Notify `yaml:"notify"`

	// root is the file's node tree (lines of errors, tenants' overrides); the rest is indexed
	// from the validated configuration.
	root     *yaml.Node
	policies map[string]incident.Policy
	targets  map[string][]Target
	tenants  map[string]*TenantConfig
	closeMin time.Duration
	notify   *compiledNotify
}

// Storage selects the store.
type Storage struct {
	Driver      string `yaml:"driver"` // sqlite | postgres
	Path        string `yaml:"path"`
	Synchronous string `yaml:"synchronous"`
	DSN         string `yaml:"dsn"`
	DSNFile     string `yaml:"dsn_file"`
	MaxConns    int    `yaml:"max_conns"`
}

// Limits bound requests.
type Limits struct {
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
	// MaxAlerts bounds the alerts kept per notification; later ones are
	// counted and the notification is stored as truncated.
	MaxAlerts int `yaml:"max_alerts"`
	// ReadTimeout bounds the time to read a request, body included
	// (takes effect at start).
	ReadTimeout model.Duration `yaml:"read_timeout"`
	// Tenant: each tenant's share and quotas (limits.go).
	Tenant TenantLimits `yaml:"tenant"`
}

// Sweep schedules the time-driven rules (SLA breaches, auto-close).
type Sweep struct {
	Interval model.Duration `yaml:"interval"`
}

// Flapping detection: Cycles resolve/re-fire cycles within Window.
type Flapping struct {
	Cycles int            `yaml:"cycles"`
	Window model.Duration `yaml:"window"`
}

// SLAConfig is one priority's targets.
type SLAConfig struct {
	Response model.Duration `yaml:"response"`
	Resolve  model.Duration `yaml:"resolve"`
}

// PriorityConfig configures impact, urgency and the matrix.
type PriorityConfig struct {
	Matrix          [][]int        `yaml:"matrix"`
	SeverityLabel   string         `yaml:"severity_label"`
	SeverityUrgency map[string]int `yaml:"severity_urgency"`
	DefaultUrgency  int            `yaml:"default_urgency"`
	ImpactLabels    []string       `yaml:"impact_labels"`
	Services        map[string]int `yaml:"services"`
	DefaultImpact   int            `yaml:"default_impact"`
}

// TemplatesConfig are Go text/templates over {{ .Labels }} and {{ .Annotations }}.
type TemplatesConfig struct {
	Title           string `yaml:"title"`
	Category        string `yaml:"category"`
	CI              string `yaml:"ci"`
	AssignmentGroup string `yaml:"assignment_group"`
}

// MajorConfig is the major-incident proposal rule.
type MajorConfig struct {
	MaxPriority     int `yaml:"max_priority"`
	MinFiringAlerts int `yaml:"min_firing_alerts"`
}

// PolicyConfig is the ITIL policy; tenants override any part of it.
type PolicyConfig struct {
	ReopenWindow      model.Duration       `yaml:"reopen_window"`
	CloseAfter        model.Duration       `yaml:"close_after"`
	Flapping          Flapping             `yaml:"flapping"`
	FalsePositiveMute model.Duration       `yaml:"false_positive_mute"`
	AutoResolve       string               `yaml:"auto_resolve"`
	Priority          PriorityConfig       `yaml:"priority"`
	SLA               map[string]SLAConfig `yaml:"sla"`
	Templates         TemplatesConfig      `yaml:"templates"`
	MajorIncident     MajorConfig          `yaml:"major_incident"`
	// SLACalendars names a business-hours calendar per priority (P3: office); others are 24x7.
	SLACalendars map[string]string `yaml:"sla_calendars"`
}

// Route sets the correlation of one Alertmanager receiver.
type Route struct {
	Receiver    string `yaml:"receiver"`
	CorrelateBy string `yaml:"correlate_by"`
}

// BasicAuth is one username/password pair.
type BasicAuth struct {
	Username     string `yaml:"username"`
	Password     string `yaml:"password"`
	PasswordFile string `yaml:"password_file"`
}

// API token roles (APIToken.Role).
const (
	// APIRead reads the tenant's incidents as the tenant's customer does (no internal work
	// notes) and changes nothing.
	APIRead = "read"
	// APIAct reads the tenant's incidents, internal work notes included, and works on them
	// (what the tenant's Alertmanager token could do through the REST API before 0.x).
	APIAct = "act"
)

// APIToken is a credential of a tenant's scripts and integrations for the REST API (never for
// posting alerts): a name (the journal's actor), a role (read or act) and bearer tokens.
type APIToken struct {
	Name       string   `yaml:"name"`
	Role       string   `yaml:"role"`
	Tokens     []string `yaml:"tokens"`
	TokenFiles []string `yaml:"token_files"`
}

// TenantConfig is one customer.
type TenantConfig struct {
	Name string `yaml:"name"`
	// Tokens, TokenFiles and BasicAuth are the tenant's Alertmanager credentials: they only post
	// alerts (/api/v1/alerts, /api/v1/watchdog).
	Tokens     []string    `yaml:"tokens"`
	TokenFiles []string    `yaml:"token_files"`
	BasicAuth  []BasicAuth `yaml:"basic_auth"`
	// APITokens are the tenant's credentials for the REST API.
	APITokens          []APIToken   `yaml:"api_tokens"`
	DefaultCorrelation string       `yaml:"default_correlation"`
	Routes             []Route      `yaml:"routes"`
	Policy             PolicyConfig `yaml:"policy"`
	// Forwarders, Alertmanager and Watchdog: see forward.go.
	Forwarders   []ForwarderConfig   `yaml:"forwarders"`
	Alertmanager *AlertmanagerConfig `yaml:"alertmanager"`
	Watchdog     *WatchdogConfig     `yaml:"watchdog"`
	// Limits: see limits.go.
	Limits TenantLimits `yaml:"limits"`
	// Notify: see notify.go.
	Notify TenantNotify `yaml:"notify"`
}

// Operator may see and act on all tenants' incidents (not send alerts).
type Operator struct {
	Name       string   `yaml:"name"`
	Tokens     []string `yaml:"tokens"`
	TokenFiles []string `yaml:"token_files"`
}

// Defaults.
var (
	DefaultStorage = Storage{Driver: "sqlite", Path: "kizashi-webhook.db", Synchronous: "FULL", MaxConns: 16}
	DefaultLimits  = Limits{MaxBodyBytes: 256 << 20, MaxAlerts: 100_000, ReadTimeout: model.Duration(time.Minute), Tenant: DefaultTenantLimits}
	DefaultSweep   = Sweep{Interval: model.Duration(time.Minute)}
)

// DefaultPolicyConfig mirrors incident.DefaultPolicy.
func DefaultPolicyConfig() PolicyConfig {
	p := incident.DefaultPolicy()
	sla := map[string]SLAConfig{}
	for prio, t := range p.SLA {
		sla[fmt.Sprintf("P%d", prio)] = SLAConfig{model.Duration(t.Response), model.Duration(t.Resolve)}
	}
	m := make([][]int, 3)
	for i := range m {
		m[i] = append([]int(nil), p.Priority.Matrix[i][:]...)
	}
	return PolicyConfig{
		ReopenWindow:      model.Duration(p.ReopenWindow),
		CloseAfter:        model.Duration(p.CloseAfter),
		Flapping:          Flapping{Cycles: p.FlapCycles, Window: model.Duration(p.FlapWindow)},
		FalsePositiveMute: model.Duration(p.MuteWindow),
		AutoResolve:       string(p.AutoResolve),
		Priority: PriorityConfig{
			Matrix:          m,
			SeverityLabel:   p.Priority.SeverityLabel,
			SeverityUrgency: maps.Clone(p.Priority.SeverityUrgency),
			DefaultUrgency:  p.Priority.DefaultUrgency,
			ImpactLabels:    append([]string(nil), p.Priority.ImpactLabels...),
			Services:        map[string]int{},
			DefaultImpact:   p.Priority.DefaultImpact,
		},
		SLA:           sla,
		MajorIncident: MajorConfig{MaxPriority: p.Major.MaxPriority, MinFiringAlerts: p.Major.MinFiringAlerts},
	}
}

// UnmarshalYAML sets defaults first (the "type plain" pattern) and keeps the file's node tree:
// errors about a key name its line, and tenants override the sections they name.
func (c *Config) UnmarshalYAML(unmarshal func(any) error) error {
	*c = defaultConfig()
	var n nodeOf
	if err := unmarshal(&n); err != nil { // the node the decoder is at: nothing is decoded
		return err
	}
	c.root = n.node
	type plain Config
	return unmarshal((*plain)(c))
}

func defaultConfig() Config {
	return Config{Storage: DefaultStorage, Limits: DefaultLimits, Retention: DefaultRetention, Sweep: DefaultSweep, Defaults: DefaultPolicyConfig(),
		Forwarding: DefaultForwarding, Reconcile: DefaultReconcile, Server: DefaultServer, Page: DefaultPage, Problems: DefaultProblems, Notify: DefaultNotify, root: &yaml.Node{Kind: yaml.MappingNode}}
}

// nodeOf takes the node it is decoded from.
type nodeOf struct{ node *yaml.Node }

// UnmarshalYAML implements yaml.Unmarshaler.
func (n *nodeOf) UnmarshalYAML(node *yaml.Node) error {
	n.node = node
	return nil
}

// UnmarshalYAML sets defaults.
func (s *Storage) UnmarshalYAML(unmarshal func(any) error) error {
	*s = DefaultStorage
	type plain Storage
	return unmarshal((*plain)(s))
}

// Load reads and validates a file. Relative file paths inside it are
// resolved against its directory.
func Load(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	c, err := Parse(b, filepath.Dir(path))
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", path, err)
	}
	return c, nil
}

// Parse decodes and validates a configuration; baseDir resolves the relative names of the
// files it names (token, password and secret files, read to check them). Errors about a key
// name its line. The steps: decode the text (once, strictly: unknown keys are errors), lay
// each tenant's overrides over the global sections, validate section by section, then resolve
// file names and index what the program looks up.
func Parse(b []byte, baseDir string) (*Config, error) {
	c, err := decode(b)
	if err != nil {
		return nil, err
	}
	if err := c.overlayTenantPolicies(); err != nil {
		return nil, err
	}
	if err := c.overlayTenantLimits(); err != nil {
		return nil, withLine(c.root, err)
	}
	if err := c.validate(baseDir); err != nil {
		return nil, withLine(c.root, err)
	}
	c.setDirectory(baseDir)
	c.index()
	return c, nil
}

// decode decodes the text strictly; an empty text is the default configuration.
func decode(b []byte) (*Config, error) {
	c := &Config{}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	err := dec.Decode(c)
	var te *yaml.TypeError
	switch {
	case err == nil:
		return c, nil
	case errors.Is(err, io.EOF):
		*c = defaultConfig()
		return c, nil
	case !errors.As(err, &te) && c.root != nil:
		// A value's own decoder (a duration, a URL) failed: its error has no line.
		if line, path, lerr := locateDecodeError(c.root, reflect.TypeFor[Config]()); line > 0 {
			return nil, fmt.Errorf("parse config: line %d: %s: %w", line, path, lerr)
		}
	}
	return nil, fmt.Errorf("parse config: %w", err)
}

// overlayTenantPolicies decodes each tenant's policy block on top of a copy of the global
// policy, so a tenant overrides only what it names (the block was checked for unknown keys
// when the file was decoded).
func (c *Config) overlayTenantPolicies() error {
	tenants := lookup(c.root, "tenants")
	for i := range c.Tenants {
		p := c.Defaults.clone()
		if tenants != nil && tenants.Kind == yaml.SequenceNode && i < len(tenants.Content) {
			if pn := lookup(tenants.Content[i], "policy"); pn != nil {
				if err := pn.Decode(&p); err != nil {
					return fmt.Errorf("tenant %q: policy: %w", c.Tenants[i].Name, err)
				}
			}
		}
		c.Tenants[i].Policy = p
	}
	return nil
}

// clone is a deep copy.
func (p PolicyConfig) clone() PolicyConfig {
	out := p
	out.Priority.Matrix = make([][]int, len(p.Priority.Matrix))
	for i, row := range p.Priority.Matrix {
		out.Priority.Matrix[i] = slices.Clone(row)
	}
	out.Priority.SeverityUrgency = maps.Clone(p.Priority.SeverityUrgency)
	out.Priority.ImpactLabels = slices.Clone(p.Priority.ImpactLabels)
	out.Priority.Services = maps.Clone(p.Priority.Services)
	out.SLA = maps.Clone(p.SLA)
	out.SLACalendars = maps.Clone(p.SLACalendars)
	return out
}

func lookup(n *yaml.Node, key string) *yaml.Node {
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	if n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// index builds what the program looks up by tenant: the compiled policies (validated), the
// tenants by name, their forwarders, and the shortest close_after.
func (c *Config) index() {
	c.policies = map[string]incident.Policy{}
	c.tenants = map[string]*TenantConfig{}
	c.targets = map[string][]Target{}
	c.closeMin = 0
	for i := range c.Tenants {
		t := &c.Tenants[i]
		c.tenants[t.Name] = t
		p, _ := t.Policy.compile()
		p.SLAClocks = c.slaClocks(t.Name, t.Policy)
		c.policies[t.Name] = p
		if c.closeMin == 0 || p.CloseAfter < c.closeMin {
			c.closeMin = p.CloseAfter
		}
		for j := range t.Forwarders {
			f := &t.Forwarders[j]
			c.targets[t.Name] = append(c.targets[t.Name], Target{Key: t.Name + "/" + f.Name, Tenant: t.Name, ForwarderConfig: f})
		}
	}
	if c.closeMin == 0 {
		c.closeMin = time.Duration(c.Defaults.CloseAfter)
	}
}

// setDirectory resolves the names of the secret files against the configuration's directory:
// they are read where they are used (tokens and passwords by package auth, the DSN when the
// store opens, routing keys and signing secrets by the integrations), after the configuration
// was loaded.
func (c *Config) setDirectory(dir string) {
	files := func(fs []string) {
		for i := range fs {
			fs[i] = resolve(dir, fs[i])
		}
	}
	c.Storage.DSNFile = resolve(dir, c.Storage.DSNFile)
	for i := range c.Tenants {
		t := &c.Tenants[i]
		files(t.TokenFiles)
		for j := range t.APITokens {
			files(t.APITokens[j].TokenFiles)
		}
		for j := range t.BasicAuth {
			t.BasicAuth[j].PasswordFile = resolve(dir, t.BasicAuth[j].PasswordFile)
		}
		for j := range t.Forwarders {
			f := &t.Forwarders[j]
			if f.PagerDuty != nil {
				f.PagerDuty.RoutingKeyFile = resolve(dir, f.PagerDuty.RoutingKeyFile)
			}
			if f.Webhook != nil {
				f.Webhook.SecretFile = resolve(dir, f.Webhook.SecretFile)
			}
		}
	}
	for i := range c.Operators {
		files(c.Operators[i].TokenFiles)
	}
}

func resolve(base, p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(base, p)
}

func validName(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return false
		}
	}
	return true
}

// Policy implements service.Rules.
func (c *Config) Policy(tenant string) incident.Policy {
	if p, ok := c.policies[tenant]; ok {
		return p
	}
	p, _ := c.Defaults.compile()
	return p
}

// Correlation implements service.Rules.
func (c *Config) Correlation(tenant, receiver string) incident.Correlation {
	t, ok := c.tenants[tenant]
	if !ok {
		return incident.CorrelateGroup
	}
	for _, r := range t.Routes {
		if r.Receiver == receiver {
			return incident.Correlation(r.CorrelateBy)
		}
	}
	return incident.Correlation(t.DefaultCorrelation)
}

// TenantNames lists the configured tenants.
func (c *Config) TenantNames() []string {
	out := make([]string, 0, len(c.Tenants))
	for _, t := range c.Tenants {
		out = append(out, t.Name)
	}
	return out
}

// MinCloseAfter is the shortest close_after of all tenants (for the sweeper).
func (c *Config) MinCloseAfter() time.Duration { return c.closeMin }
