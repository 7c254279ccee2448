package source

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/relabel"
	"github.com/stretchr/testify/require"

	"github.com/kizashi-dev/kizashi/exporter/queryconfig"
)

// fakeTargetsSource is a source that lists one target and answers instant queries with 99
// (what a step read from the source returns); its answers can be made to fail.
type fakeTargetsSource struct {
	srv, target       *httptest.Server
	failList, failTgt atomic.Bool
	pool              string // the pool the target list names
}

func newFakeTargetsSource(t *testing.T) *fakeTargetsSource {
	f := &fakeTargetsSource{pool: "j"}
	f.target = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if f.failTgt.Load() {
			http.Error(w, "down", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		fmt.Fprint(w, "# TYPE m gauge\nm{a=\"1\"} 1\nm{a=\"2\",job=\"own\"} 2\nmm 3\n")
	}))
	t.Cleanup(f.target.Close)
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/api/v1/targets":
			if f.failList.Load() {
				http.Error(w, "down", http.StatusServiceUnavailable)
				return
			}
			fmt.Fprintf(w, `{"status":"success","data":{"activeTargets":[{"scrapePool":%q,"scrapeUrl":%q,"labels":{"job":"j","instance":"i","empty":""}}]}}`, f.pool, f.target.URL+"/metrics")
		case "/api/v1/status/config":
			// External labels: no /federate, the instant query answers a step read from the source.
			fmt.Fprint(w, `{"status":"success","data":{"yaml":"global:\n  external_labels: {x: y}\nscrape_configs:\n- job_name: j\n"}}`)
		case "/api/v1/query":
			fmt.Fprint(w, `{"status":"success","data":{"resultType":"vector","result":[{"metric":{"__name__":"m"},"value":[1,"99"]}]}}`)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeTargetsSource) source(t *testing.T) *Prometheus {
	cfg := queryconfig.DefaultSource
	cfg.URL = f.srv.URL
	st := queryconfig.DefaultScrapeTargets
	cfg.ScrapeTargets = &st
	p, err := New(cfg)
	require.NoError(t, err)
	return p
}

// steps gives each step its own time, even when the clock has not moved by a millisecond
// since the last (the scrapes of one step time are shared by its queries).
type steps struct {
	mu   sync.Mutex
	last time.Time
}

func (s *steps) next() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now().Truncate(time.Millisecond)
	if !now.After(s.last) {
		now = s.last.Add(time.Millisecond)
	}
	s.last = now
	return now
}

var testSteps steps

func values(t *testing.T, p *Prometheus, expr string) []string {
	t.Helper()
	vec, err := p.Query(context.Background(), expr, testSteps.next())
	require.NoError(t, err)
	var out []string
	for _, s := range vec {
		out = append(out, fmt.Sprintf("%s %s", s.Metric, s.Value))
	}
	return out
}

// TestScrapeFallsBackToTheSource: a step whose target list or target cannot be read is read
// from the source; a list that cannot be read again is kept.
func TestScrapeFallsBackToTheSource(t *testing.T) {
	f := newFakeTargetsSource(t)
	p := f.source(t)
	require.Equal(t, []string{`m{a="1", instance="i", job="j"} 1`, `m{a="2", exported_job="own", instance="i", job="j"} 2`}, values(t, p, "m"))
	require.Equal(t, []string{`m{a="2", exported_job="own", instance="i", job="j"} 2`}, values(t, p, `m{a="2"}`))

	// The list cannot be read again: the last one is used.
	f.failList.Store(true)
	p.scrape.listed = time.Now().Add(-time.Hour)
	require.Len(t, values(t, p, "m"), 2)
	// No list yet: from the source.
	require.Equal(t, []string{`m 99`}, values(t, f.source(t), "m"))
	f.failList.Store(false)

	// The target fails: from the source, for that step only; the reason is logged once at
	// warn level, then at debug level while it repeats.
	var logs bytes.Buffer
	p.LogScrapeFallbacks(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	f.failTgt.Store(true)
	require.Equal(t, []string{`m 99`}, values(t, p, "m"))
	require.Equal(t, []string{`m 99`}, values(t, p, "m"))
	r, ok := p.LastLiveRead("m")
	require.True(t, ok)
	require.Equal(t, APIQuery, r.API)
	require.Contains(t, r.Fallback, "500 Internal Server Error")
	f.failTgt.Store(false)
	require.Len(t, values(t, p, "m"), 2)
	r, _ = p.LastLiveRead("m")
	require.Equal(t, LiveRead{API: APIScrape}, r)
	// Not one scrape_targets reads: no fallback to tell.
	values(t, p, "sum(m)")
	r, _ = p.LastLiveRead("sum(m)")
	require.Equal(t, LiveRead{API: APIQuery}, r)
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	require.Len(t, lines, 2, logs.String())
	require.Contains(t, lines[0], "level=WARN")
	require.Contains(t, lines[0], "500 Internal Server Error")
	require.Contains(t, lines[1], "level=DEBUG")

	// A pool the configuration does not have: the list is refused.
	f.pool = "nope"
	require.Equal(t, []string{`m 99`}, values(t, f.source(t), "m"))
}

func TestNameMayBe(t *testing.T) {
	for series, want := range map[string]bool{
		`m{a="1"}`: true, `m`: true, `m 1`: true, `mm{a="1"}`: false, `m_total`: false, `{"m", a="1"}`: true, `n`: false, ``: false,
	} {
		require.Equal(t, want, nameMayBe([]byte(series), "m"), series)
	}
}

func TestScrapePools(t *testing.T) {
	pools, err := scrapePools([]byte(`{"status":"success","data":{"yaml":"scrape_configs:\n- job_name: a\n  honor_labels: true\n  metric_relabel_configs:\n  - {source_labels: [x], regex: y, action: drop}\n- job_name: b\n"}}`))
	require.NoError(t, err)
	require.True(t, pools["a"].HonorLabels)
	require.Len(t, pools["a"].MetricRelabelConfigs, 1)
	require.False(t, pools["b"].HonorLabels)
	for body, msg := range map[string]string{
		`{"status":"success","data":{"yaml":"scrape_configs:\n- job_name: a\n  metric_relabel_configs:\n  - {action: replace}\n"}}`: `job "a": relabel configuration for replace action requires 'target_label' value`,
		`{"status":"success","data":{"yaml":"scrape_configs: [x"}}`:                                                                 "status/config: yaml",
		`not json`: "not a Prometheus answer",
	} {
		_, err := scrapePools([]byte(body))
		require.ErrorContains(t, err, msg)
	}
}

// FuzzAppendScraped: whatever a target answers, the series read are those the selector
// selects (every matcher holds), each with the target's labels, and nothing panics.
func FuzzAppendScraped(f *testing.F) {
	f.Add([]byte("# TYPE m gauge\nm{a=\"1\"} 1\nm{job=\"x\"} NaN\n"), "text/plain; version=0.0.4")
	f.Add([]byte("# TYPE m gauge\nm{a=\"1\"} 1\n# EOF\n"), "application/openmetrics-text; version=1.0.0")
	f.Add([]byte("{\"m\", \"a.b\"=\"1\"} 1\n"), "text/plain; version=1.0.0")
	f.Add([]byte("m{a=\"\\\"\\n\"} +Inf 123\nm_total 2\n"), "")
	sel := scrapeSelectorOf(`m{a!="2"}`)
	tg := &scrapeTarget{url: "u", labels: labels.FromStrings("job", "j", "instance", "i")}
	f.Fuzz(func(t *testing.T, body []byte, contentType string) {
		vec, err := appendScraped(nil, body, contentType, tg, sel, 100, 0)
		if err != nil {
			return
		}
		for _, s := range vec {
			if s.Metric[model.MetricNameLabel] != "m" || s.Metric["job"] != "j" || s.Metric["instance"] != "i" || s.Metric["a"] == "2" {
				t.Fatalf("%s: not selected", s.Metric)
			}
			for k, v := range s.Metric {
				if v == "" || strings.HasPrefix(string(k), "__") && k != model.MetricNameLabel {
					t.Fatalf("%s: label %s", s.Metric, k)
				}
			}
		}
	})
}

// TestShardTargets: a shard by target labels scrapes only its own targets; a target whose
// series may carry the labels themselves (honor_labels, relabelling, a label the target does
// not set) is scraped by every shard.
func TestShardTargets(t *testing.T) {
	f := newFakeTargetsSource(t)
	for owner, want := range map[string]int{"i": 2, "other": 0} {
		p := f.source(t)
		p.ShardTargets([]model.LabelName{"instance"}, func(m model.Metric) bool { return string(m["instance"]) == owner })
		require.Len(t, values(t, p, "m"), want, owner)
	}
	s := &scraper{shardBy: []model.LabelName{"instance", "job"}, owns: func(model.Metric) bool { return false }}
	for _, tc := range []struct {
		tg   scrapeTarget
		want bool
	}{
		{scrapeTarget{labels: labels.FromStrings("instance", "i", "job", "j")}, false},
		{scrapeTarget{labels: labels.FromStrings("instance", "i")}, true},
		{scrapeTarget{labels: labels.FromStrings("instance", "i", "job", "j"), honor: true}, true},
		{scrapeTarget{labels: labels.FromStrings("instance", "i", "job", "j"), relabel: []*relabel.Config{{}}}, true},
	} {
		require.Equal(t, tc.want, s.inShard(&tc.tg), "%+v", tc.tg)
	}
}

// BenchmarkDecodeScrape reads 1,000 series of one target's scrape as the live read of
// scrape_targets does (labels as Prometheus gives them), beside 1,000 series of other metrics
// it skips; compare BenchmarkDecodeFederate.
func BenchmarkDecodeScrape(b *testing.B) {
	body := []byte("# TYPE node_load1 gauge\n")
	for i := range 1000 {
		body = fmt.Appendf(body, "node_load1{service=\"svc%d\",tenant=\"t%d\",host=\"host-%d\"} %d.25\n", i%20, i%50, i, i)
	}
	body = append(body, "# TYPE node_other gauge\n"...)
	for i := range 1000 {
		body = fmt.Appendf(body, "node_other{cpu=\"%d\"} %d\n", i, i)
	}
	sel := scrapeSelectorOf(`node_load1`)
	tg := &scrapeTarget{url: "u", labels: labels.FromStrings("instance", "host.example.net:9100", "job", "node")}
	for b.Loop() {
		vec, err := appendScraped(nil, body, "text/plain; version=0.0.4", tg, sel, 0, 1700000000000)
		if err != nil || len(vec) != 1000 {
			b.Fatal(len(vec), err)
		}
	}
}
