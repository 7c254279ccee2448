package source

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	jsoniter "github.com/json-iterator/go"
	pconfig "github.com/prometheus/common/config"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/relabel"
	"github.com/prometheus/prometheus/model/textparse"
	"go.yaml.in/yaml/v3"

	"github.com/kizashi-dev/kizashi/exporter/queryconfig"
)

// The live read of a plain selector by scraping the source's targets (scrape_targets).
//
// A live read from Prometheus (an instant query, /federate) costs it the answer of every input
// series at every step. With scrape_targets the exporter reads what Prometheus reads, where
// Prometheus reads it: it lists the source's active targets (/api/v1/targets, every
// refresh_interval) and the scrape configurations that shape their series (honor_labels and
// metric_relabel_configs, from /api/v1/status/config), scrapes the targets whose labels can
// match the selector, and gives each scraped series the labels Prometheus gives it (the
// target's labels, exported_ before a clashing label of the target's own, the metric
// relabelling). The answer is the series an instant query would return, with the values the
// targets expose at the step rather than at Prometheus' last scrape of them. Backfill still
// reads Prometheus (query_range), and so does a step that cannot be read this way: an
// expression that is not a plain selector or has no metric name; Prometheus' own series of
// a scrape (up, scrape_*), which no target exposes; the target list or the scrape
// configurations not known; a target that does not answer. The scrapes of one step are
// shared by the queries of that step.

// scrapeAccept is what a scrape asks for: the text format (what Prometheus 2 scrapes most),
// OpenMetrics otherwise.
const scrapeAccept = `text/plain;version=0.0.4;q=0.5,application/openmetrics-text;version=1.0.0;q=0.4,*/*;q=0.1`

// scrapeConcurrency bounds the scrapes of one source in flight.
const scrapeConcurrency = 16

// shareScrapesFor is how long a scrape is kept for the other queries of its step.
const shareScrapesFor = 5 * time.Second

type scraper struct {
	cfg   queryconfig.ScrapeTargets
	hc    *http.Client
	pools map[string]bool // nil: every pool
	sem   chan struct{}

	mu        sync.Mutex
	listed    time.Time                  // when targets was read or last asked for
	targets   []*scrapeTarget            // nil: not listed yet (empty: no target)
	selectors map[string]*scrapeSelector // by expression; nil value: not read by scraping
	shardBy   []model.LabelName          // see ShardTargets
	owns      func(model.Metric) bool
	fetches   map[fetchKey]*fetch
	log       *slog.Logger // see LogScrapeFallbacks
	lastWhy   string       // the reason of the last step read from the source
}

// scrapeTarget is one active target of the source, as its series are labelled.
type scrapeTarget struct {
	url     string
	labels  labels.Labels // the target's labels (no __ ones), which every series gets
	honor   bool          // honor_labels
	relabel []*relabel.Config
}

// scrapeSelector is a plain selector read by scraping.
type scrapeSelector struct {
	name     string // the metric name (an equality matcher on __name__)
	matchers []*labels.Matcher
}

type fetchKey struct {
	url string
	t   time.Time
}

type fetch struct {
	done        chan struct{}
	finished    time.Time
	body        []byte
	contentType string
	err         error
}

func newScraper(cfg queryconfig.ScrapeTargets) (*scraper, error) {
	hc, err := pconfig.NewClientFromConfig(cfg.HTTPClientConfig, "kizashi_scrape")
	if err != nil {
		return nil, fmt.Errorf("scrape_targets http client: %w", err)
	}
	hc.Transport = &limitTransport{next: hc.Transport, max: int64(cfg.MaxScrapeSize), what: "max_scrape_size"}
	s := &scraper{cfg: cfg, hc: hc, sem: make(chan struct{}, scrapeConcurrency), selectors: map[string]*scrapeSelector{},
		fetches: map[fetchKey]*fetch{}}
	if len(cfg.ScrapePools) > 0 {
		s.pools = map[string]bool{}
		for _, p := range cfg.ScrapePools {
			s.pools[p] = true
		}
	}
	return s, nil
}

// scrapeSelectorOf returns expr as a selector read by scraping, or nil.
func scrapeSelectorOf(expr string) *scrapeSelector {
	vs := vectorSelector(expr)
	if vs == nil {
		return nil
	}
	sel := &scrapeSelector{matchers: vs.LabelMatchers}
	for _, m := range vs.LabelMatchers {
		if m.Name == model.MetricNameLabel && m.Type == labels.MatchEqual {
			sel.name = m.Value
		}
	}
	if sel.name == "" || sel.name == "up" || len(sel.name) > len("scrape_") && strings.HasPrefix(sel.name, "scrape_") {
		return nil
	}
	return sel
}

// scraped answers the instant query of expr at t by scraping the targets; ok false: it is to
// be read from the source, for the reason why ("" when expr is not one scrape_targets reads).
func (p *Prometheus) scraped(ctx context.Context, expr string, t time.Time) (vec model.Vector, ok bool, why string) {
	s := p.scrape
	if lag := time.Since(t); lag > federateMaxLag || lag < -federateMaxLag {
		return nil, false, "a step read late (a retry): from the source"
	}
	s.mu.Lock()
	sel, known := s.selectors[expr]
	if !known {
		sel = scrapeSelectorOf(expr)
		s.selectors[expr] = sel
	}
	s.mu.Unlock()
	if sel == nil {
		return nil, false, ""
	}
	targets, err := p.scrapeTargets(ctx)
	if err != nil {
		return nil, false, s.fallback(expr, fmt.Errorf("target list: %w", err))
	}
	var (
		todo []*scrapeTarget
		urls []string
	)
	for _, tg := range targets {
		if tg.mayMatch(sel) && s.inShard(tg) {
			todo = append(todo, tg)
			urls = append(urls, tg.url)
		}
	}
	fetches := p.fetches(ctx, urls, t)
	ts := model.TimeFromUnixNano(t.Round(time.Millisecond).UnixNano())
	vec = model.Vector{}
	for i, f := range fetches {
		select {
		case <-f.done:
		case <-ctx.Done():
			return nil, false, ctx.Err().Error()
		}
		if f.err != nil {
			return nil, false, s.fallback(expr, f.err)
		}
		if vec, err = appendScraped(vec, f.body, f.contentType, todo[i], sel, p.maxSamples, ts); err != nil {
			return nil, false, s.fallback(expr, err)
		}
	}
	return vec, true, ""
}

// LogScrapeFallbacks logs why a step of scrape_targets was read from the source: at warn
// level when the reason changes (a target or the target list fails), at debug level when it
// repeats. Without scrape_targets it does nothing. Call it before the first query.
func (p *Prometheus) LogScrapeFallbacks(l *slog.Logger) {
	if p.scrape != nil {
		p.scrape.log = l
	}
}

// fallback logs why expr's step is read from the source, and returns it.
func (s *scraper) fallback(expr string, why error) string {
	msg := why.Error()
	if s.log == nil {
		return msg
	}
	s.mu.Lock()
	repeat := msg == s.lastWhy
	s.lastWhy = msg
	s.mu.Unlock()
	level := slog.LevelWarn
	if repeat {
		level = slog.LevelDebug
	}
	s.log.Log(context.Background(), level, "scrape_targets: step read from the source", "expr", expr, "reason", msg)
	return msg
}

// ShardTargets makes the scrapes of scrape_targets skip the targets whose series are all in
// another shard: those whose labels include every label of by (the series then have the
// target's values of them) and whose values of them owns refuses. owns is the shard's test of
// a series' labels by those labels alone (seriesset.Shard.Owns with By set). Without
// scrape_targets it does nothing. Call it before the first query.
func (p *Prometheus) ShardTargets(by []model.LabelName, owns func(model.Metric) bool) {
	if p.scrape != nil && len(by) > 0 {
		p.scrape.shardBy, p.scrape.owns = by, owns
	}
}

// inShard reports whether the target may have series of this shard.
func (s *scraper) inShard(tg *scrapeTarget) bool {
	if s.owns == nil || tg.honor || len(tg.relabel) > 0 {
		return true
	}
	m := make(model.Metric, len(s.shardBy))
	for _, n := range s.shardBy {
		v := tg.labels.Get(string(n))
		if v == "" {
			return true // a label the series may have of their own
		}
		m[n] = model.LabelValue(v)
	}
	return s.owns(m)
}

// mayMatch reports whether the target can have series that sel selects: a matcher on one of
// the target's labels decides, unless the target's series may keep a label of their own
// (honor_labels) or are relabelled.
func (tg *scrapeTarget) mayMatch(sel *scrapeSelector) bool {
	if tg.honor || len(tg.relabel) > 0 {
		return true
	}
	for _, m := range sel.matchers {
		if m.Name == model.MetricNameLabel {
			continue
		}
		if v := tg.labels.Get(m.Name); v != "" && !m.Matches(v) {
			return false
		}
	}
	return true
}

// fetches scrapes the urls for the step t, or joins the scrapes of another query of the same
// step.
func (p *Prometheus) fetches(ctx context.Context, urls []string, t time.Time) []*fetch {
	s := p.scrape
	now := time.Now()
	out := make([]*fetch, len(urls))
	var start []int
	s.mu.Lock()
	for key, f := range s.fetches {
		if !f.finished.IsZero() && now.Sub(f.finished) > shareScrapesFor {
			delete(s.fetches, key)
		}
	}
	for i, u := range urls {
		k := fetchKey{url: u, t: t}
		if f := s.fetches[k]; f != nil {
			out[i] = f
			continue
		}
		out[i] = &fetch{done: make(chan struct{})}
		s.fetches[k] = out[i]
		start = append(start, i)
	}
	s.mu.Unlock()
	for _, i := range start {
		f, k := out[i], fetchKey{url: urls[i], t: t}
		p.count(APIScrape)
		go func() {
			s.sem <- struct{}{}
			f.body, f.contentType, f.err = s.get(ctx, k.url)
			<-s.sem
			s.mu.Lock()
			f.finished = time.Now()
			if f.err != nil {
				delete(s.fetches, k) // another query of the step tries again
			}
			s.mu.Unlock()
			close(f.done)
		}()
	}
	return out
}

// get scrapes one target.
func (s *scraper) get(ctx context.Context, u string) (body []byte, contentType string, err error) {
	ctx, cancel := context.WithTimeout(ctx, time.Duration(s.cfg.ScrapeTimeout))
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, "", err
	}
	req.Header.Set("Accept", scrapeAccept)
	req.Header.Set("User-Agent", "kizashi-exporter")
	req.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", fmt.Sprintf("%g", time.Duration(s.cfg.ScrapeTimeout).Seconds()))
	resp, err := s.hc.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, "", fmt.Errorf("scrape %s: %s", u, resp.Status)
	}
	body, err = io.ReadAll(resp.Body)
	return body, resp.Header.Get("Content-Type"), err
}

// appendScraped appends to vec the series of one target's scrape that sel selects, labelled
// as Prometheus labels them, at ts.
func appendScraped(vec model.Vector, body []byte, contentType string, tg *scrapeTarget, sel *scrapeSelector, maxSamples int, ts model.Time) (model.Vector, error) {
	tp, err := textparse.New(body, contentType, labels.NewSymbolTable(), textparse.ParserOptions{FallbackContentType: "text/plain"})
	if tp == nil {
		return nil, fmt.Errorf("scrape %s: %w", tg.url, err)
	}
	var (
		lset      labels.Labels
		lb        = labels.NewBuilder(labels.EmptyLabels())
		conflicts []labels.Label
	)
	byName := len(tg.relabel) == 0 // the metric name of the exposition is the series' name
	for {
		e, err := tp.Next()
		if errors.Is(err, io.EOF) {
			return vec, nil
		}
		if err != nil {
			return nil, fmt.Errorf("scrape %s: %w", tg.url, err)
		}
		if e != textparse.EntrySeries {
			continue
		}
		series, _, v := tp.Series()
		if byName && !nameMayBe(series, sel.name) {
			continue
		}
		tp.Labels(&lset)
		lb.Reset(lset)
		// As Prometheus' scrape loop (mutateSampleLabels) labels a sample.
		conflicts = conflicts[:0]
		tg.labels.Range(func(l labels.Label) {
			existing := lset.Get(l.Name)
			switch {
			case tg.honor:
				if existing == "" {
					lb.Set(l.Name, l.Value)
				}
				return
			case existing != "":
				conflicts = append(conflicts, labels.Label{Name: l.Name, Value: existing})
			}
			lb.Set(l.Name, l.Value)
		})
		if len(conflicts) > 0 {
			slices.SortStableFunc(conflicts, func(a, b labels.Label) int { return len(a.Name) - len(b.Name) })
			for _, l := range conflicts {
				name := l.Name
				for {
					name = model.ExportedLabelPrefix + name
					if lb.Get(name) == "" {
						lb.Set(name, l.Value)
						break
					}
				}
			}
		}
		if !relabel.ProcessBuilder(lb, tg.relabel...) {
			continue
		}
		match := true
		for _, m := range sel.matchers {
			if !m.Matches(lb.Get(m.Name)) {
				match = false
				break
			}
		}
		if !match {
			continue
		}
		if maxSamples > 0 && len(vec) >= maxSamples {
			return nil, fmt.Errorf("%w: over max_response_samples %d", ErrTooLarge, maxSamples)
		}
		m := model.Metric{}
		lb.Range(func(l labels.Label) {
			if l.Value != "" {
				m[model.LabelName(l.Name)] = model.LabelValue(l.Value)
			}
		})
		if math.IsNaN(v) {
			v = math.NaN()
		}
		vec = append(vec, &model.Sample{Metric: m, Value: model.SampleValue(v), Timestamp: ts})
	}
}

// nameMayBe reports whether an exposition's series (name{labels} or {"name", labels}) can be
// of the metric name.
func nameMayBe(series []byte, name string) bool {
	if len(series) > 0 && series[0] == '{' {
		return true // a quoted name: read from the labels
	}
	if !bytes.HasPrefix(series, []byte(name)) {
		return false
	}
	if len(series) == len(name) {
		return true
	}
	c := series[len(name)]
	return c == '{' || c == ' ' || c == '\t'
}

// scrapeTargets returns the source's active targets of the configured pools, read again
// every refresh_interval (the last list while the source cannot answer; until a first list,
// asked at every step).
func (p *Prometheus) scrapeTargets(ctx context.Context) ([]*scrapeTarget, error) {
	s := p.scrape
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.targets != nil && time.Since(s.listed) < time.Duration(s.cfg.RefreshInterval) {
		return s.targets, nil
	}
	targets, err := p.listTargets(ctx)
	s.listed = time.Now()
	if err != nil {
		if s.targets != nil {
			return s.targets, nil // the last list, until the source answers again
		}
		return nil, err
	}
	s.targets = targets
	return targets, nil
}

// listTargets reads the active targets and the scrape configurations from the source.
func (p *Prometheus) listTargets(ctx context.Context) ([]*scrapeTarget, error) {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	p.count(APITargets)
	body, err := p.get(ctx, "/api/v1/targets", url.Values{"state": {"active"}})
	if err != nil {
		return nil, err
	}
	var list struct {
		Status string `json:"status"`
		Data   struct {
			ActiveTargets []struct {
				ScrapePool string            `json:"scrapePool"`
				ScrapeURL  string            `json:"scrapeUrl"`
				Labels     map[string]string `json:"labels"`
			} `json:"activeTargets"`
		} `json:"data"`
	}
	if err := jsoniter.Unmarshal(body, &list); err != nil || list.Status != "success" {
		return nil, fmt.Errorf("targets: not a Prometheus answer (%v)", err)
	}
	p.count(APITargets)
	body, err = p.get(ctx, "/api/v1/status/config", nil)
	if err != nil {
		return nil, err
	}
	pools, err := scrapePools(body)
	if err != nil {
		return nil, err
	}
	out := []*scrapeTarget{}
	for _, at := range list.Data.ActiveTargets {
		if p.scrape.pools != nil && !p.scrape.pools[at.ScrapePool] {
			continue
		}
		pc, ok := pools[at.ScrapePool]
		if !ok {
			return nil, fmt.Errorf("targets: scrape pool %q not in the configuration", at.ScrapePool)
		}
		if _, err := url.Parse(at.ScrapeURL); err != nil || at.ScrapeURL == "" {
			return nil, fmt.Errorf("targets: scrape URL of pool %q: %q", at.ScrapePool, at.ScrapeURL)
		}
		lb := labels.NewScratchBuilder(len(at.Labels))
		for k, v := range at.Labels {
			if v != "" {
				lb.Add(k, v)
			}
		}
		lb.Sort()
		out = append(out, &scrapeTarget{url: at.ScrapeURL, labels: lb.Labels(), honor: pc.HonorLabels, relabel: pc.MetricRelabelConfigs})
	}
	return out, nil
}

// scrapePool is what the scrape configuration of a pool says about its series' labels.
type scrapePool struct {
	JobName              string            `yaml:"job_name"`
	HonorLabels          bool              `yaml:"honor_labels"`
	MetricRelabelConfigs []*relabel.Config `yaml:"metric_relabel_configs"`
}

// scrapePools reads the scrape configurations of a /api/v1/status/config answer.
func scrapePools(body []byte) (map[string]scrapePool, error) {
	conf, ok := statusConfigYAML(body)
	if !ok {
		return nil, errors.New("status/config: not a Prometheus answer")
	}
	var cfg struct {
		ScrapeConfigs []scrapePool `yaml:"scrape_configs"`
	}
	if err := yaml.Unmarshal([]byte(conf), &cfg); err != nil {
		return nil, fmt.Errorf("status/config: %w", err)
	}
	out := map[string]scrapePool{}
	for _, sc := range cfg.ScrapeConfigs {
		for _, rc := range sc.MetricRelabelConfigs {
			if rc == nil {
				return nil, fmt.Errorf("status/config: job %q: empty metric_relabel_configs entry", sc.JobName)
			}
			rc.NameValidationScheme = model.UTF8Validation
			if err := rc.Validate(model.UTF8Validation); err != nil {
				return nil, fmt.Errorf("status/config: job %q: %w", sc.JobName, err)
			}
		}
		out[sc.JobName] = sc
	}
	return out, nil
}

// get reads a GET answer of the source's API (2xx only).
func (p *Prometheus) get(ctx context.Context, path string, args url.Values) ([]byte, error) {
	u := p.client.URL(path, nil)
	u.RawQuery = args.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	resp, body, err := p.client.Do(ctx, req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 != 2 {
		return nil, answerError(resp, body)
	}
	return body, nil
}
