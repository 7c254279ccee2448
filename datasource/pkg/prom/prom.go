// Package prom reads series from a Prometheus-compatible HTTP API for the data source: range
// queries split into chunks that stay under the server's points-per-series limit and bounded
// by the query limits, label and metadata look-ups, and build information for health checks.
// Every error that comes from the server or the network is marked as a downstream error.
package prom

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
)

// Chunking of range queries: Prometheus refuses more than 11,000 points per series in one
// query_range, so longer ranges are read in chunks of at most maxChunkPoints steps. Long
// ranges are also split into up to parallelChunks chunks of at least minChunkPoints, read at
// the same time: Prometheus encodes and the client decodes each chunk on its own core.
const (
	maxChunkPoints   = 10_000
	minChunkPoints   = 1_500
	parallelChunks   = 6
	chunkConcurrency = 3
)

// chunkSize returns how many steps each chunk of an n-step range holds.
func chunkSize(n int) int {
	chunks := max((n+maxChunkPoints-1)/maxChunkPoints, min(parallelChunks, n/minChunkPoints), 1)
	return (n + chunks - 1) / chunks
}

// ErrLimit is returned (wrapped) when a query would exceed the data source's limits.
var ErrLimit = errors.New("limit exceeded")

// Limits bound what one query may read.
type Limits struct {
	// MaxSeries is the most series a query may return.
	MaxSeries int
	// MaxPoints is the most samples a query may read, over all series.
	MaxPoints int
}

// Client reads from one Prometheus-compatible server.
type Client struct {
	api     v1.API
	base    *url.URL
	hc      *http.Client
	timeout time.Duration
}

// New returns a client for the server at base (http(s)://host[:port][/path], no query) that
// sends its requests with hc. timeout, if positive, is passed to the server as the query timeout.
func New(base string, hc *http.Client, timeout time.Duration) (*Client, error) {
	u, err := url.Parse(base)
	if err != nil || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, errors.New("prometheus client: want a base URL http(s)://host[:port][/path]")
	}
	c, err := api.NewClient(api.Config{Address: u.String(), Client: hc})
	if err != nil {
		return nil, fmt.Errorf("prometheus client for %s: %w", u.Redacted(), err)
	}
	return &Client{api: v1.NewAPI(c), base: u, hc: hc, timeout: timeout}, nil
}

// endpoint returns the URL of an API path below the server's base URL. Callers pass fixed
// path elements only (never user input: JoinPath resolves "..").
func (c *Client) endpoint(elem ...string) *url.URL {
	return c.base.JoinPath(elem...)
}

// Series is one series of a range query result, samples in time order.
type Series struct {
	Metric  model.Metric
	Samples []model.SamplePair
}

// Range is the result of a range query.
type Range struct {
	Series   []Series // sorted by labels
	Warnings []string
	Requests int // query_range requests sent
}

// Points returns the number of steps from start to end (inclusive) at step.
func Points(start, end time.Time, step time.Duration) int {
	if end.Before(start) || step <= 0 {
		return 0
	}
	return int(end.Sub(start)/step) + 1
}

// QueryRange evaluates expr from start to end at step, in chunks, and returns every series
// with its samples merged in time order. start and end should be multiples of step.
func (c *Client) QueryRange(ctx context.Context, expr string, start, end time.Time, step time.Duration, lim Limits) (*Range, error) {
	var chunks [][]Series
	r, err := c.QueryRangeChunks(ctx, expr, start, end, step, lim, func(chunk []Series) error {
		chunks = append(chunks, chunk)
		return nil
	})
	if err != nil {
		return nil, err
	}
	r.Series = merge(chunks)
	if lim.MaxSeries > 0 && len(r.Series) > lim.MaxSeries {
		return nil, seriesLimitError(len(r.Series), lim.MaxSeries)
	}
	return r, nil
}

func seriesLimitError(n, limit int) error {
	return fmt.Errorf("%w: the expression returned %d series, above the data source's max series per query (%d); narrow it down (e.g. with topk or a label matcher)",
		ErrLimit, n, limit)
}

// QueryRangeChunks evaluates expr from start to end at step in chunks read a few at a time,
// and calls fn with each chunk's series in time order, from one goroutine, as soon as that
// chunk and all before it are in: the caller works on the past while the rest is read.
// The returned Range has no Series. An error from fn stops the query and is returned.
func (c *Client) QueryRangeChunks(ctx context.Context, expr string, start, end time.Time, step time.Duration, lim Limits, fn func(chunk []Series) error) (*Range, error) {
	n := Points(start, end, step)
	if n == 0 {
		return nil, fmt.Errorf("range %s..%s step %s: empty", start.Format(time.RFC3339), end.Format(time.RFC3339), step)
	}
	if lim.MaxPoints > 0 && n > lim.MaxPoints {
		return nil, fmt.Errorf("%w: the range needs %d points per series at step %s, above the data source's max points per query (%d); use a larger step or a shorter range",
			ErrLimit, n, step, lim.MaxPoints)
	}
	var ranges []v1.Range
	size := chunkSize(n)
	for i := 0; i < n; i += size {
		r := v1.Range{Start: start.Add(time.Duration(i) * step), Step: step}
		r.End = r.Start.Add(time.Duration(min(size, n-i)-1) * step)
		ranges = append(ranges, r)
	}

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	type result struct {
		series   []Series
		warnings []string
	}
	results := make([]result, len(ranges))
	ready := make([]chan struct{}, len(ranges))
	var wg sync.WaitGroup
	sem := make(chan struct{}, chunkConcurrency)
	for i, r := range ranges {
		ready[i] = make(chan struct{})
		wg.Go(func() {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			defer func() { <-sem }()
			m, w, err := c.queryRange(ctx, expr, r)
			if err != nil {
				cancel(err)
				return
			}
			if lim.MaxSeries > 0 && len(m) > lim.MaxSeries {
				cancel(seriesLimitError(len(m), lim.MaxSeries))
				return
			}
			results[i] = result{m, w}
			close(ready[i])
		})
	}
	defer wg.Wait()

	out := &Range{Requests: len(ranges)}
	points := 0
	for i := range ranges {
		select {
		case <-ready[i]:
		case <-ctx.Done():
			wg.Wait()
			return nil, context.Cause(ctx)
		}
		res := results[i]
		results[i] = result{} // the caller owns the chunk now
		out.Warnings = append(out.Warnings, res.warnings...)
		for _, s := range res.series {
			points += len(s.Samples)
		}
		if lim.MaxPoints > 0 && points > lim.MaxPoints {
			cancel(fmt.Errorf("%w: the query read more than %d points (max points per query); use a larger step, a shorter range or fewer series",
				ErrLimit, lim.MaxPoints))
			wg.Wait()
			return nil, context.Cause(ctx)
		}
		if err := fn(res.series); err != nil {
			cancel(err)
			wg.Wait()
			return nil, err
		}
	}
	slices.Sort(out.Warnings)
	out.Warnings = slices.Compact(out.Warnings)
	return out, nil
}

func (c *Client) queryRange(ctx context.Context, expr string, r v1.Range) ([]Series, []string, error) {
	form := url.Values{
		"query": {expr},
		"start": {formatTime(r.Start)},
		"end":   {formatTime(r.End)},
		"step":  {strconv.FormatFloat(r.Step.Seconds(), 'f', -1, 64)},
	}
	if c.timeout > 0 {
		form.Set("timeout", c.timeout.String())
	}
	series, warnings, err := c.postQueryRange(ctx, form, Points(r.Start, r.End, r.Step))
	if err != nil {
		// The range is the caller's to name: this chunk of it means nothing to a user.
		return nil, nil, downstream(fmt.Errorf("query_range: %w", err))
	}
	return series, warnings, nil
}

// postQueryRange sends one query_range (POST, as Prometheus' own client does) and decodes it.
func (c *Client) postQueryRange(ctx context.Context, form url.Values, hint int) ([]Series, []string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint("api", "v1", "query_range").String(), strings.NewReader(form.Encode()))
	if err != nil {
		return nil, nil, fmt.Errorf("new request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close() // read-only and fully read: Close has nothing to report
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, nil, fmt.Errorf("read answer: %w", err)
	}
	switch {
	case resp.StatusCode == http.StatusOK:
	case resp.StatusCode/100 == 4 || resp.StatusCode == http.StatusServiceUnavailable || resp.StatusCode == 422:
		// Prometheus answers API errors with a JSON body saying what is wrong.
		if _, _, derr := decodeMatrix(body, 0); derr != nil {
			var apiErr *v1.Error
			if errors.As(derr, &apiErr) {
				return nil, nil, apiErr
			}
		}
		fallthrough
	default:
		return nil, nil, fmt.Errorf("%s: %s", resp.Status, truncate(body, 256))
	}
	return decodeMatrix(body, hint)
}

func truncate(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "..."
	}
	return string(b)
}

func formatTime(t time.Time) string {
	return strconv.FormatFloat(float64(t.UnixNano())/1e9, 'f', -1, 64)
}

// merge joins the chunks' series by labels, samples in chunk order, sorted by labels.
func merge(chunks [][]Series) []Series {
	var out []Series
	if len(chunks) == 1 {
		out = chunks[0]
	} else {
		idx := map[model.Fingerprint]int{}
		for _, m := range chunks {
			for _, s := range m {
				fp := s.Metric.Fingerprint()
				i, ok := idx[fp]
				if !ok {
					i = len(out)
					idx[fp] = i
					out = append(out, Series{Metric: s.Metric})
				}
				if out[i].Samples == nil {
					out[i].Samples = s.Samples
				} else {
					out[i].Samples = append(out[i].Samples, s.Samples...)
				}
			}
		}
	}
	keys := make(map[model.Fingerprint]string, len(out))
	for _, s := range out {
		keys[s.Metric.Fingerprint()] = s.Metric.String()
	}
	slices.SortFunc(out, func(a, b Series) int { return cmp.Compare(keys[a.Metric.Fingerprint()], keys[b.Metric.Fingerprint()]) })
	return out
}

// Buildinfo returns the server's version, for health checks.
func (c *Client) Buildinfo(ctx context.Context) (v1.BuildinfoResult, error) {
	b, err := c.api.Buildinfo(ctx)
	if err != nil {
		return b, downstream(fmt.Errorf("buildinfo: %w", err))
	}
	return b, nil
}

// LabelNames returns the label names of the series matching matches (all if empty) in [start, end].
func (c *Client) LabelNames(ctx context.Context, matches []string, start, end time.Time) ([]string, error) {
	names, _, _, err := c.api.LabelNames(ctx, matches, start, end)
	if err != nil {
		return nil, downstream(fmt.Errorf("label names: %w", err))
	}
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = string(n)
	}
	return out, nil
}

// ErrLabelName is returned (wrapped) for a label name Prometheus cannot have.
var ErrLabelName = errors.New("not a valid label name (want UTF-8 text)")

// LabelPathSegment returns the path segment of /api/v1/label/<name>/values that names label:
// the name itself when it is in the legacy character set, else its U__ value-encoding escape,
// which Prometheus 3 decodes (and which holds only letters, digits, underscores and colons,
// so the request stays on that path). Any UTF-8 name is valid, as in Prometheus 3.
func LabelPathSegment(label string) (string, error) {
	if !model.UTF8Validation.IsValidLabelName(label) {
		return "", fmt.Errorf("label %q: %w", label, ErrLabelName)
	}
	seg := label
	if !model.LegacyValidation.IsValidLabelName(label) {
		seg = model.EscapeName(label, model.ValueEncodingEscaping)
	}
	if seg == "" || strings.ContainsFunc(seg, func(r rune) bool { return !isPathSafe(r) }) {
		return "", fmt.Errorf("label %q: %w", label, ErrLabelName) // never reached: EscapeName's alphabet
	}
	return seg, nil
}

func isPathSafe(r rune) bool {
	return r == '_' || r == ':' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9')
}

// LabelValues returns the values of label on the series matching matches in [start, end].
func (c *Client) LabelValues(ctx context.Context, label string, matches []string, start, end time.Time) ([]string, error) {
	seg, err := LabelPathSegment(label)
	if err != nil {
		return nil, err
	}
	vals, _, _, err := c.api.LabelValues(ctx, seg, matches, start, end)
	if err != nil {
		return nil, downstream(fmt.Errorf("label values of %s: %w", label, err))
	}
	out := make([]string, len(vals))
	for i, v := range vals {
		out[i] = string(v)
	}
	return out, nil
}

func downstream(err error) error {
	if errors.Is(err, ErrLimit) {
		return err
	}
	return backend.DownstreamError(err)
}
