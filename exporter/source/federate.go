package source

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	jsoniter "github.com/json-iterator/go"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/textparse"
	"github.com/prometheus/prometheus/promql/parser"
	"go.yaml.in/yaml/v3"
)

// The live cycle of a query whose expression is a plain vector selector (a metric, a
// recording rule, with matchers; no offset, no @) reads Prometheus' /federate rather than an
// instant query when the source is a Prometheus server without external labels: the same
// series and values (the latest sample of each series within the lookback delta, none for a
// series whose latest sample is a staleness marker), written as the text exposition format
// and without the PromQL engine, which costs Prometheus less per series than an instant query
// answered in JSON. The answer is read with Prometheus' own text parser (textparse).
//
// Prometheus is recognised by its /api/v1/status/config, which Thanos, Mimir and
// VictoriaMetrics do not serve as Prometheus does; its external labels, which /federate adds
// to every series and an instant query does not, must be empty. Anything else (another
// server, external labels, an error of /federate) keeps the instant query. /federate answers
// as of the server's clock, not the step's time: the live cycle's query is sent at the step's
// time, so it is used only when the step's time is less than federateMaxLag ago.

// federateMaxLag is how far in the past a query's time may be for /federate to answer it (a
// retry after a failure, a slow cycle: the instant query at that time).
const federateMaxLag = 5 * time.Second

// federateAccept asks for the text format, with UTF-8 names as they are (Prometheus 3; 2.x
// answers 0.0.4, whose names are all legacy).
const federateAccept = `text/plain;version=1.0.0;escaping=allow-utf-8,text/plain;version=0.0.4;q=0.5`

type federation struct {
	mu    sync.Mutex
	state int // 0: not known yet; 1: /federate answers plain selectors; -1: it does not
	// selectors caches, per expression, its match[] argument ("" when it is not a plain
	// vector selector).
	selectors map[string]string
}

// selectorParser parses expressions to tell plain selectors (an expression it cannot parse is
// not one).
var selectorParser = parser.NewParser(parser.Options{})

// vectorSelector returns expr as a plain vector selector (no offset, no @), or nil.
func vectorSelector(expr string) *parser.VectorSelector {
	e, err := selectorParser.ParseExpr(expr)
	if err != nil {
		return nil
	}
	vs, ok := e.(*parser.VectorSelector)
	if !ok || vs.OriginalOffset != 0 || vs.Timestamp != nil || vs.StartOrEnd != 0 {
		return nil
	}
	return vs
}

// plainSelector returns expr's match[] argument for /federate, or "" if expr is not a plain
// vector selector.
func plainSelector(expr string) string {
	if vs := vectorSelector(expr); vs != nil {
		return vs.String()
	}
	return ""
}

// statusConfigYAML returns the configuration of a /api/v1/status/config answer (ok false: not
// a Prometheus answer).
func statusConfigYAML(body []byte) (string, bool) {
	var answer struct {
		Status string `json:"status"`
		Data   struct {
			YAML string `json:"yaml"`
		} `json:"data"`
	}
	if err := jsoniter.Unmarshal(body, &answer); err != nil || answer.Status != "success" {
		return "", false
	}
	return answer.Data.YAML, true
}

// federated returns the match[] argument of expr if its answer at t is to be read from
// /federate, else "".
func (p *Prometheus) federated(ctx context.Context, expr string, t time.Time) string {
	if lag := time.Since(t); lag > federateMaxLag || lag < -federateMaxLag {
		return ""
	}
	f := &p.federation
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.state < 0 {
		return ""
	}
	sel, ok := f.selectors[expr]
	if !ok {
		sel = plainSelector(expr)
		if f.selectors == nil {
			f.selectors = map[string]string{}
		}
		f.selectors[expr] = sel
	}
	if sel == "" {
		return ""
	}
	if f.state == 0 {
		ok, err := p.federationPossible(ctx)
		switch {
		case err != nil:
			return "" // not known yet: asked again at the next query
		case ok:
			f.state = 1
		default:
			f.state = -1
			return ""
		}
	}
	return sel
}

// noFederation turns /federate off for this source (it failed: the instant query from now on).
func (p *Prometheus) noFederation() {
	p.federation.mu.Lock()
	p.federation.state = -1
	p.federation.mu.Unlock()
}

// federationPossible reports whether the source is a Prometheus server without external
// labels (err: the question could not be asked, e.g. the server is down).
func (p *Prometheus) federationPossible(ctx context.Context) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	u := p.client.URL("/api/v1/status/config", nil)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return false, nil
	}
	resp, err := p.hc.Do(req)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 == 5 {
		return false, fmt.Errorf("status/config: %s", resp.Status)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		return false, nil
	}
	conf, ok := statusConfigYAML(body)
	if !ok {
		return false, nil
	}
	var cfg struct {
		Global *struct {
			ExternalLabels map[string]string `yaml:"external_labels"`
		} `yaml:"global"`
		ScrapeConfigs []any `yaml:"scrape_configs"`
	}
	if err := yaml.Unmarshal([]byte(conf), &cfg); err != nil || cfg.Global == nil {
		return false, nil
	}
	return len(cfg.Global.ExternalLabels) == 0, nil
}

// federate reads the series of the selector from /federate, as an instant query at t would
// return them. fallback: /federate did not answer as Prometheus does (ask the instant query,
// and no longer /federate).
func (p *Prometheus) federate(ctx context.Context, sel string, t time.Time) (vec model.Vector, fallback bool, err error) {
	u := p.client.URL("/federate", nil)
	u.RawQuery = url.Values{"match[]": {sel}}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, true, nil
	}
	req.Header.Set("Accept", federateAccept)
	resp, body, err := p.client.Do(ctx, req)
	if err != nil {
		return nil, false, err // as the instant query's: the source is down, too slow, too large
	}
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		return nil, true, nil
	}
	// The samples carry the query's time, to the millisecond as Prometheus reads it.
	vec, err = decodeFederate(body, p.maxSamples, model.TimeFromUnixNano(t.Round(time.Millisecond).UnixNano()))
	if errors.Is(err, ErrTooLarge) {
		return nil, false, err
	}
	if err != nil {
		return nil, true, nil
	}
	return vec, false, nil
}

// decodeFederate reads a /federate answer in the text format: every float sample as a sample
// at ts (an instant query's time); more than maxSamples series fail with ErrTooLarge.
// Prometheus leaves out the series whose latest sample is a staleness marker, as an instant
// query does. It adds instance="" to a series without an instance label: an empty label is
// no label, as in an instant query's answer. Native histograms (the families typed
// histogram: Prometheus writes float series as untyped) are left out, as decodeInstant does.
func decodeFederate(body []byte, maxSamples int, ts model.Time) (model.Vector, error) {
	tp := textparse.NewPromParser(body, labels.NewSymbolTable(), false)
	vec := model.Vector{}
	var (
		lset      labels.Labels
		histogram bool // the current family is a native histogram's
	)
	for {
		e, err := tp.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		switch e {
		case textparse.EntryType:
			_, typ := tp.Type()
			histogram = typ == model.MetricTypeHistogram || typ == model.MetricTypeGaugeHistogram
			continue
		case textparse.EntrySeries:
		default:
			continue
		}
		if histogram {
			continue
		}
		_, _, v := tp.Series()
		if maxSamples > 0 && len(vec) >= maxSamples {
			return nil, fmt.Errorf("%w: over max_response_samples %d", ErrTooLarge, maxSamples)
		}
		tp.Labels(&lset)
		m := make(model.Metric, lset.Len())
		lset.Range(func(l labels.Label) {
			if l.Value != "" {
				m[model.LabelName(l.Name)] = model.LabelValue(l.Value)
			}
		})
		if math.IsNaN(v) {
			v = math.NaN() // one NaN, as the JSON answer's "NaN" reads
		}
		vec = append(vec, &model.Sample{Metric: m, Value: model.SampleValue(v), Timestamp: ts})
	}
	return vec, nil
}
