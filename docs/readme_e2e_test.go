//go:build e2e

package docs

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestReadmeCommands runs the README's commands that are cheap enough for every CI run, with
// the paths that need root or data replaced by temporary ones.
func TestReadmeCommands(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: builds the programs and runs promtool and amtool")
	}
	tmp := t.TempDir()
	data := filepath.Join(tmp, "data")
	require.NoError(t, os.MkdirAll(data, 0o755))
	good, err := os.ReadFile(filepath.Join(root, "exporter", "backtest", "testdata", "csv", "good.csv"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(data, "series.csv"), good, 0o644))
	plugins := filepath.Join(tmp, "grafana", "plugins")
	replace := strings.NewReplacer(
		"sudo ", "",
		"/var/lib/grafana/plugins", plugins,
		"--input data/", "--input "+data+"/",
		"--output out/", "--output "+filepath.Join(tmp, "out")+"/",
		"--m4 Hourly-train.csv", "--m4 exporter/backtest/testdata/m4.csv",
		"--output F.csv", "--output "+filepath.Join(tmp, "F.csv"),
	)
	// In the order of the README: the build first.
	for _, c := range commands(t) {
		if !coverage[c].run {
			continue
		}
		cmdline := replace.Replace(c)
		t.Logf("$ %s", cmdline)
		cmd := exec.Command("sh", "-c", cmdline)
		cmd.Dir = root
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "%s:\n%s", c, out)
	}

	// What the commands made: the plugin bundle in Grafana's plugin directory, the backtest's
	// and the forecast's files.
	dest := filepath.Join(plugins, "kizashi-anomaly-datasource")
	for _, f := range []string{"plugin.json", "module.js", "img/logo.svg"} {
		require.FileExists(t, filepath.Join(dest, f))
	}
	var p struct{ ID, Executable string }
	raw, err := os.ReadFile(filepath.Join(dest, "plugin.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(raw, &p))
	require.Equal(t, "kizashi-anomaly-datasource", p.ID)
	backends, err := filepath.Glob(filepath.Join(dest, p.Executable+"_*"))
	require.NoError(t, err)
	require.NotEmpty(t, backends, "the plugin's backend binary")
	outs, err := filepath.Glob(filepath.Join(tmp, "out", "*"))
	require.NoError(t, err)
	require.NotEmpty(t, outs, "backtest output")
	require.FileExists(t, filepath.Join(tmp, "F.csv"))

	// The flags the README documents are the programs' flags.
	readme, _ := readmeBlocks(t)
	help, err := exec.Command(filepath.Join(root, "bin", "kizashi-exporter"), "serve", "--help").CombinedOutput()
	require.NoError(t, err, "%s", help)
	flags := regexp.MustCompile("(?m)^\\| `(--[a-z.-]+)` \\|").FindAllStringSubmatch(readme, -1)
	require.GreaterOrEqual(t, len(flags), 8)
	for _, f := range flags {
		name := strings.TrimPrefix(f[1], "--")
		has := strings.Contains(string(help), "--"+name+"=") || strings.Contains(string(help), "--[no-]"+name)
		require.True(t, has, "kizashi-exporter serve has %s", f[1])
	}
	help, err = exec.Command(filepath.Join(root, "bin", "kizashi-webhook"), "serve", "--help").CombinedOutput()
	require.NoError(t, err, "%s", help)
	for _, f := range []string{"--config.file=", "--web.listen-address="} {
		require.Contains(t, string(help), f)
	}
}
