package catalog

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
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

func readShippedRule(t *testing.T, name string) shippedAlert {
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
			if r.Alert == name {
				return r
			}
		}
	}
	t.Fatalf("no %s rule", name)
	return shippedAlert{}
}

// ShippedRule is the rule the project ships: change both together.
func TestShippedRule(t *testing.T) {
	for _, tc := range []struct {
		name, expr string
		rule       Rule
	}{
		{"KizashiAnomaly", ShippedRule.Expr(), ShippedRule},
		{"KizashiSeriesVanished", ShippedVanishedRule.VanishedExpr(), ShippedVanishedRule},
	} {
		r := readShippedRule(t, tc.name)
		require.Equal(t, r.Expr, tc.expr, tc.name)
		d, err := model.ParseDuration(r.For)
		require.NoError(t, err)
		require.Equal(t, tc.rule.For, time.Duration(d), tc.name)
		d, err = model.ParseDuration(r.KeepFiringFor)
		require.NoError(t, err)
		require.Equal(t, tc.rule.KeepFiringFor, time.Duration(d), tc.name)
	}
}
