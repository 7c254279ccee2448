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

// instant sends an instant query and decodes its answer (from /federate for a plain selector
// when the source is a Prometheus server that allows it: see federate.go).
func (p *Prometheus) instant(ctx context.Context, expr string, t time.Time) (model.Vector, error) {
	why := ""
	if p.scrape != nil {
		vec, ok, reason := p.scraped(ctx, expr, t)
		if ok {
			p.reads.Store(expr, LiveRead{API: APIScrape})
			return vec, nil
		}
		why = reason
	}
	if sel := p.federated(ctx, expr, t); sel != "" {
		p.count(APIFederate)
		vec, fallback, err := p.federate(ctx, sel, t)
		if !fallback {
			p.reads.Store(expr, LiveRead{API: APIFederate, Fallback: why})
			return vec, err
		}
		p.noFederation()
	}
	p.reads.Store(expr, LiveRead{API: APIQuery, Fallback: why})
	p.count(APIQuery)
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
	in := p.intern
	if !in.mu.TryLock() {
		in = nil // another query's answer is being read with it
	} else {
		defer in.mu.Unlock()
	}
	return decodeInstant(body, p.maxSamples, in)
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

// answer is an API answer's envelope.
type answer struct {
	status, errType, errMsg, resultType string
}

// readAnswer reads an answer's envelope and hands its result to read with its type (read
// again later, from a copy, when the type comes after the result). The iterator's error says
// whether the answer was well formed.
func readAnswer(it *jsoniter.Iterator, read func(it *jsoniter.Iterator, resultType string)) answer {
	var (
		a   answer
		raw []byte
	)
	for f := it.ReadObject(); f != ""; f = it.ReadObject() {
		switch f {
		case "status":
			a.status = it.ReadString()
		case "errorType":
			a.errType = it.ReadString()
		case "error":
			a.errMsg = it.ReadString()
		case "data":
			if it.WhatIsNext() != jsoniter.ObjectValue {
				it.Skip()
				continue
			}
			for g := it.ReadObject(); g != ""; g = it.ReadObject() {
				switch g {
				case "resultType":
					a.resultType = it.ReadString()
				case "result":
					if a.resultType == "" { // the type comes after the result: read it later
						raw = append([]byte(nil), it.SkipAndReturnBytes()...)
						continue
					}
					read(it, a.resultType)
				default:
					it.Skip()
				}
			}
		default:
			it.Skip()
		}
	}
	if raw != nil && (it.Error == nil || errors.Is(it.Error, io.EOF)) {
		later := jsoniter.ParseBytes(jsoniter.ConfigDefault, raw)
		read(later, a.resultType)
		if later.Error != nil && !errors.Is(later.Error, io.EOF) {
			it.Error = later.Error
		}
	}
	return a
}

// err is the error of an answer read by it, whose result had tooLarge samples (nil if not),
// expecting a result of type want.
func (a answer) err(it *jsoniter.Iterator, tooLarge error, want string) error {
	if it.Error != nil && !errors.Is(it.Error, io.EOF) {
		if errors.Is(it.Error, ErrTooLarge) {
			return it.Error
		}
		return fmt.Errorf("bad_response: %w", it.Error)
	}
	if tooLarge != nil {
		return tooLarge
	}
	if a.status == "error" {
		return fmt.Errorf("%s: %s", a.errType, a.errMsg)
	}
	if a.status != "success" {
		return fmt.Errorf("bad_response: status %q", a.status)
	}
	if a.resultType != want && !(want == "vector" && a.resultType == "scalar") {
		return fmt.Errorf("got %s, want %s", a.resultType, want)
	}
	return nil
}

// decodeInstant decodes the answer of an instant query: a vector, or a scalar as one series
// without labels. More than maxSamples samples fail with ErrTooLarge as soon as they are
// counted. Native histograms are left out (the models learn floats). A plain vector answer is
// read by fastInstant, with in's strings (nil: none).
func decodeInstant(body []byte, maxSamples int, in *interner) (model.Vector, error) {
	if vec, ok := fastInstant(body, maxSamples, in); ok {
		return vec, nil
	}
	return decodeInstantSlow(body, maxSamples)
}

// decodeInstantSlow is decodeInstant for any answer.
func decodeInstantSlow(body []byte, maxSamples int) (model.Vector, error) {
	it := jsoniter.ParseBytes(jsoniter.ConfigDefault, body)
	var (
		vec      model.Vector
		scalar   *model.Sample
		tooLarge error
	)
	a := readAnswer(it, func(it *jsoniter.Iterator, resultType string) {
		vec, scalar, tooLarge = readResult(it, resultType, maxSamples)
	})
	if err := a.err(it, tooLarge, "vector"); err != nil {
		return nil, err
	}
	if a.resultType == "scalar" {
		if scalar == nil {
			return nil, errors.New("bad_response: malformed scalar")
		}
		return model.Vector{scalar}, nil
	}
	if vec == nil {
		vec = model.Vector{}
	}
	return vec, nil
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
			s.Metric = readMetric(it)
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

// readMetric reads a series' labels (ReadObjectCB, unlike ReadObject, tells an empty name from
// the object's end).
func readMetric(it *jsoniter.Iterator) model.Metric {
	m := make(model.Metric, 8)
	it.ReadObjectCB(func(it *jsoniter.Iterator, name string) bool {
		m[model.LabelName(name)] = model.LabelValue(it.ReadString())
		return true
	})
	return m
}

// readPair reads [t,"v"] into s.
func readPair(it *jsoniter.Iterator, s *model.Sample) bool {
	if !it.ReadArray() {
		it.ReportError("read sample", "want [time, value]")
		return false
	}
	if err := s.Timestamp.UnmarshalJSON([]byte(it.ReadNumber())); err != nil {
		it.ReportError("read sample", "timestamp: "+err.Error())
		return false
	}
	if !it.ReadArray() {
		it.ReportError("read sample", "want [time, value]")
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

// The backfill's range queries are sent here too, and their answers decoded as they arrive:
// client_golang's v1 API holds the whole body, a copy of its result and the decoded matrix at
// once (with 100k series, a chunk of a million samples took some 180 MB at its peak, most of
// the exporter's memory above its models); decoded from the stream, only the matrix is held.

// rangeParams are the form values of a range query, as client_golang's v1 API writes them.
func (p *Prometheus) rangeParams(expr string, start, end time.Time, step time.Duration) string {
	v := url.Values{}
	v.Set("query", expr)
	v.Set("start", formatTime(start))
	v.Set("end", formatTime(end))
	v.Set("step", strconv.FormatFloat(step.Seconds(), 'f', -1, 64))
	if p.timeout > 0 {
		v.Set("timeout", p.timeout.String())
	}
	return v.Encode()
}

func formatTime(t time.Time) string {
	return strconv.FormatFloat(float64(t.Unix())+float64(t.Nanosecond())/1e9, 'f', -1, 64)
}

// post sends args to the API's path as a form (as a query string to a server that refuses
// POST, as the v1 API does) and returns the response with its body unread.
func (p *Prometheus) post(ctx context.Context, path, args string) (*http.Response, error) {
	u := p.client.URL(path, nil)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), strings.NewReader(args))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header["Idempotency-Key"] = nil // retried on network errors, as the v1 API's requests
	resp, err := p.hc.Do(req)
	if err != nil {
		return nil, err
	}
	switch resp.StatusCode {
	case http.StatusForbidden, http.StatusMethodNotAllowed, http.StatusNotImplemented:
		_ = resp.Body.Close()
		u.RawQuery = args
		if req, err = http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil); err != nil {
			return nil, err
		}
		return p.hc.Do(req)
	}
	return resp, nil
}

// maxErrorBody bounds what is read of an error answer.
const maxErrorBody = 1 << 20

// queryRange sends a range query and decodes its answer from the stream.
func (p *Prometheus) queryRange(ctx context.Context, expr string, start, end time.Time, step time.Duration) (model.Matrix, error) {
	p.count(APIQueryRange)
	resp, err := p.post(ctx, "/api/v1/query_range", p.rangeParams(expr, start, end, step))
	if err != nil {
		return nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode/100 != 2 {
		body, err := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		if err != nil && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, answerError(resp, body)
	}
	points := 1
	if step > 0 && !end.Before(start) {
		points = min(int(end.Sub(start)/step)+1, 11_000) // Prometheus' limit per series
	}
	mat, err := decodeRange(resp.Body, p.maxSamples, points)
	if err != nil && ctx.Err() != nil {
		return nil, ctx.Err() // the body's read failed because the query was cancelled or timed out
	}
	return mat, err
}

// decodeRange decodes the answer of a range query from r: a matrix (a scalar expression is
// answered as one), points the expected points per series (a capacity hint). More than
// maxSamples samples fail with ErrTooLarge as soon as they are read. Native histograms are
// counted and left out (the models learn floats).
func decodeRange(r io.Reader, maxSamples, points int) (model.Matrix, error) {
	cut := &cutReader{r: r}
	it := jsoniter.Parse(jsoniter.ConfigDefault, cut, 64<<10)
	var (
		mat      model.Matrix
		tooLarge error
	)
	a := readAnswer(it, func(it *jsoniter.Iterator, resultType string) {
		if resultType != "matrix" || it.WhatIsNext() != jsoniter.ArrayValue {
			it.Skip()
			return
		}
		n := 0
		for it.ReadArray() {
			ss, k := readStream(it, points)
			if n += k; maxSamples > 0 && n > maxSamples {
				tooLarge = fmt.Errorf("%w: %d samples, over max_response_samples %d", ErrTooLarge, n, maxSamples)
				cut.err = tooLarge // the rest is not read
				it.ReportError("read matrix", tooLarge.Error())
				return
			}
			if ss != nil {
				mat = append(mat, ss)
			}
		}
	})
	if tooLarge != nil {
		return nil, tooLarge
	}
	if err := a.err(it, nil, "matrix"); err != nil {
		return nil, err
	}
	if mat == nil {
		mat = model.Matrix{}
	}
	return mat, nil
}

// readStream reads {"metric":{...},"values":[[t,"v"],...],"histograms":[...]} and returns it
// without its histograms, and how many samples it had (histograms included); nil for a
// malformed stream (the iterator's error then says why).
func readStream(it *jsoniter.Iterator, points int) (*model.SampleStream, int) {
	ss := &model.SampleStream{}
	n := 0
	for f := it.ReadObject(); f != ""; f = it.ReadObject() {
		switch f {
		case "metric":
			ss.Metric = readMetric(it)
		case "values":
			if ss.Values == nil {
				ss.Values = make([]model.SamplePair, 0, points)
			}
			for it.ReadArray() {
				var s model.Sample
				if !readPair(it, &s) {
					return nil, n
				}
				ss.Values = append(ss.Values, model.SamplePair{Timestamp: s.Timestamp, Value: s.Value})
				n++
			}
		case "histograms":
			for it.ReadArray() {
				it.Skip()
				n++
			}
		default:
			it.Skip()
		}
	}
	if it.Error != nil {
		return nil, n
	}
	if ss.Metric == nil {
		ss.Metric = model.Metric{}
	}
	return ss, n
}

// cutReader reads r until err is set.
type cutReader struct {
	r   io.Reader
	err error
}

func (c *cutReader) Read(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	return c.r.Read(p)
}
