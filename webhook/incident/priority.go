package incident

import (
	"strconv"
	"strings"
)

// Levels of impact and urgency: 1 high, 2 medium, 3 low.
const (
	LevelHigh   = 1
	LevelMedium = 2
	LevelLow    = 3
)

// Labels that, when present on an alert, set impact or urgency explicitly.
const (
	LabelImpact  = "itil_impact"
	LabelUrgency = "itil_urgency"
)

// Matrix maps [impact-1][urgency-1] to a priority 1 (critical) .. 5 (planning).
type Matrix [3][3]int

// DefaultMatrix is ServiceNow's default impact x urgency matrix.
var DefaultMatrix = Matrix{
	{1, 2, 3},
	{2, 3, 4},
	{3, 4, 5},
}

// PriorityPolicy derives impact, urgency and priority from alert labels.
type PriorityPolicy struct {
	Matrix Matrix
	// SeverityLabel names the label read for urgency (default "severity").
	SeverityLabel   string
	SeverityUrgency map[string]int
	DefaultUrgency  int
	// ImpactLabels are read in order; their values map to an impact level
	// through Services (the service catalogue) or directly (1-3, high/medium/low).
	ImpactLabels  []string
	Services      map[string]int
	DefaultImpact int
}

// DefaultPriorityPolicy is used when the configuration says nothing.
func DefaultPriorityPolicy() PriorityPolicy {
	return PriorityPolicy{
		Matrix:          DefaultMatrix,
		SeverityLabel:   "severity",
		SeverityUrgency: map[string]int{"critical": 1, "page": 1, "error": 2, "major": 2, "warning": 2, "minor": 3, "info": 3, "none": 3},
		DefaultUrgency:  LevelLow,
		ImpactLabels:    []string{"service"},
		Services:        map[string]int{},
		DefaultImpact:   LevelMedium,
	}
}

// ParseLevel reads 1/2/3 or high/medium/low.
func ParseLevel(s string) (int, bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "1", "high":
		return LevelHigh, true
	case "2", "medium":
		return LevelMedium, true
	case "3", "low":
		return LevelLow, true
	}
	n, err := strconv.Atoi(s)
	if err == nil && n >= 1 && n <= 3 {
		return n, true
	}
	return 0, false
}

func clampLevel(l int) int {
	if l < LevelHigh {
		return LevelHigh
	}
	if l > LevelLow {
		return LevelLow
	}
	return l
}

// Urgency of one label set.
func (p PriorityPolicy) Urgency(labels map[string]string) int {
	if v, ok := labels[LabelUrgency]; ok {
		if l, ok := ParseLevel(v); ok {
			return l
		}
	}
	sl := p.SeverityLabel
	if sl == "" {
		sl = "severity"
	}
	if v, ok := labels[sl]; ok {
		if l, ok := p.SeverityUrgency[strings.ToLower(v)]; ok {
			return clampLevel(l)
		}
	}
	return clampLevel(p.DefaultUrgency)
}

// Impact of one label set.
func (p PriorityPolicy) Impact(labels map[string]string) int {
	if v, ok := labels[LabelImpact]; ok {
		if l, ok := ParseLevel(v); ok {
			return l
		}
	}
	for _, name := range p.ImpactLabels {
		v, ok := labels[name]
		if !ok {
			continue
		}
		if l, ok := p.Services[v]; ok {
			return clampLevel(l)
		}
	}
	return clampLevel(p.DefaultImpact)
}

// Compute returns impact, urgency and priority of one label set.
func (p PriorityPolicy) Compute(labels map[string]string) (impact, urgency, priority int) {
	impact, urgency = p.Impact(labels), p.Urgency(labels)
	return impact, urgency, p.Matrix[impact-1][urgency-1]
}
