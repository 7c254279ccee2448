// Command kizashi-exporter learns what normal looks like for Prometheus series and publishes
// baselines, bands, anomaly scores and forecasts. Its offline commands replay recorded data:
// `backtest` (CSV files through the engine) and `forecast` (M4-format series to forecasts).
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/common/promslog"
	promslogflag "github.com/prometheus/common/promslog/flag"

	"github.com/kizashi-dev/kizashi/internal/cli"
)

// action runs a selected command once flags are parsed. It returns the process exit code's
// cause: nil for success.
type action func(ctx context.Context, logger *slog.Logger) error

// command registers a sub-command's flags on app and returns what runs when it is chosen.
// Adding a command is one such function and one line in commands().
type command func(app *kingpin.Application, env environment) (*kingpin.CmdClause, action)

// environment is what commands may use of the process (injected, so run can be tested).
type environment struct {
	stdout   io.Writer // --help and --version
	stderr   io.Writer
	terminal bool // stderr is a terminal
	// hangup receives SIGHUP (the daemon reloads its configuration); nil in tests.
	hangup <-chan os.Signal
}

func commands() []command {
	return []command{
		backtestCommand,
		serveCommand,
		forecastCommand,
	}
}

func main() {
	cli.DefaultVersion(debug.ReadBuildInfo())
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	hangup := make(chan os.Signal, 1)
	signal.Notify(hangup, syscall.SIGHUP)
	code := run(ctx, os.Args[1:], environment{stdout: os.Stdout, stderr: os.Stderr, terminal: isTerminal(os.Stderr), hangup: hangup})
	signal.Stop(hangup)
	stop()
	os.Exit(code)
}

// run parses args, runs the chosen command and returns the exit code.
func run(ctx context.Context, args []string, env environment) int {
	app := cli.New("kizashi-exporter", "Kizashi anomaly detection and forecasting for Prometheus series.", env.stdout, env.stderr)
	// --help and --version end the program after parsing, with their code, not inside it.
	terminated, termCode := false, 0
	app.Terminate(func(code int) { terminated, termCode = true, code })
	logConfig := &promslog.Config{Writer: env.stderr}
	promslogflag.AddFlags(app, logConfig)

	actions := map[string]action{}
	for _, c := range commands() {
		cmd, act := c(app, env)
		actions[cmd.FullCommand()] = act
	}
	selected, err := app.Parse(args)
	if terminated {
		return termCode
	}
	if err != nil {
		fmt.Fprintf(env.stderr, "kizashi-exporter: %v, try --help\n", err)
		return 2
	}
	logger := promslog.New(logConfig)
	act, ok := actions[selected]
	if !ok {
		fmt.Fprintf(env.stderr, "kizashi-exporter: no command given, try --help\n")
		return 2
	}
	if err := act(ctx, logger); err != nil {
		logger.Error(selected, "err", err)
		return 1
	}
	return 0
}

// isTerminal reports whether f is a terminal (a character device).
func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
