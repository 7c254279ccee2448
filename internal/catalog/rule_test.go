package catalog

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/kizashi-dev/kizashi/internal/proc"
	"github.com/kizashi-dev/kizashi/internal/testenv"
)

// states evaluates a rule once a minute over holds ("1" holds, "0" not) and returns the states
// as a string: "." inactive, "p" pending, "F" firing.
func states(r Rule, holds string) string {
	a := NewAlert(r)
	t0 := time.Unix(1_000_000, 0)
	var b strings.Builder
	for i, c := range holds {
		b.WriteByte(".pF"[a.Eval(t0.Add(time.Duration(i)*time.Minute), c == '1')])
	}
	return b.String()
}

func TestAlertForAndKeepFiringFor(t *testing.T) {
	shipped := ShippedRule
	noKeep := ShippedRule
	noKeep.KeepFiringFor = 0
	noFor := ShippedRule
	noFor.For = 0
	for _, tc := range []struct {
		name        string
		rule        Rule
		holds, want string
	}{
		{"pending at the first true evaluation, firing at the third", shipped, "111", "ppF"},
		{"two true evaluations never fire", shipped, "1100000", "pp....."},
		{"a false evaluation while pending starts over", shipped, "1101110", "pp.ppF" + "F"},
		{"firing continues while true", shipped, "11111", "ppFFF"},
		// Ten false evaluations keep firing (0..9 minutes since the first), the eleventh resolves.
		{"keep_firing_for 10m", shipped, "111" + "00000000000" + "0", "ppF" + "FFFFFFFFFF." + "."},
		{"true again within keep_firing_for continues the episode and restarts its clock", shipped,
			"111" + "00000" + "1" + "0000000000" + "0", "ppF" + "FFFFF" + "F" + "FFFFFFFFFF" + "."},
		{"after resolving, for: applies again", shipped, "111" + "00000000000" + "111", "ppF" + "FFFFFFFFFF." + "ppF"},
		{"a pending alert is not kept", shipped, "110", "pp."},
		{"without keep_firing_for a firing alert resolves at once", noKeep, "11110", "ppFF."},
		{"without for: an alert fires at once", noFor, "101", "F" + "F" + "F"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, states(tc.rule, tc.holds))
		})
	}
}

// shippedAlert is the KizashiAnomaly rule of dashboards/prometheus/kizashi-alerts.yml.
type shippedAlert struct {
	Alert         string `yaml:"alert"`
	Expr          string `yaml:"expr"`
	For           string `yaml:"for"`
	KeepFiringFor string `yaml:"keep_firing_for"`
}

func readShippedRule(t *testing.T) shippedAlert {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "dashboards", "prometheus", "kizashi-alerts.yml"))
	require.NoError(t, err)
	var f struct {
		Groups []struct {
			Rules []shippedAlert `yaml:"rules"`
		} `yaml:"groups"`
	}
	require.NoError(t, yaml.Unmarshal(b, &f))
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			if r.Alert == "KizashiAnomaly" {
				return r
			}
		}
	}
	t.Fatal("no KizashiAnomaly rule")
	return shippedAlert{}
}

// ShippedRule is the rule the project ships: change both together.
func TestShippedRule(t *testing.T) {
	r := readShippedRule(t)
	require.Equal(t, r.Expr, ShippedRule.Expr())
	d, err := model.ParseDuration(r.For)
	require.NoError(t, err)
	require.Equal(t, ShippedRule.For, time.Duration(d))
	d, err = model.ParseDuration(r.KeepFiringFor)
	require.NoError(t, err)
	require.Equal(t, ShippedRule.KeepFiringFor, time.Duration(d))
}

// The emulation against Debian's Prometheus: random scores and readiness (with stretches where
// the series is gone), the shipped rule's expression, for: and keep_firing_for: evaluated by
// promtool test rules, which must find exactly the alerts the emulation has firing at every
// minute.
func TestAlertAgainstPrometheus(t *testing.T) {
	promtool := testenv.Program(t, proc.Promtool)
	shipped := readShippedRule(t)
	dir := t.TempDir()
	rules := fmt.Sprintf("groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: %s\n        for: %s\n        keep_firing_for: %s\n",
		shipped.Expr, shipped.For, shipped.KeepFiringFor)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "rules.yml"), []byte(rules), 0o644))

	const n, series = 180, 4
	r := rand.New(rand.NewPCG(1, 2))
	var input strings.Builder
	firing := make([][]bool, series)
	for s := range series {
		var score []string
		a := NewAlert(ShippedRule)
		hi := 0.3 + 0.15*float64(s) // the series differ in how often they hold
		for i := range n {
			v := r.Float64() * (0.65 + hi)
			rd := r.Float64() > 0.05
			gone := i >= 120 && i < 140 && s%2 == 0 // no sample: a stale series
			switch {
			case gone:
				score = append(score, "stale")
			case !rd: // the exporter publishes 0 until the model is ready
				score = append(score, "0")
			default:
				score = append(score, fmt.Sprintf("%.3f", v))
			}
			holds := !gone && rd && v > ShippedRule.Threshold
			v3 := float64(int(v*1000+0.5)) / 1000 // what promtool reads
			require.Equal(t, holds, !gone && rd && v3 > ShippedRule.Threshold, "a score on the threshold after rounding")
			firing[s] = append(firing[s], a.Eval(time.Unix(int64(i)*60, 0), holds) == Firing)
		}
		fmt.Fprintf(&input, "      - series: 'kizashi_anomaly_score{s=\"%d\"}'\n        values: '%s'\n", s, strings.Join(score, " "))
	}
	var tests strings.Builder
	fired := 0
	for i := range n {
		fmt.Fprintf(&tests, "      - eval_time: %dm\n        alertname: A\n        exp_alerts:", i)
		any := false
		for s := range series {
			if firing[s][i] {
				fmt.Fprintf(&tests, "\n          - exp_labels: {s: \"%d\"}", s)
				any = true
				fired++
			}
		}
		if !any {
			tests.WriteString(" []")
		}
		tests.WriteString("\n")
	}
	require.Greater(t, fired, 50, "the test must exercise firing alerts")
	test := fmt.Sprintf("rule_files: [rules.yml]\nevaluation_interval: 1m\ntests:\n  - interval: 1m\n    input_series:\n%s    alert_rule_test:\n%s",
		input.String(), tests.String())
	require.NoError(t, os.WriteFile(filepath.Join(dir, "alerts.test.yml"), []byte(test), 0o644))
	cmd := exec.Command(promtool, "test", "rules", "alerts.test.yml")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
}
