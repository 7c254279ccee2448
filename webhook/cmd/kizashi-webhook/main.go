// Command kizashi-webhook receives Alertmanager notifications and runs them
// as ITIL incidents per tenant. See webhook/README.md.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/prometheus/common/promslog"
	promslogflag "github.com/prometheus/common/promslog/flag"
	"github.com/prometheus/common/version"
	"github.com/prometheus/exporter-toolkit/web/kingpinflag"

	"github.com/kizashi-dev/kizashi/internal/cli"
	"github.com/kizashi-dev/kizashi/webhook/app"
	"github.com/kizashi-dev/kizashi/webhook/bench"
	"github.com/kizashi-dev/kizashi/webhook/config"
)

func main() {
	cli.DefaultVersion(debug.ReadBuildInfo())
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// SIGHUP reloads the configuration (caught here and handed to the daemon, as Alertmanager does).
	hangup := make(chan os.Signal, 1)
	signal.Notify(hangup, syscall.SIGHUP)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr, hangup)
	signal.Stop(hangup)
	stop()
	os.Exit(code)
}

// run parses args, runs the chosen command and returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, hangup <-chan os.Signal) int {
	a := cli.New("kizashi-webhook", "Alertmanager webhook receiver that turns alerts into ITIL incidents per tenant.", stdout, stderr)
	// --help and --version end the program after parsing, with their code, not inside it.
	terminated, termCode := false, 0
	a.Terminate(func(code int) { terminated, termCode = true, code })
	var (
		serve       = a.Command("serve", "Run the receiver (default).").Default()
		configFile  = a.Flag("config.file", "Configuration file.").Default("kizashi-webhook.yml").String()
		configCheck = a.Flag("config.check", "Validate the configuration file and exit.").Bool()
		webFlags    = kingpinflag.AddFlags(serve, ":9095")
		lifecycle   = serve.Flag("web.enable-lifecycle", "Enable reloads over HTTP (POST /-/reload), guarded by the web config's basic_auth_users when it has some.").Bool()

		benchCmd      = a.Command("bench", "Send synthetic notifications to a running receiver and report throughput and latency.")
		benchURL      = benchCmd.Flag("url", "Receiver URL.").Default("http://127.0.0.1:9095/api/v1/alerts").String()
		benchToken    = benchCmd.Flag("token", "Tenant bearer token.").Required().String()
		benchRate     = benchCmd.Flag("rate", "Notifications per second (0: as fast as possible).").Default("0").Float64()
		benchDuration = benchCmd.Flag("duration", "How long to send.").Default("10s").Duration()
		benchConc     = benchCmd.Flag("concurrency", "Concurrent senders.").Default("64").Int()
		benchAlerts   = benchCmd.Flag("alerts", "Alerts per notification.").Default("10").Int()
		benchGroups   = benchCmd.Flag("groups", "Distinct alert groups.").Default("1000").Int()
		benchChurn    = benchCmd.Flag("churn", "Change every alert of every notification (worst case).").Bool()
		benchStart    = benchCmd.Flag("start", "First sequence number (runs starting at the same number send the same notifications).").Default("0").Uint64()
		benchLog      = benchCmd.Flag("ack-log", "Write the sequence number of every 2xx-acknowledged notification to this file.").String()
	)
	promslogConfig := &promslog.Config{Writer: stderr}
	promslogflag.AddFlags(a, promslogConfig)
	cmd, err := a.Parse(args)
	if terminated {
		return termCode
	}
	if err != nil {
		fmt.Fprintf(stderr, "kizashi-webhook: %v, try --help\n", err)
		return 2
	}
	logger := promslog.New(promslogConfig)

	if cmd == benchCmd.FullCommand() {
		res, err := bench.Run(ctx, bench.Options{URL: *benchURL, Token: *benchToken, Rate: *benchRate, Duration: *benchDuration,
			Concurrency: *benchConc, Alerts: *benchAlerts, Groups: *benchGroups, AckLog: *benchLog, Churn: *benchChurn, Start: *benchStart})
		if err != nil {
			fmt.Fprintln(stderr, "bench:", err)
			return 1
		}
		fmt.Fprintln(stdout, res)
		return 0
	}
	if *configCheck {
		if _, err := config.Load(*configFile); err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		if err := app.CheckWebConfig(*webFlags.WebConfigFile); err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		fmt.Fprintln(stdout, "config OK:", *configFile)
		return 0
	}
	logger.Info("starting kizashi-webhook", "version", version.Info())
	if err := app.Run(ctx, app.Options{ConfigFile: *configFile, Web: webFlags, Logger: logger, EnableLifecycle: *lifecycle, Hangup: hangup}); err != nil {
		logger.Error("kizashi-webhook stopped", "err", err)
		return 1
	}
	return 0
}
