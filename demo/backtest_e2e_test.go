//go:build e2e

package demo

import (
	"context"
	"iter"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kizashi-dev/kizashi/exporter/backtest"
	"github.com/kizashi-dev/kizashi/exporter/queryconfig"
	"github.com/kizashi-dev/kizashi/exporter/source"
	"github.com/kizashi-dev/kizashi/internal/testenv"
)

// TestBacktestNamesDemoFault: the demo's two weeks of history, with the demo's fault (acme's
// checkout sessions tripled) injected for an hour two days before the end, are loaded into a
// real Prometheus; the Prometheus backtest of the demo's exporter configuration reports an
// alert on acme's checkout starting inside the fault's hour, with its reason, none on the
// other sessions series, and breach ETAs on acme's disk (which fills up before the end).
//
// The history is at a one-minute resolution (the exporter's default step) instead of the
// live demo's 5s, the same shape at a twelfth of the samples.
func TestBacktestNamesDemoFault(t *testing.T) {
	const step = time.Minute
	// A fixed end, so that the weekdays (the workload is weekly) and with them the verdicts
	// are the same on every run: Saturday 2026-12-05, the fault on Thursday 13:00.
	end := time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC)
	start := end.Add(-History)
	// acme's volume (95 GB at the anchor, 2 GB a day, 100 GB capacity) fills up about a day before the end.
	w := NewWorkload(end.Add(-3*24*time.Hour), step)
	faultStart := end.Add(-2 * 24 * time.Hour).Truncate(24 * time.Hour).Add(13 * time.Hour) // 13:00 UTC, busy
	w.InjectFault(faultStart, time.Hour)

	prom := testenv.StartPrometheus(t, testenv.PromOptions{HistorySamples: workloadSamples(w, start, end)})
	cfg, err := queryconfig.Parse([]byte(exporterConfig(prom.URL(), step, History)))
	require.NoError(t, err)
	src, err := source.New(cfg.Source)
	require.NoError(t, err)
	var progress strings.Builder
	rep, err := backtest.RunPrometheus(context.Background(), backtest.PromOptions{Config: cfg, Source: src, Range: History,
		End: end, Progress: &progress})
	require.NoError(t, err)
	require.Contains(t, progress.String(), "query sessions  100.0%  series 4")
	require.Contains(t, progress.String(), "query storage  100.0%  series 2")

	require.Len(t, rep.Queries, 2)
	sessions, storage := rep.Queries[0], rep.Queries[1]
	require.Len(t, sessions.Series, 4)
	var named backtest.Alert
	for _, q := range rep.Queries {
		for _, s := range q.Series {
			for _, a := range s.Alerts {
				t.Logf("%s %s: alert %s (%s) for %s, peak %.2f, %s", q.Name, s.Labels, a.Start, a.Start.Weekday(), a.Duration, a.PeakScore, a.Reason)
			}
		}
	}
	faultEnd := faultStart.Add(time.Hour)
	for _, s := range sessions.Series {
		require.InDelta(t, 14, s.Days, 0.01)
		if s.Labels["tenant"] == "acme" && s.Labels["service"] == "checkout" {
			// The fault's start (and its end, a level shift back) are the series' alerts.
			require.NotEmpty(t, s.Alerts)
			for _, a := range s.Alerts {
				require.False(t, a.Start.Before(faultStart), "alert %s before the fault", a.Start)
				require.False(t, a.Start.After(faultEnd.Add(10*time.Minute)), "alert %s after the fault", a.Start)
				require.NotEmpty(t, a.Reason)
				require.NotEqual(t, "none", a.Reason)
				require.Greater(t, a.PeakScore, 0.65)
			}
			named = s.Alerts[0]
			require.True(t, named.Start.Before(faultEnd), "the first alert %s is not in the fault's hour", named.Start)
			continue
		}
		// Fault-free series: no alert once the models have seen two weekends (the week of the
		// fault), and at most one in the two weeks (the second weekend of a new series is
		// still partly news: on globex's checkout, a "quiet" alert at the Saturday-to-Sunday
		// night is the engine's one false alert on the demo's history).
		require.LessOrEqual(t, len(s.Alerts), 1, "the fault-free series %s alerts", s.Labels)
		for _, a := range s.Alerts {
			require.True(t, a.Start.Before(faultStart.Add(-72*time.Hour)), "the fault-free series %s alerts at %s", s.Labels, a.Start)
		}
	}

	var acmeDisk *backtest.SeriesReport
	for i, s := range storage.Series {
		if s.Labels["tenant"] == "acme" {
			acmeDisk = &storage.Series[i]
		}
	}
	require.NotNil(t, acmeDisk)
	require.NotEmpty(t, acmeDisk.ETAs, "no breach ETA on acme's disk")
	// When acme's disk really reached its capacity (the workload's own values).
	var (
		reached time.Time
		disk    *Series
	)
	for _, s := range w.Series {
		if s.Metric == DiskMetric && s.Labels["tenant"] == "acme" {
			disk = s
			for ts := start; ts.Before(end) && reached.IsZero(); ts = ts.Add(step) {
				if w.Value(s, ts) >= DiskCapacity {
					reached = ts
				}
			}
		}
	}
	require.False(t, reached.IsZero())
	crossed := 0
	for _, e := range acmeDisk.ETAs {
		require.Equal(t, DiskCapacity, e.Threshold)
		if e.Outcome == backtest.OutcomeCrossed {
			crossed++
			// The daily writes take the volume over its capacity and back (until the cleanup):
			// a warning issued after the first crossing sees a later one.
			require.False(t, e.Crossed.Before(reached))
			require.GreaterOrEqual(t, w.Value(disk, *e.Crossed), DiskCapacity)
		}
	}
	require.Positive(t, crossed, "no breach ETA of acme's disk saw the crossing: %+v", acmeDisk.ETAs)
	t.Logf("breach ETAs of the storage query: %v", storage.ETAs)

	dir := t.TempDir()
	require.NoError(t, rep.Write(dir))
	page, err := os.ReadFile(filepath.Join(dir, "index.html"))
	require.NoError(t, err)
	require.Contains(t, string(page), "<td>"+named.Start.UTC().Format("2006-01-02 15:04 UTC")+"</td>")
	require.Contains(t, string(page), "<td>"+named.Reason+"</td>")
	alerts, err := os.ReadFile(filepath.Join(dir, "alerts.csv"))
	require.NoError(t, err)
	require.Contains(t, string(alerts), named.Start.Format(time.RFC3339))
}

// workloadSamples is the workload's history from start to end (exclusive), fault included.
func workloadSamples(w *Workload, start, end time.Time) iter.Seq[testenv.Sample] {
	return func(yield func(testenv.Sample) bool) {
		for _, s := range w.Series {
			labels := map[string]string{"job": w.Job, "instance": w.Instance}
			for k, v := range s.Labels {
				labels[k] = v
			}
			for ts := start; ts.Before(end); ts = ts.Add(w.Step) {
				if !yield(testenv.Sample{Metric: s.Metric, Labels: labels, Time: ts, Value: w.ValueNow(s, ts)}) {
					return
				}
			}
		}
	}
}
