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

// Client sends JSON requests to one target and classifies failures as Alertmanager's retrier
// does (see Error): every integration talks to its target through one.
type Client struct {
	HTTP *http.Client
	// Now reads Retry-After dates (nil: time.Now).
	Now func() time.Time
	// Header is added to every request.
	Header http.Header
}

const maxResponseBytes = 4 << 20

// Do sends in (JSON, or []byte as it is, unless nil) and decodes a 2xx answer into out
// (unless nil); what names the request in errors. Other answers and transport errors come back
// as *Error.
func (c *Client) Do(ctx context.Context, what, method, url string, header http.Header, in, out any) (http.Header, error) {
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
	for k, vs := range c.Header {
		req.Header[k] = vs
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return nil, classify(fmt.Errorf("%s: %w", what, err))
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return resp.Header, classify(fmt.Errorf("%s: read response: %w", what, err))
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		now := time.Now
		if c.Now != nil {
			now = c.Now
		}
		return resp.Header, statusError(what, resp.StatusCode, resp.Header, b, now())
	}
	if out != nil && len(bytes.TrimSpace(b)) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			return resp.Header, &Error{Kind: Retry, Reason: ReasonBadResponse, Status: resp.StatusCode,
				Err: fmt.Errorf("%s: decode response: %w", what, err)}
		}
	}
	return resp.Header, nil
}
