package main

import (
	"context"
	"log/slog"

	"github.com/alecthomas/kingpin/v2"

	"github.com/kizashi-dev/kizashi/exporter/backtest"
)

func forecastCommand(app *kingpin.Application, _ environment) (*kingpin.CmdClause, action) {
	cmd := app.Command("forecast", "Forecast every series of an M4 wide CSV file (\"V1\",\"V2\",... header; "+
		"id,values... rows) and write id,F1..F<horizon>. Each series' samples get synthetic timestamps "+
		"--step apart starting Monday 2017-01-02T00:00:00Z."+settingsHelp)
	var (
		opts backtest.ForecastOptions
		step string
	)
	cmd.Flag("m4", "M4 wide-format CSV file of series (e.g. Hourly-train.csv).").
		Required().PlaceHolder("TRAIN.csv").StringVar(&opts.Input)
	cmd.Flag("output", "Forecasts file to write (id,F1..F<horizon>).").
		Required().PlaceHolder("FORECASTS.csv").StringVar(&opts.Output)
	cmd.Flag("horizon", "Steps to forecast per series.").Default("48").IntVar(&opts.Horizon)
	cmd.Flag("step", "Interval between samples and between forecasts; also the model's step.").
		Default("1h").StringVar(&step)
	cmd.Flag("workers", "Series modelled in parallel; 0 = GOMAXPROCS.").Default("0").IntVar(&opts.Workers)
	settings := settingsFlags(cmd, false)

	return cmd, func(ctx context.Context, logger *slog.Logger) error {
		var err error
		if opts.Config, err = settings(); err != nil {
			return err
		}
		if opts.Step, err = backtest.ParseDuration(step); err != nil {
			return err
		}
		opts.Logger = logger
		return backtest.Forecast(ctx, opts)
	}
}
