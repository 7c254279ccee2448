// Package plugin is the Kizashi Grafana data source: it reads series from Prometheus, runs
// the anomaly engine over them and answers Grafana with frames (raw, band, score, forecast),
// the exporter's published series, and the webhook's incidents.
package plugin

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"runtime"
	"sync"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/backend/httpclient"
	"github.com/grafana/grafana-plugin-sdk-go/backend/instancemgmt"
	"github.com/grafana/grafana-plugin-sdk-go/backend/log"
	"github.com/grafana/grafana-plugin-sdk-go/data"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"

	"github.com/kizashi-dev/kizashi/datasource/pkg/models"
	"github.com/kizashi-dev/kizashi/datasource/pkg/prom"
)

// Compile-time checks of the handlers Grafana calls.
var (
	_ backend.QueryDataHandler      = (*Datasource)(nil)
	_ backend.CheckHealthHandler    = (*Datasource)(nil)
	_ backend.CallResourceHandler   = (*Datasource)(nil)
	_ instancemgmt.InstanceDisposer = (*Datasource)(nil)
)

// Datasource is one instance of the data source, per settings.
type Datasource struct {
	// settingsErr is set when the settings are invalid: the instance then answers every call
	// with that error (a health error, per-query errors) instead of failing to start.
	settingsErr error

	settings *models.Settings
	// redactor hides the settings' secrets in every message the instance shows or logs.
	redactor   *models.Redactor
	promHTTP   *http.Client
	prom       *prom.Client
	webhook    *webhookClient
	resources  backend.CallResourceHandler
	logger     log.Logger
	now        func() time.Time
	workers    int
	queryConcy int
}

// NewDatasource is the instance factory given to datasource.Manage. It never fails on bad
// settings: Grafana would only report an opaque plugin error; the health check says what is wrong.
func NewDatasource(ctx context.Context, s backend.DataSourceInstanceSettings) (instancemgmt.Instance, error) {
	return newDatasource(ctx, s, log.DefaultLogger.FromContext(ctx))
}

func newDatasource(ctx context.Context, s backend.DataSourceInstanceSettings, logger log.Logger) (instancemgmt.Instance, error) {
	d := &Datasource{
		redactor:   models.NewRedactor(s),
		logger:     logger,
		now:        time.Now,
		workers:    runtime.GOMAXPROCS(0),
		queryConcy: 4,
	}
	if err := d.init(ctx, s); err != nil {
		d.settingsErr = errors.New(d.redact("invalid data source settings: " + err.Error()))
		d.logger.Warn("invalid data source settings", "error", d.settingsErr.Error())
	}
	d.resources = newResourceHandler(d)
	return d, nil
}

func (d *Datasource) init(ctx context.Context, s backend.DataSourceInstanceSettings) error {
	settings, err := models.LoadSettings(s)
	if err != nil {
		return err
	}
	d.settings = settings
	opts, err := s.HTTPClientOptions(ctx)
	if err != nil {
		return fmt.Errorf("http client options: %w", err)
	}
	if opts.Timeouts == nil {
		opts.Timeouts = &httpclient.TimeoutOptions{}
	}
	opts.Timeouts.Timeout = settings.Timeout
	webhookOpts := httpclient.Options{Timeouts: opts.Timeouts, ProxyOptions: opts.ProxyOptions}
	if settings.BearerToken != "" {
		if opts.Header == nil {
			opts.Header = http.Header{}
		}
		opts.Header.Set("Authorization", "Bearer "+settings.BearerToken)
	}
	if d.promHTTP, err = httpclient.New(opts); err != nil {
		return fmt.Errorf("prometheus http client: %w", err)
	}
	if d.prom, err = prom.New(settings.URL, d.promHTTP, settings.Timeout); err != nil {
		return err
	}
	if settings.WebhookURL != "" {
		hc, err := httpclient.New(webhookOpts)
		if err != nil {
			return fmt.Errorf("webhook http client: %w", err)
		}
		base, err := url.Parse(settings.WebhookURL)
		if err != nil {
			return fmt.Errorf("webhook URL %q: %w", models.RedactURL(settings.WebhookURL), errors.Unwrap(err))
		}
		d.webhook = &webhookClient{base: base, token: settings.WebhookToken, tenant: settings.WebhookTenant, hc: hc}
	}
	return nil
}

// Dispose releases the instance's connections when Grafana replaces it (settings changed).
func (d *Datasource) Dispose() {
	if d.promHTTP != nil {
		d.promHTTP.CloseIdleConnections()
	}
	if d.webhook != nil {
		d.webhook.hc.CloseIdleConnections()
	}
}

// QueryData answers every query of the request with its own response: an error in one query
// never fails the others.
func (d *Datasource) QueryData(ctx context.Context, req *backend.QueryDataRequest) (*backend.QueryDataResponse, error) {
	resp := backend.NewQueryDataResponse()
	var (
		mu  sync.Mutex
		wg  sync.WaitGroup
		sem = make(chan struct{}, d.queryConcy)
	)
	for _, q := range req.Queries {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			r := d.query(ctx, q)
			mu.Lock()
			resp.Responses[q.RefID] = r
			mu.Unlock()
		})
	}
	wg.Wait()
	return resp, nil
}

// redact hides the data source's secrets in a message.
func (d *Datasource) redact(msg string) string { return d.redactor.Redact(msg) }

// query runs one query and turns its error, if any, into that query's response, with the
// data source's secrets redacted from its message.
func (d *Datasource) query(ctx context.Context, dq backend.DataQuery) backend.DataResponse {
	r := d.runQuery(ctx, dq)
	if r.Error != nil {
		r.Error = errors.New(d.redact(r.Error.Error()))
	}
	return r
}

func (d *Datasource) runQuery(ctx context.Context, dq backend.DataQuery) (r backend.DataResponse) {
	defer func() {
		if p := recover(); p != nil {
			msg := d.redact(fmt.Sprint(p))
			d.logger.Error("query panicked", "refId", dq.RefID, "panic", msg)
			r = errorResponse(fmt.Errorf("internal error: %s", msg))
		}
	}()
	if d.settingsErr != nil {
		return backend.ErrDataResponseWithSource(backend.StatusBadRequest, backend.ErrorSourceDownstream, d.settingsErr.Error())
	}
	q, err := models.ParseQuery(dq, d.settings)
	if err != nil {
		return backend.ErrDataResponseWithSource(backend.StatusBadRequest, backend.ErrorSourceDownstream, err.Error())
	}
	var frames data.Frames
	switch q.Type {
	case models.QueryTypeAnomaly, models.QueryTypeForecast:
		frames, err = d.queryAnomaly(ctx, q)
	case models.QueryTypeExported:
		frames, err = d.queryExported(ctx, q)
	case models.QueryTypeIncidents:
		frames, err = d.queryIncidents(ctx, q)
	}
	if err != nil {
		return errorResponse(fmt.Errorf("%s query: %w", q.Type, err))
	}
	for _, f := range frames {
		f.RefID = dq.RefID
	}
	return backend.DataResponse{Frames: frames}
}

// errorResponse maps an error to a response with a status and an error source: errors from
// Prometheus or the webhook are downstream, limits are the user's (bad request).
func errorResponse(err error) backend.DataResponse {
	r := backend.ErrorResponseWithErrorSource(err)
	switch {
	case errors.Is(err, prom.ErrLimit):
		r.Status = backend.StatusBadRequest
		r.ErrorSource = backend.ErrorSourceDownstream
	case isBadData(err), errors.As(err, new(*unknownNameError)):
		r.Status = backend.StatusBadRequest
		r.ErrorSource = backend.ErrorSourceDownstream
	case errors.Is(err, context.DeadlineExceeded):
		r.Status = backend.StatusTimeout
		r.ErrorSource = backend.ErrorSourceDownstream
	case backend.IsDownstreamError(err):
		r.Status = backend.StatusBadGateway
		r.ErrorSource = backend.ErrorSourceDownstream
	default:
		r.Status = backend.StatusInternal
		if r.ErrorSource == "" {
			r.ErrorSource = backend.ErrorSourcePlugin
		}
	}
	return r
}

// isBadData reports whether Prometheus refused the query itself (e.g. a PromQL syntax error).
func isBadData(err error) bool {
	var e *v1.Error
	return errors.As(err, &e) && e.Type == v1.ErrBadData
}

// ID is the plugin id, as in plugin.json.
const ID = "kizashi-anomaly-datasource"
