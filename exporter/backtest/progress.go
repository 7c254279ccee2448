package backtest

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// progress counts finished files and written rows, read by the reporter while workers run.
type progress struct {
	total int
	files atomic.Int64
	rows  atomic.Int64
}

// report starts reporting progress until the returned stop function is called: a single
// updating line on opts.Progress (a terminal), else a log line every interval.
func (p *progress) report(ctx context.Context, opts Options, logger *slog.Logger, start time.Time) (stop func()) {
	every := opts.ProgressEvery
	if every <= 0 {
		every = 10 * time.Second
		if opts.Progress != nil {
			every = 100 * time.Millisecond
		}
	}
	line := func() string {
		return fmt.Sprintf("files %d/%d  rows %d  %.1fs", p.files.Load(), p.total, p.rows.Load(), time.Since(start).Seconds())
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-done:
				if opts.Progress != nil {
					_, _ = fmt.Fprintf(opts.Progress, "\r%s\x1b[K\n", line()) // best effort: a status line
				}
				return
			case <-ctx.Done():
				return
			case <-tick.C:
				if opts.Progress != nil {
					_, _ = fmt.Fprintf(opts.Progress, "\r%s\x1b[K", line())
				} else {
					logger.Info("backtest progress", "files", p.files.Load(), "of", p.total, "rows", p.rows.Load(),
						"elapsed", time.Since(start).Round(time.Millisecond))
				}
			}
		}
	})
	return func() {
		close(done)
		wg.Wait()
	}
}
