package config

import (
	"time"

	"github.com/prometheus/common/model"
)

// Problems configures problem management (package problem): how often the detector looks at
// new incidents, and when it proposes a problem.
type Problems struct {
	// Interval between the detector's sweeps.
	Interval model.Duration `yaml:"interval"`
	// Recurrences (K) incidents of one correlation key — or one CI, with ByCI — created
	// within Window (D) propose a problem; 0 turns recurrence proposals off.
	Recurrences int            `yaml:"recurrences"`
	Window      model.Duration `yaml:"window"`
	ByCI        bool           `yaml:"by_ci"`
	// Flapping proposes a problem for each flapping incident.
	Flapping bool `yaml:"flapping"`
}

// DefaultProblems: every minute; 3 incidents in 7 days, by key and by CI; flapping incidents.
var DefaultProblems = Problems{Interval: model.Duration(time.Minute), Recurrences: 3, Window: model.Duration(7 * 24 * time.Hour), ByCI: true, Flapping: true}

func (p Problems) validate() error {
	switch {
	case p.Interval < model.Duration(time.Second):
		return keyErrorf("problems.interval", "must be at least 1s")
	case p.Recurrences == 1 || p.Recurrences < 0:
		return keyErrorf("problems.recurrences", "must be 0 (off) or at least 2")
	case p.Recurrences >= 2 && p.Window <= 0:
		return keyErrorf("problems.window", "must be positive")
	}
	return nil
}
