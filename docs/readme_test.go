// Package docs holds the README's images and the test that keeps the README true: every
// command in its shell blocks is run here or by a named test or by CI, its configuration
// snippets parse, its links and images exist.
package docs

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/kizashi-dev/kizashi/exporter/metricnames"
	"github.com/kizashi-dev/kizashi/exporter/queryconfig"
)

// root is the module's root, where the README's commands run.
const root = ".."

// block is a fenced code block of the README.
type block struct {
	lang string
	text string
	line int
}

func readmeBlocks(t *testing.T) (string, []block) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(root, "README.md"))
	require.NoError(t, err)
	var (
		blocks []block
		cur    *block
	)
	for i, l := range strings.Split(string(raw), "\n") {
		switch {
		case cur == nil && strings.HasPrefix(l, "```"):
			cur = &block{lang: strings.TrimPrefix(l, "```"), line: i + 1}
		case cur != nil && l == "```":
			blocks = append(blocks, *cur)
			cur = nil
		case cur != nil:
			cur.text += l + "\n"
		}
	}
	require.Nil(t, cur, "README.md: unterminated code block")
	return string(raw), blocks
}

// commands returns the commands of the README's sh blocks: comment lines dropped, trailing
// comments cut, continued lines joined.
func commands(t *testing.T) []string {
	_, blocks := readmeBlocks(t)
	var out []string
	for _, b := range blocks {
		if b.lang != "sh" {
			continue
		}
		cont := ""
		for _, l := range strings.Split(b.text, "\n") {
			l = strings.TrimSpace(l)
			if l == "" || strings.HasPrefix(l, "#") {
				continue
			}
			if i := strings.Index(l, " # "); i >= 0 {
				l = strings.TrimSpace(l[:i])
			}
			if strings.HasSuffix(l, `\`) {
				cont += strings.TrimSuffix(l, `\`)
				continue
			}
			out = append(out, strings.Join(strings.Fields(cont+l), " "))
			cont = ""
		}
	}
	return out
}

// covered says how each command of the README is exercised.
type covered struct {
	// run: this test runs it (see TestReadmeCommands).
	run bool
	// tests: "package/dir TestName" of the tests that run it (in-process or as a command).
	tests []string
	// ci: .ci/run does it.
	ci string
	// target: a mage target that is only checked to exist (too slow for every CI run).
	target string
}

var coverage = map[string]covered{
	"go tool mage demo":        {tests: []string{"demo TestDemoShort", "demo/cmd TestInterrupt"}},
	"go tool mage test":        {ci: "go tool mage test"},
	"go tool mage demo -short": {tests: []string{"demo/cmd TestInterrupt"}},
	"go tool mage build":       {run: true},
	"bin/kizashi-exporter --config.file=exporter/examples/kizashi-exporter.yml --config.check": {run: true},
	// The daemon itself: app.Run with the same options, against Debian's Prometheus; the
	// flags are checked against its --help here.
	"bin/kizashi-exporter --config.file=kizashi-exporter.yml --storage.path=/var/lib/kizashi-exporter": {tests: []string{"exporter/daemon TestEndToEnd"}},
	"bin/kizashi-webhook --config.file=webhook/kizashi-webhook.example.yml --config.check":             {run: true},
	"bin/kizashi-webhook --config.file=kizashi-webhook.yml --web.listen-address=:9095":                 {tests: []string{"webhook/app TestServiceDeskPage", "webhook/app TestAlertmanagerFiringResolvedRepeat"}},
	"promtool check rules dashboards/prometheus/kizashi-alerts.yml":                                    {run: true},
	"promtool test rules dashboards/prometheus/kizashi-alerts.test.yml":                                {run: true},
	"amtool check-config dashboards/alertmanager/alertmanager.yml":                                     {run: true},
	"sudo mkdir -p /var/lib/grafana/plugins/kizashi-anomaly-datasource":                                {run: true},
	"sudo cp -r datasource/dist/. /var/lib/grafana/plugins/kizashi-anomaly-datasource/":                {run: true},
	"go run ./exporter/cmd/kizashi-exporter backtest --input data/ --output out/":                      {run: true},
	"kizashi-exporter backtest --config.file kizashi-exporter.yml --range 7d --out report/": {tests: []string{
		"exporter/cmd/kizashi-exporter TestBacktestPrometheus", "demo TestBacktestNamesDemoFault", "exporter/backtest TestPrometheusBacktestRealPrometheus"}},
	"go run ./exporter/cmd/kizashi-exporter forecast --m4 Hourly-train.csv --horizon 48 --step 1h --output F.csv": {run: true},
	"go tool mage lint":        {ci: "go tool mage test"}, // Test depends on Lint
	"go tool mage bench":       {target: "bench"},
	"go tool mage release":     {tests: []string{"internal/release TestRelease", "deploy TestDockerfiles"}, target: "release"},
	"go tool mage screenshots": {tests: []string{"demo TestDemoShort"}, target: "screenshots"},
	// The fuzz targets' seed corpora run with every go test.
	"go test -run '^$' -fuzz FuzzRestore ./anomaly/":           {tests: []string{"anomaly FuzzRestore"}},
	"go test -run '^$' -fuzz FuzzReadCSV ./exporter/backtest/": {tests: []string{"exporter/backtest FuzzReadCSV"}},
}

// TestReadmeCoverage: every command of the README is in the coverage table (and every entry
// of the table is in the README), and the tests, CI steps and targets it names exist.
func TestReadmeCoverage(t *testing.T) {
	cmds := commands(t)
	require.NotEmpty(t, cmds)
	seen := map[string]bool{}
	for _, c := range cmds {
		seen[c] = true
		_, ok := coverage[c]
		require.True(t, ok, "README command %q is not covered: run it in TestReadmeCommands, or name the test or CI step that does", c)
	}
	for c := range coverage {
		require.True(t, seen[c], "coverage entry %q is no longer in the README", c)
	}
	ci, err := os.ReadFile(filepath.Join(root, ".ci", "run"))
	require.NoError(t, err)
	magefile, err := os.ReadFile(filepath.Join(root, "Magefile.go"))
	require.NoError(t, err)
	for c, cov := range coverage {
		for _, tn := range cov.tests {
			dir, name, _ := strings.Cut(tn, " ")
			requireFunc(t, filepath.Join(root, dir), name, c)
		}
		if cov.ci != "" {
			require.Contains(t, string(ci), "\n"+cov.ci+"\n", "%q: .ci/run runs %q", c, cov.ci)
		}
		if cov.target != "" {
			re := regexp.MustCompile(`(?m)^func ` + regexp.QuoteMeta(strings.ToUpper(cov.target[:1])+cov.target[1:]) + `\(`)
			require.Regexp(t, re, string(magefile), "%q: the mage target exists", c)
		}
	}
	// `go tool mage test` lints, so `go tool mage lint` runs in CI.
	require.Regexp(t, `(?s)func Test\(\) error \{.*mg\.Deps\(Lint\)`, string(magefile))
	// CI installs what the demo installs when missing.
	require.Contains(t, string(ci), "prometheus prometheus-alertmanager")
}

// requireFunc fails unless a _test.go file in dir defines func name(.
func requireFunc(t *testing.T, dir, name, why string) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*_test.go"))
	require.NoError(t, err)
	re := regexp.MustCompile(`(?m)^func ` + regexp.QuoteMeta(name) + `\(`)
	for _, f := range files {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		if re.Match(b) {
			return
		}
	}
	t.Fatalf("%q is covered by %s in %s, which does not exist", why, name, dir)
}

// TestReadmeSnippets: the YAML and INI snippets parse, the exporter's configuration keys and
// defaults in the table are its configuration's, and links and images point to files.
func TestReadmeSnippets(t *testing.T) {
	readme, blocks := readmeBlocks(t)
	langs := map[string]int{}
	for _, b := range blocks {
		langs[b.lang]++
		switch b.lang {
		case "yaml":
			var v any
			dec := yaml.NewDecoder(bytes.NewReader([]byte(b.text)))
			require.NoError(t, dec.Decode(&v), "README.md line %d", b.line)
			if strings.HasPrefix(b.text, "source:") { // an exporter configuration: valid as one
				_, err := queryconfig.Parse([]byte(b.text))
				require.NoError(t, err, "README.md line %d", b.line)
			}
		case "ini":
			require.Regexp(t, `^\[plugins\]\nallow_loading_unsigned_plugins = kizashi-anomaly-datasource\n$`, b.text)
		}
	}
	require.Equal(t, 4, langs["yaml"])
	require.Equal(t, 1, langs["ini"])

	// Relative links and images.
	for _, m := range regexp.MustCompile(`\]\(([^)#]+)\)`).FindAllStringSubmatch(readme, -1) {
		target := m[1]
		if strings.Contains(target, "://") {
			continue
		}
		_, err := os.Stat(filepath.Join(root, target))
		require.NoError(t, err, "README.md links to %s", target)
		if strings.HasSuffix(target, ".png") {
			fi, _ := os.Stat(filepath.Join(root, target))
			require.LessOrEqual(t, fi.Size(), int64(300<<10), "%s is small", target)
		}
	}

	// The exporter's configuration keys in the README's table are the keys of its
	// configuration (the yaml tags of exporter/queryconfig's Query).
	src, err := os.ReadFile(filepath.Join(root, "exporter", "queryconfig", "config.go"))
	require.NoError(t, err)
	start := strings.Index(string(src), "type Query struct {")
	require.Positive(t, start)
	query := string(src[start:])
	query = query[:strings.Index(query, "\n}\n")]
	section := readme[strings.Index(readme, "| `name` | required |"):]
	section = section[:strings.Index(section, "\n\n")]
	keys := regexp.MustCompile("(?m)^\\| `([a-z_]+)`(?:, `([a-z_]+)`)?(?:, `([a-z_]+)`)?").FindAllStringSubmatch(section, -1)
	require.GreaterOrEqual(t, len(keys), 12)
	for _, m := range keys {
		for _, key := range m[1:] {
			if key != "" {
				require.Contains(t, query, "`yaml:\""+key+"\"`", "exporter/queryconfig's Query has the key %s", key)
			}
		}
	}
}

// TestReadmePublishedMetrics: README names every series the exporter publishes and the labels
// it adds (the table is exporter/metricnames, which the collector writes from).
func TestReadmePublishedMetrics(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	require.NoError(t, err)
	for _, n := range append(metricnames.Names(), metricnames.LabelQuery, metricnames.LabelMetric) {
		require.Regexp(t, `\b`+n+`\b`, string(readme), "README.md names %s", n)
	}
}
