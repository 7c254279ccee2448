package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/common/model"

	"github.com/kizashi-dev/kizashi/exporter/backtest"
	"github.com/kizashi-dev/kizashi/exporter/queryconfig"
	"github.com/kizashi-dev/kizashi/exporter/source"
)

// promBacktestFlags registers the flags of `backtest --config.file`: the configured queries
// replayed from the configured source. The returned function runs it when --config.file is
// given (ran true), and does nothing otherwise.
func promBacktestFlags(cmd *kingpin.CmdClause, env environment) func(ctx context.Context, logger *slog.Logger) (ran bool, err error) {
	var configFile, rng, end, out string
	cmd.Flag("config.file", "Replay the queries of this exporter configuration from its source instead of CSV files "+
		"(with --range; see README).").PlaceHolder("FILE").StringVar(&configFile)
	cmd.Flag("range", "With --config.file: how much of the past is reported (e.g. 7d); each series first learns its query's training_window before it.").
		Default("7d").StringVar(&rng)
	cmd.Flag("end", "With --config.file: the end of the range (RFC 3339); default now.").PlaceHolder("TIME").StringVar(&end)
	cmd.Flag("out", "With --config.file: the report's directory (index.html, report.json, series.csv, alerts.csv, breach_etas.csv).").
		Default("kizashi-backtest").StringVar(&out)
	return func(ctx context.Context, logger *slog.Logger) (bool, error) {
		if configFile == "" {
			return false, nil
		}
		d, err := model.ParseDuration(rng)
		if err != nil {
			return true, fmt.Errorf("--range %q: %w", rng, err)
		}
		opts := backtest.PromOptions{Range: time.Duration(d), Logger: logger}
		if end != "" {
			if opts.End, err = time.Parse(time.RFC3339, end); err != nil {
				return true, fmt.Errorf("--end: %w", err)
			}
		}
		if opts.Config, err = queryconfig.Load(configFile); err != nil {
			return true, err
		}
		src, err := source.New(opts.Config.Source)
		if err != nil {
			return true, err
		}
		opts.Source = src
		if env.terminal {
			opts.Progress = env.stderr
		}
		rep, err := backtest.RunPrometheus(ctx, opts)
		if err != nil {
			return true, err
		}
		if err := rep.Write(out); err != nil {
			return true, err
		}
		alerts, series := 0, 0
		for _, q := range rep.Queries {
			alerts += q.Alerts
			series += len(q.Series)
		}
		logger.Info("backtest report written", "dir", out, "queries", len(rep.Queries), "series", series, "alerts", alerts,
			"took", rep.Took.Round(time.Millisecond))
		return true, nil
	}
}

// errNoInput is the error of `backtest` given neither CSV input nor a configuration.
var errNoInput = errors.New("backtest needs --input and --output (CSV files) or --config.file (the configured queries from their source)")
