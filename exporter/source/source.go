// Package source reads raw series from a Prometheus-compatible HTTP API (Prometheus, Thanos,
// Mimir, VictoriaMetrics) with client_golang's API client and prometheus/common's HTTP client
// configuration (basic auth, authorization, OAuth2, TLS, proxy). Its queries are the requests
// client_golang's v1 API sends; their answers are decoded in one pass (decode.go), those of
// range queries as they arrive.
package source

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/alecthomas/units"
	"github.com/prometheus/client_golang/api"
	"github.com/prometheus/client_golang/prometheus"
	pconfig "github.com/prometheus/common/config"
	"github.com/prometheus/common/model"

	"github.com/kizashi-dev/kizashi/exporter/queryconfig"
)

// ErrTooLarge is returned (wrapped) for an answer over the source's max_response_size or
// max_response_samples.
var ErrTooLarge = errors.New("answer too large")

// Prometheus queries one Prometheus-compatible API.
type Prometheus struct {
	hc         *http.Client // the client's, for answers read as they arrive (queryRange)
	client     api.Client
	timeout    time.Duration
	maxSamples int
	intern     *interner // the instant answers' label strings (see fastInstant)
	federation federation
	scrape     *scraper               // nil: no scrape_targets
	reads      sync.Map               // expression -> LiveRead, of its last live read
	requests   *prometheus.CounterVec // by API; nil: not counted (see CountRequests)
}

// The APIs of the source that CountRequests counts (the label api).
const (
	APIQuery      = "query"       // /api/v1/query: the live cycle's instant query
	APIFederate   = "federate"    // /federate: the live cycle of a plain selector (see federated)
	APIQueryRange = "query_range" // /api/v1/query_range: backfill
	APITargets    = "targets"     // /api/v1/targets and /api/v1/status/config (scrape_targets)
	APIScrape     = "scrape"      // a scrape of one of the source's targets (scrape_targets)
)

// APIs are the label values of CountRequests' counter, all of them.
var APIs = []string{APIQuery, APIFederate, APIQueryRange, APITargets, APIScrape}

// CountRequests counts every request sent to the source, answered or not, in c by API (its
// one label: APIQuery, APIFederate, APIQueryRange, APITargets, APIScrape (a target's, not
// the source's); the GET retry of a refused POST counts once). Call it before the first query.
func (p *Prometheus) CountRequests(c *prometheus.CounterVec) { p.requests = c }

func (p *Prometheus) count(api string) {
	if p.requests != nil {
		p.requests.WithLabelValues(api).Inc()
	}
}

// LiveRead is how the last live read of an expression was made.
type LiveRead struct {
	API string // APIScrape, APIFederate or APIQuery
	// Why a read by scraping (scrape_targets) was made from the source instead; "" when it
	// was not, or when the expression is not one scrape_targets reads.
	Fallback string
}

// LastLiveRead returns how the last live read of expr was made (ok false: none yet).
func (p *Prometheus) LastLiveRead(expr string) (LiveRead, bool) {
	v, ok := p.reads.Load(expr)
	if !ok {
		return LiveRead{}, false
	}
	return v.(LiveRead), true
}

// New returns a reader for the configured source.
func New(cfg queryconfig.Source) (*Prometheus, error) {
	hc, err := pconfig.NewClientFromConfig(cfg.HTTPClientConfig, "kizashi_source")
	if err != nil {
		return nil, fmt.Errorf("source http client: %w", err)
	}
	hc.Transport = &limitTransport{next: hc.Transport, max: int64(cfg.MaxResponseSize), what: "max_response_size"}
	c, err := api.NewClient(api.Config{Address: cfg.URL, Client: hc})
	if err != nil {
		return nil, fmt.Errorf("source client: %w", err)
	}
	p := &Prometheus{hc: hc, client: c, timeout: time.Duration(cfg.QueryTimeout), maxSamples: cfg.MaxResponseSamples,
		intern: newInterner()}
	if cfg.ScrapeTargets != nil {
		if p.scrape, err = newScraper(*cfg.ScrapeTargets); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// limitTransport fails the reading of a response body (decompressed) after max bytes, so
// that no answer takes more memory than that to read.
type limitTransport struct {
	next http.RoundTripper
	max  int64
	what string // the setting max is, for the error
}

func (t *limitTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	resp.Body = &limitedBody{ReadCloser: resp.Body, left: t.max, max: t.max, what: t.what}
	return resp, nil
}

type limitedBody struct {
	io.ReadCloser
	left, max int64
	what      string
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		// One byte more than allowed tells a body of exactly max bytes from a larger one.
		var one [1]byte
		for {
			n, err := b.ReadCloser.Read(one[:])
			if n > 0 {
				return 0, fmt.Errorf("%w: over %s %s", ErrTooLarge, b.what, units.Base2Bytes(b.max))
			}
			if err != nil {
				return 0, err
			}
		}
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.ReadCloser.Read(p)
	b.left -= int64(n)
	return n, err
}

// Query evaluates expr at t and returns its vector (a scalar becomes one series with no labels).
func (p *Prometheus) Query(ctx context.Context, expr string, t time.Time) (model.Vector, error) {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	v, err := p.instant(ctx, expr, t)
	if err != nil {
		return nil, fmt.Errorf("query %q: %w", expr, err)
	}
	return v, nil
}

// QueryRange evaluates expr over [start, end] every step.
func (p *Prometheus) QueryRange(ctx context.Context, expr string, start, end time.Time, step time.Duration) (model.Matrix, error) {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	m, err := p.queryRange(ctx, expr, start, end, step)
	if err != nil {
		return nil, fmt.Errorf("query range %q: %w", expr, err)
	}
	return m, nil
}
