package incident

import (
	"fmt"
	"strings"
	"text/template"
	"time"

	"github.com/kizashi-dev/kizashi/webhook/sanitize"
)

// AutoResolve says what happens when every alert of an open incident resolved.
type AutoResolve string

// Auto-resolve modes.
const (
	AutoResolveResolve             AutoResolve = "resolve"
	AutoResolveNote                AutoResolve = "note"
	AutoResolveIfUntouched         AutoResolve = "resolve_if_untouched"
	closeCodeAutoResolved                      = "auto_resolved"
	closeCodeSuperseded                        = "superseded"
	closeCodeAutoClosed                        = "auto_closed"
	defaultTitleTemplate                       = `{{ with .Labels.alertname }}{{ . }}{{ else }}alert group{{ end }}{{ with .Labels.instance }} on {{ . }}{{ end }}`
	defaultCategoryTemplate                    = `{{ with .Labels.category }}{{ . }}{{ else }}monitoring{{ end }}`
	defaultCITemplate                          = `{{ with .Labels.service }}{{ . }}{{ else }}{{ .Labels.instance }}{{ end }}`
	defaultAssignmentGroupTemplate             = `{{ .Labels.team }}`
)

// Valid reports whether a is a known mode.
func (a AutoResolve) Valid() bool {
	return a == AutoResolveResolve || a == AutoResolveNote || a == AutoResolveIfUntouched
}

// SLATarget is the response (acknowledge) and resolve target of a priority.
type SLATarget struct {
	Response time.Duration
	Resolve  time.Duration
}

// DefaultSLA per priority 1..5.
func DefaultSLA() map[int]SLATarget {
	return map[int]SLATarget{
		1: {15 * time.Minute, 4 * time.Hour},
		2: {30 * time.Minute, 8 * time.Hour},
		3: {4 * time.Hour, 3 * 24 * time.Hour},
		4: {8 * time.Hour, 5 * 24 * time.Hour},
		5: {24 * time.Hour, 10 * 24 * time.Hour},
	}
}

// MajorRule proposes (never promotes) a major incident.
type MajorRule struct {
	// MaxPriority proposes when priority <= MaxPriority (0: off).
	MaxPriority int
	// MinFiringAlerts proposes when at least this many alerts fire (0: off).
	MinFiringAlerts int
}

// Templates render incident fields from the alert labels. Each template
// executes on struct{ Labels, Annotations map[string]string }.
type Templates struct {
	Title, Category, CI, AssignmentGroup *template.Template
}

// ParseTemplates compiles the field templates; empty strings get defaults.
func ParseTemplates(title, category, ci, group string) (Templates, error) {
	var (
		t   Templates
		err error
	)
	parse := func(name, text, def string) *template.Template {
		if err != nil {
			return nil
		}
		if text == "" {
			text = def
		}
		var tt *template.Template
		tt, err = template.New(name).Option("missingkey=zero").Parse(text)
		if err != nil {
			err = fmt.Errorf("parse %s template: %w", name, err)
		}
		return tt
	}
	t.Title = parse("title", title, defaultTitleTemplate)
	t.Category = parse("category", category, defaultCategoryTemplate)
	t.CI = parse("ci", ci, defaultCITemplate)
	t.AssignmentGroup = parse("assignment_group", group, defaultAssignmentGroupTemplate)
	return t, err
}

type templateData struct {
	Labels      map[string]string
	Annotations map[string]string
}

func render(t *template.Template, d templateData) string {
	if t == nil {
		return ""
	}
	var b strings.Builder
	if err := t.Execute(&b, d); err != nil {
		return ""
	}
	return sanitize.Text(strings.TrimSpace(b.String()), sanitize.MaxTitle)
}

// Policy is the effective ITIL policy of one tenant.
type Policy struct {
	ReopenWindow time.Duration
	CloseAfter   time.Duration
	FlapCycles   int
	FlapWindow   time.Duration
	MuteWindow   time.Duration
	AutoResolve  AutoResolve
	Priority     PriorityPolicy
	SLA          map[int]SLATarget
	// SLAClocks counts a priority's SLA targets in business hours (none: 24x7).
	SLAClocks map[int]SLAClock
	Templates Templates
	Major     MajorRule
}

// DefaultPolicy returns the built-in policy.
func DefaultPolicy() Policy {
	t, err := ParseTemplates("", "", "", "")
	if err != nil {
		panic(err) // the built-in templates are constants
	}
	return Policy{
		ReopenWindow: time.Hour,
		CloseAfter:   3 * 24 * time.Hour,
		FlapCycles:   4,
		FlapWindow:   time.Hour,
		MuteWindow:   24 * time.Hour,
		AutoResolve:  AutoResolveResolve,
		Priority:     DefaultPriorityPolicy(),
		SLA:          DefaultSLA(),
		Templates:    t,
		Major:        MajorRule{MaxPriority: 1},
	}
}

// Correlation says how alerts are grouped into incidents on a route.
type Correlation string

// Correlation modes.
const (
	CorrelateGroup       Correlation = "group"
	CorrelateFingerprint Correlation = "fingerprint"
)

// Valid reports whether c is a known mode.
func (c Correlation) Valid() bool { return c == CorrelateGroup || c == CorrelateFingerprint }
