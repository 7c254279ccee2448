package daemon

import (
	"net/http"

	"github.com/kizashi-dev/kizashi/exporter/seriesset"
)

// BenchApp is an App that runs no loops, for benchmarks that drive its queries' cycles
// themselves (BenchmarkDaemonCycle): its registry, self-metrics, /metrics handler and
// snapshots are the daemon's.
type BenchApp struct{ a *App }

// NewBenchApp returns an App with opts' defaults and its metrics registered.
func NewBenchApp(opts Options) *BenchApp { return &BenchApp{newApp(opts)} }

// Metrics returns the metrics the App's queries must use.
func (b *BenchApp) Metrics() *seriesset.Metrics { return b.a.metrics }

// SetQueries makes qs the App's queries, as a configuration would.
func (b *BenchApp) SetQueries(qs ...*seriesset.Query) {
	b.a.qmu.Lock()
	b.a.queries = qs
	b.a.qmu.Unlock()
}

// MetricsHandler returns the App's /metrics handler.
func (b *BenchApp) MetricsHandler() http.Handler { return b.a.metricsHandler() }

// SaveAll writes the snapshots of every query, as the periodic snapshot does.
func (b *BenchApp) SaveAll() { b.a.saveAll() }
