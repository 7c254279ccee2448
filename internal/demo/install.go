package demo

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// program is an executable the demo needs, and the Debian package that ships it.
type program struct {
	names []string // looked up in PATH, then in the Debian directories
	pkg   string
}

var (
	prometheusProgram   = program{names: []string{"prometheus"}, pkg: "prometheus"}
	promtoolProgram     = program{names: []string{"promtool"}, pkg: "prometheus"}
	alertmanagerProgram = program{names: []string{"prometheus-alertmanager", "alertmanager"}, pkg: "prometheus-alertmanager"}
)

var debianDirs = []string{"/usr/bin", "/usr/sbin", "/usr/local/bin"}

func (p program) find() (string, bool) {
	for _, n := range p.names {
		if path, err := exec.LookPath(n); err == nil {
			return path, true
		}
		for _, d := range debianDirs {
			path := filepath.Join(d, n)
			if fi, err := os.Stat(path); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
				return path, true
			}
		}
	}
	return "", false
}

// binaries are the paths of the external programs the demo runs.
type binaries struct {
	prometheus, promtool, alertmanager string
}

// ensureBinaries finds Prometheus, promtool and Alertmanager. When some are missing it installs
// their Debian packages if it runs as root with apt-get (and install is true), else it returns
// an error that says exactly what to run.
func ensureBinaries(ctx context.Context, install bool, out io.Writer) (binaries, error) {
	progs := []program{prometheusProgram, promtoolProgram, alertmanagerProgram}
	missing := func() []string {
		var pkgs []string
		for _, p := range progs {
			if _, ok := p.find(); !ok && !containsString(pkgs, p.pkg) {
				pkgs = append(pkgs, p.pkg)
			}
		}
		return pkgs
	}
	if pkgs := missing(); len(pkgs) > 0 {
		cmd := "apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends " + strings.Join(pkgs, " ")
		_, aptErr := exec.LookPath("apt-get")
		switch {
		case !install || aptErr != nil:
			return binaries{}, fmt.Errorf("the demo needs the Debian packages %s; install them with:\n  sudo sh -c '%s'",
				strings.Join(pkgs, ", "), cmd)
		case os.Geteuid() != 0:
			return binaries{}, fmt.Errorf("the demo needs the Debian packages %s; install them (as root) with:\n  sudo sh -c '%s'\nthen run the demo again",
				strings.Join(pkgs, ", "), cmd)
		}
		fmt.Fprintf(out, "Installing the Debian packages %s (apt-get) ...\n", strings.Join(pkgs, ", "))
		c := exec.CommandContext(ctx, "sh", "-c", cmd)
		c.Stdout, c.Stderr = out, out
		if err := c.Run(); err != nil {
			return binaries{}, fmt.Errorf("install %s: %w; try:\n  sh -c '%s'", strings.Join(pkgs, ", "), err, cmd)
		}
		if pkgs := missing(); len(pkgs) > 0 {
			return binaries{}, fmt.Errorf("installed, but still missing %s", strings.Join(pkgs, ", "))
		}
	}
	var b binaries
	b.prometheus, _ = prometheusProgram.find()
	b.promtool, _ = promtoolProgram.find()
	b.alertmanager, _ = alertmanagerProgram.find()
	return b, nil
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
