// Package config holds kizashi-exporter's configuration file: where to read raw series from,
// and which PromQL expressions to model. Decoding is strict: unknown keys are errors, reported
// with their line numbers, and every value is validated before a configuration is used.
package queryconfig

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/alecthomas/units"
	pconfig "github.com/prometheus/common/config"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/promql/parser"
	"go.yaml.in/yaml/v3"

	"github.com/kizashi-dev/kizashi/anomaly"
	"github.com/kizashi-dev/kizashi/exporter/metricnames"
	"github.com/kizashi-dev/kizashi/internal/timezone"
)

// Defaults applied to fields left out of the file.
var (
	// DefaultSource is the default source section.
	DefaultSource = Source{
		HTTPClientConfig:   pconfig.DefaultHTTPClientConfig,
		QueryTimeout:       model.Duration(30 * time.Second),
		MaxSamplesPerQuery: 1_000_000,
		MaxResponseSize:    128 * units.MiB,
		MaxResponseSamples: 5_000_000,
	}
	// DefaultQuery is the default of every entry of queries.
	DefaultQuery = Query{
		Step:           model.Duration(time.Minute),
		TrainingWindow: model.Duration(7 * 24 * time.Hour),
		Sensitivity:    0.5,
		Horizons:       []model.Duration{model.Duration(time.Hour), model.Duration(6 * time.Hour), model.Duration(24 * time.Hour)},
		MaxSeries:      10_000,
		Daily:          "auto",
		Weekly:         "auto",
		Trend:          "auto",
	}
)

// Config is the whole configuration file.
type Config struct {
	Source  Source  `yaml:"source"`
	Queries []Query `yaml:"queries"`
}

// Source is the Prometheus-compatible HTTP API the raw series are read from.
type Source struct {
	// URL of the API root, e.g. http://prometheus:9090 (the /api/v1/... paths are appended).
	URL string `yaml:"url"`
	// QueryTimeout bounds every query (also sent to the server as its timeout).
	QueryTimeout model.Duration `yaml:"query_timeout"`
	// MaxSamplesPerQuery bounds the size of one backfill query_range answer: the training
	// window is split into chunks of at most this many samples (series x points).
	MaxSamplesPerQuery int `yaml:"max_samples_per_query"`
	// MaxResponseSize and MaxResponseSamples bound one answer of the source: a larger one
	// fails the query (reason too_large) before it can take the exporter's memory. A backfill
	// chunk that is too large is split.
	MaxResponseSize    units.Base2Bytes `yaml:"max_response_size"`
	MaxResponseSamples int              `yaml:"max_response_samples"`
	// HTTPClientConfig: basic_auth, authorization, oauth2, tls_config, proxy_url, ...
	HTTPClientConfig pconfig.HTTPClientConfig `yaml:",inline"`
	// ScrapeTargets, when set, has the live cycle of a query that is a plain selector read
	// its series from the targets the source (a Prometheus server) scrapes, scraped by the
	// exporter, rather than from the source: see exporter/source/scrape.go.
	ScrapeTargets *ScrapeTargets `yaml:"scrape_targets"`
}

// ScrapeTargets is how the exporter scrapes the source's targets itself.
type ScrapeTargets struct {
	// ScrapePools are the source's scrape pools (its job_name values) whose targets are read:
	// the series of other pools are not, even when the selector matches them. Empty: all.
	ScrapePools []string `yaml:"scrape_pools"`
	// RefreshInterval is how often the source's list of targets is read again.
	RefreshInterval model.Duration `yaml:"refresh_interval"`
	// ScrapeTimeout bounds one scrape of one target.
	ScrapeTimeout model.Duration `yaml:"scrape_timeout"`
	// MaxScrapeSize bounds the body of one target's answer.
	MaxScrapeSize units.Base2Bytes `yaml:"max_scrape_size"`
	// HTTPClientConfig is the client configuration of the scrapes of the targets (the
	// credentials Prometheus uses for them, which its API does not give out).
	HTTPClientConfig pconfig.HTTPClientConfig `yaml:",inline"`
}

// DefaultScrapeTargets is the default of the scrape_targets section.
var DefaultScrapeTargets = ScrapeTargets{
	RefreshInterval:  model.Duration(5 * time.Minute),
	ScrapeTimeout:    model.Duration(10 * time.Second),
	MaxScrapeSize:    64 * units.MiB,
	HTTPClientConfig: pconfig.DefaultHTTPClientConfig,
}

// UnmarshalYAML applies DefaultScrapeTargets (the source validates).
func (s *ScrapeTargets) UnmarshalYAML(unmarshal func(any) error) error {
	*s = DefaultScrapeTargets
	type plain ScrapeTargets
	return unmarshal((*plain)(s))
}

func (s *ScrapeTargets) validate() error {
	if s.RefreshInterval < model.Duration(time.Second) {
		return fmt.Errorf("refresh_interval %s: at least 1s", s.RefreshInterval)
	}
	if s.ScrapeTimeout <= 0 {
		return errors.New("scrape_timeout must be positive")
	}
	if s.MaxScrapeSize < units.KiB {
		return fmt.Errorf("max_scrape_size %s: at least 1KiB", s.MaxScrapeSize)
	}
	for i, p := range s.ScrapePools {
		if p == "" || slices.Contains(s.ScrapePools[:i], p) {
			return fmt.Errorf("scrape_pools[%d] %q: empty or repeated", i, p)
		}
	}
	return s.HTTPClientConfig.Validate()
}

// Query is one modelled PromQL expression.
type Query struct {
	// Name identifies the query: the kizashi_query label, the snapshot file name.
	Name string `yaml:"name"`
	// Expr is the PromQL expression; every series it returns is modelled. Counters must be
	// wrapped in rate() (a reset or a gap then never reaches the model as a spike).
	Expr string `yaml:"expr"`
	// Step is both the live evaluation interval and the backfill resolution.
	Step model.Duration `yaml:"step"`
	// TrainingWindow is how much history is backfilled for a new series.
	TrainingWindow model.Duration `yaml:"training_window"`
	// Sensitivity in [0,1] sets the band width (see anomaly.Config).
	Sensitivity float64 `yaml:"sensitivity"`
	// Horizons are the forecast horizons published as kizashi_forecast{horizon=...}.
	Horizons []model.Duration `yaml:"horizons"`
	// Thresholds are the values whose breach ETA is published as
	// kizashi_breach_eta_seconds{threshold=...}.
	Thresholds []float64 `yaml:"thresholds"`
	// BreachWithin is how far ahead a breach is looked for; default the longest horizon.
	BreachWithin model.Duration `yaml:"breach_within"`
	// Min and Max are the series' valid range (e.g. min: 0 for rates).
	Min *float64 `yaml:"min"`
	Max *float64 `yaml:"max"`
	// Daily, Weekly and Trend: auto, on or off.
	Daily  string `yaml:"daily"`
	Weekly string `yaml:"weekly"`
	Trend  string `yaml:"trend"`
	// WarmUp is how much history a model needs before it reports itself ready (0: engine default).
	WarmUp model.Duration `yaml:"warm_up"`
	// Timezone is the IANA time zone whose days and weeks the seasonal profiles follow (the
	// zone of the business the series serve: office hours stay at 09:00 local across
	// daylight-saving changes); empty: UTC. See anomaly.Config.Location.
	Timezone string `yaml:"timezone"`
	// Holidays are dates (2026-05-04) and ranges (2026-12-29..2027-01-03) in Timezone that
	// the weekly profiles read as Sundays (anomaly.ParseHolidays).
	Holidays []string `yaml:"holidays"`
	// MaxSeries caps the series modelled for this query (after sharding); more are reported
	// as over the limit, never modelled.
	MaxSeries int `yaml:"max_series"`
	// StalenessTimeout: a series absent from the results this long is dropped.
	// Default: 5 steps, at least 5 minutes.
	StalenessTimeout model.Duration `yaml:"staleness_timeout"`
	// Publish selects the kizashi_* families published for the query's series (Families):
	// a name, or for the forecast families name:horizon (one of Horizons), or all. Default
	// (nil): DefaultPublish, forecasts at the longest horizon only and only for queries with
	// Thresholds.
	Publish []string `yaml:"publish"`
}

// Families are the names of the published families (kizashi_<name>) that publish accepts,
// in the order they are written: metricnames.Families without the kizashi_ prefix.
var Families = func() []string {
	var out []string
	for _, n := range metricnames.Names() {
		out = append(out, strings.TrimPrefix(n, "kizashi_"))
	}
	return out
}()

// DefaultPublish is what is published when publish is not set: at most 6 series per input
// with one threshold (kizashi_anomaly_reason only while the score is at least 0.5,
// kizashi_breach_eta_seconds only for queries with thresholds and while a crossing is
// forecast); kizashi_forecast at the longest horizon only, and only for queries with
// thresholds (capacity queries, whose breach ETA it explains): a query without thresholds
// publishes 3 series per input (score and band) and the reason while anomalous. It is what
// the shipped rules and dashboards read.
var DefaultPublish = []string{"anomaly_score", "anomaly_reason", "lower", "upper", "forecast", "breach_eta_seconds"}

// forecastFamily reports whether a family is published per horizon.
func forecastFamily(f string) bool { return strings.HasPrefix(f, "forecast") }

// Publishes reports whether the family f (one of Families) is published, and for the
// forecast families at which horizons (indexes into Horizons).
func (q *Query) Publishes(f string) (ok bool, horizons []int) {
	sel := q.Publish
	if sel == nil {
		if !slices.Contains(DefaultPublish, f) {
			return false, nil
		}
		if forecastFamily(f) {
			if len(q.Thresholds) == 0 {
				return false, nil
			}
			if len(q.Horizons) == 0 {
				return true, nil
			}
			return true, []int{len(q.Horizons) - 1}
		}
		return true, nil
	}
	for _, e := range sel {
		name, h, hasH := strings.Cut(e, ":")
		if name != f && name != "all" {
			continue
		}
		ok = true
		if !forecastFamily(f) {
			return true, nil
		}
		if !hasH {
			horizons = horizons[:0]
			for i := range q.Horizons {
				horizons = append(horizons, i)
			}
			return true, horizons
		}
		d, _ := model.ParseDuration(h)
		for i, hh := range q.Horizons {
			if hh == d && !slices.Contains(horizons, i) {
				horizons = append(horizons, i)
			}
		}
	}
	slices.Sort(horizons)
	return ok, horizons
}

func (q *Query) validatePublish() error {
	// The entries are not shown: a secret written under the wrong key would be.
	for i, e := range q.Publish {
		name, h, hasH := strings.Cut(e, ":")
		if name == "all" && !hasH {
			continue
		}
		if !slices.Contains(Families, name) {
			return keyErrorf("publish", "publish[%d]: unknown family (value not shown); want all or one of %s", i, strings.Join(Families, ", "))
		}
		if !hasH {
			continue
		}
		if !forecastFamily(name) {
			return keyErrorf("publish", "publish[%d]: only forecast, forecast_lower and forecast_upper take a horizon", i)
		}
		d, err := model.ParseDuration(h)
		if err != nil || !slices.Contains(q.Horizons, d) {
			return keyErrorf("publish", "publish[%d]: the horizon is not one of horizons", i)
		}
	}
	return nil
}

// UnmarshalYAML applies DefaultSource, then validates.
func (s *Source) UnmarshalYAML(unmarshal func(any) error) error {
	var nc nodeOf
	if err := unmarshal(&nc); err != nil {
		return err
	}
	n := nc.n
	*s = DefaultSource
	type plain Source
	if err := unmarshal((*plain)(s)); err != nil {
		return locate(n, "source: ", func() any { return new(plain) }, err)
	}
	if err := s.validate(); err != nil {
		return at(n, "source: ", err)
	}
	return nil
}

func (s *Source) validate() error {
	if s.URL == "" {
		return errors.New("url is required")
	}
	u, err := url.Parse(s.URL)
	if err != nil {
		// Not url.Error's text: it quotes the URL, and with it any password.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return keyErrorf("url", "url: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return keyErrorf("url", "url %q: want http(s)://host[:port][/path]", u.Redacted())
	}
	if s.QueryTimeout <= 0 {
		return keyErrorf("query_timeout", "query_timeout must be positive")
	}
	if s.MaxSamplesPerQuery < 1000 {
		return keyErrorf("max_samples_per_query", "max_samples_per_query %d: at least 1000", s.MaxSamplesPerQuery)
	}
	if s.MaxResponseSize < units.MiB {
		return keyErrorf("max_response_size", "max_response_size %s: at least 1MiB", s.MaxResponseSize)
	}
	if s.MaxResponseSamples < s.MaxSamplesPerQuery {
		return keyErrorf("max_response_samples", "max_response_samples %d: at least max_samples_per_query (%d)", s.MaxResponseSamples, s.MaxSamplesPerQuery)
	}
	if err := s.HTTPClientConfig.Validate(); err != nil {
		return err
	}
	if s.ScrapeTargets != nil {
		if err := s.ScrapeTargets.validate(); err != nil {
			return keyErrorf("scrape_targets", "scrape_targets: %w", err)
		}
	}
	return nil
}

var nameRE = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

// UnmarshalYAML applies DefaultQuery, then validates.
func (q *Query) UnmarshalYAML(unmarshal func(any) error) error {
	var nc nodeOf
	if err := unmarshal(&nc); err != nil {
		return err
	}
	n := nc.n
	what := "query: "
	if name := scalar(n, "name"); name != "" {
		what = fmt.Sprintf("query %q: ", name)
	}
	*q = DefaultQuery
	q.Horizons = slices.Clone(DefaultQuery.Horizons)
	type plain Query
	if err := unmarshal((*plain)(q)); err != nil {
		return locate(n, what, func() any { return new(plain) }, err)
	}
	if err := q.validate(); err != nil {
		return at(n, what, err)
	}
	return nil
}

// promql parses expressions with every feature a source may have enabled: the source, not the
// check, refuses what it does not support.
var promql = parser.NewParser(parser.Options{EnableExperimentalFunctions: true, ExperimentalDurationExpr: true,
	EnableExtendedRangeSelectors: true, EnableBinopFillModifiers: true})

func (q *Query) validate() error {
	switch {
	case q.Name == "":
		return keyErrorf("name", "name is required")
	case !nameRE.MatchString(q.Name):
		return keyErrorf("name", "name %q: want letters, digits and underscores, not starting with a digit", q.Name)
	case q.Expr == "":
		return keyErrorf("expr", "expr is required")
	case q.Step < model.Duration(time.Second):
		return keyErrorf("step", "step %s: at least 1s", q.Step)
	case q.TrainingWindow < q.Step:
		return keyErrorf("training_window", "training_window %s: at least one step (%s)", q.TrainingWindow, q.Step)
	case q.MaxSeries < 1:
		return keyErrorf("max_series", "max_series %d: must be positive", q.MaxSeries)
	case q.StalenessTimeout < 0:
		return keyErrorf("staleness_timeout", "staleness_timeout %s: must not be negative", q.StalenessTimeout)
	case q.BreachWithin < 0:
		return keyErrorf("breach_within", "breach_within %s: must not be negative", q.BreachWithin)
	}
	expr, err := promql.ParseExpr(q.Expr)
	if err != nil {
		return keyErrorf("expr", "expr: %w", err)
	}
	if t := expr.Type(); t != parser.ValueTypeVector && t != parser.ValueTypeScalar {
		return keyErrorf("expr", "expr: a %s expression, want an instant vector or a scalar", t)
	}
	for _, th := range q.Thresholds {
		if math.IsNaN(th) || math.IsInf(th, 0) {
			return keyErrorf("thresholds", "threshold %g: must be finite", th)
		}
	}
	if len(q.Thresholds) > 8 {
		return keyErrorf("thresholds", "%d thresholds: at most 8", len(q.Thresholds))
	}
	if err := q.validatePublish(); err != nil {
		return err
	}
	ac, err := q.Anomaly()
	if err != nil {
		return err
	}
	if _, err := anomaly.Compile(ac); err != nil {
		return &keyError{key: engineKey(err), err: err}
	}
	return nil
}

// engineKey returns the key an error of anomaly.Compile is about, from the name it starts
// with (see anomaly.Compile).
func engineKey(err error) string {
	msg := err.Error()
	for _, k := range []struct{ prefix, key string }{
		{"sensitivity", "sensitivity"}, {"warm-up", "warm_up"}, {"horizon", "horizons"}, {"weekly", "weekly"},
		{"min", "min"}, {"max", "max"}, {"step", "step"},
	} {
		if strings.HasPrefix(msg, k.prefix) {
			return k.key
		}
	}
	return ""
}

// Anomaly returns the engine configuration of the query (validated with the query: see
// anomaly.Compile).
func (q *Query) Anomaly() (anomaly.Config, error) {
	c := anomaly.Config{
		Step:        time.Duration(q.Step),
		Sensitivity: anomaly.Float(q.Sensitivity),
		Min:         q.Min,
		Max:         q.Max,
		WarmUp:      time.Duration(q.WarmUp),
	}
	loc, err := timezone.Parse(q.Timezone)
	if err != nil {
		return c, keyErrorf("timezone", "timezone: %w", err)
	}
	c.Location = loc
	if c.Holidays, err = anomaly.ParseHolidays(q.Holidays); err != nil {
		return c, keyErrorf("holidays", "%w", err)
	}
	for _, m := range []struct {
		key, text string
		dst       *anomaly.Mode
	}{{"daily", q.Daily, &c.Daily}, {"weekly", q.Weekly, &c.Weekly}, {"trend", q.Trend, &c.Trend}} {
		if err := m.dst.UnmarshalText([]byte(m.text)); err != nil {
			return c, keyErrorf(m.key, "%s: %w", m.key, err)
		}
	}
	c.Horizons = make([]time.Duration, len(q.Horizons))
	for i, h := range q.Horizons {
		c.Horizons[i] = time.Duration(h)
	}
	return c, nil
}

// Staleness returns the staleness timeout with its default applied.
func (q *Query) Staleness() time.Duration {
	if q.StalenessTimeout > 0 {
		return time.Duration(q.StalenessTimeout)
	}
	return max(5*time.Duration(q.Step), 5*time.Minute)
}

// BreachHorizon returns how far ahead breaches are looked for.
func (q *Query) BreachHorizon() time.Duration {
	if q.BreachWithin > 0 {
		return time.Duration(q.BreachWithin)
	}
	if len(q.Horizons) > 0 {
		return time.Duration(q.Horizons[len(q.Horizons)-1])
	}
	return 24 * time.Hour
}

// UnmarshalYAML validates the whole file.
func (c *Config) UnmarshalYAML(unmarshal func(any) error) error {
	var nc nodeOf
	if err := unmarshal(&nc); err != nil {
		return err
	}
	n := nc.n
	*c = Config{}
	type plain Config
	if err := unmarshal((*plain)(c)); err != nil {
		return err // located by Source and Query, or a yaml.TypeError with its lines
	}
	if c.Source.URL == "" {
		return at(n, "", keyErrorf("source", "source: url is required"))
	}
	if len(c.Queries) == 0 {
		return at(n, "", keyErrorf("queries", "queries: at least one query is required"))
	}
	seen := map[string]bool{}
	for i, q := range c.Queries {
		if seen[q.Name] {
			err := fmt.Errorf("query %q: duplicate name", q.Name)
			if qs := value(n, "queries"); qs != nil && qs.Kind == yaml.SequenceNode && i < len(qs.Content) {
				return at(qs.Content[i], "", &keyError{key: "name", err: err})
			}
			return err
		}
		seen[q.Name] = true
	}
	return nil
}

// Parse decodes and validates a configuration. Unknown keys are errors. Every error names
// its line and key; none quotes a value that could be a secret (see redact).
func Parse(b []byte) (*Config, error) {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	c := &Config{}
	if err := dec.Decode(c); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("empty configuration")
		}
		return nil, redact(err)
	}
	return c, nil
}

// Load reads and parses a configuration file; relative file paths in the HTTP client
// configuration (CA, certificates, password files) are resolved against its directory.
func Load(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	c, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("parse config %s: %w", path, err)
	}
	c.Source.HTTPClientConfig.SetDirectory(filepath.Dir(path))
	return c, nil
}
