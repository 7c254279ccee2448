// Package backtest replays recorded series through the anomaly engine, as kizashi-exporter's
// `backtest` and `forecast` commands do: CSV files of `timestamp,value` in, the engine's
// verdict on every sample out (Run), and M4-format series in, forecasts out (Forecast).
//
// It is the whole logic of those commands (the main only maps flags onto Options), so it can
// be tested and embedded without a subprocess. Nothing here exits the process.
package backtest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kizashi-dev/kizashi/anomaly"
)

// Options configure a backtest Run.
type Options struct {
	// Input is a CSV file, or a directory whose every *.csv (recursively) is replayed.
	Input string
	// Output is the file (Input a file; into an existing directory: the same base name) or
	// directory tree (Input a directory; the same relative paths, directories created as
	// needed) the results are written to.
	Output string
	// Config is the model configuration, the same for every file; each file gets a fresh model.
	Config anomaly.Config
	// EmitForecasts adds a forecast_<h> column per configured horizon: the forecast made at
	// the latest sample at or before t-h for horizon h (on a regular series, the forecast of
	// this row's value made h earlier). Empty until such a forecast exists.
	EmitForecasts bool
	// Workers is the number of files processed at once; 0 means GOMAXPROCS.
	Workers int
	// Logger receives progress and per-file errors; nil discards them.
	Logger *slog.Logger
	// Progress, when not nil, receives a single updating status line (for a terminal);
	// otherwise progress is logged every ProgressEvery at info level.
	Progress io.Writer
	// ProgressEvery is the interval of progress reports; 0 means 100ms on a terminal and
	// 10s in the log.
	ProgressEvery time.Duration
}

// Summary is the outcome of a Run.
type Summary struct {
	Files  int           // input files found
	Rows   int64         // samples written (in files that succeeded)
	Failed []FileError   // files that failed, in path order
	Took   time.Duration // wall time
}

// FileError is the failure of one input file.
type FileError struct {
	Path string // the input file
	Err  error
}

func (e FileError) Error() string { return e.Err.Error() }

func (s Summary) String() string {
	return fmt.Sprintf("%d files, %d rows, %d failed", s.Files, s.Rows, len(s.Failed))
}

// FailedError is returned by Run when some files failed; the others completed.
type FailedError struct {
	Failed []FileError
}

func (e *FailedError) Error() string {
	paths := make([]string, len(e.Failed))
	for i, f := range e.Failed {
		paths[i] = f.Path
	}
	return fmt.Sprintf("%d file(s) failed: %s", len(e.Failed), strings.Join(paths, ", "))
}

// Run replays every input file through a fresh model and writes one output row per input
// row: `timestamp,value,baseline,lower,upper,anomaly_score,deviation,reason` (+ forecast_<h>;
// reason is empty below a score of 0.5, see anomaly.Reason). Timestamps without a zone are
// read in the configuration's Location (UTC without one), and written back as they were read.
//
// A file that cannot be read or parsed (no header, a bad timestamp or value, a non-finite
// value) gets no output and is reported with its path and line; the other files still
// complete, and Run then returns a *FailedError with the Summary. A sample whose timestamp is
// not after the previous one is kept: its row carries the model's expectation for that time,
// a zero score and an empty deviation.
func Run(ctx context.Context, opts Options) (Summary, error) {
	start := time.Now()
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	spec, err := anomaly.Compile(opts.Config)
	if err != nil {
		return Summary{}, fmt.Errorf("model config: %w", err)
	}
	if opts.Input == "" || opts.Output == "" {
		return Summary{}, errors.New("input and output are both required")
	}
	jobs, err := listJobs(opts.Input, opts.Output)
	if err != nil {
		return Summary{}, err
	}
	var prog progress
	prog.total = len(jobs)
	stopProgress := prog.report(ctx, opts, logger, start)

	errs := make([]error, len(jobs))
	forEach(ctx, len(jobs), opts.Workers, func(i int) {
		n, err := replayFile(ctx, spec, opts.EmitForecasts, jobs[i], &prog.rows)
		if err != nil {
			errs[i] = err
			prog.rows.Add(-n)
			logger.Error("backtest file", "file", jobs[i].in, "err", err)
		}
		prog.files.Add(1)
	})
	stopProgress()

	sum := Summary{Files: len(jobs), Rows: prog.rows.Load(), Took: time.Since(start)}
	if err := ctx.Err(); err != nil {
		return sum, fmt.Errorf("backtest interrupted: %w", err)
	}
	for i, err := range errs {
		if err != nil {
			sum.Failed = append(sum.Failed, FileError{Path: jobs[i].in, Err: err})
		}
	}
	if len(sum.Failed) > 0 {
		return sum, &FailedError{Failed: sum.Failed}
	}
	return sum, nil
}

// forEach calls fn(0..n-1) on up to workers goroutines (0: GOMAXPROCS). It stops handing out
// indices once ctx is done, and returns when every call has returned.
func forEach(ctx context.Context, n, workers int, fn func(i int)) {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(workers, n) {
		wg.Go(func() {
			for i := range next {
				fn(i)
			}
		})
	}
feed:
	for i := range n {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
}

// job is one input file and where its results go.
type job struct{ in, out string }

// listJobs maps the input (a file or a directory tree) onto output paths.
func listJobs(input, output string) ([]job, error) {
	fi, err := os.Stat(input)
	if err != nil {
		return nil, fmt.Errorf("input: %w", err)
	}
	if !fi.IsDir() {
		if oi, err := os.Stat(output); err == nil && oi.IsDir() {
			output = filepath.Join(output, filepath.Base(input)) // into an existing directory
		}
		return []job{{in: input, out: output}}, nil
	}
	var jobs []job
	err = filepath.WalkDir(input, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || !strings.EqualFold(filepath.Ext(path), ".csv") {
			return nil
		}
		rel, err := filepath.Rel(input, path)
		if err != nil {
			return fmt.Errorf("relative path of %s: %w", path, err)
		}
		jobs = append(jobs, job{in: path, out: filepath.Join(output, rel)})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list input files: %w", err)
	}
	if len(jobs) == 0 {
		return nil, fmt.Errorf("input %s: no *.csv files", input)
	}
	// Largest first would balance better, but path order keeps logs and tests predictable.
	slices.SortFunc(jobs, func(a, b job) int { return strings.Compare(a.in, b.in) })
	return jobs, nil
}

// replayFile runs one file through a fresh model. Its output is written to a temporary file
// next to the destination and renamed into place only when the whole file succeeded. It
// returns the rows it counted into rows (to be taken back on failure).
func replayFile(ctx context.Context, spec *anomaly.Spec, emitForecasts bool, j job, rows *atomic.Int64) (n int64, err error) {
	in, err := os.Open(j.in)
	if err != nil {
		return 0, fmt.Errorf("open input: %w", err)
	}
	defer func() {
		if cerr := in.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("close input: %w", cerr)
		}
	}()
	rd, err := NewReader(bufio.NewReaderSize(in, 64<<10), j.in)
	if err != nil {
		return 0, err
	}
	rd.Location = spec.Config().Location // local times without a zone are the timezone's
	err = writeFileAtomic(j.out, func(out io.Writer) error {
		w := bufio.NewWriterSize(out, 64<<10)
		if n, err = replay(ctx, spec, emitForecasts, rd, w, rows); err != nil {
			return err
		}
		if err := w.Flush(); err != nil {
			return fmt.Errorf("write output %s: %w", j.out, err)
		}
		return nil
	})
	return n, err
}

// OutputHeader returns the header of backtest output for the given forecast horizons
// (none when forecasts are not emitted).
func OutputHeader(horizons []time.Duration) []string {
	h := []string{"timestamp", "value", "baseline", "lower", "upper", "anomaly_score", "deviation", "reason"}
	for _, d := range horizons {
		h = append(h, "forecast_"+formatDuration(d))
	}
	return h
}

// formatDuration writes a duration as in the flags: 1h, 6h, 30m, 1h30m, 1d.
func formatDuration(d time.Duration) string {
	switch {
	case d%(24*time.Hour) == 0:
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	case d%time.Hour == 0:
		return fmt.Sprintf("%dh", d/time.Hour)
	case d%time.Minute == 0 && d < time.Hour:
		return fmt.Sprintf("%dm", d/time.Minute)
	}
	return strings.ReplaceAll(d.String(), "m0s", "m")
}

// pending is a forecast waiting for its target time.
type pending struct {
	target int64 // unix ns
	value  float64
}

// replay streams rows from rd through a fresh model into w and returns the rows written.
func replay(ctx context.Context, spec *anomaly.Spec, emitForecasts bool, rd *Reader, w io.Writer, rows *atomic.Int64) (int64, error) {
	m := spec.New()
	var horizons []time.Duration
	if emitForecasts {
		horizons = spec.Horizons()
	}
	queues := make([][]pending, len(horizons))
	current := make([]float64, len(horizons))
	for i := range current {
		current[i] = math.NaN()
	}

	b := []byte(strings.Join(OutputHeader(horizons), ",") + "\n")
	var n int64
	for {
		row, err := rd.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return n, err
		}
		if n%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return n, err
			}
		}
		res, err := m.Update(row.Time, row.Value)
		switch {
		case errors.Is(err, anomaly.ErrOutOfOrder):
			res.Deviation = math.NaN() // written as an empty field
		case err != nil:
			return n, &LineError{File: rd.name, Line: row.Line, Err: fmt.Errorf("update model: %w", err)}
		}
		b = appendField(b, row.Raw)
		for _, v := range [...]float64{row.Value, res.Baseline, res.Lower, res.Upper, res.Score, res.Deviation} {
			b = append(b, ',')
			b = appendFloat(b, v)
		}
		b = append(b, ',')
		if res.Reason != anomaly.ReasonNone { // empty below anomaly.ReasonMinScore
			b = append(b, res.Reason.String()...)
		}
		if len(horizons) > 0 {
			ts := row.Time.UnixNano()
			for i, q := range queues {
				// The latest forecast whose target is at or before this row's time.
				k := 0
				for k < len(q) && q[k].target <= ts {
					current[i] = q[k].value
					k++
				}
				queues[i] = q[k:]
				b = append(b, ',')
				b = appendFloat(b, current[i]) // NaN (empty) until a forecast is due
			}
			if err == nil {
				for i, h := range horizons {
					f := m.Forecast(h)
					queues[i] = append(queues[i], pending{target: ts + int64(h), value: f.Value})
				}
			}
		}
		b = append(b, '\n')
		n++
		rows.Add(1)
		if len(b) >= 32<<10 {
			if _, err := w.Write(b); err != nil {
				return n, fmt.Errorf("write output: %w", err)
			}
			b = b[:0]
		}
	}
	if _, err := w.Write(b); err != nil {
		return n, fmt.Errorf("write output: %w", err)
	}
	return n, nil
}
