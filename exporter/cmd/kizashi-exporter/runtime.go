package main

import (
	"fmt"
	"log/slog"
	"os"
	"runtime/debug"

	"github.com/KimMachineGun/automemlimit/memlimit"
	"github.com/alecthomas/kingpin/v2"
)

// defaultGOGC is Prometheus' default (its runtime.gogc): the exporter's memory is mostly its
// models, which stay, so the heap a collection lets grow on top of them is most of what can be
// saved (with 100k series: about 1.7 times the live heap instead of twice it).
const defaultGOGC = 75

// runtimeFlags are the Go runtime's memory settings of the daemon, as Prometheus 3 has them.
type runtimeFlags struct {
	gogc      int
	gogcSet   bool
	autoLimit bool
	ratio     float64
}

func addRuntimeFlags(cmd *kingpin.CmdClause) *runtimeFlags {
	f := &runtimeFlags{}
	cmd.Flag("runtime.gogc", "Go's garbage collection target (GOGC): the heap may grow by this percentage of the live heap before the next collection; lower saves memory for CPU. The GOGC environment variable, when set, replaces the default.").
		Default(fmt.Sprint(defaultGOGC)).IsSetByUser(&f.gogcSet).IntVar(&f.gogc)
	cmd.Flag("auto-gomemlimit", "Set GOMEMLIMIT to --auto-gomemlimit.ratio of the container's memory limit (cgroup), or of the machine's memory without one, as Prometheus does; the collector then works harder rather than go over it. A GOMEMLIMIT environment variable wins.").
		Default("true").BoolVar(&f.autoLimit)
	cmd.Flag("auto-gomemlimit.ratio", "Share of the memory limit GOMEMLIMIT is set to, in (0, 1].").Default("0.9").Float64Var(&f.ratio)
	return f
}

// apply sets GOGC and GOMEMLIMIT; it returns GOGC as it is then.
func (f *runtimeFlags) apply(logger *slog.Logger) (int, error) {
	if f.gogc <= 0 {
		return 0, fmt.Errorf("--runtime.gogc %d: want a positive percentage", f.gogc)
	}
	if !(f.ratio > 0 && f.ratio <= 1) {
		return 0, fmt.Errorf("--auto-gomemlimit.ratio %g: want a ratio in (0, 1]", f.ratio)
	}
	gogc := f.gogc
	if f.gogcSet || os.Getenv("GOGC") == "" {
		debug.SetGCPercent(gogc)
	} else {
		gogc = debug.SetGCPercent(gogc) // read (no API reads it without setting it) ...
		debug.SetGCPercent(gogc)        // ... and restore the environment's
	}
	if f.autoLimit {
		limit, err := memlimit.Set(memlimit.WithRatio(f.ratio),
			memlimit.WithProvider(memlimit.ApplyFallback(memlimit.FromCgroup, memlimit.FromSystem)),
			memlimit.WithLogger(logger.With("component", "automemlimit")))
		if err != nil {
			logger.Warn("could not set GOMEMLIMIT from the memory limit", "err", err)
		} else {
			logger.Debug("GOMEMLIMIT", "bytes", limit)
		}
	}
	return gogc, nil
}
