package source

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	jsoniter "github.com/json-iterator/go"
	"github.com/prometheus/common/model"
)

// The live cycle's instant query is the exporter's most frequent request: it is sent and its
// answer decoded here, in one pass over the body, rather than by client_golang's v1 API, which
// decodes an answer twice (encoding/json for the envelope, validating the whole body, then
// json-iterator for the result) and took more than half of the exporter's time per series
// (BenchmarkExporterCycle). The request is the one the v1 API sends (POST, form encoded,
// GET when the server refuses POST); errors read as its errors do.

// queryParams are the form values of an instant query, as client_golang's v1 API writes them.
func (p *Prometheus) queryParams(expr string, t time.Time) string {
	v := url.Values{}
	v.Set("query", expr)
	v.Set("time", strconv.FormatFloat(float64(t.Unix())+float64(t.Nanosecond())/1e9, 'f', -1, 64))
	if p.timeout > 0 {
		v.Set("timeout", p.timeout.String())
	}
	return v.Encode()
}

// instant sends an instant query and decodes its answer.
func (p *Prometheus) instant(ctx context.Context, expr string, t time.Time) (model.Vector, error) {
	u := p.client.URL("/api/v1/query", nil)
	args := p.queryParams(expr, t)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), strings.NewReader(args))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header["Idempotency-Key"] = nil // retried on network errors, as the v1 API's requests
	resp, body, err := p.client.Do(ctx, req)
	if err != nil {
		return nil, err
	}
	switch resp.StatusCode {
	case http.StatusForbidden, http.StatusMethodNotAllowed, http.StatusNotImplemented:
		u.RawQuery = args
		if req, err = http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil); err != nil {
			return nil, err
		}
		if resp, body, err = p.client.Do(ctx, req); err != nil {
			return nil, err
		}
	}
	if resp.StatusCode/100 != 2 {
		return nil, answerError(resp, body)
	}
	return decodeInstant(body, p.maxSamples)
}

// answerError is the error of a non-2xx answer: the API's errorType and error when the body
// has them, else the status.
func answerError(resp *http.Response, body []byte) error {
	var e struct {
		Status    string `json:"status"`
		ErrorType string `json:"errorType"`
		Error     string `json:"error"`
	}
	if json.Unmarshal(body, &e) == nil && e.Status == "error" && e.Error != "" {
		if e.ErrorType == "" {
			e.ErrorType = "client_error"
		}
		return fmt.Errorf("%s: %s", e.ErrorType, e.Error)
	}
	kind := "client_error: client error"
	if resp.StatusCode/100 == 5 {
		kind = "server_error: server error"
	}
	return fmt.Errorf("%s: %d", kind, resp.StatusCode)
}

// decodeInstant decodes the answer of an instant query: a vector, or a scalar as one series
// without labels. More than maxSamples samples fail with ErrTooLarge as soon as they are
// counted. Native histograms are left out (the models learn floats).
func decodeInstant(body []byte, maxSamples int) (model.Vector, error) {
	it := jsoniter.ParseBytes(jsoniter.ConfigDefault, body)
	var (
		status, errType, errMsg, resultType string
		vec                                 model.Vector
		scalar                              *model.Sample
		tooLarge                            error
		raw                                 []byte
	)
	for f := it.ReadObject(); f != ""; f = it.ReadObject() {
		switch f {
		case "status":
			status = it.ReadString()
		case "errorType":
			errType = it.ReadString()
		case "error":
			errMsg = it.ReadString()
		case "data":
			if it.WhatIsNext() != jsoniter.ObjectValue {
				it.Skip()
				continue
			}
			for g := it.ReadObject(); g != ""; g = it.ReadObject() {
				switch g {
				case "resultType":
					resultType = it.ReadString()
				case "result":
					if resultType == "" { // the type comes after the result: read it later
						raw = append([]byte(nil), it.SkipAndReturnBytes()...)
						continue
					}
					vec, scalar, tooLarge = readResult(it, resultType, maxSamples)
				default:
					it.Skip()
				}
			}
		default:
			it.Skip()
		}
	}
	if raw != nil && (it.Error == nil || errors.Is(it.Error, io.EOF)) {
		it = jsoniter.ParseBytes(jsoniter.ConfigDefault, raw)
		vec, scalar, tooLarge = readResult(it, resultType, maxSamples)
	}
	if it.Error != nil && !errors.Is(it.Error, io.EOF) {
		return nil, fmt.Errorf("bad_response: %w", it.Error)
	}
	if tooLarge != nil {
		return nil, tooLarge
	}
	if status == "error" {
		return nil, fmt.Errorf("%s: %s", errType, errMsg)
	}
	if status != "success" {
		return nil, fmt.Errorf("bad_response: status %q", status)
	}
	switch resultType {
	case "vector":
		if vec == nil {
			vec = model.Vector{}
		}
		return vec, nil
	case "scalar":
		if scalar == nil {
			return nil, errors.New("bad_response: malformed scalar")
		}
		return model.Vector{scalar}, nil
	}
	return nil, fmt.Errorf("got %s, want vector", resultType)
}

// readResult reads the result of the type: the samples of a vector (counted, not kept, past
// maxSamples: tooLarge), the sample of a scalar; other types are skipped.
func readResult(it *jsoniter.Iterator, resultType string, maxSamples int) (vec model.Vector, scalar *model.Sample, tooLarge error) {
	if it.WhatIsNext() != jsoniter.ArrayValue {
		it.Skip()
		return nil, nil, nil
	}
	switch resultType {
	case "scalar":
		scalar = &model.Sample{Metric: model.Metric{}}
		if !readPair(it, scalar) {
			scalar = nil
		}
	case "vector":
		n := 0
		for it.ReadArray() {
			n++
			if maxSamples > 0 && n > maxSamples {
				vec = nil
				it.Skip()
				continue
			}
			if s := readSample(it); s != nil {
				vec = append(vec, s)
			}
		}
		if maxSamples > 0 && n > maxSamples {
			tooLarge = fmt.Errorf("%w: %d samples, over max_response_samples %d", ErrTooLarge, n, maxSamples)
		}
	default:
		it.Skip()
	}
	return vec, scalar, tooLarge
}

// readSample reads {"metric":{...},"value":[t,"v"]}; nil for a histogram or a malformed sample
// (the iterator's error then says why).
func readSample(it *jsoniter.Iterator) *model.Sample {
	s := &model.Sample{}
	ok := false
	for f := it.ReadObject(); f != ""; f = it.ReadObject() {
		switch f {
		case "metric":
			s.Metric = make(model.Metric, 8)
			for n := it.ReadObject(); n != ""; n = it.ReadObject() {
				s.Metric[model.LabelName(n)] = model.LabelValue(it.ReadString())
			}
		case "value":
			ok = readPair(it, s)
		default:
			it.Skip()
		}
	}
	if !ok || it.Error != nil {
		return nil
	}
	if s.Metric == nil {
		s.Metric = model.Metric{}
	}
	return s
}

// readPair reads [t,"v"] into s.
func readPair(it *jsoniter.Iterator, s *model.Sample) bool {
	if !it.ReadArray() {
		return false
	}
	if err := s.Timestamp.UnmarshalJSON([]byte(it.ReadNumber())); err != nil {
		it.ReportError("read sample", "timestamp: "+err.Error())
		return false
	}
	if !it.ReadArray() {
		return false
	}
	v, err := strconv.ParseFloat(it.ReadString(), 64)
	if err != nil && !math.IsInf(v, 0) {
		it.ReportError("read sample", "value: "+err.Error())
		return false
	}
	s.Value = model.SampleValue(v)
	for it.ReadArray() {
		it.Skip()
	}
	return true
}
