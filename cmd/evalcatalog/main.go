// Command evalcatalog scores the anomaly engine on Kizashi's failure catalogue: synthetic
// series of the kinds operators watch, each with an everyday failure injected (or none), run
// through the engine as the exporter runs it and judged by the shipped alert rule. See package
// internal/catalog for what the series and failures are.
//
//	go run ./cmd/evalcatalog [-json out.json] [-compare old.json] [-v] ...
//
// It prints markdown tables (detection per kind x failure, false alarms and score rarity per
// kind, reasons per failure) ready to paste into BENCHMARKS.md.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/kizashi-dev/kizashi/anomaly"
	"github.com/kizashi-dev/kizashi/exporter/backtest"
	"github.com/kizashi-dev/kizashi/internal/catalog"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("evalcatalog", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o := catalog.DefaultOptions()
	var (
		kinds    = fs.String("kinds", "", "comma-separated kinds to run (default all: "+join(catalog.Kinds())+")")
		failures = fs.String("failures", "", "comma-separated failures to run, none = the controls (default all: none,"+join(catalog.Failures())+")")
		settings = fs.String("config", "", "engine settings (YAML, as kizashi-exporter backtest --config); default: the engine's defaults")
		jsonOut  = fs.String("json", "", "write the machine-readable summary here")
		compare  = fs.String("compare", "", "print the cells that changed from this earlier -json summary")
		verbose  = fs.Bool("v", false, "print one line per series (onset, first alert, max score, reasons, parameters)")
		workers  = fs.Int("workers", 0, "series run in parallel (default GOMAXPROCS)")
		zoned    = fs.Bool("zoned", false, "give each series' model the series' time zone and holidays (with -calendar: as a user configures a query per customer zone)")
	)
	fs.BoolVar(&o.Calendar, "calendar", false, "series in zones whose calendar moves within their weeks: clock changes (Berlin, New York, Sydney) and Golden Week (Tokyo)")
	fs.Uint64Var(&o.Seed, "seed", o.Seed, "seed of the catalogue")
	fs.IntVar(&o.Days, "days", o.Days, "days of history of a control series (failures start in the last week)")
	fs.IntVar(&o.PerCell, "n", o.PerCell, "series per kind x failure cell")
	fs.IntVar(&o.Controls, "controls", o.Controls, "failure-free series per kind")
	fs.DurationVar(&o.Warmup, "warmup", o.Warmup, "history before false alarms and rarity are counted")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "evalcatalog: unexpected arguments %q\n", fs.Args())
		return 2
	}
	if err := evaluate(ctx, o, *kinds, *failures, *settings, *jsonOut, *compare, *verbose, *zoned, *workers, stdout, stderr); err != nil {
		fmt.Fprintf(stderr, "evalcatalog: %v\n", err)
		return 1
	}
	return 0
}

func evaluate(ctx context.Context, o catalog.Options, kinds, failures, settings, jsonOut, compare string, verbose, zoned bool,
	workers int, stdout, stderr io.Writer) error {
	r := catalog.Run{Options: o, Rule: catalog.ShippedRule, Workers: workers}
	for _, s := range fields(kinds) {
		k, err := catalog.ParseKind(s)
		if err != nil {
			return err
		}
		r.Kinds = append(r.Kinds, k)
	}
	for _, s := range fields(failures) {
		f, err := catalog.ParseFailure(s)
		if err != nil {
			return err
		}
		r.Failures = append(r.Failures, f)
	}
	cfg, err := backtest.LoadConfig(settings)
	if err != nil {
		return err
	}
	engine := "defaults"
	if settings != "" {
		engine = "settings " + settings
	}
	if o.Calendar {
		engine += ", calendar"
	}
	if zoned {
		engine += ", zoned"
		if r.New, err = catalog.ZonedModels(cfg); err != nil {
			return err
		}
	} else {
		spec, err := anomaly.Compile(cfg)
		if err != nil {
			return err
		}
		r.New = catalog.Models(spec)
	}
	var old *catalog.Report
	if compare != "" { // read it first: a bad file should not cost a run
		if old, err = readReport(compare); err != nil {
			return err
		}
	}
	begin := time.Now()
	outs, err := r.Do(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "evalcatalog: %d series in %s\n", len(outs), time.Since(begin).Round(10*time.Millisecond))
	rep := catalog.Summarise(r, engine, outs)
	if verbose {
		if err := catalog.Details(stdout, outs); err != nil {
			return err
		}
		fmt.Fprintln(stdout)
	}
	if err := rep.Markdown(stdout); err != nil {
		return err
	}
	if jsonOut != "" {
		if err := writeReport(jsonOut, rep); err != nil {
			return err
		}
	}
	if old != nil {
		fmt.Fprintf(stdout, "\nChanges from %s:\n\n", compare)
		return catalog.Compare(stdout, old, rep)
	}
	return nil
}

func readReport(path string) (*catalog.Report, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read earlier summary: %w", err)
	}
	var rep catalog.Report
	if err := json.Unmarshal(b, &rep); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if rep.Version == 0 {
		return nil, fmt.Errorf("%s: not a catalogue summary (no catalogue_version)", path)
	}
	return &rep, nil
}

func writeReport(path string, rep *catalog.Report) error {
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return fmt.Errorf("encode summary: %w", err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write summary: %w", err)
	}
	return nil
}

func fields(s string) []string {
	var out []string
	for f := range strings.SplitSeq(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func join[T ~string](xs []T) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = string(x)
	}
	return strings.Join(s, ",")
}
