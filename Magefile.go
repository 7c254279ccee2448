//go:build mage

// Build, test, lint, benchmark and evaluate Kizashi: `go tool mage -l` lists the targets.
package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	sdkbuild "github.com/grafana/grafana-plugin-sdk-go/build"
	"github.com/magefile/mage/mg"
	"github.com/magefile/mage/sh"

	"github.com/kizashi-dev/kizashi/internal/catalog"
	"github.com/kizashi-dev/kizashi/internal/evalnab"
	"github.com/kizashi-dev/kizashi/internal/proc"
	"github.com/kizashi-dev/kizashi/internal/release"
)

// Default target: build everything.
var Default = Build

// testPrograms are the real components the integration tests start on loopback, python3 for
// the eval targets' reference scorers, systemd's tools for the units' test (they work
// without systemd running) and poppler's, which read the service report's PDF back.
var testPrograms = []proc.Binary{proc.Prometheus, proc.Promtool, proc.Alertmanager, proc.Amtool,
	{Names: []string{"chromium"}, Package: "chromium"}, {Names: []string{"python3"}, Package: "python3"},
	{Names: []string{"systemd-analyze"}, Package: "systemd"}, {Names: []string{"systemd-sysusers"}, Package: "systemd"},
	{Names: []string{"pdftotext"}, Package: "poppler-utils"}, {Names: []string{"pdfinfo"}, Package: "poppler-utils"}}

// fontPackages are fonts the service report's PDF needs to print Japanese (Chromium's own
// recommendations are not installed with --no-install-recommends).
var fontPackages = []struct{ dir, pkg string }{{"/usr/share/fonts/opentype/ipafont-gothic", "fonts-ipafont-gothic"}}

// postgresInitdb is where Debian's postgresql package puts initdb (any version will do).
func postgresInitdb() string {
	m, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(m) == 0 {
		return ""
	}
	return m[0]
}

// Deps installs the Debian packages the integration tests need (as root), or says what to run.
func Deps() error {
	missing := proc.MissingPackages(testPrograms...)
	if postgresInitdb() == "" {
		missing = append(missing, "postgresql")
	}
	for _, f := range fontPackages {
		if _, err := os.Stat(f.dir); err != nil {
			missing = append(missing, f.pkg)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	cmd := proc.AptInstall(missing)
	if os.Geteuid() != 0 {
		return fmt.Errorf("missing Debian packages %v; install them with:\n  sudo sh -c '%s'", missing, cmd)
	}
	fmt.Println("installing Debian packages:", strings.Join(missing, " "))
	// Not sh.RunV: mage's sh expands $name in the arguments, which would empty the script's
	// own shell variables.
	c := exec.Command("sh", "-c", cmd)
	c.Stdout, c.Stderr = os.Stdout, os.Stderr
	return c.Run()
}

// Lint checks that go.mod is tidy and runs gofmt, go vet (with and without the e2e tag) and
// staticcheck (with it, so that the helpers of the e2e tests count as used) over the module
// and the deploy/ module.
func Lint() error {
	out, err := sh.Output("gofmt", "-l", ".")
	if err != nil {
		return err
	}
	if out = strings.TrimSpace(out); out != "" {
		return fmt.Errorf("files not gofmt-ed:\n%s", out)
	}
	// go.mod and go.sum as go mod tidy writes them: direct requirements in a block of their
	// own, nothing missing or unused (here and in deploy/).
	if err := sh.RunV("go", "mod", "tidy", "-diff"); err != nil {
		return fmt.Errorf("go.mod is not tidy (run go mod tidy): %w", err)
	}
	if err := sh.RunV("go", "-C", "deploy", "mod", "tidy", "-diff"); err != nil {
		return fmt.Errorf("deploy/go.mod is not tidy (run go mod tidy in deploy/): %w", err)
	}
	if err := sh.RunV("go", "vet", "./..."); err != nil {
		return err
	}
	if err := sh.RunV("go", "vet", "-tags", "e2e", "./..."); err != nil {
		return err
	}
	if err := sh.RunV("go", "vet", "-tags", "kizashitrace", "./..."); err != nil {
		return err
	}
	if err := sh.RunV("go", "-C", "deploy", "vet", "./..."); err != nil {
		return err
	}
	if err := sh.RunV("go", "tool", "staticcheck", "-tags", "e2e,kizashitrace", "./..."); err != nil {
		return err
	}
	// deploy/ is a module of its own: the same staticcheck binary, run there.
	staticcheck, err := sh.Output("go", "tool", "-n", "staticcheck")
	if err != nil {
		return err
	}
	cmd := exec.Command(strings.TrimSpace(staticcheck), "./...")
	cmd.Dir, cmd.Stdout, cmd.Stderr = "deploy", os.Stdout, os.Stderr
	return cmd.Run()
}

// Test installs missing test dependencies, lints, builds a release and runs every test (unit,
// integration, the deploy/ module's against the release, frontend), one line per step.
func Test() error {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "kizashi-test-release-")
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(dir) }()
	rel := filepath.Join(dir, "dist")
	// The tests check a release built for this machine only (release.HostScope): the plugin's
	// cross-compiled backends take longer than all the tests; go tool mage release builds them all.
	env := map[string]string{"KIZASHI_RELEASE_DIR": rel, release.ScopeEnv: "host"}
	steps := []struct {
		what string
		run  func() error
	}{
		{"Debian packages the tests need (go tool mage deps)", func() error { mg.Deps(Deps); return nil }},
		{"lint: gofmt, go vet, staticcheck", func() error { mg.Deps(Lint); return nil }},
		{"frontend: npm packages and bundle", func() error { mg.Deps(Frontend); return nil }},
		{"release for this machine into " + rel + " (the tests check it)", func() error {
			info, err := release.ReadInfo(".")
			if err != nil {
				return err
			}
			return release.Build(ctx, release.Options{Root: ".", Dir: rel, Info: info, Out: io.Discard, BuildPluginBackend: pluginBackendFunc, Scope: release.HostScope()})
		}},
		{"go test ./... (the hermetic suite: no Debian program needed; a line per package as it finishes)", func() error {
			return sh.RunWithV(env, "go", "test", "-count=1", "-timeout=25m", "./...")
		}},
		{"go test -tags kizashitrace (the engine's channel trace: anomaly, internal/tools/channeltrace)", func() error {
			return sh.RunWithV(env, "go", "test", "-tags", "kizashitrace", "-count=1", "-run", "Trace|Window|CSV|BadArguments", "./anomaly", "./internal/tools/channeltrace")
		}},
		{"go test -tags e2e (the packages with e2e tests: real Prometheus, Alertmanager, PostgreSQL, Chromium)", func() error {
			pkgs, err := e2ePackages()
			if err != nil {
				return err
			}
			return sh.RunWithV(env, "go", append([]string{"test", "-tags", "e2e", "-count=1", "-timeout=25m"}, pkgs...)...)
		}},
		{"go test ./... in deploy/ (Dockerfiles, systemd units, Kubernetes manifests)", func() error {
			return sh.RunWithV(env, "go", "-C", "deploy", "test", "-count=1", "-timeout=15m", "./...")
		}},
		{"frontend tests (npm test)", FrontendTest},
	}
	start := time.Now()
	for i, s := range steps {
		t := time.Now()
		fmt.Printf("mage test [%d/%d] %s ...\n", i+1, len(steps), s.what)
		if err := s.run(); err != nil {
			return fmt.Errorf("mage test [%d/%d] %s: %w", i+1, len(steps), s.what, err)
		}
		fmt.Printf("mage test [%d/%d] done in %s\n", i+1, len(steps), time.Since(t).Round(time.Second))
	}
	fmt.Printf("mage test: all passed in %s\n", time.Since(start).Round(time.Second))
	return nil
}

// e2ePackages lists the packages ("./dir") that have test files built only with the e2e tag.
// Their hermetic tests run again with them.
func e2ePackages() ([]string, error) {
	seen := map[string]bool{}
	var pkgs []string
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "node_modules" || d.Name() == "deploy" || strings.HasPrefix(d.Name(), ".") && path != ".") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if dir := filepath.Dir(path); bytes.HasPrefix(b, []byte("//go:build e2e\n")) && !seen[dir] {
			seen[dir] = true
			pkgs = append(pkgs, "./"+filepath.ToSlash(dir))
		}
		return nil
	})
	if err == nil && len(pkgs) == 0 {
		err = errors.New("no e2e test files found")
	}
	return pkgs, err
}

// Build compiles the programs into bin/ (stamped with the version, revision and build date,
// as the release is) and the Grafana plugin into datasource/dist/.
func Build() error {
	mg.Deps(Frontend)
	info, err := release.ReadInfo(".")
	if err != nil {
		return err
	}
	for _, p := range []string{"./exporter/cmd/kizashi-exporter", "./webhook/cmd/kizashi-webhook"} {
		if _, err := os.Stat(p); err != nil {
			continue
		}
		if err := sh.RunV("go", "build", "-ldflags", info.LDFlags(), "-o", "bin/", p); err != nil {
			return err
		}
	}
	return buildPluginBackend(runtime.GOOS, runtime.GOARCH)
}

// Bench runs the Go benchmarks (-benchmem, 6 counts for benchstat) and writes bench.txt.
func Bench() error {
	out, err := sh.Output("go", "test", "-tags", "e2e", "-run=^$", "-bench=.", "-benchmem", "-count=6", "./...")
	fmt.Println(out)
	if werr := os.WriteFile("bench.txt", []byte(out+"\n"), 0o644); werr != nil && err == nil {
		err = werr
	}
	return err
}

// Eval scores the engine on NAB and M4 hourly: dataDir holds nab-dev/ and m4-hourly-dev/,
// and the reference scorers are found in dataDir/../eval (or $KIZASHI_SCORERS).
func Eval(ctx context.Context, dataDir string) error {
	if err := EvalNAB(ctx, dataDir); err != nil {
		return err
	}
	return EvalM4(dataDir)
}

// EvalNAB runs the backtest over dataDir/nab-dev/data once and scores it with nab_score.py:
// the whole half per category, then the whole half and its two folds, each at the whole half's
// optimal threshold per profile and at the alert threshold.
func EvalNAB(ctx context.Context, dataDir string) error {
	nab := filepath.Join(dataDir, "nab-dev")
	out := filepath.Join(".eval", "nab")
	if err := os.RemoveAll(out); err != nil {
		return err
	}
	if err := sh.RunV("go", "run", "./exporter/cmd/kizashi-exporter", "backtest",
		"--input", filepath.Join(nab, "data"), "--output", out); err != nil {
		return err
	}
	script, data, labels := filepath.Join(scorers(dataDir), "nab_score.py"), filepath.Join(nab, "data"),
		filepath.Join(nab, "labels", "combined_windows.json")
	if err := sh.RunV("python3", script, out, "--data", data, "--labels", labels, "--by-category"); err != nil {
		return err
	}
	sets := []evalnab.Set{{Name: "whole half"},
		{Name: "fold A", Subset: filepath.Join(scorers(dataDir), "nab-dev-fold-a.txt")},
		{Name: "fold B", Subset: filepath.Join(scorers(dataDir), "nab-dev-fold-b.txt")}}
	rows, opt, err := evalnab.Evaluate(ctx, evalnab.PythonScorer(script, out, data, labels), sets, catalog.ShippedRule.Threshold)
	if err != nil {
		return err
	}
	fmt.Println()
	return evalnab.Markdown(os.Stdout, rows, opt)
}

// EvalCatalog scores the engine on the failure catalogue (internal/catalog: synthetic series
// with everyday failures, judged by the shipped alert rule) and prints what changed since the
// last run: .eval/catalog.json, the one before kept as .eval/catalog.prev.json. For filters
// and per-series detail run `go run ./cmd/evalcatalog -h`.
func EvalCatalog() error {
	if err := os.MkdirAll(".eval", 0o755); err != nil {
		return err
	}
	cur, next := filepath.Join(".eval", "catalog.json"), filepath.Join(".eval", "catalog.next.json")
	args := []string{"run", "./cmd/evalcatalog", "-json", next}
	if _, err := os.Stat(cur); err == nil {
		args = append(args, "-compare", cur)
	}
	if err := sh.RunV("go", args...); err != nil {
		return err
	}
	if _, err := os.Stat(cur); err == nil {
		if err := os.Rename(cur, filepath.Join(".eval", "catalog.prev.json")); err != nil {
			return err
		}
	}
	return os.Rename(next, cur)
}

// EvalM4 forecasts 48 hours for every M4 hourly dev series and scores them with m4_score.py.
func EvalM4(dataDir string) error {
	m4 := filepath.Join(dataDir, "m4-hourly-dev")
	if err := os.MkdirAll(".eval", 0o755); err != nil {
		return err
	}
	out := filepath.Join(".eval", "m4-forecasts.csv")
	if err := sh.RunV("go", "run", "./exporter/cmd/kizashi-exporter", "forecast",
		"--m4", filepath.Join(m4, "Hourly-train.csv"), "--horizon", "48", "--step", "1h", "--min", "0", "--log",
		"--output", out); err != nil {
		return err
	}
	return sh.RunV("python3", filepath.Join(scorers(dataDir), "m4_score.py"), "--data", m4, "score", out)
}

func scorers(dataDir string) string {
	if s := os.Getenv("KIZASHI_SCORERS"); s != "" {
		return s
	}
	return filepath.Join(dataDir, "..", "eval")
}

// Frontend installs the data source frontend's npm packages (from the lockfile, when
// node_modules is missing) and bundles it into datasource/dist; npm reports only errors.
func Frontend(ctx context.Context) error {
	if _, err := os.Stat("datasource/package.json"); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return release.BuildFrontend(ctx, ".", "", os.Stdout)
}

// FrontendTest type-checks the frontend and runs its node tests; their report is printed
// when they fail (or with mage -v).
func FrontendTest() error {
	if _, err := os.Stat("datasource/package.json"); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	out, err := sh.Output("npm", "test", "--silent", "--prefix", "datasource")
	if err != nil || mg.Verbose() {
		fmt.Println(out)
	}
	return err
}

// buildPluginBackend builds the Grafana plugin backend (gpx_kizashi_<os>_<arch>) into
// datasource/dist with the SDK's build package.
func buildPluginBackend(goos, goarch string) error {
	return buildPluginBackendTo(goos, goarch, "datasource/dist")
}

// buildPluginBackendTo builds the plugin backend for goos/goarch into dir (and the SDK's
// go_plugin_build_manifest of the sources).
func buildPluginBackendTo(goos, goarch, dir string) error {
	if _, err := os.Stat("datasource/pkg/main.go"); err != nil {
		return nil
	}
	err := sdkbuild.SetBeforeBuildCallback(func(cfg sdkbuild.Config) (sdkbuild.Config, error) {
		cfg.RootPackagePath = "./datasource/pkg"
		cfg.OutputBinaryPath = dir
		cfg.PluginJSONPath = "datasource/src"
		return cfg, nil
	})
	if err != nil {
		return err
	}
	return sdkbuild.Build{}.Custom(goos, goarch)
}

// Release builds the release into dist/ (or -dir DIR): kizashi-exporter and kizashi-webhook
// archives for linux/amd64 and linux/arm64 (static binaries stamped with the version of the
// file VERSION, git's revision and branch, the build user and date), the Grafana plugin as a
// zip Grafana installs, sha256sums.txt; and checks what it built (internal/release).
func Release(ctx context.Context, dir *string) error {
	out := "dist"
	if dir != nil && *dir != "" {
		out = *dir
	}
	info, err := release.ReadInfo(".")
	if err != nil {
		return err
	}
	return release.Build(ctx, release.Options{Root: ".", Dir: out, Info: info, Out: os.Stdout, BuildPluginBackend: pluginBackendFunc})
}

// pluginBackendFunc is the release's plugin build: the SDK's, into dir.
func pluginBackendFunc(_ context.Context, p release.Platform, dir string) error {
	return buildPluginBackendTo(p.OS, p.Arch, dir)
}

// BuildAll builds the frontend and the plugin backend for every platform Grafana runs on.
func BuildAll() error {
	mg.Deps(Frontend)
	for _, p := range [][2]string{{"linux", "amd64"}, {"linux", "arm64"}, {"linux", "arm"}, {"darwin", "amd64"}, {"darwin", "arm64"}, {"windows", "amd64"}} {
		if err := buildPluginBackend(p[0], p[1]); err != nil {
			return err
		}
	}
	return nil
}

// Demo runs the demo on 127.0.0.1: Prometheus with two weeks of a demo shop's history, the
// shop, kizashi-exporter, kizashi-webhook and Alertmanager; a fault makes an incident appear.
// It installs Debian's prometheus and prometheus-alertmanager when missing (as root). Ctrl-C
// stops everything and cleans up. -short is the CI variant: the fault at once, free ports, and
// it exits once the incident has appeared.
func Demo(ctx context.Context, short *bool) error {
	bin := filepath.Join("bin", "kizashi-demo")
	if err := buildWithProgress(ctx, bin, "./demo/cmd"); err != nil {
		return err
	}
	args := []string{}
	if short != nil && *short {
		args = append(args, "--short")
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	// Mage cancels ctx on Ctrl-C: pass it on as Ctrl-C, and give the demo time to clean up.
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGINT) }
	cmd.WaitDelay = 30 * time.Second
	err := cmd.Run()
	if ctx.Err() != nil && cmd.ProcessState != nil && cmd.ProcessState.Success() {
		return nil // stopped by Ctrl-C, cleaned up
	}
	return err
}

// buildWithProgress builds pkg into out and says what it does meanwhile: the first build
// compiles every dependency (minutes on 2 cores) and go build is silent while it does.
func buildWithProgress(ctx context.Context, out, pkg string) error {
	fmt.Printf("building %s (the first time, every dependency is compiled: a few minutes on 2 cores) ...\n", pkg)
	start := time.Now()
	cmd := exec.CommandContext(ctx, "go", "build", "-v", "-o", out, pkg)
	cmd.Stdout = os.Stdout
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	// go build -v names each package as it compiles it; other lines are errors.
	var (
		compiled int
		other    []string
		last     = time.Now()
	)
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") || strings.Contains(line, " ") {
			other = append(other, line)
			continue
		}
		compiled++
		if time.Since(last) >= 10*time.Second {
			last = time.Now()
			fmt.Printf("  ... %d packages compiled (%s), now %s\n", compiled, time.Since(start).Round(time.Second), line)
		}
	}
	err = cmd.Wait()
	if len(other) > 0 {
		fmt.Fprintln(os.Stderr, strings.Join(other, "\n"))
	}
	if err != nil {
		return fmt.Errorf("go build %s: %w", pkg, err)
	}
	fmt.Printf("built %s: %d packages compiled in %s\n", out, compiled, time.Since(start).Round(time.Second))
	return nil
}

// Screenshots runs the demo's test, which looks at the exporter's page and the service desk in
// headless Chromium, and the service desk's shift test (webhook/app TestShift: the queue and an
// anomaly incident in Japanese), and saves their screenshots in docs/ (the README's).
func Screenshots() error {
	mg.Deps(Deps)
	dir, err := filepath.Abs("docs")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	env := map[string]string{"KIZASHI_SCREENSHOT_DIR": dir}
	if err := sh.RunWithV(env, "go", "test", "-tags", "e2e", "-count=1", "-run", "^TestDemoShort$", "./demo/"); err != nil {
		return err
	}
	return sh.RunWithV(env, "go", "test", "-tags", "e2e", "-count=1", "-run", "^TestShift$", "./webhook/app/")
}
