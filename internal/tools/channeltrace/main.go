//go:build kizashitrace

// Command channeltrace prints what the engine's score made of each sample of one series,
// channel by channel: the engine's developers' view of why an alert fired or did not (see
// anomaly.Trace). It runs a series of the failure catalogue, or a timestamp,value CSV file (a
// NAB file, say), through a fresh model of the engine's defaults (or of -config) and prints the
// steps in a window around the failure's onset (-from, -to, -every, relative to the onset; for a
// control or a file, to -at), and every step in it whose evidence reaches -min. With -fa it
// prints instead every step after the catalogue's warm-up whose evidence reaches -min: the false
// alarms of a control.
//
//	go run -tags kizashitrace ./internal/tools/channeltrace -case cpu/flatten/0 -every 10
//	go run -tags kizashitrace ./internal/tools/channeltrace -case rate5m/none/11 -fa
//	go run -tags kizashitrace ./internal/tools/channeltrace -csv ../shared/data/nab-dev/data/x.csv -at 2500
//	go run -tags kizashitrace ./internal/tools/channeltrace -case onoff/none/3 -calendar -zoned -fa
//
// The columns are each channel's -log10 p (spike, drift, spread, stuck, zeros, noise, slow drift, jump,
// beyond the range seen), the sum before calibration and the combined evidence X (the score is
// X/(X+2.7): 0.65 at X = 5), then the published candidate, its fast and slow levels, the slow
// drift in sigmas and the volatility CUSUM.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/kizashi-dev/kizashi/anomaly"
	"github.com/kizashi-dev/kizashi/exporter/backtest"
	"github.com/kizashi-dev/kizashi/internal/catalog"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "channeltrace:", err)
		os.Exit(1)
	}
}

func run(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("channeltrace", flag.ContinueOnError)
	var (
		name     = fs.String("case", "", "a catalogue series: kind/failure/index (failure none: a control)")
		seed     = fs.Uint64("seed", catalog.DefaultOptions().Seed, "the catalogue's seed")
		file     = fs.String("csv", "", "a timestamp,value CSV file instead of a catalogue series")
		settings = fs.String("config", "", "engine settings (YAML, as kizashi-exporter backtest --config); default: the engine's defaults")
		at       = fs.Int("at", -1, "the step the window is relative to (default: the failure's onset; a control's or a file's last step)")
		from     = fs.Int("from", -10, "the window's first step, relative to -at")
		to       = fs.Int("to", 240, "the window's last step, relative to -at")
		every    = fs.Int("every", 5, "print every this many steps of the window")
		minX     = fs.Float64("min", 5, "print too every step whose combined evidence X reaches this (5: the alert's score 0.65)")
		fa       = fs.Bool("fa", false, "print every step after the catalogue's warm-up whose X reaches -min, not a window")
		calendar = fs.Bool("calendar", false, "a series of the catalogue's -calendar (zones whose clocks change, Golden Week)")
		zoned    = fs.Bool("zoned", false, "with -calendar: give the model the series' zone and holidays (evalcatalog -zoned)")
	)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if (*name == "") == (*file == "") {
		return errors.New("give one of -case or -csv")
	}
	if *every < 1 {
		return fmt.Errorf("-every %d: at least 1", *every)
	}
	cfg, err := backtest.LoadConfig(*settings)
	if err != nil {
		return err
	}
	spec, err := anomaly.Compile(cfg)
	if err != nil {
		return err
	}
	var (
		ts     []time.Time
		vs     []float64
		anchor = -1
		warm   = -1
	)
	if *name != "" {
		c, err := parseCase(*name)
		if err != nil {
			return err
		}
		o := catalog.DefaultOptions()
		o.Seed, o.Calendar = *seed, *calendar
		s, err := catalog.Generate(o, c)
		if err != nil {
			return err
		}
		if *zoned && s.Zone != "" {
			zc, err := catalog.ZonedConfig(cfg, s.Zone, s.Holidays)
			if err != nil {
				return err
			}
			if spec, err = anomaly.Compile(zc); err != nil {
				return err
			}
			fmt.Fprintf(out, "# the model in %s, holidays %v\n", s.Zone, s.Holidays)
		}
		fmt.Fprintf(out, "# %s seed %d: %s; onset step %d of %d\n", c, *seed, s.Params, s.Onset, len(s.Values))
		for i, v := range s.Values {
			ts = append(ts, s.Start.Add(time.Duration(i)*s.Step))
			vs = append(vs, v)
		}
		anchor, warm = s.Onset, int(o.Warmup/s.Step)
	} else {
		if ts, vs, err = readCSV(*file, spec.Config().Location); err != nil {
			return err
		}
		fmt.Fprintf(out, "# %s: %d samples\n", *file, len(vs))
		warm = 0
	}
	if anchor < 0 {
		anchor = len(vs) - 1
	}
	if *at >= 0 {
		anchor = *at
	}
	m := spec.New()
	step := 0
	show := func(t *anomaly.Trace) bool {
		if *fa {
			return step >= warm && t.X >= *minX
		}
		rel := step - anchor
		return rel >= *from && rel <= *to && (rel%*every == 0 || t.X >= *minX)
	}
	fmt.Fprintln(out, "step\trel\ttime\tvalue\tspike\tdrift\tspread\tstuck\tzeros\tnoise\tslow\tjump\tbeyond\tsteps\tsum\tX\tscore\tcand\tlevel\tslowlevel\tslowσ\tslowrms\tnoiseCUSUM\tscale\tunabsorbed\tshifts")
	anomaly.TraceHook = func(mm *anomaly.Model, t *anomaly.Trace) {
		if mm != m || !show(t) {
			return
		}
		fmt.Fprintf(out, "%d\t%d\t%s\t%.6g\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t%.3f\t%d\t%.6g\t%.6g\t%.2f\t%.3f\t%.2f\t%.4g\t%.4g\t%d\n",
			step, step-anchor, time.Unix(0, t.Time).UTC().Format("2006-01-02T15:04(Mon)"), t.Value, t.Spike, t.Drift, t.Spread, t.Stuck, t.Zeros,
			t.Noise, t.SlowDrift, t.Jump, t.Beyond, t.Steps, t.Sum, t.X, t.X/(t.X+2.7), t.Candidate, t.Level, t.SlowLevel,
			t.SlowDriftSigmas, math.Sqrt(t.SlowDriftMeanSquare), t.NoiseCUSUM, t.Scale, t.Unabsorbed, t.Shifts)
	}
	defer func() { anomaly.TraceHook = nil }()
	for i := range vs {
		step = i
		if _, err := m.Update(ts[i], vs[i]); err != nil {
			fmt.Fprintf(out, "%d\t%v\n", i, err)
		}
	}
	return nil
}

// parseCase reads kind/failure/index.
func parseCase(s string) (catalog.Case, error) {
	p := strings.Split(s, "/")
	if len(p) != 3 {
		return catalog.Case{}, fmt.Errorf("-case %q: want kind/failure/index", s)
	}
	i, err := strconv.Atoi(p[2])
	if err != nil || i < 0 {
		return catalog.Case{}, fmt.Errorf("-case %q: index %q is not a count", s, p[2])
	}
	k, err := catalog.ParseKind(p[0])
	if err != nil {
		return catalog.Case{}, fmt.Errorf("-case %q: %w", s, err)
	}
	f, err := catalog.ParseFailure(p[1])
	if err != nil {
		return catalog.Case{}, fmt.Errorf("-case %q: %w", s, err)
	}
	return catalog.Case{Kind: k, Failure: f, Index: i}, nil
}

// readCSV reads a timestamp,value file, its times without a zone in loc (as the backtest does).
func readCSV(path string, loc *time.Location) ([]time.Time, []float64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	rd, err := backtest.NewReader(f, path)
	if err != nil {
		return nil, nil, err
	}
	rd.Location = loc
	var (
		ts []time.Time
		vs []float64
	)
	for {
		r, err := rd.Next()
		if errors.Is(err, io.EOF) {
			return ts, vs, nil
		}
		if err != nil {
			return nil, nil, err
		}
		ts, vs = append(ts, r.Time), append(vs, r.Value)
	}
}
