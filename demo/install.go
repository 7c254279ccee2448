package demo

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"

	"github.com/kizashi-dev/kizashi/internal/proc"
)

// binaries are the paths of the external programs the demo runs.
type binaries struct {
	prometheus, promtool, alertmanager string
}

// ensureBinaries finds Prometheus, promtool and Alertmanager. When some are missing it installs
// their Debian packages if it runs as root with apt-get (and install is true), else it returns
// an error that says exactly what to run.
func ensureBinaries(ctx context.Context, install bool, out io.Writer) (binaries, error) {
	progs := []proc.Binary{proc.Prometheus, proc.Promtool, proc.Alertmanager}
	_, aptErr := exec.LookPath("apt-get")
	inst := installer{install: install && aptErr == nil, root: os.Geteuid() == 0, out: out,
		run: func(ctx context.Context, cmd string) error {
			c := exec.CommandContext(ctx, "sh", "-c", cmd)
			c.Stdout, c.Stderr = out, out
			return c.Run()
		}}
	if err := inst.ensure(ctx, progs); err != nil {
		return binaries{}, err
	}
	var b binaries
	b.prometheus, _ = proc.Prometheus.Find()
	b.promtool, _ = proc.Promtool.Find()
	b.alertmanager, _ = proc.Alertmanager.Find()
	return b, nil
}

// installer installs missing Debian packages, or says how.
type installer struct {
	install bool // allowed to, and apt-get exists
	root    bool
	out     io.Writer
	run     func(ctx context.Context, shellCommand string) error
}

func (in installer) ensure(ctx context.Context, progs []proc.Binary) error {
	pkgs := proc.MissingPackages(progs...)
	if len(pkgs) == 0 {
		return nil
	}
	list := strings.Join(pkgs, ", ")
	cmd := proc.AptInstall(pkgs)
	switch {
	case !in.install:
		return fmt.Errorf("the demo needs the Debian packages %s; install them with:\n  sudo sh -c '%s'", list, cmd)
	case !in.root:
		return fmt.Errorf("the demo needs the Debian packages %s; install them (as root) with:\n  sudo sh -c '%s'\nthen run the demo again", list, cmd)
	}
	fmt.Fprintf(in.out, "Installing the Debian packages %s (apt-get), without starting or enabling their services ...\n", list)
	if err := in.run(ctx, cmd); err != nil {
		return fmt.Errorf("install %s: %w; try:\n  sh -c '%s'", list, err, cmd)
	}
	if still := proc.MissingPackages(progs...); len(still) > 0 {
		return fmt.Errorf("installed, but still missing %s", strings.Join(still, ", "))
	}
	return nil
}
