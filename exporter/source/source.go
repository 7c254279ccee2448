// Package source reads raw series from a Prometheus-compatible HTTP API (Prometheus, Thanos,
// Mimir, VictoriaMetrics) with client_golang's v1 API and prometheus/common's HTTP client
// configuration (basic auth, authorization, OAuth2, TLS, proxy).
package source

import (
	"context"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	pconfig "github.com/prometheus/common/config"
	"github.com/prometheus/common/model"

	"github.com/kizashi-dev/kizashi/exporter/config"
)

// Prometheus queries one Prometheus-compatible API.
type Prometheus struct {
	api     v1.API
	timeout time.Duration
}

// New returns a reader for the configured source.
func New(cfg config.Source) (*Prometheus, error) {
	hc, err := pconfig.NewClientFromConfig(cfg.HTTPClientConfig, "kizashi_source")
	if err != nil {
		return nil, fmt.Errorf("source http client: %w", err)
	}
	c, err := api.NewClient(api.Config{Address: cfg.URL, Client: hc})
	if err != nil {
		return nil, fmt.Errorf("source client %s: %w", cfg.URL, err)
	}
	return &Prometheus{api: v1.NewAPI(c), timeout: time.Duration(cfg.QueryTimeout)}, nil
}

// Query evaluates expr at t and returns its vector (a scalar becomes one series with no labels).
func (p *Prometheus) Query(ctx context.Context, expr string, t time.Time) (model.Vector, error) {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	v, _, _, err := p.api.Query(ctx, expr, t, v1.WithTimeout(p.timeout))
	if err != nil {
		return nil, fmt.Errorf("query %q: %w", expr, err)
	}
	switch v := v.(type) {
	case model.Vector:
		return v, nil
	case *model.Scalar:
		return model.Vector{{Metric: model.Metric{}, Value: v.Value, Timestamp: v.Timestamp}}, nil
	default:
		return nil, fmt.Errorf("query %q: got %s, want vector", expr, v.Type())
	}
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
		return v, nil
	case *model.Scalar:
		// A range query of a scalar expression is answered as a matrix; keep the type switch
		// total anyway.
		return model.Matrix{{Metric: model.Metric{}, Values: []model.SamplePair{{Timestamp: v.Timestamp, Value: v.Value}}}}, nil
	default:
		return nil, fmt.Errorf("query range %q: got %s, want matrix", expr, v.Type())
	}
}
