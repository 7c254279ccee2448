//go:build e2e

package catalog

import (
	"fmt"
	"github.com/kizashi-dev/kizashi/anomaly"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kizashi-dev/kizashi/internal/proc"
	"github.com/kizashi-dev/kizashi/internal/testenv"

	"math/rand/v2"
)

// The port against Debian's Prometheus (promtool test rules evaluates PromQL with the real
// engine): a catalogue counter with restarts, rate over 1m, 5m and 10m at many steps.
func TestRatesAgainstPrometheus(t *testing.T) {
	promtool := testenv.Program(t, proc.Promtool)
	_, g, _, err := build(small(), Case{Rate5m, None, 3}, "promtool")
	require.NoError(t, err)
	cg := g.(*counterGen)
	cg.resetEvery = 20 * minute // several restarts in the sample
	cg.offsetMS = 0             // promtool's input series start at 0 and step by the interval
	samples, resets := scrape(cg, &plan{f: None}, 600_000, 0, 90)
	require.Greater(t, resets, 2)
	var vals []string
	for i, x := range samples {
		require.Equal(t, int64(i)*scrapeMS-660_000, x.T)
		vals = append(vals, strconv.FormatFloat(x.F, 'g', -1, 64))
	}
	// promtool's series start at time 0: shift ours by 660 s. Evaluation times 7 s off the
	// minute never fall on a scrape, so Prometheus 2.x's closed range selects what 3.x selects.
	// y is x until it vanishes an hour in: its rates end with the half-interval extrapolation.
	var b strings.Builder
	fmt.Fprintf(&b, "evaluation_interval: 1m\ntests:\n  - interval: 15s\n    input_series:\n      - series: 'x'\n        values: '%s'\n      - series: 'y'\n        values: '%s'\n    promql_expr_test:\n",
		strings.Join(vals, " "), strings.Join(vals[:(660+3600)/15], " "))
	n := 0
	for _, name := range []string{"x", "y"} {
		ss := samples
		if name == "y" {
			ss = samples[:(660+3600)/15]
		}
		for _, rangeS := range []int64{60, 300, 600} {
			for e := int64(660 + 607); e <= 660+89*60; e += 60 {
				want, ok := extrapolatedRate(window(ss, (e-660)*1000, rangeS*1000), (e-660)*1000, rangeS*1000)
				if !ok {
					require.Equal(t, "y", name)
					continue
				}
				fmt.Fprintf(&b, "      - expr: rate(%s[%dm])\n        eval_time: %ds\n        exp_samples:\n          - labels: '{}'\n            value: %s\n",
					name, rangeS/60, e, strconv.FormatFloat(want, 'g', -1, 64))
				n++
			}
		}
	}
	require.Greater(t, n, 400)
	path := filepath.Join(t.TempDir(), "rate.test.yml")
	require.NoError(t, os.WriteFile(path, []byte(b.String()), 0o644))
	out, err := exec.Command(promtool, "test", "rules", path).CombinedOutput()
	require.NoError(t, err, "%s", out)
}

// The emulation against Debian's Prometheus: random scores and readiness (with stretches where
// the series is gone), published as the exporter does for the shipped rule's expression (which
// reads kizashi_anomaly_reason), for: and keep_firing_for: evaluated by
// promtool test rules, which must find exactly the alerts the emulation has firing at every
// minute.
func TestAlertAgainstPrometheus(t *testing.T) {
	promtool := testenv.Program(t, proc.Promtool)
	shipped := readShippedRule(t, "KizashiAnomaly")
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
			case !rd || v < anomaly.ReasonMinScore:
				// The rule reads kizashi_anomaly_reason, whose value is the score, published
				// only from anomaly.ReasonMinScore up and once the model is ready: absent
				// otherwise, which Prometheus marks stale at the next scrape.
				score = append(score, "stale")
			default:
				score = append(score, fmt.Sprintf("%.3f", v))
			}
			holds := !gone && rd && v > ShippedRule.Threshold
			v3 := float64(int(v*1000+0.5)) / 1000 // what promtool reads
			require.Equal(t, holds, !gone && rd && v3 > ShippedRule.Threshold, "a score on the threshold after rounding")
			firing[s] = append(firing[s], a.Eval(time.Unix(int64(i)*60, 0), holds) == Firing)
		}
		fmt.Fprintf(&input, "      - series: 'kizashi_anomaly_reason{s=\"%d\",reason=\"spike\"}'\n        values: '%s'\n", s, strings.Join(score, " "))
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

// window is the samples a range selector of rangeMS ending at evalMS selects.
func window(samples []sample, evalMS, rangeMS int64) []sample {
	var sel []sample
	for _, x := range samples {
		if x.T > evalMS-rangeMS && x.T <= evalMS {
			sel = append(sel, x)
		}
	}
	return sel
}
