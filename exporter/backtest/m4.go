package backtest

import (
	"bufio"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/kizashi-dev/kizashi/anomaly"
)

// SeriesEpoch returns the synthetic time of every M4 series' first sample: Monday
// 2017-01-02 00:00 UTC. M4 series carry no timestamps; a Monday midnight start lines their
// samples up with the engine's daily and weekly profiles as well as any fixed start can.
func SeriesEpoch() time.Time { return time.Date(2017, time.January, 2, 0, 0, 0, 0, time.UTC) }

// Series is one M4 series: its id and values.
type Series struct {
	ID     string
	Values []float64
}

// ReadM4 reads the M4 wide CSV format: an optional header row ("V1","V2",...), then one
// series per row, id first, values after, trailing empty fields ignored. name is used in
// error messages, which give the line.
func ReadM4(r io.Reader, name string) ([]Series, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	var out []Series
	seen := map[string]int{}
	for first := true; ; first = false {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return nil, &LineError{File: name, Line: pe.Line, Err: pe.Err}
			}
			return nil, &LineError{File: name, Err: fmt.Errorf("read: %w", err)}
		}
		line, _ := cr.FieldPos(0)
		id := strings.TrimSpace(rec[0])
		if first && (id == "V1" || strings.EqualFold(id, "id")) {
			continue // header: "V1","V2",... (M4) or id,F1,... (our forecasts)
		}
		if id == "" {
			return nil, &LineError{File: name, Line: line, Err: errors.New("empty series id")}
		}
		if prev, ok := seen[id]; ok {
			return nil, &LineError{File: name, Line: line, Err: fmt.Errorf("series %s already on line %d", id, prev)}
		}
		seen[id] = line
		fields := rec[1:]
		for len(fields) > 0 && strings.TrimSpace(fields[len(fields)-1]) == "" {
			fields = fields[:len(fields)-1]
		}
		if len(fields) == 0 {
			return nil, &LineError{File: name, Line: line, Err: fmt.Errorf("series %s has no values", id)}
		}
		s := Series{ID: id, Values: make([]float64, len(fields))}
		for i, f := range fields {
			v, err := ParseValue(strings.TrimSpace(f))
			if err != nil {
				return nil, &LineError{File: name, Line: line, Err: fmt.Errorf("series %s value %d: %w", id, i+1, err)}
			}
			s.Values[i] = v
		}
		out = append(out, s)
	}
	if len(out) == 0 {
		return nil, &LineError{File: name, Err: errors.New("no series")}
	}
	return out, nil
}

// WriteM4 writes forecasts as `id,F1..Fh` with a header line; every row has horizon values
// written with full precision (shortest round-trip form).
func WriteM4(w io.Writer, horizon int, fcs []Series) error {
	bw := bufio.NewWriter(w)
	b := []byte("id")
	for k := 1; k <= horizon; k++ {
		b = append(b, ",F"...)
		b = strconv.AppendInt(b, int64(k), 10)
	}
	b = append(b, '\n')
	for _, f := range fcs {
		if len(f.Values) != horizon {
			return fmt.Errorf("series %s: %d forecasts, want %d", f.ID, len(f.Values), horizon)
		}
		b = appendField(b, f.ID)
		for _, v := range f.Values {
			b = append(b, ',')
			b = strconv.AppendFloat(b, v, 'g', -1, 64)
		}
		b = append(b, '\n')
		if _, err := bw.Write(b); err != nil {
			return fmt.Errorf("write forecasts: %w", err)
		}
		b = b[:0]
	}
	if _, err := bw.Write(b); err != nil {
		return fmt.Errorf("write forecasts: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write forecasts: %w", err)
	}
	return nil
}

// ForecastOptions configure a Forecast run.
type ForecastOptions struct {
	// Input is an M4 wide CSV file (e.g. Hourly-train.csv).
	Input string
	// Output is the forecasts file (id,F1..F<Horizon>).
	Output string
	// Horizon is the number of steps forecast per series.
	Horizon int
	// Step is the synthetic interval between samples (and forecasts); the first sample of every
	// series is at SeriesEpoch.
	Step time.Duration
	// Config is the model configuration, the same for every series (Step defaults to Step).
	Config anomaly.Config
	// Workers is the number of series modelled at once; 0 means GOMAXPROCS.
	Workers int
	// Logger receives a summary; nil discards it.
	Logger *slog.Logger
}

// Forecast reads every series of opts.Input, replays it through a fresh model with samples
// Step apart from SeriesEpoch, and writes Forecast(k*Step) for k = 1..Horizon per series.
// A forecast the model cannot give (not finite) falls back to the series' last value.
func Forecast(ctx context.Context, opts ForecastOptions) (err error) {
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	start := time.Now()
	switch {
	case opts.Input == "" || opts.Output == "":
		return errors.New("input and output are both required")
	case opts.Horizon <= 0:
		return fmt.Errorf("horizon %d: must be positive", opts.Horizon)
	case opts.Step <= 0:
		return fmt.Errorf("step %s: must be positive", opts.Step)
	}
	cfg := opts.Config
	if cfg.Step == 0 {
		cfg.Step = opts.Step
	}
	spec, err := anomaly.Compile(cfg)
	if err != nil {
		return fmt.Errorf("model config: %w", err)
	}
	in, err := os.Open(opts.Input)
	if err != nil {
		return fmt.Errorf("open input: %w", err)
	}
	series, err := ReadM4(bufio.NewReaderSize(in, 1<<20), opts.Input)
	if cerr := in.Close(); cerr != nil && err == nil {
		err = fmt.Errorf("close input: %w", cerr)
	}
	if err != nil {
		return err
	}

	fcs := make([]Series, len(series))
	forEach(ctx, len(series), opts.Workers, func(i int) {
		fcs[i] = forecastSeries(spec, series[i], opts.Horizon, opts.Step)
	})
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("forecast interrupted: %w", err)
	}

	err = writeFileAtomic(opts.Output, func(w io.Writer) error {
		if err := WriteM4(w, opts.Horizon, fcs); err != nil {
			return fmt.Errorf("%s: %w", opts.Output, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	logger.Info(fmt.Sprintf("%d series, %d forecasts each", len(series), opts.Horizon),
		"output", opts.Output, "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// forecastSeries replays one series through a fresh model and forecasts horizon steps.
func forecastSeries(spec *anomaly.Spec, s Series, horizon int, step time.Duration) Series {
	m := spec.New()
	epoch := SeriesEpoch()
	for i, v := range s.Values {
		// Values were checked finite and timestamps increase, so Update cannot fail.
		_, _ = m.Update(epoch.Add(time.Duration(i)*step), v)
	}
	last := s.Values[len(s.Values)-1]
	out := Series{ID: s.ID, Values: make([]float64, horizon)}
	for k := 1; k <= horizon; k++ {
		v := m.Forecast(time.Duration(k) * step).Value
		if math.IsNaN(v) || math.IsInf(v, 0) {
			v = last
		}
		out.Values[k-1] = v
	}
	return out
}

// writeFileAtomic writes path through a temporary file renamed into place on success; the
// directories are created as needed. Errors of write are returned as they are.
func writeFileAtomic(path string, write func(io.Writer) error) (err error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create output directory: %w", err)
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("create output: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tmp.Close() // the error that matters is err; the file is removed
			_ = os.Remove(tmp.Name())
		}
	}()
	if err := write(tmp); err != nil {
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		return fmt.Errorf("chmod output %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("close output %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("rename output into place: %w", err)
	}
	return nil
}
