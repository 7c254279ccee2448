package testenv

import (
	"bufio"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// Target is an in-test scrape target: an HTTP server on 127.0.0.1 that serves
// settable gauges at /metrics in the Prometheus text exposition format.
// It is closed at the end of the test.
type Target struct {
	srv     *httptest.Server
	scrapes atomic.Int64

	mu     sync.Mutex
	values map[string]targetValue // by series key
}

type targetValue struct {
	metric string
	labels map[string]string
	value  float64
}

// NewTarget starts a Target with no series.
func NewTarget(t testing.TB) *Target {
	t.Helper()
	tg := &Target{values: map[string]targetValue{}}
	tg.srv = httptest.NewServer(http.HandlerFunc(tg.serve))
	t.Cleanup(tg.srv.Close)
	return tg
}

// Addr returns the target's "127.0.0.1:<port>", as scrape configs want it.
func (tg *Target) Addr() string {
	u, _ := url.Parse(tg.srv.URL)
	return u.Host
}

// URL returns the target's metrics URL, "http://127.0.0.1:<port>/metrics".
func (tg *Target) URL() string { return tg.srv.URL + "/metrics" }

// Scrapes returns how many times /metrics was served.
func (tg *Target) Scrapes() int { return int(tg.scrapes.Load()) }

// Set sets the gauge metric{labels} to v, creating the series if needed.
func (tg *Target) Set(metric string, labels map[string]string, v float64) {
	s := Sample{Metric: metric, Labels: labels}
	if err := s.validate(); err != nil {
		panic("testenv: Target.Set: " + err.Error())
	}
	tg.mu.Lock()
	defer tg.mu.Unlock()
	tg.values[seriesKey(metric, labels)] = targetValue{metric: metric, labels: maps.Clone(labels), value: v}
}

// Delete removes metric{labels}; the series goes stale in Prometheus.
func (tg *Target) Delete(metric string, labels map[string]string) {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	delete(tg.values, seriesKey(metric, labels))
}

func seriesKey(metric string, labels map[string]string) string {
	var b strings.Builder
	bw := bufio.NewWriter(&b)
	writeSeries(bw, metric, labels)
	bw.Flush()
	return b.String()
}

func (tg *Target) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/metrics" {
		http.NotFound(w, r)
		return
	}
	tg.scrapes.Add(1)
	tg.mu.Lock()
	vals := slices.SortedFunc(maps.Values(tg.values), func(a, b targetValue) int {
		if c := strings.Compare(a.metric, b.metric); c != 0 {
			return c
		}
		return strings.Compare(seriesKey(a.metric, a.labels), seriesKey(b.metric, b.labels))
	})
	tg.mu.Unlock()
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	bw := bufio.NewWriter(w)
	last := ""
	for _, v := range vals {
		if v.metric != last {
			bw.WriteString("# TYPE " + v.metric + " gauge\n")
			last = v.metric
		}
		writeSeries(bw, v.metric, v.labels)
		bw.WriteString(" " + formatValue(v.value) + "\n")
	}
	bw.Flush()
}
