// Package config loads kizashi-webhook's YAML configuration. Unknown keys are
// errors (with their line), every section has Default* values, and Load
// returns a fully validated Config whose tenant policies are compiled.
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
	"sort"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"gopkg.in/yaml.v3"

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
	// Forwarding and Reconcile: see forward.go.
	Forwarding Forwarding `yaml:"forwarding"`
	Reconcile  Reconcile  `yaml:"reconcile"`
	// Server: see server.go.
	Server Server `yaml:"server"`

	policies map[string]incident.Policy
	targets  map[string][]Target
	tenants  map[string]*TenantConfig
	closeMin time.Duration
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

// TenantConfig is one customer.
type TenantConfig struct {
	Name               string       `yaml:"name"`
	Tokens             []string     `yaml:"tokens"`
	TokenFiles         []string     `yaml:"token_files"`
	BasicAuth          []BasicAuth  `yaml:"basic_auth"`
	DefaultCorrelation string       `yaml:"default_correlation"`
	Routes             []Route      `yaml:"routes"`
	Policy             PolicyConfig `yaml:"policy"`
	// Forwarders, Alertmanager and Watchdog: see forward.go.
	Forwarders   []ForwarderConfig   `yaml:"forwarders"`
	Alertmanager *AlertmanagerConfig `yaml:"alertmanager"`
	Watchdog     *WatchdogConfig     `yaml:"watchdog"`
	// Limits: see limits.go.
	Limits TenantLimits `yaml:"limits"`
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

// UnmarshalYAML sets defaults first (the "type plain" pattern).
func (c *Config) UnmarshalYAML(unmarshal func(any) error) error {
	*c = Config{Storage: DefaultStorage, Limits: DefaultLimits, Retention: DefaultRetention, Sweep: DefaultSweep, Defaults: DefaultPolicyConfig(),
		Forwarding: DefaultForwarding, Reconcile: DefaultReconcile, Server: DefaultServer}
	type plain Config
	return unmarshal((*plain)(c))
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

// Parse decodes and validates a configuration; baseDir resolves relative
// token and password files. Errors about a key name its line.
func Parse(b []byte, baseDir string) (*Config, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(b, &root); err != nil {
		return nil, fmt.Errorf("parse config: %w", err)
	}
	c := &Config{}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil {
		var te *yaml.TypeError
		switch {
		case errors.Is(err, io.EOF):
			// An empty file is the default configuration.
			if err := yaml.Unmarshal([]byte("{}"), c); err != nil {
				return nil, fmt.Errorf("default config: %w", err)
			}
		case !errors.As(err, &te):
			// A value's own decoder (a duration, a URL) failed: its error has no line.
			if line, path, lerr := locateDecodeError(&root, reflect.TypeFor[Config]()); line > 0 {
				return nil, fmt.Errorf("parse config: line %d: %s: %w", line, path, lerr)
			}
			return nil, fmt.Errorf("parse config: %w", err)
		default:
			return nil, fmt.Errorf("parse config: %w", err)
		}
	}
	if err := c.overlayTenantPolicies(&root); err != nil {
		return nil, err
	}
	if err := c.overlayTenantLimits(&root); err != nil {
		return nil, withLine(&root, err)
	}
	if err := c.validate(baseDir); err != nil {
		return nil, withLine(&root, err)
	}
	c.setDirectory(baseDir)
	return c, nil
}

// overlayTenantPolicies decodes each tenant's policy block on top of a copy
// of the global policy, so a tenant overrides only what it names.
func (c *Config) overlayTenantPolicies(root *yaml.Node) error {
	tenants := lookup(root, "tenants")
	if tenants == nil || tenants.Kind != yaml.SequenceNode {
		return nil
	}
	global, err := yaml.Marshal(c.Defaults)
	if err != nil {
		return fmt.Errorf("copy policy: %w", err)
	}
	for i, tn := range tenants.Content {
		if i >= len(c.Tenants) {
			break
		}
		var p PolicyConfig
		if err := yaml.Unmarshal(global, &p); err != nil {
			return fmt.Errorf("copy policy: %w", err)
		}
		if pn := lookup(tn, "policy"); pn != nil {
			if err := pn.Decode(&p); err != nil {
				return fmt.Errorf("tenant %q: policy: %w", c.Tenants[i].Name, err)
			}
		}
		c.Tenants[i].Policy = p
	}
	return nil
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

func (c *Config) validate(baseDir string) error {
	switch c.Storage.Driver {
	case "sqlite":
		if c.Storage.Path == "" {
			return errors.New("storage: path required for sqlite")
		}
		switch strings.ToUpper(c.Storage.Synchronous) {
		case "FULL", "EXTRA", "NORMAL":
		default:
			return fmt.Errorf("storage: synchronous must be FULL, EXTRA or NORMAL, not %q", c.Storage.Synchronous)
		}
	case "postgres":
		if c.Storage.DSN == "" && c.Storage.DSNFile == "" {
			return errors.New("storage: dsn or dsn_file required for postgres")
		}
		if c.Storage.DSNFile != "" {
			b, err := os.ReadFile(resolve(baseDir, c.Storage.DSNFile))
			if err != nil {
				return fmt.Errorf("storage: read dsn_file: %w", err)
			}
			c.Storage.DSN = strings.TrimSpace(string(b))
		}
	default:
		return fmt.Errorf("storage: driver must be sqlite or postgres, not %q", c.Storage.Driver)
	}
	if err := c.Limits.validate(); err != nil {
		return err
	}
	if err := c.Retention.validate(); err != nil {
		return err
	}
	if c.Sweep.Interval <= 0 {
		return keyErrorf("sweep.interval", "must be positive")
	}
	if err := c.Server.validate(); err != nil {
		return err
	}
	if _, err := c.Defaults.compile(); err != nil {
		return nest("policy", "policy", err)
	}
	c.policies = map[string]incident.Policy{}
	c.tenants = map[string]*TenantConfig{}
	minClose := time.Duration(0)
	for i := range c.Tenants {
		t := &c.Tenants[i]
		owner := fmt.Sprintf("tenant %q", t.Name)
		if !validName(t.Name) {
			return fmt.Errorf("tenants[%d]: name %q must be 1-64 characters of a-z, A-Z, 0-9, '-', '_', '.'", i, t.Name)
		}
		if _, dup := c.tenants[t.Name]; dup {
			return fmt.Errorf("%s: duplicate tenant", owner)
		}
		c.tenants[t.Name] = t
		if t.DefaultCorrelation == "" {
			t.DefaultCorrelation = string(incident.CorrelateGroup)
		}
		if !incident.Correlation(t.DefaultCorrelation).Valid() {
			return fmt.Errorf("%s: default_correlation must be group or fingerprint, not %q", owner, t.DefaultCorrelation)
		}
		seen := map[string]bool{}
		for _, r := range t.Routes {
			if r.Receiver == "" {
				return fmt.Errorf("%s: route without receiver", owner)
			}
			if seen[r.Receiver] {
				return fmt.Errorf("%s: duplicate route for receiver %q", owner, r.Receiver)
			}
			seen[r.Receiver] = true
			if !incident.Correlation(r.CorrelateBy).Valid() {
				return fmt.Errorf("%s: route %q: correlate_by must be group or fingerprint, not %q", owner, r.Receiver, r.CorrelateBy)
			}
		}
		p, err := t.Policy.compile()
		if err != nil {
			return nest(fmt.Sprintf("tenants[%d].policy", i), owner+": policy", err)
		}
		c.policies[t.Name] = p
		if minClose == 0 || p.CloseAfter < minClose {
			minClose = p.CloseAfter
		}
	}
	if err := c.validateCredentials(baseDir); err != nil {
		return err
	}
	if minClose == 0 {
		minClose = time.Duration(c.Defaults.CloseAfter)
	}
	c.closeMin = minClose
	return c.validateForwarding(baseDir)
}

func (p PolicyConfig) compile() (incident.Policy, error) {
	out := incident.DefaultPolicy()
	switch {
	case p.ReopenWindow < 0:
		return out, keyErrorf("reopen_window", "must not be negative")
	case p.CloseAfter <= 0:
		return out, keyErrorf("close_after", "must be positive")
	case p.FalsePositiveMute < 0:
		return out, keyErrorf("false_positive_mute", "must not be negative")
	}
	out.ReopenWindow, out.CloseAfter, out.MuteWindow = time.Duration(p.ReopenWindow), time.Duration(p.CloseAfter), time.Duration(p.FalsePositiveMute)
	if p.Flapping.Cycles < 0 {
		return out, keyErrorf("flapping.cycles", "must not be negative")
	}
	if p.Flapping.Cycles > 0 && p.Flapping.Window <= 0 {
		return out, keyErrorf("flapping.window", "must be positive")
	}
	out.FlapCycles, out.FlapWindow = p.Flapping.Cycles, time.Duration(p.Flapping.Window)
	if !incident.AutoResolve(p.AutoResolve).Valid() {
		return out, fmt.Errorf("auto_resolve must be resolve, note or resolve_if_untouched, not %q", p.AutoResolve)
	}
	out.AutoResolve = incident.AutoResolve(p.AutoResolve)
	pp := p.Priority
	if len(pp.Matrix) != 3 {
		return out, errors.New("priority: matrix must have 3 rows (impact high, medium, low)")
	}
	for i, row := range pp.Matrix {
		if len(row) != 3 {
			return out, fmt.Errorf("priority: matrix row %d must have 3 columns (urgency high, medium, low)", i+1)
		}
		for j, v := range row {
			if v < 1 || v > 5 {
				return out, fmt.Errorf("priority: matrix[%d][%d] = %d, must be 1-5", i+1, j+1, v)
			}
			out.Priority.Matrix[i][j] = v
		}
	}
	levels := func(what string, m map[string]int) (map[string]int, error) {
		out := map[string]int{}
		for k, v := range m {
			if v < 1 || v > 3 {
				return nil, fmt.Errorf("priority: %s[%q] = %d, must be 1 (high), 2 or 3 (low)", what, k, v)
			}
			out[strings.ToLower(k)] = v
			if what == "services" {
				out[k] = v
			}
		}
		return out, nil
	}
	var err error
	if out.Priority.SeverityUrgency, err = levels("severity_urgency", pp.SeverityUrgency); err != nil {
		return out, err
	}
	if out.Priority.Services, err = levels("services", pp.Services); err != nil {
		return out, err
	}
	if pp.DefaultUrgency < 1 || pp.DefaultUrgency > 3 || pp.DefaultImpact < 1 || pp.DefaultImpact > 3 {
		return out, errors.New("priority: default_urgency and default_impact must be 1-3")
	}
	out.Priority.DefaultUrgency, out.Priority.DefaultImpact = pp.DefaultUrgency, pp.DefaultImpact
	out.Priority.SeverityLabel, out.Priority.ImpactLabels = pp.SeverityLabel, pp.ImpactLabels
	out.SLA = map[int]incident.SLATarget{}
	keys := make([]string, 0, len(p.SLA))
	for k := range p.SLA {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := p.SLA[k]
		var prio int
		if _, err := fmt.Sscanf(k, "P%d", &prio); err != nil || prio < 1 || prio > 5 || k != fmt.Sprintf("P%d", prio) {
			return out, fmt.Errorf("sla: key %q must be P1..P5", k)
		}
		switch {
		case v.Response <= 0:
			return out, keyErrorf("sla."+k+".response", "must be positive")
		case v.Resolve < v.Response:
			return out, keyErrorf("sla."+k+".resolve", "must not be shorter than response")
		}
		out.SLA[prio] = incident.SLATarget{Response: time.Duration(v.Response), Resolve: time.Duration(v.Resolve)}
	}
	t := p.Templates
	if out.Templates, err = incident.ParseTemplates(t.Title, t.Category, t.CI, t.AssignmentGroup); err != nil {
		return out, err
	}
	if p.MajorIncident.MaxPriority < 0 || p.MajorIncident.MaxPriority > 5 || p.MajorIncident.MinFiringAlerts < 0 {
		return out, errors.New("major_incident: max_priority 0-5, min_firing_alerts >= 0")
	}
	out.Major = incident.MajorRule{MaxPriority: p.MajorIncident.MaxPriority, MinFiringAlerts: p.MajorIncident.MinFiringAlerts}
	return out, nil
}

// setDirectory resolves the file names of the credentials against the configuration's
// directory: the files are read where they are used (package auth), after the configuration was
// loaded.
func (c *Config) setDirectory(dir string) {
	files := func(fs []string) {
		for i := range fs {
			fs[i] = resolve(dir, fs[i])
		}
	}
	for i := range c.Tenants {
		t := &c.Tenants[i]
		files(t.TokenFiles)
		for j := range t.BasicAuth {
			t.BasicAuth[j].PasswordFile = resolve(dir, t.BasicAuth[j].PasswordFile)
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
