package catalog

import (
	"fmt"
	"time"

	"github.com/kizashi-dev/kizashi/anomaly"
)

// Rule is an alerting rule on the exporter's series, `kizashi_anomaly_score > Threshold`
// (the score is 0 until the model is ready; series that vanished are left to another rule)
// with for: and keep_firing_for:, evaluated every Interval.
type Rule struct {
	Threshold     float64
	For           time.Duration
	KeepFiringFor time.Duration
	Interval      time.Duration
}

// ShippedRule is KizashiAnomaly in dashboards/prometheus/kizashi-alerts.yml, evaluated every
// step of the exporter's default query (1m). TestShippedRule keeps the two in step.
var ShippedRule = Rule{Threshold: 0.65, For: 2 * time.Minute, KeepFiringFor: 10 * time.Minute, Interval: time.Minute}

// Expr is the rule's PromQL expression. From anomaly.ReasonMinScore up it reads
// kizashi_anomaly_reason (the score, published only from there up, with its reason): the
// same alerts as the score's, from the few series that have a high score.
func (r Rule) Expr() string { return r.expr("!=", "unless") }

// expr reads the score from kizashi_anomaly_reason of the reasons that match op "vanished"
// from anomaly.ReasonMinScore up, and below it kizashi_anomaly_score set against the vanished
// reason (join: and, unless).
func (r Rule) expr(op, join string) string {
	if r.Threshold >= anomaly.ReasonMinScore {
		return fmt.Sprintf(`max without(reason) (kizashi_anomaly_reason{reason%s"vanished"}) > %g`, op, r.Threshold)
	}
	return fmt.Sprintf(`kizashi_anomaly_score > %g %s ignoring(reason) kizashi_anomaly_reason{reason="vanished"}`, r.Threshold, join)
}

// ShippedVanishedRule is KizashiSeriesVanished in dashboards/prometheus/kizashi-alerts.yml: a
// modelled series that stopped reporting while its query still answers (the score
// anomaly.Model.Missing gives the absence, with the reason vanished). TestShippedRule keeps the
// two in step.
var ShippedVanishedRule = Rule{Threshold: 0.65, For: time.Minute, KeepFiringFor: 10 * time.Minute, Interval: time.Minute}

// VanishedExpr is the PromQL expression of the rule as a KizashiSeriesVanished rule, read
// from kizashi_anomaly_reason as Expr does from anomaly.ReasonMinScore up.
func (r Rule) VanishedExpr() string { return r.expr("=", "and") }

// AlertState is the state of one alert instance.
type AlertState uint8

// The states, as Prometheus names them.
const (
	Inactive AlertState = iota
	Pending
	Firing
)

func (s AlertState) String() string {
	return [...]string{"inactive", "pending", "firing"}[s]
}

// Alert is the state of the rule's alert for one series, evaluated as Prometheus'
// rules.AlertingRule.Eval does (rules/alerting.go): an evaluation where the expression holds
// makes an inactive alert pending (active since then), and a pending alert fires once it has
// been active for at least For; an evaluation where it does not hold drops a pending alert, and
// resolves a firing one unless keep_firing_for applies: a firing alert keeps firing while less
// than KeepFiringFor has passed since the first evaluation that found the expression false (the
// expression holding again resets that). With For 2m at a 1m interval, an alert fires at the
// third consecutive evaluation that holds; with keep_firing_for 10m it keeps firing through ten
// consecutive evaluations that do not hold and resolves at the eleventh.
type Alert struct {
	rule            Rule
	state           AlertState
	activeAt        time.Time
	keepFiringSince time.Time
}

// NewAlert returns an inactive alert of rule r.
func NewAlert(r Rule) *Alert { return &Alert{rule: r} }

// Eval evaluates the rule at ts, where the expression holds (holds) or not, and returns the
// alert's state after it.
func (a *Alert) Eval(ts time.Time, holds bool) AlertState {
	if !holds {
		keep := false
		if a.state == Firing && a.rule.KeepFiringFor > 0 {
			if a.keepFiringSince.IsZero() {
				a.keepFiringSince = ts
			}
			keep = ts.Sub(a.keepFiringSince) < a.rule.KeepFiringFor
		}
		if !keep {
			a.state, a.keepFiringSince = Inactive, time.Time{}
		}
		return a.state
	}
	if a.state == Inactive {
		a.state, a.activeAt = Pending, ts
	}
	a.keepFiringSince = time.Time{}
	if a.state == Pending && ts.Sub(a.activeAt) >= a.rule.For {
		a.state = Firing
	}
	return a.state
}

// State returns the alert's state after the last evaluation.
func (a *Alert) State() AlertState { return a.state }
