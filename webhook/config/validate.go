package config

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/kizashi-dev/kizashi/webhook/incident"
)

// validate checks the configuration section by section, each in its own step; baseDir
// resolves the files a step reads to check them (they are read again where they are used).
// Errors about a key are keyErrors (Parse adds their line).
func (c *Config) validate(baseDir string) error {
	for _, step := range []func() error{
		func() error { return c.Storage.validate(baseDir) },
		c.Limits.validate,
		c.Retention.validate,
		c.validateSweep,
		c.Server.validate,
		c.Page.validate,
		c.Problems.validate,
		func() error { return nest("policy", "policy", c.Defaults.validate()) },
		c.validateTenants,
		func() error { return c.validateCredentials(baseDir) },
		func() error { return c.validateUsers(baseDir) },
		func() error { return c.validateForwarding(baseDir) },
		func() error { return c.validateNotify(baseDir) },
	} {
		if err := step(); err != nil {
			return err
		}
	}
	return nil
}

func (s *Storage) validate(baseDir string) error {
	switch s.Driver {
	case "sqlite":
		if s.Path == "" {
			return errors.New("storage: path required for sqlite")
		}
		switch strings.ToUpper(s.Synchronous) {
		case "FULL", "EXTRA", "NORMAL":
		default:
			return fmt.Errorf("storage: synchronous must be FULL, EXTRA or NORMAL, not %q", s.Synchronous)
		}
	case "postgres":
		if s.DSN == "" && s.DSNFile == "" {
			return errors.New("storage: dsn or dsn_file required for postgres")
		}
		if s.DSNFile != "" {
			if _, err := readDSN(resolve(baseDir, s.DSNFile)); err != nil {
				return fmt.Errorf("storage: %w", err)
			}
		}
	default:
		return fmt.Errorf("storage: driver must be sqlite or postgres, not %q", s.Driver)
	}
	return nil
}

// ReadDSN returns the PostgreSQL DSN: the content of dsn_file read now, or dsn.
func (s Storage) ReadDSN() (string, error) {
	if s.DSNFile == "" {
		return s.DSN, nil
	}
	return readDSN(s.DSNFile)
}

func readDSN(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read dsn_file: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}

func (c *Config) validateSweep() error {
	if c.Sweep.Interval <= 0 {
		return keyErrorf("sweep.interval", "must be positive")
	}
	return nil
}

// validateTenants checks each tenant's name, correlation, routes and policy.
func (c *Config) validateTenants() error {
	seen := map[string]bool{}
	for i := range c.Tenants {
		t := &c.Tenants[i]
		owner := fmt.Sprintf("tenant %q", t.Name)
		if !validName(t.Name) {
			return fmt.Errorf("tenants[%d]: name %q must be 1-64 characters of a-z, A-Z, 0-9, '-', '_', '.'", i, t.Name)
		}
		if seen[t.Name] {
			return fmt.Errorf("%s: duplicate tenant", owner)
		}
		seen[t.Name] = true
		if t.DefaultCorrelation == "" {
			t.DefaultCorrelation = string(incident.CorrelateGroup)
		}
		if !incident.Correlation(t.DefaultCorrelation).Valid() {
			return fmt.Errorf("%s: default_correlation must be group or fingerprint, not %q", owner, t.DefaultCorrelation)
		}
		if err := t.validateRoutes(owner); err != nil {
			return err
		}
		if err := t.Policy.validate(); err != nil {
			return nest(fmt.Sprintf("tenants[%d].policy", i), owner+": policy", err)
		}
	}
	return nil
}

func (t *TenantConfig) validateRoutes(owner string) error {
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
	return nil
}

// validate checks a policy by compiling it.
func (p PolicyConfig) validate() error {
	_, err := p.compile()
	return err
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
