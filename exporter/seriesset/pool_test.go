package seriesset

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"

	"github.com/kizashi-dev/kizashi/anomaly"
	"github.com/kizashi-dev/kizashi/exporter/internal/fakesource"
	"github.com/kizashi-dev/kizashi/exporter/queryconfig"
)

var t0 = time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)

func sample(i int) (time.Time, float64) {
	t := t0.Add(time.Duration(i) * time.Minute)
	return t, 50 + float64(i%60) + float64(i%7)
}

// TestModelPoolCopies: a model copied into the pool goes on exactly as the one it was copied
// from, sharing nothing with it (a model held no pointer into itself); a model handed back is
// zeroed and handed out again; blocks grow from 8 to maxBlock models.
func TestModelPoolCopies(t *testing.T) {
	spec, err := anomaly.Compile(anomaly.Config{})
	require.NoError(t, err)
	ref, orig := spec.New(), spec.New()
	for i := range 500 {
		ts, v := sample(i)
		_, err := ref.Update(ts, v)
		require.NoError(t, err)
		_, err = orig.Update(ts, v)
		require.NoError(t, err)
	}
	var p modelPool
	cp := p.get(orig)
	for i := 500; i < 1000; i++ {
		ts, v := sample(i)
		want, err := ref.Update(ts, v)
		require.NoError(t, err)
		got, err := cp.Update(ts, v)
		require.NoError(t, err)
		require.Equal(t, want, got, "sample %d", i)
		_, err = orig.Update(ts, v) // the original learns the same on its own
		require.NoError(t, err)
	}
	want, err := ref.MarshalBinary()
	require.NoError(t, err)
	for _, m := range []*anomaly.Model{cp, orig} {
		got, err := m.MarshalBinary()
		require.NoError(t, err)
		require.Equal(t, want, got)
	}

	p.put(cp)
	require.Equal(t, anomaly.Model{}, *cp, "zeroed")
	again := p.get(spec.New())
	require.Same(t, cp, again, "reused")
	require.Zero(t, again.Stats().Samples)

	for range 2000 {
		p.get(spec.New())
	}
	require.Equal(t, 8+8+16+32+64+128*15, p.blocks, "blocks of 8, 8, 16, 32, 64, then 128")
}

// gatedSource holds the first range query until release is closed.
type gatedSource struct {
	*fakesource.Source
	once             sync.Once
	entered, release chan struct{}
}

func (g *gatedSource) QueryRange(ctx context.Context, expr string, start, end time.Time, step time.Duration) (model.Matrix, error) {
	g.once.Do(func() {
		close(g.entered)
		<-g.release
	})
	return g.Source.QueryRange(ctx, expr, start, end, step)
}

// TestModelOfDroppedJoiningSeries: a series dropped while a backfill learns its history keeps
// its model out of reuse until the backfill ends, so a series that joins meanwhile gets
// another one; then the model is handed back. Run with -race.
func TestModelOfDroppedJoiningSeries(t *testing.T) {
	ctx := context.Background()
	cfg := queryconfig.DefaultQuery
	cfg.Name, cfg.Expr = "q", "up"
	cfg.TrainingWindow = model.Duration(time.Hour)
	cfg.StalenessTimeout = model.Duration(3 * time.Minute)
	now := t0
	q, err := New(cfg, Options{Metrics: NewMetrics(prometheus.NewRegistry()), Now: func() time.Time { return now }})
	require.NoError(t, err)
	all := fakesource.Many("up", 2)
	src := &gatedSource{Source: fakesource.New(all[:1], func(int, time.Time) float64 { return 1 }),
		entered: make(chan struct{}), release: make(chan struct{})}
	_, err = q.Cycle(ctx, src, now)
	require.NoError(t, err)
	first := q.series[all[0].Fingerprint()]

	done := make(chan error, 1)
	go func() {
		_, err := q.Backfill(ctx, src)
		done <- err
	}()
	<-src.entered
	src.SetSeries(nil)
	for range 4 {
		now = now.Add(time.Minute)
		_, err := q.Cycle(ctx, src, now)
		require.NoError(t, err)
	}
	q.mu.RLock()
	require.Nil(t, q.series[first.fp], "dropped")
	require.Equal(t, []*anomaly.Model{first.model}, q.retired)
	require.Empty(t, q.models.free)
	q.mu.RUnlock()

	src.SetSeries(all[1:])
	now = now.Add(time.Minute)
	res, err := q.Cycle(ctx, src, now)
	require.NoError(t, err)
	require.Equal(t, 1, res.New)
	q.mu.RLock()
	second := q.series[all[1].Fingerprint()]
	require.NotSame(t, first.model, second.model)
	q.mu.RUnlock()

	close(src.release)
	require.NoError(t, <-done)
	q.mu.RLock()
	defer q.mu.RUnlock()
	require.Empty(t, q.retired)
	require.Equal(t, []*anomaly.Model{first.model}, q.models.free)
	require.Equal(t, anomaly.Model{}, *first.model)
}
