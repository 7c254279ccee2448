package seriesset_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/relabel"
	"github.com/stretchr/testify/require"

	"github.com/kizashi-dev/kizashi/anomaly"
	"github.com/kizashi-dev/kizashi/exporter/internal/fakesource"
	"github.com/kizashi-dev/kizashi/exporter/queryconfig"
	"github.com/kizashi-dev/kizashi/exporter/seriesset"
	"github.com/kizashi-dev/kizashi/exporter/source"
)

func queryConfig(mod func(*queryconfig.Query)) queryconfig.Query {
	q := queryconfig.DefaultQuery
	q.Name, q.Expr = "q", "up"
	q.Step = model.Duration(time.Minute)
	q.TrainingWindow = model.Duration(6 * time.Hour)
	q.WarmUp = model.Duration(time.Hour)
	q.Daily = "off"
	q.Weekly = "off"
	q.Thresholds = []float64{1000}
	if mod != nil {
		mod(&q)
	}
	return q
}

type env struct {
	q   *seriesset.Query
	m   *seriesset.Metrics
	reg *prometheus.Registry
	now time.Time
}

func newEnv(t *testing.T, cfg queryconfig.Query, opts seriesset.Options) *env {
	t.Helper()
	e := &env{reg: prometheus.NewRegistry(), now: time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)}
	e.m = seriesset.NewMetrics(e.reg)
	opts.Metrics = e.m
	opts.Now = func() time.Time { return e.now }
	q, err := seriesset.New(cfg, opts)
	require.NoError(t, err)
	e.q = q
	return e
}

// alertThreshold is the anomaly score the example alerting rules fire on.
const alertThreshold = 0.75

func wave(i int, t time.Time) float64 {
	return 100 + float64(i) + 10*math.Sin(float64(t.Unix())/3600)
}

func published(q *seriesset.Query) map[string]seriesset.Published {
	out := map[string]seriesset.Published{}
	_ = q.Range(2, func(s *seriesset.Series) { out[s.Labels(model.NoEscaping)] = *s.Published() }, func() error { return nil })
	return out
}

func TestCycleBackfillAndPublish(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, queryConfig(nil), seriesset.Options{ChartSeries: 1})
	src := fakesource.New(fakesource.Many("load", 3), wave)

	res, err := e.q.Cycle(ctx, src, e.now)
	require.NoError(t, err)
	require.Equal(t, 3, res.New)
	require.Equal(t, 0, res.Updated, "new series wait for their backfill")
	require.True(t, e.q.Backfilling())
	require.False(t, e.q.Ready())
	require.Empty(t, published(e.q))

	bf, err := e.q.Backfill(ctx, src)
	require.NoError(t, err)
	require.True(t, e.q.Ready())
	require.Equal(t, 3, bf.Series)
	require.Equal(t, 3*361, bf.Samples, "6h at 1m, both ends included")
	require.Equal(t, 1, bf.Queries)
	require.InDelta(t, 1, testutil.ToFloat64(e.m.BackfillProgress.WithLabelValues("q")), 1e-9)

	pub := published(e.q)
	require.Len(t, pub, 3)
	p, ok := pub[`instance="host-1",job="bench",kizashi_metric="load",kizashi_query="q"`]
	require.True(t, ok, "published labels: raw labels, __name__ as kizashi_metric, kizashi_query; got %v", pub)
	require.Equal(t, e.now, p.Time)
	require.True(t, p.Result.Ready)
	require.InDelta(t, wave(1, e.now), p.Result.Baseline, 8)
	require.Len(t, p.Forecasts, 3)
	// Only the published horizon (by default the longest) is computed by the cycles; the
	// series page computes the others.
	require.True(t, math.IsNaN(p.Forecasts[0].Value) && math.IsNaN(p.Forecasts[1].Upper), "%v", p.Forecasts)
	require.False(t, math.IsNaN(p.Forecasts[2].Value), "%v", p.Forecasts)
	views, _ := e.q.View(10, false)
	require.NotEmpty(t, views)
	for _, v := range views {
		for _, f := range v.Published.Forecasts {
			require.False(t, math.IsNaN(f.Value) || math.IsNaN(f.Lower), "the series page shows every horizon: %v", v.Published.Forecasts)
		}
	}
	require.Len(t, p.ETAs, 1)
	require.True(t, math.IsNaN(p.ETAs[0]), "no breach of 1000 forecast")

	// Live: one query per step for all series.
	for i := 1; i <= 5; i++ {
		e.now = e.now.Add(time.Minute)
		res, err := e.q.Cycle(ctx, src, e.now)
		require.NoError(t, err)
		require.Equal(t, 3, res.Updated)
	}
	require.Equal(t, int64(6), src.Instant.Load())
	require.Equal(t, e.now, published(e.q)[`instance="host-1",job="bench",kizashi_metric="load",kizashi_query="q"`].Time)

	views, total := e.q.View(10, true)
	require.Equal(t, 3, total)
	require.NotEmpty(t, views[0].Chart, "the first series keeps a chart history")
	require.Nil(t, views[1].Chart)
	v, ok := e.q.Lookup(views[0].ID)
	require.True(t, ok)
	require.NotEmpty(t, v.Path)
	_, ok = e.q.Lookup("nope")
	require.False(t, ok)
}

func TestAnomalyDrivesScore(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, queryConfig(nil), seriesset.Options{})
	spike := false
	src := fakesource.New(fakesource.Many("load", 1), func(i int, t time.Time) float64 {
		if spike {
			return 1000
		}
		return wave(i, t) + 0.5*math.Sin(float64(t.Unix())/97)
	})
	_, err := e.q.Cycle(ctx, src, e.now)
	require.NoError(t, err)
	_, err = e.q.Backfill(ctx, src)
	require.NoError(t, err)
	spike = true
	// Within three steps the score passes the alert threshold of the shipped rules.
	var score float64
	for range 3 {
		e.now = e.now.Add(time.Minute)
		_, err := e.q.Cycle(ctx, src, e.now)
		require.NoError(t, err)
		for _, p := range published(e.q) {
			score = max(score, p.Result.Score)
		}
	}
	require.Greater(t, score, alertThreshold)
}

func TestStalenessAndJoin(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, queryConfig(func(q *queryconfig.Query) { q.StalenessTimeout = model.Duration(3 * time.Minute) }), seriesset.Options{})
	all := fakesource.Many("load", 3)
	src := fakesource.New(all, wave)
	_, err := e.q.Cycle(ctx, src, e.now)
	require.NoError(t, err)
	_, err = e.q.Backfill(ctx, src)
	require.NoError(t, err)

	src.SetSeries(all[:2])
	for i := 1; i <= 4; i++ {
		e.now = e.now.Add(time.Minute)
		res, err := e.q.Cycle(ctx, src, e.now)
		require.NoError(t, err)
		if i == 4 {
			require.Equal(t, 1, res.Dropped)
		}
	}
	require.Equal(t, 2, e.q.Len())
	require.Equal(t, 1.0, testutil.ToFloat64(e.m.SeriesDropped.WithLabelValues("q", "stale")))

	// The series comes back: it joins again and is backfilled before publishing.
	src.SetSeries(all)
	e.now = e.now.Add(time.Minute)
	res, err := e.q.Cycle(ctx, src, e.now)
	require.NoError(t, err)
	require.Equal(t, 1, res.New)
	require.Len(t, published(e.q), 2)
	_, err = e.q.Backfill(ctx, src)
	require.NoError(t, err)
	require.Len(t, published(e.q), 3)
}

func TestMaxSeriesAndShards(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, queryConfig(func(q *queryconfig.Query) { q.MaxSeries = 10 }), seriesset.Options{})
	src := fakesource.New(fakesource.Many("load", 25), wave)
	res, err := e.q.Cycle(ctx, src, e.now)
	require.NoError(t, err)
	require.Equal(t, 10, res.New)
	require.Equal(t, 15, res.OverLimit)
	require.Equal(t, 15.0, testutil.ToFloat64(e.m.SeriesOverLimit.WithLabelValues("q")))
	require.Equal(t, 10.0, testutil.ToFloat64(e.m.Series.WithLabelValues("q")))

	// Three shards split the series with no overlap and nothing left out.
	series := fakesource.Many("load", 300)
	seen := map[string]int{}
	for i := range 3 {
		se := newEnv(t, queryConfig(func(q *queryconfig.Query) { q.MaxSeries = 1000 }), seriesset.Options{Shard: seriesset.Shard{Index: uint64(i), Count: 3}})
		src := fakesource.New(series, wave)
		res, err := se.q.Cycle(ctx, src, se.now)
		require.NoError(t, err)
		require.InDelta(t, 100, res.New, 30, "shard %d", i)
		require.Equal(t, 300, res.New+res.OtherShards)
		_, err = se.q.Backfill(ctx, src)
		require.NoError(t, err)
		for k := range published(se.q) {
			seen[k]++
		}
	}
	require.Len(t, seen, 300)
	for k, n := range seen {
		require.Equal(t, 1, n, k)
	}
}

func TestParseShard(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want seriesset.Shard
		err  string
	}{
		{"0/1", seriesset.Shard{Index: 0, Count: 1}, ""},
		{"2/3", seriesset.Shard{Index: 2, Count: 3}, ""},
		{"3/3", seriesset.Shard{}, `shard "3/3": want i/n with 0 <= i < n`},
		{"1", seriesset.Shard{}, `shard "1": want i/n`},
		{"a/b", seriesset.Shard{}, `shard "a/b": want i/n with 0 <= i < n`},
	} {
		t.Run(tc.in, func(t *testing.T) {
			s, err := seriesset.ParseShard(tc.in)
			if tc.err != "" {
				require.EqualError(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, s)
		})
	}
}

func TestSnapshotRestoreBackfillsOnlyTheGap(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, queryConfig(nil), seriesset.Options{})
	src := fakesource.New(fakesource.Many("load", 4), wave)
	_, err := e.q.Cycle(ctx, src, e.now)
	require.NoError(t, err)
	_, err = e.q.Backfill(ctx, src)
	require.NoError(t, err)
	before := published(e.q)

	type entry struct {
		raw  model.Metric
		snap []byte
	}
	var snaps []entry
	require.NoError(t, e.q.Snapshot(func(raw model.Metric, snap []byte) error {
		snaps = append(snaps, entry{raw, append([]byte(nil), snap...)})
		return nil
	}))
	require.Len(t, snaps, 4)

	// A restart 10 minutes later: restored models backfill 10 minutes, not 6 hours.
	e2 := newEnv(t, queryConfig(nil), seriesset.Options{})
	e2.now = e.now.Add(10 * time.Minute)
	snaps[3].snap[10] ^= 0xff // corrupt one: it is retrained
	for i, s := range snaps {
		err := e2.q.Restore(s.raw, s.snap)
		if i == 3 {
			require.Error(t, err)
			continue
		}
		require.NoError(t, err)
	}
	require.Equal(t, 1.0, testutil.ToFloat64(e2.m.RestoreFailures.WithLabelValues("q")))
	bf, err := e2.q.Backfill(ctx, src)
	require.NoError(t, err)
	require.Equal(t, 3, bf.Series)
	require.Equal(t, 3*10, bf.Samples)
	after := published(e2.q)
	require.Len(t, after, 3)
	for k, p := range after {
		require.True(t, p.Result.Ready, k)
		require.InDelta(t, before[k].Result.Baseline, p.Result.Baseline, 5, k)
	}
	// The corrupt one is found by the live cycle and trained from scratch.
	res, err := e2.q.Cycle(ctx, src, e2.now)
	require.NoError(t, err)
	require.Equal(t, 1, res.New)
}

func TestBackfillChunksAndSourceErrors(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, queryConfig(nil), seriesset.Options{MaxSamplesPerQuery: 1000})
	src := fakesource.New(fakesource.Many("load", 20), wave)
	_, err := e.q.Cycle(ctx, src, e.now)
	require.NoError(t, err)
	bf, err := e.q.Backfill(ctx, src)
	require.NoError(t, err)
	require.Equal(t, 8, bf.Queries, "361 points in chunks of 1000/20 = 50 points")
	require.Equal(t, 20*361, bf.Samples)

	src.SetDown(true)
	e.now = e.now.Add(time.Minute)
	_, err = e.q.Cycle(ctx, src, e.now)
	require.ErrorIs(t, err, fakesource.ErrDown)
	require.Equal(t, 0.0, testutil.ToFloat64(e.m.SourceUp.WithLabelValues("q")))
	require.Equal(t, 1.0, testutil.ToFloat64(e.m.QueryErrors.WithLabelValues("q", "instant", "error")))
	require.Len(t, published(e.q), 20, "last values are kept")
	src.SetDown(false)
	e.now = e.now.Add(time.Minute)
	res, err := e.q.Cycle(ctx, src, e.now)
	require.NoError(t, err)
	require.Equal(t, 20, res.CatchingUp, "the step missed is backfilled")
	require.Equal(t, 1.0, testutil.ToFloat64(e.m.SourceUp.WithLabelValues("q")))
	bf, err = e.q.Backfill(ctx, src)
	require.NoError(t, err)
	require.Equal(t, 20*2, bf.Samples)
	e.now = e.now.Add(time.Minute)
	res, err = e.q.Cycle(ctx, src, e.now)
	require.NoError(t, err)
	require.Equal(t, 20, res.Updated)
}

// TestShadowedSeries: of two series whose published labels are equal for a scheme, the first
// is published and the other shadowed; when the first goes stale, the other takes over.
func TestShadowedSeries(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, queryConfig(func(q *queryconfig.Query) { q.StalenessTimeout = model.Duration(3 * time.Minute) }), seriesset.Options{})
	dotted := model.Metric{"__name__": "up", "service.name": "api"}
	plain := model.Metric{"__name__": "up", "service_name": "api"}
	src := fakesource.New([]model.Metric{dotted, plain}, wave)
	_, err := e.q.Cycle(ctx, src, e.now)
	require.NoError(t, err)
	_, err = e.q.Backfill(ctx, src)
	require.NoError(t, err)
	shown := func(scheme model.EscapingScheme) []string {
		var out []string
		_ = e.q.Range(10, func(s *seriesset.Series) {
			if !s.Shadowed(scheme) {
				out = append(out, s.Labels(scheme))
			}
		}, func() error { return nil })
		return out
	}
	require.Equal(t, []string{`kizashi_metric="up","service.name"="api",kizashi_query="q"`, `kizashi_metric="up",service_name="api",kizashi_query="q"`},
		shown(model.NoEscaping))
	require.Equal(t, []string{`kizashi_metric="up",service_name="api",kizashi_query="q"`}, shown(model.UnderscoreEscaping))
	require.Len(t, shown(model.DotsEscaping), 2)

	// The first (service.name) goes away: the second is published for underscores too.
	src.SetSeries([]model.Metric{plain})
	for range 4 {
		e.now = e.now.Add(time.Minute)
		_, err := e.q.Cycle(ctx, src, e.now)
		require.NoError(t, err)
	}
	require.Equal(t, 1, e.q.Len())
	require.Equal(t, []string{`kizashi_metric="up",service_name="api",kizashi_query="q"`}, shown(model.UnderscoreEscaping))
	require.Equal(t, shown(model.UnderscoreEscaping), shown(model.NoEscaping))
}

// TestOutageLongerThanStaleness: after an outage longer than the staleness timeout the steps
// missed are backfilled (the series stay published meanwhile), and the first empty answers of
// a source that just came back drop nothing; absence counts only while the source answers.
func TestOutageLongerThanStaleness(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, queryConfig(func(q *queryconfig.Query) { q.StalenessTimeout = model.Duration(3 * time.Minute) }), seriesset.Options{})
	all := fakesource.Many("load", 3)
	src := fakesource.New(all, wave)
	_, err := e.q.Cycle(ctx, src, e.now)
	require.NoError(t, err)
	_, err = e.q.Backfill(ctx, src)
	require.NoError(t, err)
	const key = `instance="host-1",job="bench",kizashi_metric="load",kizashi_query="q"`

	// Ten minutes of failed cycles.
	src.SetDown(true)
	for range 10 {
		e.now = e.now.Add(time.Minute)
		_, err := e.q.Cycle(ctx, src, e.now)
		require.ErrorIs(t, err, fakesource.ErrDown)
	}
	require.Len(t, published(e.q), 3, "last values are kept")

	// The source is back, with the data of the outage: the series catch up on it.
	src.SetDown(false)
	e.now = e.now.Add(time.Minute)
	res, err := e.q.Cycle(ctx, src, e.now)
	require.NoError(t, err)
	require.Equal(t, 3, res.CatchingUp)
	require.Zero(t, res.Dropped)
	require.Len(t, published(e.q), 3, "published while catching up")
	require.Equal(t, e.now.Add(-11*time.Minute), published(e.q)[key].Time)
	require.True(t, e.q.Backfilling())
	bf, err := e.q.Backfill(ctx, src)
	require.NoError(t, err)
	require.Equal(t, 3*11, bf.Samples, "the 11 steps since the last sample learned, not skipped")
	require.Equal(t, e.now, published(e.q)[key].Time)
	e.now = e.now.Add(time.Minute)
	res, err = e.q.Cycle(ctx, src, e.now)
	require.NoError(t, err)
	require.Equal(t, 3, res.Updated)

	// Another outage; the source comes back empty (a Prometheus restarted with an empty
	// head): nothing is dropped until it has answered for the staleness timeout.
	src.SetDown(true)
	for range 10 {
		e.now = e.now.Add(time.Minute)
		_, _ = e.q.Cycle(ctx, src, e.now)
	}
	src.SetDown(false)
	src.SetSeries(nil)
	for range 2 {
		e.now = e.now.Add(time.Minute)
		res, err := e.q.Cycle(ctx, src, e.now)
		require.NoError(t, err)
		require.Zero(t, res.Dropped)
	}
	require.Equal(t, 3, e.q.Len())
	require.Zero(t, testutil.ToFloat64(e.m.SeriesDropped.WithLabelValues("q", "stale")))
	src.SetSeries(all)
	e.now = e.now.Add(time.Minute)
	_, err = e.q.Cycle(ctx, src, e.now)
	require.NoError(t, err)
	_, err = e.q.Backfill(ctx, src)
	require.NoError(t, err)
	require.Len(t, published(e.q), 3)

	// Series that stay absent while the source answers are dropped after the timeout.
	src.SetSeries(all[:1])
	dropped := 0
	for range 4 {
		e.now = e.now.Add(time.Minute)
		res, err := e.q.Cycle(ctx, src, e.now)
		require.NoError(t, err)
		dropped += res.Dropped
	}
	require.Equal(t, 2, dropped)
}

// tooLarge answers range queries of more than maxPoints points per series with ErrTooLarge.
type tooLarge struct {
	*fakesource.Source
	maxPoints int
}

func (s tooLarge) QueryRange(ctx context.Context, expr string, start, end time.Time, step time.Duration) (model.Matrix, error) {
	if n := int(end.Sub(start)/step) + 1; n > s.maxPoints {
		return nil, fmt.Errorf("query range: %w: %d points", source.ErrTooLarge, n)
	}
	return s.Source.QueryRange(ctx, expr, start, end, step)
}

// TestStatusAndTooLargeChunks: a backfill chunk that is too large is halved until it fits
// (counted with reason too_large); three failures in a row make the query failing, a success
// resets it.
func TestStatusAndTooLargeChunks(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, queryConfig(nil), seriesset.Options{})
	src := tooLarge{fakesource.New(fakesource.Many("load", 2), wave), 100}
	_, err := e.q.Cycle(ctx, src, e.now)
	require.NoError(t, err)
	require.Equal(t, seriesset.Status{}, e.q.Status())
	require.False(t, e.q.Status().Usable())
	bf, err := e.q.Backfill(ctx, src)
	require.NoError(t, err)
	require.Equal(t, 2*361, bf.Samples)
	require.Equal(t, 2.0, testutil.ToFloat64(e.m.QueryErrors.WithLabelValues("q", "range", "too_large")), "361 -> 181 -> 91 points")
	require.Equal(t, seriesset.Status{Ready: true}, e.q.Status())
	require.Equal(t, 1.0, testutil.ToFloat64(e.m.QueryReady.WithLabelValues("q")))

	src.SetDown(true)
	for i := 1; i <= seriesset.FailingAfter; i++ {
		e.now = e.now.Add(time.Minute)
		_, err := e.q.Cycle(ctx, src, e.now)
		require.Error(t, err)
		st := e.q.Status()
		require.Equal(t, i, st.Failures)
		require.Equal(t, i == seriesset.FailingAfter, st.Failing())
		require.Equal(t, "fake source down", st.LastError)
	}
	require.True(t, e.q.Status().Usable(), "ready, and failing")
	src.SetDown(false)
	e.now = e.now.Add(time.Minute)
	_, err = e.q.Cycle(ctx, src, e.now)
	require.NoError(t, err)
	require.Equal(t, seriesset.Status{Ready: true}, e.q.Status())

	// A query that never gets its backfill done but fails persistently counts as usable.
	e2 := newEnv(t, queryConfig(nil), seriesset.Options{})
	down := fakesource.New(fakesource.Many("load", 2), wave)
	down.SetDown(true)
	for range seriesset.FailingAfter {
		_, _ = e2.q.Cycle(ctx, down, e2.now)
	}
	require.False(t, e2.q.Ready())
	require.True(t, e2.q.Status().Usable())
	require.Zero(t, testutil.ToFloat64(e2.m.QueryReady.WithLabelValues("q")))
}

// A series that stops reporting while the others go on is an anomaly of its own: its score
// rises to the alert threshold within a few steps, with the reason vanished, until it is dropped.
func TestVanishedSeriesScores(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, queryConfig(func(q *queryconfig.Query) { q.StalenessTimeout = model.Duration(10 * time.Minute) }), seriesset.Options{})
	series := fakesource.Many("load", 3)
	src := fakesource.New(series, wave)
	_, err := e.q.Cycle(ctx, src, e.now)
	require.NoError(t, err)
	_, err = e.q.Backfill(ctx, src)
	require.NoError(t, err)
	for range 5 {
		e.now = e.now.Add(time.Minute)
		_, err = e.q.Cycle(ctx, src, e.now)
		require.NoError(t, err)
	}

	src.SetSeries([]model.Metric{series[0], series[2]})
	var scores []float64
	for i := range 12 {
		e.now = e.now.Add(time.Minute)
		res, err := e.q.Cycle(ctx, src, e.now)
		require.NoError(t, err)
		pub := published(e.q)
		if res.Dropped > 0 {
			require.Len(t, pub, 2, "dropped at step %d", i)
			break
		}
		require.Len(t, pub, 3)
		for l, p := range pub {
			if l == `instance="host-1",job="bench",kizashi_metric="load",kizashi_query="q"` {
				scores = append(scores, p.Result.Score)
				if p.Result.Score >= anomaly.ReasonMinScore {
					require.Equal(t, anomaly.ReasonVanished, p.Result.Reason)
				}
			} else {
				require.Less(t, p.Result.Score, 0.5, "%s", l)
				require.NotEqual(t, anomaly.ReasonVanished, p.Result.Reason)
			}
		}
	}
	require.Len(t, scores, 10, "published while absent, until the staleness timeout: %v", scores)
	require.Greater(t, scores[2], 0.65, "the alert threshold within three steps: %v", scores)
	for i := 1; i < len(scores); i++ {
		require.GreaterOrEqual(t, scores[i], scores[i-1], "grows with the steps missed: %v", scores)
	}
}

// TestShardAgreesWithHashmod: a series is in the shard Prometheus' own hashmod relabelling
// puts it in, with source_labels the shard's labels (all the series' labels in name order by
// default), separator ";" and modulus the shard count.
func TestShardAgreesWithHashmod(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, by := range [][]model.LabelName{nil, {"instance"}, {"job", "instance"}} {
		for _, n := range []uint64{2, 3, 7} {
			counts := make([]int, n)
			for k := range 500 {
				m := model.Metric{"__name__": model.LabelValue(fmt.Sprintf("m%d", r.IntN(5))), "job": model.LabelValue(fmt.Sprintf("j%d", r.IntN(3))),
					"instance": model.LabelValue(fmt.Sprintf("host-%d:%d", k, r.IntN(9999)))}
				if k%3 == 0 {
					m["zone"] = "eu-1"
				}
				source := by
				if source == nil {
					for l := range m {
						source = append(source, l)
					}
					slices.Sort(source)
				}
				cfg := &relabel.Config{Action: relabel.HashMod, SourceLabels: source, Separator: ";", Modulus: n,
					TargetLabel: "__tmp_shard", Regex: relabel.MustNewRegexp("(.*)"), Replacement: "$1"}
				lb := labels.NewBuilder(labels.FromMap(metricMap(m)))
				require.True(t, relabel.ProcessBuilder(lb, cfg))
				want, err := strconv.ParseUint(lb.Get("__tmp_shard"), 10, 64)
				require.NoError(t, err)
				owners := 0
				for i := range n {
					if (seriesset.Shard{Index: i, Count: n, By: by}).Owns(m) {
						owners++
						require.Equal(t, want, i, "%v by %v", m, by)
					}
				}
				require.Equal(t, 1, owners)
				counts[want]++
			}
			for i, c := range counts {
				require.Greater(t, c, 500/int(n)/2, "shard %d of %d by %v: %v", i, n, by, counts)
			}
		}
	}
}

func metricMap(m model.Metric) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[string(k)] = string(v)
	}
	return out
}

// A query's timezone places its models' profiles: after the zone is changed in the
// configuration, the snapshots taken under the old zone are not restored (the models are
// retrained from the backfill), and under the same zone they are.
func TestSnapshotsFollowTheQuerysTimezone(t *testing.T) {
	ctx := context.Background()
	berlin := queryConfig(func(q *queryconfig.Query) { q.Timezone = "Europe/Berlin" })
	e := newEnv(t, berlin, seriesset.Options{})
	src := fakesource.New(fakesource.Many("load", 3), wave)
	_, err := e.q.Cycle(ctx, src, e.now)
	require.NoError(t, err)
	_, err = e.q.Backfill(ctx, src)
	require.NoError(t, err)
	var raws []model.Metric
	var snaps [][]byte
	require.NoError(t, e.q.Snapshot(func(raw model.Metric, snap []byte) error {
		raws, snaps = append(raws, raw), append(snaps, append([]byte(nil), snap...))
		return nil
	}))
	require.Len(t, snaps, 3)
	for _, c := range []struct {
		zone    string
		restore bool
	}{{"Europe/Berlin", true}, {"", false}, {"UTC", false}, {"Asia/Tokyo", false}} {
		e2 := newEnv(t, queryConfig(func(q *queryconfig.Query) { q.Timezone = c.zone }), seriesset.Options{})
		for i := range snaps {
			err := e2.q.Restore(raws[i], snaps[i])
			if c.restore {
				require.NoError(t, err, c.zone)
			} else {
				require.ErrorIs(t, err, anomaly.ErrIncompatible, c.zone)
			}
		}
	}
}
