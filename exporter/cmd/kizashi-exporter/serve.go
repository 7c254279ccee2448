package main

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/common/model"
	"github.com/prometheus/exporter-toolkit/web/kingpinflag"

	"github.com/kizashi-dev/kizashi/exporter/daemon"
	"github.com/kizashi-dev/kizashi/exporter/seriesset"
)

// serveCommand is the daemon, the default command: learn from a Prometheus-compatible API
// and publish kizashi_* series on /metrics.
func serveCommand(a *kingpin.Application, env environment) (*kingpin.CmdClause, action) {
	cmd := a.Command("serve", "Run the exporter (the default command).").Default()
	var (
		configFile = cmd.Flag("config.file", "Configuration file (YAML).").Default("kizashi-exporter.yml").String()
		check      = cmd.Flag("config.check", "Validate the configuration file and exit.").Bool()
		dataDir    = cmd.Flag("storage.path", "Directory for model snapshots; empty disables them.").Default("data").String()
		interval   = cmd.Flag("storage.snapshot-interval", "Interval between model snapshots (also written on shutdown; after a crash, the learning since the last one is backfilled from the source).").Default("15m").Duration()
		shard      = cmd.Flag("shard", "Model only the series of shard i of n (i/n): those Prometheus' hashmod relabelling, modulus n, puts in i, its source_labels --shard.by. Every shard runs the whole query.").Default("0/1").String()
		shardBy    = cmd.Flag("shard.by", "Label the shard is computed from (repeatable, in hashmod's source_labels order); default every label of the series, in name order.").Strings()
		charts     = cmd.Flag("web.chart-series", "Series per query that keep a day of history for the web page's charts.").Default("50").Int()
		lifecycle  = cmd.Flag("web.enable-lifecycle", "Enable configuration reloads through POST /-/reload (behind --web.config.file's auth).").Bool()
		compress   = cmd.Flag("web.compression", "Compression of /metrics for scrapers that accept it: none (the least CPU for the exporter and Prometheus) or gzip (a tenth of the bytes, for a slow link).").Default("none").Enum("none", "gzip")
		webFlags   = kingpinflag.AddFlags(cmd, ":9742")
		rt         = addRuntimeFlags(cmd)
	)
	return cmd, func(ctx context.Context, logger *slog.Logger) error {
		if *check {
			if err := daemon.CheckConfig(*configFile); err != nil {
				return err
			}
			_, err := fmt.Fprintf(env.stderr, "%s: configuration is valid\n", *configFile)
			return err
		}
		sh, err := seriesset.ParseShard(*shard)
		if err != nil {
			return err
		}
		for _, l := range *shardBy {
			if !model.UTF8Validation.IsValidLabelName(l) {
				return fmt.Errorf("--shard.by %q: not a label name", l)
			}
			sh.By = append(sh.By, model.LabelName(l))
		}
		gogc, err := rt.apply(logger)
		if err != nil {
			return err
		}
		logger.Info("starting kizashi-exporter", "config", *configFile, "shard", sh.String(),
			"gogc", gogc, "gomemlimit", debug.SetMemoryLimit(-1)) // a negative limit only reads it
		return daemon.Run(ctx, daemon.Options{
			ConfigFile: *configFile, Web: webFlags, DataDir: *dataDir, SnapshotInterval: *interval,
			Shard: sh, ChartSeries: *charts, Hangup: env.hangup, EnableLifecycle: *lifecycle, Gzip: *compress == "gzip", Logger: logger,
		})
	}
}
