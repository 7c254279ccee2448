//go:build e2e

package testenv_test

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/prompb"
	"github.com/stretchr/testify/require"

	"github.com/kizashi-dev/kizashi/internal/testenv"
)

func TestPrometheus(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	// Two days of history at 1m, ending 30m ago, from an iterator; plus a
	// hand-written OpenMetrics series.
	end := time.Now().Add(-30 * time.Minute).Truncate(time.Minute)
	start := end.Add(-48 * time.Hour)
	n := int(end.Sub(start)/time.Minute) + 1
	history := testenv.Series("kizashi_test_history", map[string]string{"instance": "a"}, start, time.Minute, n,
		func(i int, _ time.Time) float64 { return float64(i) })
	text := fmt.Sprintf("# TYPE kizashi_test_text gauge\nkizashi_test_text{x=\"y\"} 7 %d\n", end.Unix())

	target := testenv.NewTarget(t)
	target.Set("kizashi_test_live", map[string]string{"k": "v"}, 42)

	prom := testenv.StartPrometheus(t, testenv.PromOptions{
		History:        text,
		HistorySamples: history,
		ScrapeConfigs:  []testenv.ScrapeConfig{{JobName: "target", Targets: []string{target.Addr()}}},
	})

	checkHistory := func(t *testing.T) {
		m, err := prom.QueryRange(ctx, "kizashi_test_history", start, end, time.Hour)
		require.NoError(t, err)
		require.Len(t, m, 1)
		require.Equal(t, model.LabelValue("a"), m[0].Metric["instance"])
		require.Len(t, m[0].Values, 49)
		for i, v := range m[0].Values {
			require.Equal(t, model.SampleValue(i*60), v.Value, "at %s", v.Timestamp.Time())
		}
		v, err := prom.Query(ctx, `kizashi_test_text{x="y"}`, end)
		require.NoError(t, err)
		require.Len(t, v.(model.Vector), 1)
		require.Equal(t, model.SampleValue(7), v.(model.Vector)[0].Value)
	}
	t.Run("history", checkHistory)

	vec := prom.WaitForQuery(t, `kizashi_test_live{job="target",k="v"}`, 20*time.Second)
	require.Equal(t, model.SampleValue(42), vec[0].Value)
	require.Positive(t, target.Scrapes())

	now := time.Now()
	require.NoError(t, prom.RemoteWrite(ctx,
		testenv.Sample{Metric: "kizashi_test_pushed", Labels: map[string]string{"via": "rw"}, Time: now.Add(-time.Second), Value: 1},
		testenv.Sample{Metric: "kizashi_test_pushed", Labels: map[string]string{"via": "rw"}, Time: now, Value: 2},
	))
	vec = prom.WaitForQuery(t, `kizashi_test_pushed{via="rw"}`, 10*time.Second)
	require.Equal(t, model.SampleValue(2), vec[0].Value)

	// A crash and a restart keep history, scraped and pushed data.
	prom.Kill(t)
	_, err := prom.Query(ctx, "up", time.Time{})
	require.Error(t, err)
	prom.Restart(t)
	t.Run("history after restart", checkHistory)
	v, err := prom.Query(ctx, `kizashi_test_pushed{via="rw"}`, now)
	require.NoError(t, err)
	require.Len(t, v.(model.Vector), 1)

	// Reconfigure: a second job appears in the targets.
	prom.Reconfigure(t, testenv.PromOptions{ScrapeConfigs: []testenv.ScrapeConfig{
		{JobName: "target", Targets: []string{target.Addr()}},
		{JobName: "again", Targets: []string{target.Addr()}, Labels: map[string]string{"env": "test"}},
	}})
	prom.WaitForQuery(t, `kizashi_test_live{job="again",env="test"}`, 20*time.Second)
	targets, err := prom.API().Targets(ctx)
	require.NoError(t, err)
	jobs := map[string]bool{}
	for _, at := range targets.Active {
		jobs[string(at.Labels["job"])] = true
	}
	require.Equal(t, []string{"again", "target"}, slices.Sorted(maps.Keys(jobs)))
}

// PromOptions.RemoteWrite: Prometheus sends what it scrapes, as the write_relabel_configs
// select it, to the configured receiver.
func TestPrometheusRemoteWrite(t *testing.T) {
	t.Parallel()
	got := make(chan []prompb.TimeSeries, 64)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, err := testenv.DecodeWriteRequest(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		select {
		case got <- req.Timeseries:
		default:
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer recv.Close()

	target := testenv.NewTarget(t)
	target.Set("kizashi_test_rw", map[string]string{"k": "v"}, 42)
	target.Set("kizashi_test_not_sent", nil, 1)
	testenv.StartPrometheus(t, testenv.PromOptions{
		ScrapeConfigs: []testenv.ScrapeConfig{{JobName: "target", Targets: []string{target.Addr()}}},
		RemoteWrite: []map[string]any{{"url": recv.URL + "/api/v1/write", "write_relabel_configs": []any{map[string]any{
			"source_labels": []string{"__name__"}, "regex": "kizashi_test_rw", "action": "keep"}}}},
	})
	timeout := time.After(2 * time.Minute) // a bound on a failure, not a synchronisation
	for {
		select {
		case series := <-got:
			if len(series) == 0 {
				continue // metadata only
			}
			for _, ts := range series {
				l := map[string]string{}
				for _, p := range ts.Labels {
					l[p.Name] = p.Value
				}
				require.Equal(t, "kizashi_test_rw", l["__name__"], "only the kept series are sent")
				require.Equal(t, "v", l["k"])
				require.Equal(t, "target", l["job"])
				require.NotEmpty(t, ts.Samples)
				require.Equal(t, 42.0, ts.Samples[len(ts.Samples)-1].Value)
			}
			return
		case <-timeout:
			t.Fatal("no remote write received in 2 minutes")
		}
	}
}
