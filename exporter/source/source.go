// Package source reads raw series from a Prometheus-compatible HTTP API (Prometheus, Thanos,
// Mimir, VictoriaMetrics) with client_golang's v1 API and prometheus/common's HTTP client
// configuration (basic auth, authorization, OAuth2, TLS, proxy).
package source

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/alecthomas/units"
	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	pconfig "github.com/prometheus/common/config"
	"github.com/prometheus/common/model"

	"github.com/kizashi-dev/kizashi/exporter/queryconfig"
)

// ErrTooLarge is returned (wrapped) for an answer over the source's max_response_size or
// max_response_samples.
var ErrTooLarge = errors.New("answer too large")

// Prometheus queries one Prometheus-compatible API.
type Prometheus struct {
	client     api.Client
	api        v1.API
	timeout    time.Duration
	maxSamples int
}

// New returns a reader for the configured source.
func New(cfg queryconfig.Source) (*Prometheus, error) {
	hc, err := pconfig.NewClientFromConfig(cfg.HTTPClientConfig, "kizashi_source")
	if err != nil {
		return nil, fmt.Errorf("source http client: %w", err)
	}
	hc.Transport = &limitTransport{next: hc.Transport, max: int64(cfg.MaxResponseSize)}
	c, err := api.NewClient(api.Config{Address: cfg.URL, Client: hc})
	if err != nil {
		return nil, fmt.Errorf("source client: %w", err)
	}
	return &Prometheus{client: c, api: v1.NewAPI(c), timeout: time.Duration(cfg.QueryTimeout), maxSamples: cfg.MaxResponseSamples}, nil
}

// limitTransport fails the reading of a response body (decompressed) after max bytes, so
// that no answer takes more memory than that to read.
type limitTransport struct {
	next http.RoundTripper
	max  int64
}

func (t *limitTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	resp.Body = &limitedBody{ReadCloser: resp.Body, left: t.max, max: t.max}
	return resp, nil
}

type limitedBody struct {
	io.ReadCloser
	left, max int64
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		// One byte more than allowed tells a body of exactly max bytes from a larger one.
		var one [1]byte
		for {
			n, err := b.ReadCloser.Read(one[:])
			if n > 0 {
				return 0, fmt.Errorf("%w: over max_response_size %s", ErrTooLarge, units.Base2Bytes(b.max))
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

func (p *Prometheus) checkSamples(n int) error {
	if n > p.maxSamples {
		return fmt.Errorf("%w: %d samples, over max_response_samples %d", ErrTooLarge, n, p.maxSamples)
	}
	return nil
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
	v, _, _, err := p.api.QueryRange(ctx, expr, v1.Range{Start: start, End: end, Step: step}, v1.WithTimeout(p.timeout))
	if err != nil {
		return nil, fmt.Errorf("query range %q: %w", expr, err)
	}
	switch v := v.(type) {
	case model.Matrix:
		n := 0
		for _, ss := range v {
			n += len(ss.Values) + len(ss.Histograms)
		}
		if err := p.checkSamples(n); err != nil {
			return nil, fmt.Errorf("query range %q: %w", expr, err)
		}
		return v, nil
	case *model.Scalar:
		// A range query of a scalar expression is answered as a matrix; keep the type switch
		// total anyway.
		return model.Matrix{{Metric: model.Metric{}, Values: []model.SamplePair{{Timestamp: v.Timestamp, Value: v.Value}}}}, nil
	default:
		return nil, fmt.Errorf("query range %q: got %s, want matrix", expr, v.Type())
	}
}
