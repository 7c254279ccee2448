package forward

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// client sends JSON requests to one target and classifies failures.
type client struct {
	http *http.Client
	now  func() time.Time
	// header is added to every request (e.g. Accept).
	header http.Header
}

const maxResponseBytes = 4 << 20

// do sends in (JSON, unless nil) and decodes a 2xx answer into out (unless
// nil). Other answers and transport errors come back as *Error.
func (c *client) do(ctx context.Context, what, method, url string, header http.Header, in, out any) (http.Header, error) {
	var body io.Reader
	var raw []byte
	if in != nil {
		var err error
		if b, ok := in.([]byte); ok {
			raw = b
		} else if raw, err = json.Marshal(in); err != nil {
			return nil, &Error{Kind: Permanent, Reason: ReasonRejected, Err: fmt.Errorf("%s: encode request: %w", what, err)}
		}
		body = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		return nil, &Error{Kind: Permanent, Reason: ReasonRejected, Err: fmt.Errorf("%s: %w", what, err)}
	}
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, vs := range c.header {
		req.Header[k] = vs
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, classify(fmt.Errorf("%s: %w", what, err))
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return resp.Header, classify(fmt.Errorf("%s: read response: %w", what, err))
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.Header, statusError(what, resp.StatusCode, resp.Header, b, c.now())
	}
	if out != nil && len(bytes.TrimSpace(b)) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			return resp.Header, &Error{Kind: Retry, Reason: ReasonBadResponse, Status: resp.StatusCode,
				Err: fmt.Errorf("%s: decode response: %w", what, err)}
		}
	}
	return resp.Header, nil
}
