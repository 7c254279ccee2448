// Package seriesset holds the models of the series of each configured query: it discovers
// series from the query results, keeps one anomaly model per series, backfills new series from
// history, drops stale ones, applies the per-query cardinality cap and the shard filter, and
// keeps what the collector publishes.
package seriesset

import (
	"context"
	"crypto/md5"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/common/model"

	"github.com/kizashi-dev/kizashi/anomaly"
	"github.com/kizashi-dev/kizashi/exporter/exposition"
	"github.com/kizashi-dev/kizashi/exporter/metricnames"
	"github.com/kizashi-dev/kizashi/exporter/queryconfig"
	"github.com/kizashi-dev/kizashi/exporter/source"
)

// Source answers PromQL queries (see package source; tests use fakes).
type Source interface {
	Query(ctx context.Context, expr string, t time.Time) (model.Vector, error)
	QueryRange(ctx context.Context, expr string, start, end time.Time, step time.Duration) (model.Matrix, error)
}

// liveReadReporter is a Source that says how it read an expression's last live query
// (package source's does: an instant query, /federate or a scrape of the targets).
type liveReadReporter interface {
	LastLiveRead(expr string) (source.LiveRead, bool)
}

// Shard selects the series one replica models: those whose hash modulo Count is Index,
// exactly as Prometheus' hashmod relabelling computes it (the last 8 bytes of the MD5 of the
// values of the source labels joined by ";", big-endian, modulo Count). The source labels are
// By, or when By is empty every label of the series (its metric name included, as __name__),
// in the order of their names: a relabel rule with the same source_labels, separator ";" and
// modulus Count puts a series in the same shard. The zero value models everything.
//
// PromQL has no hash function, so the shard cannot be pushed into the query: every shard
// runs the whole query (and backfill) and keeps its share; see Owns. With scrape_targets and
// By naming target labels, the live read scrapes only the shard's targets (source's
// ShardTargets).
type Shard struct {
	Index, Count uint64
	By           []model.LabelName
}

// ParseShard parses "i/n" with 0 <= i < n.
func ParseShard(s string) (Shard, error) {
	a, b, ok := strings.Cut(s, "/")
	if !ok {
		return Shard{}, fmt.Errorf("shard %q: want i/n", s)
	}
	i, err1 := strconv.ParseUint(a, 10, 64)
	n, err2 := strconv.ParseUint(b, 10, 64)
	if err1 != nil || err2 != nil || n == 0 || i >= n {
		return Shard{}, fmt.Errorf("shard %q: want i/n with 0 <= i < n", s)
	}
	return Shard{Index: i, Count: n}, nil
}

// Owns reports whether the series with labels m belongs to the shard.
func (s Shard) Owns(m model.Metric) bool {
	if s.Count <= 1 {
		return true
	}
	return s.Hash(m)%s.Count == s.Index
}

// Hash returns the series' hash as Prometheus' hashmod computes it (see Shard).
func (s Shard) Hash(m model.Metric) uint64 {
	names := s.By
	if len(names) == 0 {
		names = make([]model.LabelName, 0, len(m))
		for n := range m {
			names = append(names, n)
		}
		slices.Sort(names)
	}
	h := md5.New()
	for i, n := range names {
		if i > 0 {
			h.Write([]byte{';'})
		}
		h.Write([]byte(m[n]))
	}
	var sum [md5.Size]byte
	return binary.BigEndian.Uint64(h.Sum(sum[:0])[8:])
}

func (s Shard) String() string {
	if s.Count <= 1 {
		return "0/1"
	}
	if len(s.By) > 0 {
		return fmt.Sprintf("%d/%d by %v", s.Index, s.Count, s.By)
	}
	return fmt.Sprintf("%d/%d", s.Index, s.Count)
}

// Options are the settings of a Query that do not come from the configuration file.
type Options struct {
	Shard Shard
	// ChartSeries is how many series per query keep a day of history for charts.
	ChartSeries int
	// MaxSamplesPerQuery bounds one backfill range query (series x points).
	MaxSamplesPerQuery int
	Metrics            *Metrics
	Logger             *slog.Logger
	// Now returns the current time (time.Now if nil).
	Now func() time.Time
}

// Query is the set of series models of one configured query.
type Query struct {
	cfg  queryconfig.Query
	spec *anomaly.Spec
	// forecastAt[i]: the forecast at cfg.Horizons[i] is published (kizashi_forecast*); the
	// live cycle computes only those (see refresh).
	forecastAt []bool
	opts       Options
	name       string
	log        *slog.Logger

	mu        sync.RWMutex
	series    map[model.Fingerprint]*Series
	owners    map[string]*owners // by published label text: see claim
	list      []*Series          // publication order; replaced (never edited in place) when series leave
	overLimit int
	shadowed  int // (series, scheme) pairs shadowed: see claim
	lastLen   int // series in the last live result (all shards), for sizing backfill chunks
	charts    int // series with a chart history
	// lastOK is the time of the last successful live cycle, upSince that of the first one
	// since the source last failed (zero while it fails): see apply and dropStale.
	lastOK, upSince time.Time

	backfilled atomic.Bool // the first backfill has finished
	backfillMu sync.Mutex  // one backfill at a time
	// models holds the series' models; inBackfill says a backfill may be updating the models
	// of joining series, whose models are then kept in retired when their series leave, until
	// it ends (see releaseModel). Guarded by mu.
	models     modelPool
	inBackfill bool
	retired    []*anomaly.Model

	statusMu sync.Mutex
	failures int             // consecutive failed queries to the source (live or backfill)
	lastErr  string          // the last failure's message, "" after a success
	read     source.LiveRead // how the last live query was read (a source that says so)
}

// FailingAfter is how many consecutive failed queries to the source (live cycles and
// backfill chunks) make a query failing: see Status.
const FailingAfter = 3

// Status is what the exporter says about a query on /-/ready and its page.
type Status struct {
	// Ready: the first backfill has finished; the query publishes every series it found.
	Ready bool
	// Failures is the number of consecutive failed queries to the source, LastError the
	// last one's message; both are reset by a success.
	Failures  int
	LastError string
	// Read is how the last live query was read (instant query, /federate, a scrape of the
	// targets), when the source says so (package source's does); zero: not known.
	Read source.LiveRead
}

// Failing reports whether the query has failed FailingAfter times in a row.
func (s Status) Failing() bool { return s.Failures >= FailingAfter }

// Usable reports whether the query is ready or failing: what /-/ready waits for, so that one
// broken query does not keep the others from being served.
func (s Status) Usable() bool { return s.Ready || s.Failing() }

// Status returns the query's status.
func (q *Query) Status() Status {
	q.statusMu.Lock()
	defer q.statusMu.Unlock()
	return Status{Ready: q.backfilled.Load(), Failures: q.failures, LastError: q.lastErr, Read: q.read}
}

// succeeded and failed record the outcome of a query to the source (kind instant or range).
func (q *Query) succeeded() {
	q.statusMu.Lock()
	q.failures, q.lastErr = 0, ""
	q.statusMu.Unlock()
	q.opts.Metrics.SourceUp.WithLabelValues(q.name).Set(1)
}

func (q *Query) failed(kind string, err error) {
	q.statusMu.Lock()
	q.failures++
	q.lastErr = err.Error()
	q.statusMu.Unlock()
	m := q.opts.Metrics
	m.SourceUp.WithLabelValues(q.name).Set(0)
	m.QueryErrors.WithLabelValues(q.name, kind, reason(err)).Inc()
}

// reason classifies a failed query for kizashi_exporter_query_errors_total.
func reason(err error) string {
	switch {
	case errors.Is(err, source.ErrTooLarge):
		return "too_large"
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	}
	return "error"
}

// New returns an empty Query for cfg.
func New(cfg queryconfig.Query, opts Options) (*Query, error) {
	ac, err := cfg.Anomaly()
	if err != nil {
		return nil, fmt.Errorf("query %s: %w", cfg.Name, err)
	}
	spec, err := anomaly.Compile(ac)
	if err != nil {
		return nil, fmt.Errorf("query %s: %w", cfg.Name, err)
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Metrics == nil {
		return nil, fmt.Errorf("query %s: no metrics", cfg.Name)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MaxSamplesPerQuery <= 0 {
		opts.MaxSamplesPerQuery = queryconfig.DefaultSource.MaxSamplesPerQuery
	}
	q := &Query{cfg: cfg, spec: spec, opts: opts, name: cfg.Name,
		log: opts.Logger.With("query", cfg.Name), series: map[model.Fingerprint]*Series{}, owners: map[string]*owners{}}
	q.forecastAt = make([]bool, len(cfg.Horizons))
	for _, f := range []string{metricnames.Forecast, metricnames.ForecastLower, metricnames.ForecastUpper} {
		_, horizons := cfg.Publishes(strings.TrimPrefix(f, "kizashi_"))
		for _, i := range horizons {
			q.forecastAt[i] = true
		}
	}
	q.updateGauges()
	return q, nil
}

// Name returns the query's name.
func (q *Query) Name() string { return q.name }

// Config returns the query's configuration.
func (q *Query) Config() queryconfig.Query { return q.cfg }

// Location returns the time zone the query's models follow (nil: UTC), as compiled from its
// configuration.
func (q *Query) Location() *time.Location { return q.spec.Config().Location }

// Ready reports whether the first backfill has finished.
func (q *Query) Ready() bool { return q.backfilled.Load() }

// Forget removes the query's own metrics (when it is no longer configured).
func (q *Query) Forget() { q.opts.Metrics.forget(q.name) }

// Len returns the number of series modelled.
func (q *Query) Len() int {
	q.mu.RLock()
	defer q.mu.RUnlock()
	return len(q.series)
}

// Series is one modelled series.
type Series struct {
	fp    model.Fingerprint
	raw   string                     // the raw series' labels, as the source returned them (packLabels)
	text  [exposition.Schemes]string // published labels for each escaping scheme (labelTexts)
	model *anomaly.Model
	// joining: waiting for or in a backfill, which owns the model, the history and fill;
	// the live cycle leaves the series alone. pub is what was published before (a series
	// catching up after an outage), or zero (a new or restored series).
	joining bool
	seen    time.Time
	// shadowed[scheme]: an earlier series has the same published labels for scheme (see
	// claim); the series is not published to scrapers that use it.
	shadowed [exposition.Schemes]bool
	pub      Published
	fill     *learned // what the backfill learned last; published when it hands over
	hist     *history
}

// Published is what the exporter publishes about a series after its last update.
type Published struct {
	Time   time.Time // time of the last sample learned; zero before any
	Value  float64   // that sample
	Result anomaly.Result
	// Forecasts[i] is the forecast at the query's Horizons[i] if it is published (see
	// queryconfig.Query.Publishes), else NaN: the live cycle computes only what is published
	// (the series page computes the others when it is shown, see view).
	Forecasts []anomaly.Forecast
	// ETAs[i] is the breach ETA in seconds of threshold i, or NaN if no breach is forecast.
	ETAs []float64
}

// learned is a sample learned and what the model made of it.
type learned struct {
	Time   time.Time
	Value  float64
	Result anomaly.Result
}

// newSeries returns a series whose model is a copy of m in q.models; q.mu held for writing.
func (q *Query) newSeries(fp model.Fingerprint, raw model.Metric, m *anomaly.Model) *Series {
	s := &Series{fp: fp, raw: packLabels(raw), text: labelTexts(raw, q.name), model: q.models.get(m), joining: true}
	if q.charts < q.opts.ChartSeries {
		s.hist = newHistory(time.Duration(q.cfg.Step))
		q.charts++
	}
	return s
}

// add inserts a series; q.mu must be held for writing.
func (q *Query) add(s *Series) {
	q.series[s.fp] = s
	q.list = append(q.list, s)
	q.claim(s)
}

// remove deletes a series; q.mu must be held for writing. The caller replaces q.list.
func (q *Query) remove(s *Series) {
	delete(q.series, s.fp)
	if s.hist != nil {
		q.charts--
	}
	q.release(s)
	q.releaseModel(s)
}

// releaseModel hands the model of a series that left back to q.models, or, while a backfill
// runs and the series was joining (the backfill may still update it), keeps it in q.retired
// until the backfill ends; q.mu held for writing.
func (q *Query) releaseModel(s *Series) {
	if s.joining && q.inBackfill {
		q.retired = append(q.retired, s.model)
	} else {
		q.models.put(s.model)
	}
	// s.model is left as it is: a running backfill may still read it without q.mu.
}

// learn feeds one sample to the series' model and records what is published: at once by the
// live cycle (q.mu held for writing), at the hand-over by a backfill (the series is joining
// and owned by the backfill, which never touches what is published meanwhile).
func (q *Query) learn(s *Series, t time.Time, v float64) error {
	r, err := s.model.Update(t, v)
	if err != nil {
		return err
	}
	if s.joining {
		if s.fill == nil {
			s.fill = &learned{}
		}
		*s.fill = learned{t, v, r}
	} else {
		s.pub.Time, s.pub.Value, s.pub.Result = t, v, r
	}
	if s.hist != nil {
		s.hist.add(t, v, r)
	}
	return nil
}

// refresh recomputes the forecasts and breach ETAs of a series (after its last update).
func (q *Query) refresh(s *Series) {
	hs := q.cfg.Horizons
	if cap(s.pub.Forecasts) < len(hs) {
		s.pub.Forecasts = make([]anomaly.Forecast, len(hs))
	}
	s.pub.Forecasts = s.pub.Forecasts[:len(hs)]
	for i, h := range hs {
		if q.forecastAt[i] {
			s.pub.Forecasts[i] = s.model.Forecast(time.Duration(h))
		} else {
			s.pub.Forecasts[i] = anomaly.Forecast{Horizon: time.Duration(h), Value: nan, Lower: nan, Upper: nan}
		}
	}
	if len(q.cfg.Thresholds) == 0 {
		return
	}
	if s.pub.ETAs == nil {
		s.pub.ETAs = make([]float64, len(q.cfg.Thresholds))
	}
	within := q.cfg.BreachHorizon()
	for i, th := range q.cfg.Thresholds {
		eta, ok := s.model.BreachETA(th, within)
		if ok {
			s.pub.ETAs[i] = eta.Seconds()
		} else {
			s.pub.ETAs[i] = nan
		}
	}
}

// CycleResult says what one live cycle did.
type CycleResult struct {
	Updated, New, Dropped, OverLimit, OtherShards int
	// Vanished: series absent from the answer whose absence scores at least
	// anomaly.ReasonMinScore (reason vanished) until they are dropped.
	Vanished int
	// CatchingUp: series that wait for a backfill of the steps missed since the last
	// successful cycle.
	CatchingUp           int
	QueryTime, ModelTime time.Duration
}

// Cycle runs the query at t (one query for all series), updates the models of the series it
// returns, registers new series for backfill and drops stale ones.
func (q *Query) Cycle(ctx context.Context, src Source, t time.Time) (CycleResult, error) {
	var res CycleResult
	start := time.Now()
	vec, err := src.Query(ctx, q.cfg.Expr, t)
	res.QueryTime = time.Since(start)
	if lr, ok := src.(liveReadReporter); ok {
		if r, ok := lr.LastLiveRead(q.cfg.Expr); ok {
			q.statusMu.Lock()
			q.read = r
			q.statusMu.Unlock()
		}
	}
	q.opts.Metrics.QueryDuration.WithLabelValues(q.name, "instant").Observe(res.QueryTime.Seconds())
	if err != nil {
		if ctx.Err() == nil { // not a shutdown
			q.failed("instant", err)
		}
		q.mu.Lock()
		q.upSince = time.Time{}
		q.mu.Unlock()
		return res, fmt.Errorf("cycle %s: %w", q.name, err)
	}
	q.succeeded()
	res = q.apply(vec, t, res)
	return res, nil
}

// apply is Cycle after the query: exported for benchmarks through ApplyVector.
func (q *Query) apply(vec model.Vector, t time.Time, res CycleResult) CycleResult {
	start := time.Now()
	rejected := 0
	q.mu.Lock()
	q.lastLen = len(vec)
	step := time.Duration(q.cfg.Step)
	if !q.lastOK.IsZero() && t.Sub(q.lastOK) > step {
		// Steps were missed (the source failed or was slow): the series catch up on them in
		// a backfill, publishing what they had meanwhile, instead of skipping them.
		for _, s := range q.list {
			if !s.joining {
				s.joining = true
				res.CatchingUp++
			}
		}
	}
	if !t.Before(q.lastOK) {
		q.lastOK = t
	}
	if q.upSince.IsZero() {
		q.upSince = t
	}
	for _, smp := range vec {
		fp := fingerprint(smp.Metric)
		s := q.series[fp]
		if s == nil {
			if !q.opts.Shard.Owns(smp.Metric) {
				res.OtherShards++
				continue
			}
			if len(q.series) >= q.cfg.MaxSeries {
				res.OverLimit++
				continue
			}
			s = q.newSeries(fp, smp.Metric, q.spec.New())
			q.add(s)
			res.New++
		}
		s.seen = t
		if s.joining {
			continue
		}
		ts := smp.Timestamp.Time().UTC()
		if !s.model.LastTime().Before(ts) {
			continue // already learned (e.g. by the backfill that just ended)
		}
		if err := q.learn(s, ts, float64(smp.Value)); err != nil {
			rejected++
			continue
		}
		q.refresh(s)
		res.Updated++
	}
	res.Vanished = q.vanished(t)
	res.Dropped = q.dropStale(t)
	q.overLimit = res.OverLimit
	q.mu.Unlock()

	res.ModelTime = time.Since(start)
	m := q.opts.Metrics
	m.CycleDuration.WithLabelValues(q.name).Observe(res.ModelTime.Seconds())
	m.LastUpdate.WithLabelValues(q.name).Set(float64(q.opts.Now().UnixNano()) / 1e9)
	if rejected > 0 {
		m.RejectedSamples.WithLabelValues(q.name).Add(float64(rejected))
	}
	if res.Dropped > 0 {
		m.SeriesDropped.WithLabelValues(q.name, "stale").Add(float64(res.Dropped))
	}
	q.updateGauges()
	return res
}

// ApplyVector is the model half of Cycle, for a vector already queried at t (benchmarks,
// tests).
func (q *Query) ApplyVector(vec model.Vector, t time.Time) CycleResult {
	return q.apply(vec, t, CycleResult{})
}

// vanished publishes, for every series the answer at t did not return (and that is not
// waiting for a backfill), what its model makes of the absence (anomaly.Model.Missing): a
// score that grows with the steps missed, with the reason vanished, from the first missing
// step until the series is dropped. q.mu held for writing. It returns how many such series
// score at least anomaly.ReasonMinScore.
func (q *Query) vanished(t time.Time) int {
	n := 0
	for _, s := range q.list {
		if s.joining || s.seen.Equal(t) || s.pub.Time.IsZero() {
			continue
		}
		s.pub.Result = s.model.Missing(t)
		if s.pub.Result.Reason == anomaly.ReasonVanished {
			n++
		}
	}
	return n
}

// dropStale removes the series not seen for the staleness timeout; q.mu held for writing.
// Only time in which the source answered counts: after an outage (or at start) nothing is
// dropped until the source has answered for the staleness timeout, so that the first, empty,
// answers of a Prometheus that just restarted do not drop every series.
func (q *Query) dropStale(now time.Time) int {
	if now.Sub(q.upSince) < q.cfg.Staleness() {
		return 0
	}
	limit := now.Add(-q.cfg.Staleness())
	dropped := 0
	for _, s := range q.list {
		if s.seen.Before(limit) {
			dropped++
		}
	}
	if dropped == 0 {
		return 0
	}
	list := make([]*Series, 0, len(q.list)-dropped)
	for _, s := range q.list {
		if s.seen.Before(limit) {
			q.remove(s)
			continue
		}
		list = append(list, s)
	}
	q.list = list
	return dropped
}

func (q *Query) updateGauges() {
	q.mu.RLock()
	n, over := len(q.series), q.overLimit
	joining, ready := 0, 0
	for _, s := range q.list {
		if s.joining {
			joining++
		}
		if s.pub.Result.Ready { // what is published: a series catching up keeps it
			ready++
		}
	}
	q.mu.RUnlock()
	m := q.opts.Metrics
	queryReady := 0.0
	if q.backfilled.Load() {
		queryReady = 1
	}
	m.QueryReady.WithLabelValues(q.name).Set(queryReady)
	m.SeriesReady.WithLabelValues(q.name).Set(float64(ready))
	m.Series.WithLabelValues(q.name).Set(float64(n))
	m.SeriesBackfilling.WithLabelValues(q.name).Set(float64(joining))
	m.SeriesOverLimit.WithLabelValues(q.name).Set(float64(over))
}

// Backfilling reports whether some series wait for a backfill.
func (q *Query) Backfilling() bool {
	q.mu.RLock()
	defer q.mu.RUnlock()
	for _, s := range q.list {
		if s.joining {
			return true
		}
	}
	return false
}
