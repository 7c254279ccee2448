package testenv

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"maps"
	"math"
	"net/http"
	"slices"
	"strings"

	"github.com/klauspost/compress/snappy"
	"github.com/prometheus/prometheus/prompb"
	"google.golang.org/protobuf/encoding/protowire"
)

// RemoteWrite posts samples to Prometheus' remote-write receiver
// (/api/v1/write, protocol 1.0: snappy-compressed prometheus.WriteRequest).
// Prometheus only accepts samples newer than its head block's start
// (about the last hour or two): use History for older data.
func (p *Prometheus) RemoteWrite(ctx context.Context, samples ...Sample) error {
	body, err := encodeWriteRequest(samples)
	if err != nil {
		return fmt.Errorf("remote write: %w", err)
	}
	req, err := newRequest(ctx, http.MethodPost, p.URL()+"/api/v1/write", bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("remote write: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-protobuf")
	req.Header.Set("Content-Encoding", "snappy")
	req.Header.Set("X-Prometheus-Remote-Write-Version", "0.1.0")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("remote write: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
		return fmt.Errorf("remote write: %s: %s", resp.Status, bytes.TrimSpace(msg))
	}
	return nil
}

// DecodeWriteRequest reads a remote-write request as Prometheus sends it (protocol 1.0: a
// snappy-compressed prometheus.WriteRequest): what a receiver in a test or a benchmark reads.
func DecodeWriteRequest(r *http.Request) (*prompb.WriteRequest, error) {
	body, err := io.ReadAll(r.Body)
	if err == nil {
		body, err = snappy.Decode(nil, body)
	}
	var req prompb.WriteRequest
	if err == nil {
		err = req.Unmarshal(body)
	}
	if err != nil {
		return nil, fmt.Errorf("remote write request: %w", err)
	}
	return &req, nil
}

// encodeWriteRequest builds a snappy-compressed prometheus.WriteRequest:
//
//	WriteRequest { repeated TimeSeries timeseries = 1; }
//	TimeSeries   { repeated Label labels = 1; repeated Sample samples = 2; }
//	Label        { string name = 1; string value = 2; }
//	Sample       { double value = 1; int64 timestamp = 2; } // milliseconds
func encodeWriteRequest(samples []Sample) ([]byte, error) {
	type series struct {
		labels  [][2]string
		samples []Sample
	}
	bySeries := map[string]*series{}
	var order []string
	for _, s := range samples {
		if err := s.validate(); err != nil {
			return nil, err
		}
		labels := [][2]string{{"__name__", s.Metric}}
		for _, k := range slices.Sorted(maps.Keys(s.Labels)) {
			labels = append(labels, [2]string{k, s.Labels[k]})
		}
		var key strings.Builder
		for _, l := range labels {
			key.WriteString(l[0] + "\xff" + l[1] + "\xff")
		}
		sr, ok := bySeries[key.String()]
		if !ok {
			sr = &series{labels: labels}
			bySeries[key.String()] = sr
			order = append(order, key.String())
		}
		sr.samples = append(sr.samples, s)
	}
	var req []byte
	for _, k := range order {
		sr := bySeries[k]
		slices.SortStableFunc(sr.samples, func(a, b Sample) int { return a.Time.Compare(b.Time) })
		var ts []byte
		for _, l := range sr.labels {
			var lb []byte
			lb = protowire.AppendTag(lb, 1, protowire.BytesType)
			lb = protowire.AppendString(lb, l[0])
			lb = protowire.AppendTag(lb, 2, protowire.BytesType)
			lb = protowire.AppendString(lb, l[1])
			ts = protowire.AppendTag(ts, 1, protowire.BytesType)
			ts = protowire.AppendBytes(ts, lb)
		}
		for _, s := range sr.samples {
			var sb []byte
			sb = protowire.AppendTag(sb, 1, protowire.Fixed64Type)
			sb = protowire.AppendFixed64(sb, math.Float64bits(s.Value))
			sb = protowire.AppendTag(sb, 2, protowire.VarintType)
			sb = protowire.AppendVarint(sb, uint64(s.Time.UnixMilli()))
			ts = protowire.AppendTag(ts, 2, protowire.BytesType)
			ts = protowire.AppendBytes(ts, sb)
		}
		req = protowire.AppendTag(req, 1, protowire.BytesType)
		req = protowire.AppendBytes(req, ts)
	}
	return snappy.Encode(nil, req), nil
}
