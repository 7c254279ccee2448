package main

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/alecthomas/kingpin/v2"

	"github.com/kizashi-dev/kizashi/anomaly"
	"github.com/kizashi-dev/kizashi/exporter/backtest"
	"github.com/kizashi-dev/kizashi/internal/timezone"
)

const settingsHelp = " One parameter set for all files: every file (or series) gets a fresh model with the same " +
	"settings, taken from --config (YAML whose keys mirror the flags: sensitivity, daily, weekly, trend, " +
	"step, horizons, min, max, log, timezone, holidays; unknown keys are errors) with explicitly given flags overriding the file."

// settingsFlags registers the model-settings flags on cmd. The returned function, called after
// parsing, gives the engine configuration of the settings: the --config file, overridden by the
// flags given explicitly.
func settingsFlags(cmd *kingpin.CmdClause, withStep bool) func() (anomaly.Config, error) {
	var (
		set                                    struct{ sensitivity, daily, weekly, trend, step, horizons, min, max, log, timezone, holidays bool }
		sensitivity, minV, maxV                float64
		logV                                   bool
		daily, weekly, trend                   string
		step, horizons, config, zone, holidays string
	)
	cmd.Flag("config", "YAML settings file (keys mirror these flags; strict).").PlaceHolder("FILE").StringVar(&config)
	cmd.Flag("sensitivity", "Band sensitivity in [0,1]: 0.5 gives ±3 robust sigmas, 1 gives ±1.5, 0 gives ±6.").
		Default("0.5").IsSetByUser(&set.sensitivity).Float64Var(&sensitivity)
	modes := []string{"auto", "on", "off"}
	cmd.Flag("daily", "Daily profile: auto, on or off.").Default("auto").IsSetByUser(&set.daily).EnumVar(&daily, modes...)
	cmd.Flag("weekly", "Weekly profile: auto, on or off.").Default("auto").IsSetByUser(&set.weekly).EnumVar(&weekly, modes...)
	cmd.Flag("trend", "Damped trend: auto, on or off.").Default("auto").IsSetByUser(&set.trend).EnumVar(&trend, modes...)
	if withStep {
		cmd.Flag("step", "Nominal sample interval (e.g. 5m); 0 = learned from the data.").
			Default("0").IsSetByUser(&set.step).StringVar(&step)
	}
	cmd.Flag("horizons", "Forecast horizons whose prediction intervals the model learns (comma-separated).").
		Default("1h,6h,24h").IsSetByUser(&set.horizons).StringVar(&horizons)
	cmd.Flag("min", "Lowest valid value of the series (clamps bands and forecasts).").IsSetByUser(&set.min).Float64Var(&minV)
	cmd.Flag("max", "Highest valid value of the series (clamps bands and forecasts).").IsSetByUser(&set.max).Float64Var(&maxV)
	cmd.Flag("log", "Model log(1+value): for non-negative series whose swings grow with their level.").
		IsSetByUser(&set.log).BoolVar(&logV)
	cmd.Flag("timezone", "Time zone whose days and weeks the seasonal profiles follow (an IANA name: Europe/Berlin, Asia/Tokyo), and that CSV times without a zone are read in; default UTC.").
		PlaceHolder("ZONE").IsSetByUser(&set.timezone).StringVar(&zone)
	cmd.Flag("holidays", "Days the weekly profiles read as Sundays, in --timezone (comma-separated dates and ranges: 2026-05-04,2026-12-29..2027-01-03).").
		PlaceHolder("DATES").IsSetByUser(&set.holidays).StringVar(&holidays)

	return func() (anomaly.Config, error) {
		var file backtest.Settings
		if config != "" {
			var err error
			if file, err = backtest.LoadSettings(config); err != nil {
				return anomaly.Config{}, err
			}
		}
		var flags backtest.Settings
		if set.sensitivity {
			flags.Sensitivity = &sensitivity
		}
		for _, m := range []struct {
			set bool
			s   string
			dst **backtest.Mode
		}{{set.daily, daily, &flags.Daily}, {set.weekly, weekly, &flags.Weekly}, {set.trend, trend, &flags.Trend}} {
			if !m.set {
				continue
			}
			v, err := backtest.ParseMode(m.s)
			if err != nil {
				return anomaly.Config{}, err
			}
			*m.dst = &v
		}
		if set.step {
			d, err := backtest.ParseDuration(step)
			if err != nil {
				return anomaly.Config{}, fmt.Errorf("--step: %w", err)
			}
			v := backtest.Duration(d)
			flags.Step = &v
		}
		if set.horizons {
			hs, err := backtest.ParseDurations(horizons)
			if err != nil {
				return anomaly.Config{}, fmt.Errorf("--horizons: %w", err)
			}
			flags.Horizons = hs
		}
		if set.min {
			flags.Min = &minV
		}
		if set.max {
			flags.Max = &maxV
		}
		if set.log {
			flags.Log = &logV
		}
		if set.timezone {
			if _, err := timezone.Parse(zone); err != nil {
				return anomaly.Config{}, fmt.Errorf("--timezone: %w", err)
			}
			flags.Timezone = &zone
		}
		if set.holidays {
			flags.Holidays = strings.Split(holidays, ",")
			if _, err := anomaly.ParseHolidays(flags.Holidays); err != nil {
				return anomaly.Config{}, fmt.Errorf("--holidays: %w", err)
			}
		}
		return file.Override(flags).Config()
	}
}

func backtestCommand(app *kingpin.Application, env environment) (*kingpin.CmdClause, action) {
	cmd := app.Command("backtest", "Replay timestamp,value CSV files through the engine and write "+
		"timestamp,value,baseline,lower,upper,anomaly_score,deviation per row."+settingsHelp+
		" With --config.file instead: replay the configured queries from their source over --range and write a report "+
		"of the alerts the shipped rule would have fired and the breach ETAs the forecasts would have issued.")
	var opts backtest.Options
	cmd.Flag("input", "A CSV file, or a directory whose every *.csv (recursively) is replayed.").
		PlaceHolder("PATH").StringVar(&opts.Input)
	cmd.Flag("output", "Output file (input a file) or directory tree (input a directory: same relative paths).").
		PlaceHolder("PATH").StringVar(&opts.Output)
	cmd.Flag("emit-forecasts", "Add a forecast_<h> column per horizon: the forecast made h earlier for the row's time.").
		BoolVar(&opts.EmitForecasts)
	cmd.Flag("workers", "Files processed in parallel; 0 = GOMAXPROCS.").Default("0").IntVar(&opts.Workers)
	settings := settingsFlags(cmd, true)
	fromProm := promBacktestFlags(cmd, env)

	return cmd, func(ctx context.Context, logger *slog.Logger) error {
		if ran, err := fromProm(ctx, logger); ran {
			return err
		}
		if opts.Input == "" || opts.Output == "" {
			return errNoInput
		}
		var err error
		if opts.Config, err = settings(); err != nil {
			return err
		}
		opts.Logger = logger
		if env.terminal {
			opts.Progress = env.stderr
		}
		// Run logs each failed file with its line as it happens; its error lists them at the end.
		sum, err := backtest.Run(ctx, opts)
		if sum.Files > 0 {
			logger.Info(sum.String(), "took", sum.Took.Round(time.Millisecond))
		}
		return err
	}
}
