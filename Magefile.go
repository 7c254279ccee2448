//go:build mage

// Build, test, lint, benchmark and evaluate Kizashi: `go tool mage -l` lists the targets.
package main

import (
	"context"
	"errors"
	"fmt"
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

	"github.com/kizashi-dev/kizashi/internal/proc"
	"github.com/kizashi-dev/kizashi/internal/release"
)

// Default target: build everything.
var Default = Build

// testPrograms are the real components the integration tests start on loopback (and
// python3, for the eval targets' reference scorers).
var testPrograms = []proc.Binary{proc.Prometheus, proc.Promtool, proc.Alertmanager, proc.Amtool,
	{Names: []string{"chromium"}, Package: "chromium"}, {Names: []string{"python3"}, Package: "python3"}}

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
	if len(missing) == 0 {
		return nil
	}
	cmd := proc.AptInstall(missing)
	if os.Geteuid() != 0 {
		return fmt.Errorf("missing Debian packages %v; install them with:\n  sudo sh -c '%s'", missing, cmd)
	}
	fmt.Println("installing Debian packages:", strings.Join(missing, " "))
	return sh.RunV("sh", "-c", cmd)
}

// Lint runs gofmt, go vet and staticcheck over the module.
func Lint() error {
	out, err := sh.Output("gofmt", "-l", ".")
	if err != nil {
		return err
	}
	if out = strings.TrimSpace(out); out != "" {
		return fmt.Errorf("files not gofmt-ed:\n%s", out)
	}
	if err := sh.RunV("go", "vet", "./..."); err != nil {
		return err
	}
	return sh.RunV("go", "tool", "staticcheck", "./...")
}

// Test installs missing test dependencies, lints, and runs every test (unit, integration, frontend).
func Test() error {
	mg.Deps(Deps)
	mg.Deps(Lint)
	mg.Deps(Frontend)
	if err := sh.RunV("go", "test", "-count=1", "-timeout=25m", "./..."); err != nil {
		return err
	}
	return FrontendTest()
}

// Build compiles the programs into bin/ and the Grafana plugin into datasource/dist/.
func Build() error {
	mg.Deps(Frontend)
	for _, p := range []string{"./exporter/cmd/kizashi-exporter", "./webhook/cmd/kizashi-webhook"} {
		if _, err := os.Stat(p); err != nil {
			continue
		}
		if err := sh.RunV("go", "build", "-o", "bin/", p); err != nil {
			return err
		}
	}
	return buildPluginBackend(runtime.GOOS, runtime.GOARCH)
}

// Bench runs the Go benchmarks (-benchmem, 6 counts for benchstat) and writes bench.txt.
func Bench() error {
	out, err := sh.Output("go", "test", "-run=^$", "-bench=.", "-benchmem", "-count=6", "./...")
	fmt.Println(out)
	if werr := os.WriteFile("bench.txt", []byte(out+"\n"), 0o644); werr != nil && err == nil {
		err = werr
	}
	return err
}

// Eval scores the engine on NAB and M4 hourly: dataDir holds nab-dev/ and m4-hourly-dev/,
// and the reference scorers are found in dataDir/../eval (or $KIZASHI_SCORERS).
func Eval(dataDir string) error {
	if err := EvalNAB(dataDir); err != nil {
		return err
	}
	return EvalM4(dataDir)
}

// EvalNAB runs the backtest over dataDir/nab-dev/data and scores it with nab_score.py.
func EvalNAB(dataDir string) error {
	nab := filepath.Join(dataDir, "nab-dev")
	out := filepath.Join(".eval", "nab")
	if err := os.RemoveAll(out); err != nil {
		return err
	}
	if err := sh.RunV("go", "run", "./exporter/cmd/kizashi-exporter", "backtest",
		"--input", filepath.Join(nab, "data"), "--output", out); err != nil {
		return err
	}
	return sh.RunV("python3", filepath.Join(scorers(dataDir), "nab_score.py"), out,
		"--data", filepath.Join(nab, "data"),
		"--labels", filepath.Join(nab, "labels", "combined_windows.json"), "--by-category")
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

// FrontendTest type-checks the frontend and runs its node tests.
func FrontendTest() error {
	if _, err := os.Stat("datasource/package.json"); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return sh.RunV("npm", "test", "--prefix", "datasource")
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
	return release.Build(ctx, release.Options{Root: ".", Dir: out, Info: info, Out: os.Stdout,
		BuildPluginBackend: func(_ context.Context, p release.Platform, dir string) error {
			return buildPluginBackendTo(p.OS, p.Arch, dir)
		}})
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
	if err := sh.RunV("go", "build", "-o", bin, "./internal/demo/cmd"); err != nil {
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

// Screenshots runs the demo's test, which looks at the exporter's page and the service desk in
// headless Chromium, and saves its screenshots in docs/ (the README's).
func Screenshots() error {
	mg.Deps(Deps)
	dir, err := filepath.Abs("docs")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return sh.RunWithV(map[string]string{"KIZASHI_SCREENSHOT_DIR": dir},
		"go", "test", "-count=1", "-run", "^TestDemoShort$", "./internal/demo/")
}
