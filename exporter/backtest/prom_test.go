package backtest

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"

	"github.com/kizashi-dev/kizashi/exporter/internal/fakesource"
	"github.com/kizashi-dev/kizashi/exporter/queryconfig"
	"github.com/kizashi-dev/kizashi/exporter/seriesset"
	"github.com/kizashi-dev/kizashi/exporter/source"
)

// daily is a sharply daily series: busy 08:00-20:00, quiet at night, with deterministic noise.
func daily(i int, t time.Time) float64 {
	h := float64(t.Hour()) + float64(t.Minute())/60
	v := 100 + 80*math.Exp(-(h-14)*(h-14)/(2*3*3))
	return v * (1 + 0.02*math.Sin(float64(t.Unix()/60)*1.7+float64(i)))
}

func promConfig(t *testing.T, yml string) *queryconfig.Config {
	t.Helper()
	c, err := queryconfig.Parse([]byte(yml))
	require.NoError(t, err)
	return c
}

const testConfig = `
source: {url: "http://127.0.0.1:1"}
queries:
  - name: sessions
    expr: shop_sessions
    step: 5m
    training_window: 7d
`

var testEnd = time.Date(2026, 3, 12, 0, 0, 0, 0, time.UTC)

// TestPrometheusBacktestNamesFault: a level drop for an hour in one of two sharply daily
// series is reported as an alert starting in the fault's hour, with a reason; the other
// series has no alert.
func TestPrometheusBacktestNamesFault(t *testing.T) {
	faultStart := testEnd.Add(-30 * time.Hour) // 18:00, busy
	faultEnd := faultStart.Add(time.Hour)
	src := fakesource.New(fakesource.Many("shop_sessions", 2), func(i int, ts time.Time) float64 {
		v := daily(i, ts)
		if i == 0 && !ts.Before(faultStart) && ts.Before(faultEnd) {
			v *= 0.3
		}
		return v
	})
	rep, err := RunPrometheus(context.Background(), PromOptions{Config: promConfig(t, testConfig), Source: src, Range: 2 * 24 * time.Hour, End: testEnd})
	require.NoError(t, err)
	require.Len(t, rep.Queries, 1)
	q := rep.Queries[0]
	require.Len(t, q.Series, 2)
	require.Equal(t, testEnd.Add(-9*24*time.Hour), q.TrainFrom)
	byHost := map[string]SeriesReport{}
	for _, s := range q.Series {
		byHost[string(s.Labels["instance"])] = s
		require.InDelta(t, 2.0, s.Days, 0.01, "two days of 5m samples in the range")
	}
	faulty, control := byHost["host-0"], byHost["host-1"]
	require.Empty(t, control.Alerts, "the control series alerts")
	require.Equal(t, 1, faulty.AlertCount, "alerts of the faulty series: %+v", faulty.Alerts)
	a := faulty.Alerts[0]
	require.False(t, a.Start.Before(faultStart), "alert %s before the fault", a.Start)
	require.True(t, a.Start.Before(faultEnd), "alert %s after the fault", a.Start)
	require.NotEmpty(t, a.Reason)
	require.NotEqual(t, "none", a.Reason)
	require.Greater(t, a.PeakScore, 0.65)
	require.Equal(t, 5*time.Minute, a.Start.Sub(a.ActiveSince), "for: 2m at a 5m step fires at the second evaluation")
	require.False(t, a.Open)
	require.InDelta(t, 1/faulty.Days, faulty.AlertsPerDay, 1e-9)
	require.Equal(t, 1, q.Alerts)

	dir := t.TempDir()
	require.NoError(t, rep.Write(dir))
	page, err := os.ReadFile(filepath.Join(dir, "index.html"))
	require.NoError(t, err)
	require.Contains(t, string(page), "<svg class=\"chart\"")
	require.Contains(t, string(page), "<td>"+a.Reason+"</td>")
	require.Contains(t, string(page), `instance=&#34;host-0&#34;`)
	require.NotContains(t, string(page), "<script")
	rows := readCSV(t, filepath.Join(dir, "alerts.csv"))
	require.Len(t, rows, 2)
	require.Equal(t, []string{"sessions", faulty.Labels.String(), AlertAnomaly, a.ActiveSince.Format(time.RFC3339), a.Start.Format(time.RFC3339),
		a.End.Format(time.RFC3339), fmt.Sprint(a.Duration.Seconds())}, rows[1][:7])
	require.Equal(t, a.Reason, rows[1][8])
	require.Len(t, readCSV(t, filepath.Join(dir, "series.csv")), 3)
	var back Report
	b, err := os.ReadFile(filepath.Join(dir, "report.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &back))
	require.Equal(t, 1, back.Queries[0].Alerts)
	require.Equal(t, 0.65, back.Rule.Threshold)
	require.Equal(t, 600.0, back.Rule.KeepFiringForSeconds)
	require.Equal(t, AlertVanished, back.VanishedRule.Alert)
	require.Equal(t, 60.0, back.VanishedRule.ForSeconds)
}

// TestPrometheusBacktestVanished: a series missing from answers that have the others is
// KizashiSeriesVanished's from its second missing step (pending) until the staleness timeout
// drops it, kept firing keep_firing_for longer, and never KizashiAnomaly's; steps at which
// the query answered nothing at all (the source may have been down) raise no alert.
func TestPrometheusBacktestVanished(t *testing.T) {
	gone := testEnd.Add(-30 * time.Hour) // series 1 is missing for two hours from here
	back := gone.Add(2 * time.Hour)
	outage := testEnd.Add(-10 * time.Hour) // every series is missing for an hour from here
	src := fakesource.New(fakesource.Many("shop_sessions", 3), daily)
	src.Has = func(i int, ts time.Time) bool {
		if !ts.Before(outage) && ts.Before(outage.Add(time.Hour)) {
			return false
		}
		return i != 1 || ts.Before(gone) || !ts.Before(back)
	}
	rep, err := RunPrometheus(context.Background(), PromOptions{Config: promConfig(t, testConfig), Source: src, Range: 2 * 24 * time.Hour, End: testEnd})
	require.NoError(t, err)
	q := rep.Queries[0]
	require.Len(t, q.Series, 3)
	byHost := map[string]SeriesReport{}
	for _, s := range q.Series {
		byHost[string(s.Labels["instance"])] = s
	}
	for _, h := range []string{"host-0", "host-2"} {
		require.Empty(t, byHost[h].Alerts, "%s never missed a step the others had", h)
	}
	s := byHost["host-1"]
	require.Len(t, s.Alerts, 1, "%+v", s.Alerts)
	a := s.Alerts[0]
	require.Equal(t, AlertVanished, a.Rule)
	require.Equal(t, "vanished", a.Reason)
	require.Greater(t, a.PeakScore, 0.65)
	// Missing from gone: the score passes 0.65 at the second missing step (pending), the
	// alert fires one step later (for: 1m at a 5m step), the series is dropped once missing
	// for more than staleness_timeout (5 steps), and the alert resolves keep_firing_for (10m)
	// after the first evaluation that did not hold.
	step := 5 * time.Minute
	require.Equal(t, gone.Add(step), a.ActiveSince)
	require.Equal(t, gone.Add(2*step), a.Start)
	dropped := gone.Add(5 * step) // last sample at gone-5m; 30m > 25m
	require.Equal(t, dropped.Add(10*time.Minute), a.End)
	require.False(t, a.Open)
	require.Equal(t, 1, q.Alerts)

	dir := t.TempDir()
	require.NoError(t, rep.Write(dir))
	rows := readCSV(t, filepath.Join(dir, "alerts.csv"))
	require.Len(t, rows, 2)
	require.Equal(t, AlertVanished, rows[1][2])
	page, err := os.ReadFile(filepath.Join(dir, "index.html"))
	require.NoError(t, err)
	require.Contains(t, string(page), "<td>"+AlertVanished+"</td>")
}

func readCSV(t *testing.T, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer func() { require.NoError(t, f.Close()) }()
	rows, err := csv.NewReader(f).ReadAll()
	require.NoError(t, err)
	return rows
}

// TestPrometheusBacktestNoLookAhead: the verdicts on the range do not depend on what comes
// after it; a run that ends earlier reports the same alerts up to its end.
func TestPrometheusBacktestNoLookAhead(t *testing.T) {
	faultStart := testEnd.Add(-30 * time.Hour)
	value := func(i int, ts time.Time) float64 {
		v := daily(i, ts)
		if !ts.Before(faultStart) && ts.Before(faultStart.Add(time.Hour)) {
			v *= 0.3
		}
		return v
	}
	cfg := promConfig(t, testConfig)
	long, err := RunPrometheus(context.Background(), PromOptions{Config: cfg, Source: fakesource.New(fakesource.Many("x", 1), value),
		Range: 48 * time.Hour, End: testEnd})
	require.NoError(t, err)
	// The same models (same training start) over a range ending 6h after the fault.
	short, err := RunPrometheus(context.Background(), PromOptions{Config: cfg, Source: fakesource.New(fakesource.Many("x", 1), value),
		Range: 24 * time.Hour, End: testEnd.Add(-24 * time.Hour)})
	require.NoError(t, err)
	la, sa := long.Queries[0].Series[0].Alerts, short.Queries[0].Series[0].Alerts
	require.NotEmpty(t, sa)
	require.Equal(t, la[:len(sa)], sa)
}

// TestPrometheusBacktestBreachETA: a steadily growing series with a threshold gets breach
// ETAs, and those issued well before the crossing are judged against it.
func TestPrometheusBacktestBreachETA(t *testing.T) {
	cfg := promConfig(t, `
source: {url: "http://127.0.0.1:1"}
queries:
  - name: disk
    expr: disk_used
    step: 5m
    training_window: 3d
    trend: "on"
    thresholds: [1000]
    breach_within: 3d
`)
	crossAt := testEnd.Add(-24 * time.Hour)
	start := testEnd.Add(-10 * 24 * time.Hour)
	rate := 900.0 / crossAt.Sub(start).Hours() // from 100 to 1000
	src := fakesource.New(fakesource.Many("disk_used", 1), func(_ int, ts time.Time) float64 {
		return 100 + rate*ts.Sub(start).Hours() + 0.5*math.Sin(float64(ts.Unix()/300))
	})
	rep, err := RunPrometheus(context.Background(), PromOptions{Config: cfg, Source: src, Range: 7 * 24 * time.Hour, End: testEnd})
	require.NoError(t, err)
	s := rep.Queries[0].Series[0]
	require.NotEmpty(t, s.ETAs)
	crossed := 0
	for _, e := range s.ETAs {
		require.Equal(t, 1000.0, e.Threshold)
		require.Less(t, e.Value, 1000.0)
		require.Equal(t, e.Issued.Add(e.ETA), e.Due)
		require.LessOrEqual(t, e.ETA, 72*time.Hour)
		switch e.Outcome {
		case OutcomeCrossed:
			crossed++
			require.NotNil(t, e.Crossed)
			require.False(t, e.Crossed.After(e.Due))
			require.WithinDuration(t, crossAt, *e.Crossed, 10*time.Minute)
		case OutcomeNotCrossed:
			require.Nil(t, e.Crossed)
		default:
			t.Fatalf("outcome %q of a warning issued before the crossing", e.Outcome)
		}
	}
	require.Positive(t, crossed, "no warning saw the crossing coming: %+v", s.ETAs)
	require.Equal(t, len(s.ETAs), rep.Queries[0].ETAs[OutcomeCrossed]+rep.Queries[0].ETAs[OutcomeNotCrossed])
	dir := t.TempDir()
	require.NoError(t, rep.Write(dir))
	require.Len(t, readCSV(t, filepath.Join(dir, "breach_etas.csv")), len(s.ETAs)+1)
}

// tooLarge refuses chunks of more than max samples, as source.Prometheus refuses an answer
// over max_response_samples, and counts the queries.
type tooLarge struct {
	*fakesource.Source
	max     int
	queries atomic.Int64
	biggest atomic.Int64
}

func (s *tooLarge) QueryRange(ctx context.Context, expr string, start, end time.Time, step time.Duration) (model.Matrix, error) {
	s.queries.Add(1)
	m, err := s.Source.QueryRange(ctx, expr, start, end, step)
	n := 0
	for _, ss := range m {
		n += len(ss.Values)
	}
	if n > s.max {
		return nil, fmt.Errorf("query range %q: %w: %d samples", expr, source.ErrTooLarge, n)
	}
	s.biggest.Store(max(s.biggest.Load(), int64(n)))
	return m, err
}

func TestPrometheusBacktestChunks(t *testing.T) {
	cfg := promConfig(t, `
source: {url: "http://127.0.0.1:1", max_samples_per_query: 3000, max_response_samples: 3000}
queries:
  - {name: q, expr: up, step: 1m, training_window: 1d, max_series: 40}
`)
	src := &tooLarge{Source: fakesource.New(fakesource.Many("up", 50), daily), max: 2500}
	rep, err := RunPrometheus(context.Background(), PromOptions{Config: cfg, Source: src, Range: 24 * time.Hour, End: testEnd})
	require.NoError(t, err)
	q := rep.Queries[0]
	require.Len(t, q.Series, 40, "max_series")
	require.Equal(t, 10, q.OverLimit)
	require.LessOrEqual(t, src.biggest.Load(), int64(2500))
	// Every step of the two days, once, for each of the 40 series.
	require.Equal(t, int64(40*(2*24*60+1)), q.Samples)
	for _, s := range q.Series {
		require.Equal(t, 24*60+1, s.Samples)
	}
	require.Greater(t, src.queries.Load(), int64(q.Queries), "some chunks were refused and halved")
	require.Less(t, src.queries.Load()-int64(q.Queries), int64(5), "a refused size is not tried again")
}

func TestPrometheusBacktestErrors(t *testing.T) {
	cfg := promConfig(t, testConfig)
	down := fakesource.New(fakesource.Many("x", 1), daily)
	down.SetDown(true)
	for _, tc := range []struct {
		name string
		o    PromOptions
		want string
	}{
		{"source down", PromOptions{Config: cfg, Source: down, Range: time.Hour, End: testEnd},
			"query sessions, range 2026-03-04T23:00:00Z to 2026-03-05T07:15:00Z: fake source down"},
		{"zero range", PromOptions{Config: cfg, Source: down, Range: 0}, "range 0s: must be positive"},
		{"huge range", PromOptions{Config: cfg, Source: down, Range: 400 * 24 * time.Hour}, "range 400d: at most 366d"},
		{"no config", PromOptions{Source: down, Range: time.Hour}, "no queries configured"},
		{"no source", PromOptions{Config: cfg, Range: time.Hour}, "no source"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := RunPrometheus(context.Background(), tc.o)
			require.EqualError(t, err, tc.want)
		})
	}
	// A context cancelled mid-run stops it.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := RunPrometheus(ctx, PromOptions{Config: cfg, Source: fakesource.New(fakesource.Many("x", 1), daily), Range: time.Hour, End: testEnd})
	require.ErrorIs(t, err, context.Canceled)
}

// TestPrometheusBacktestProgress: a status line per chunk, ended by a newline per query.
func TestPrometheusBacktestProgress(t *testing.T) {
	var out strings.Builder
	_, err := RunPrometheus(context.Background(), PromOptions{Config: promConfig(t, testConfig), Progress: &out,
		Source: fakesource.New(fakesource.Many("x", 1), daily), Range: 24 * time.Hour, End: testEnd})
	require.NoError(t, err)
	require.Contains(t, out.String(), "query sessions  100.0%  series 1  samples 2305")
	require.True(t, strings.HasSuffix(out.String(), "\n"))
}

// BenchmarkPrometheusBacktest replays 100 series of the fake source, a week learned as the
// training window and a week reported, at a one-minute step (2.0 M samples), without and
// with a breach threshold, and reports the reported series-days per second (the training
// week replayed too) and samples per second. The report is not written.
func BenchmarkPrometheusBacktest(b *testing.B) {
	for _, bc := range []struct{ name, extra string }{{"plain", ""}, {"threshold", ", thresholds: [250]"}} {
		b.Run(bc.name, func(b *testing.B) {
			cfg, err := queryconfig.Parse([]byte(`
source: {url: "http://127.0.0.1:1"}
queries:
  - {name: q, expr: up, step: 1m, training_window: 7d` + bc.extra + `}
`))
			require.NoError(b, err)
			src := fakesource.New(fakesource.Many("up", 100), daily)
			var days float64
			var samples int64
			b.ReportAllocs()
			for b.Loop() {
				rep, err := RunPrometheus(context.Background(), PromOptions{Config: cfg, Source: src, Range: 7 * 24 * time.Hour, End: testEnd})
				if err != nil {
					b.Fatal(err)
				}
				days += rep.Queries[0].SeriesDays
				samples += rep.Queries[0].Samples
			}
			b.ReportMetric(days/b.Elapsed().Seconds(), "series-days/s")
			b.ReportMetric(float64(samples)/b.Elapsed().Seconds(), "samples/s")
		})
	}
}

// TestPrometheusBacktestGapsAndHostileLabels: samples the engine refuses (NaN) are counted and
// leave the step unscored, so an alert firing when the series stops resolves keep_firing_for
// after its last holding step; labels are escaped in the page and quoted in the CSV files.
func TestPrometheusBacktestGapsAndHostileLabels(t *testing.T) {
	faultStart := testEnd.Add(-30 * time.Hour)
	gapStart := faultStart.Add(10 * time.Minute)
	gapEnd := gapStart.Add(2 * time.Hour)
	hostile := `<script>alert("x")</script>,"quoted"`
	series := []model.Metric{{model.MetricNameLabel: "shop_sessions", "instance": model.LabelValue(hostile)}}
	src := fakesource.New(series, func(i int, ts time.Time) float64 {
		switch {
		case !ts.Before(gapStart) && ts.Before(gapEnd):
			return math.NaN()
		case !ts.Before(faultStart) && ts.Before(gapStart):
			return 0.3 * daily(i, ts)
		}
		return daily(i, ts)
	})
	rep, err := RunPrometheus(context.Background(), PromOptions{Config: promConfig(t, testConfig), Source: src, Range: 48 * time.Hour, End: testEnd})
	require.NoError(t, err)
	s := rep.Queries[0].Series[0]
	require.Equal(t, 24, s.Rejected, "two hours of NaN at a 5m step")
	require.Equal(t, 2*24*12+1-24, s.Samples)
	require.NotEmpty(t, s.Alerts)
	a := s.Alerts[0]
	require.False(t, a.Start.Before(faultStart))
	require.True(t, a.Start.Before(gapStart))
	// The first unscored step is gapStart: keep_firing_for 10m resolves it at gapStart+10m.
	require.Equal(t, gapStart.Add(10*time.Minute), a.End)

	dir := t.TempDir()
	require.NoError(t, rep.Write(dir))
	page, err := os.ReadFile(filepath.Join(dir, "index.html"))
	require.NoError(t, err)
	require.NotContains(t, string(page), "<script>")
	require.Contains(t, string(page), "&lt;script&gt;")
	rows := readCSV(t, filepath.Join(dir, "alerts.csv"))
	require.Equal(t, series[0].String(), rows[1][1])
	require.Contains(t, rows[1][1], hostile[:8])
}

// TestChartBudget: a query's charts keep at most ChartBudget points in all, during the run
// too, and a short high score survives the thinning.
func TestChartBudget(t *testing.T) {
	var c chartBuf
	from := testEnd
	for i := range 10_000 {
		p := seriesset.ChartPoint{Time: from.Add(time.Duration(i) * time.Minute), Value: float64(i)}
		if i == 7777 {
			p.Score = 0.9
		}
		c.add(p, from, time.Minute, 100)
		require.LessOrEqual(t, len(c.pts), 100)
	}
	require.GreaterOrEqual(t, len(c.pts), 50)
	for i := 1; i < len(c.pts); i++ {
		require.True(t, c.pts[i].Time.After(c.pts[i-1].Time))
	}
	best := 0.0
	for _, p := range c.pts {
		best = max(best, p.Score)
	}
	require.Equal(t, 0.9, best)

	rep, err := RunPrometheus(context.Background(), PromOptions{Config: promConfig(t, testConfig), ChartBudget: 1000,
		Source: fakesource.New(fakesource.Many("x", 20), daily), Range: 48 * time.Hour, End: testEnd})
	require.NoError(t, err)
	total := 0
	for _, s := range rep.Queries[0].Series {
		total += len(s.Chart)
		require.NotEmpty(t, s.Chart)
	}
	require.LessOrEqual(t, total, 1000)
}

// FuzzReportWrite: any label name and value and reason text make a report whose CSV files
// give the labels back as written and whose page carries no markup from them.
func FuzzReportWrite(f *testing.F) {
	f.Add("instance", `<script>alert(1)</script>`, "spike")
	f.Add("a", "x,\"y\"\nz", "level_shift")
	f.Add("é", "\x00\xff", "")
	f.Fuzz(func(t *testing.T, name, value, reason string) {
		labels := model.Metric{model.MetricNameLabel: "m", model.LabelName(name): model.LabelValue(value)}
		a := Alert{ActiveSince: testEnd, Start: testEnd.Add(time.Minute), End: testEnd.Add(time.Hour), Duration: 59 * time.Minute,
			PeakScore: 0.9, Reason: reason}
		rep := &Report{Start: testEnd.Add(-time.Hour), End: testEnd.Add(time.Hour), Queries: []QueryReport{{Name: "q", Expr: value,
			Start: testEnd.Add(-time.Hour), End: testEnd.Add(time.Hour), Series: []SeriesReport{{Labels: labels, Alerts: []Alert{a}, AlertCount: 1,
				Chart: []seriesset.ChartPoint{{Time: testEnd, Value: 1, Score: 0.9}}}}}}}
		dir := t.TempDir()
		require.NoError(t, rep.Write(dir))
		rows := readCSV(t, filepath.Join(dir, "alerts.csv"))
		require.Len(t, rows, 2)
		require.Equal(t, labels.String(), rows[1][1])
		page, err := os.ReadFile(filepath.Join(dir, "index.html"))
		require.NoError(t, err)
		if strings.ContainsAny(value+name+reason, "<>") {
			require.NotContains(t, string(page), "<script>")
		}
		require.Equal(t, strings.Count(string(page), "<h3>"), 1)
	})
}

// TestReportTimesInTheQueryZone: a query with a time zone has its times on the page in that
// zone (where its days start), the report's range stays in UTC (it spans every query).
func TestReportTimesInTheQueryZone(t *testing.T) {
	src := fakesource.New(fakesource.Many("shop_sessions", 1), daily)
	rep, err := RunPrometheus(context.Background(), PromOptions{Config: promConfig(t, testConfig+"    timezone: Asia/Tokyo\n"), Source: src,
		Range: 6 * time.Hour, End: testEnd})
	require.NoError(t, err)
	require.Equal(t, "Asia/Tokyo", rep.Queries[0].Zone.String())
	dir := t.TempDir()
	require.NoError(t, rep.Write(dir))
	page, err := os.ReadFile(filepath.Join(dir, "index.html"))
	require.NoError(t, err)
	require.Contains(t, string(page), "times in Asia/Tokyo, learning from 2026-03-05 03:00 JST;")
	require.Regexp(t, `<text class="tick"[^>]*>2026-03-12 09:00 JST</text>`, string(page), "the chart's end, 00:00 UTC")
	require.Contains(t, string(page), "<title>Kizashi backtest 2026-03-11 18:00 UTC – 2026-03-12 00:00 UTC</title>")
}
