// Package bench is kizashi-webhook's load generator: it sends synthetic
// Alertmanager notifications (each one distinct, so none is a duplicate) to a
// receiver and reports throughput and latency percentiles.
package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Options of Run.
type Options struct {
	URL         string
	Token       string
	Rate        float64 // notifications per second; 0 = closed loop, as fast as possible
	Duration    time.Duration
	Concurrency int
	Alerts      int
	Groups      int
	// AckLog receives the sequence number of every 2xx-acknowledged
	// notification, one per line.
	AckLog string
	// Start is the first sequence number (to continue a run).
	Start uint64
	// Churn makes every alert of every notification change (worst case).
	Churn  bool
	Client *http.Client
}

// Result of a run.
type Result struct {
	Sent, OK, Failed int
	Elapsed          time.Duration
	P50, P90, P99    time.Duration
	Max              time.Duration
	Codes            map[int]int
	Acked            []uint64
}

// Throughput is acknowledged notifications per second.
func (r Result) Throughput() float64 { return float64(r.OK) / r.Elapsed.Seconds() }

func (r Result) String() string {
	return fmt.Sprintf("sent=%d ok=%d failed=%d elapsed=%s throughput=%.0f/s p50=%s p90=%s p99=%s max=%s codes=%v",
		r.Sent, r.OK, r.Failed, r.Elapsed.Round(time.Millisecond), r.Throughput(), r.P50, r.P90, r.P99, r.Max, r.Codes)
}

var base = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// Payload is notification seq for group seq%groups with n alerts. With churn
// false (the realistic case) the group's alerts keep their startsAt and only
// the last one changes (it alternates between firing and resolved, resolved
// at a time that moves with seq); with churn true every alert's startsAt moves
// with seq. Either way every notification is distinct (no duplicates). The
// body is built by hand so that the generator costs little CPU next to the
// receiver it measures.
func Payload(seq uint64, groups, n int, churn bool) []byte {
	g := strconv.FormatUint(seq%uint64(groups), 10)
	round := seq / uint64(groups)
	var b bytes.Buffer
	b.Grow(300 + n*330)
	b.WriteString(`{"version":"4","groupKey":"{}:{alertname=\"Bench\", group=\"`)
	b.WriteString(g)
	b.WriteString(`\"}","truncatedAlerts":0,"status":"firing","receiver":"bench","groupLabels":{"alertname":"Bench","group":"`)
	b.WriteString(g)
	b.WriteString(`"},"commonLabels":{"alertname":"Bench","group":"`)
	b.WriteString(g)
	b.WriteString(`"},"commonAnnotations":{},"externalURL":"http://alertmanager.invalid","alerts":[`)
	for i := 0; i < n; i++ {
		status, starts, ends := "firing", base, time.Time{}
		if churn {
			starts = base.Add(time.Duration(seq) * time.Millisecond)
		} else if i == n-1 {
			starts = base.Add(time.Duration(round) * time.Second)
			if round%2 == 1 {
				status, ends = "resolved", starts.Add(time.Millisecond)
			}
		}
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"status":"`)
		b.WriteString(status)
		b.WriteString(`","labels":{"alertname":"Bench","group":"`)
		b.WriteString(g)
		b.WriteString(`","instance":"host-`)
		b.WriteString(strconv.Itoa(i))
		b.WriteString(`","severity":"warning","service":"bench"},"annotations":{"summary":"synthetic load"},"startsAt":"`)
		b.WriteString(starts.Format(time.RFC3339Nano))
		b.WriteString(`","endsAt":"`)
		b.WriteString(ends.Format(time.RFC3339Nano))
		b.WriteString(`","generatorURL":"http://prometheus.invalid/graph"}`)
	}
	b.WriteString(`]}`)
	return b.Bytes()
}

// Run sends notifications until Duration passed or ctx ends.
func Run(ctx context.Context, o Options) (Result, error) {
	if o.Concurrency <= 0 {
		o.Concurrency = 32
	}
	if o.Alerts <= 0 {
		o.Alerts = 10
	}
	if o.Groups <= 0 {
		o.Groups = 1000
	}
	client := o.Client
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: o.Concurrency, MaxConnsPerHost: o.Concurrency}}
	}
	ctx, cancel := context.WithTimeout(ctx, o.Duration)
	defer cancel()

	jobs := make(chan uint64, o.Concurrency)
	go func() {
		defer close(jobs)
		seq := o.Start
		if o.Rate <= 0 {
			for {
				select {
				case jobs <- seq:
					seq++
				case <-ctx.Done():
					return
				}
			}
		}
		interval := time.Duration(float64(time.Second) / o.Rate)
		next := time.Now()
		for {
			next = next.Add(interval)
			if d := time.Until(next); d > 0 {
				select {
				case <-time.After(d):
				case <-ctx.Done():
					return
				}
			}
			select {
			case jobs <- seq:
				seq++
			case <-ctx.Done():
				return
			}
		}
	}()

	var (
		mu        sync.Mutex
		latencies []time.Duration
		codes     = map[int]int{}
		acked     []uint64
		sent      atomic.Int64
		failed    atomic.Int64
	)
	start := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < o.Concurrency; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for seq := range jobs {
				body := Payload(seq, o.Groups, o.Alerts, o.Churn)
				sent.Add(1)
				t := time.Now()
				// Requests run to completion even when the run ends, so that
				// every 2xx is counted.
				code, err := send(context.WithoutCancel(ctx), client, o, body)
				lat := time.Since(t)
				mu.Lock()
				codes[code]++
				if err == nil && code/100 == 2 {
					latencies = append(latencies, lat)
					acked = append(acked, seq)
				} else {
					failed.Add(1)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	res := Result{Sent: int(sent.Load()), OK: len(latencies), Failed: int(failed.Load()), Elapsed: time.Since(start), Codes: codes, Acked: acked}
	slices.Sort(latencies)
	pct := func(p float64) time.Duration {
		if len(latencies) == 0 {
			return 0
		}
		return latencies[min(len(latencies)-1, int(p*float64(len(latencies))))]
	}
	res.P50, res.P90, res.P99 = pct(0.50), pct(0.90), pct(0.99)
	if len(latencies) > 0 {
		res.Max = latencies[len(latencies)-1]
	}
	if o.AckLog != "" {
		if err := writeAcks(o.AckLog, acked); err != nil {
			return res, err
		}
	}
	if res.OK == 0 {
		return res, errors.New("no notification was acknowledged")
	}
	return res, nil
}

func send(ctx context.Context, c *http.Client, o Options, body []byte) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, o.URL, bytes.NewReader(body))
	if err != nil {
		return 0, fmt.Errorf("new request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+o.Token)
	resp, err := c.Do(req)
	if err != nil {
		return 0, fmt.Errorf("post: %w", err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	if err := resp.Body.Close(); err != nil {
		return resp.StatusCode, fmt.Errorf("close body: %w", err)
	}
	return resp.StatusCode, nil
}

func writeAcks(path string, acked []uint64) (err error) {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("create ack log: %w", err)
	}
	defer func() {
		if cerr := f.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("close ack log: %w", cerr)
		}
	}()
	w := bufio.NewWriter(f)
	for _, s := range acked {
		if _, err := fmt.Fprintln(w, s); err != nil {
			return fmt.Errorf("write ack log: %w", err)
		}
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("write ack log: %w", err)
	}
	return nil
}
