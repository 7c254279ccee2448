// Package testkit is what the webhook's tests share: Alertmanager notifications built as
// Alertmanager sends them (Payload, JSONPayload), a settable clock and fixed ITIL rules. It
// imports nothing of the webhook above the incident domain, so any package's tests may use it;
// the store conformance suite that drives stores through the service is package storetest.
package testkit

import (
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kizashi-dev/kizashi/webhook/incident"
)

// StaticRules serve one policy for every tenant.
type StaticRules struct {
	P    incident.Policy
	Mode incident.Correlation
}

// Policy implements service.Rules.
func (r StaticRules) Policy(string) incident.Policy { return r.P }

// Correlation implements service.Rules.
func (r StaticRules) Correlation(string, string) incident.Correlation {
	if r.Mode == "" {
		return incident.CorrelateGroup
	}
	return r.Mode
}

// Clock is a settable clock for tests.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock starts at t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now returns the time.
func (c *Clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

// Advance moves the clock on.
func (c *Clock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// Payload builds a webhook body for tests.
func Payload(receiver, groupKey, status string, startsAt time.Time, alerts ...map[string]string) []byte {
	var as []string
	for _, l := range alerts {
		st := status
		if s, ok := l["__status"]; ok {
			st = s
			delete(l, "__status")
		}
		ends := "0001-01-01T00:00:00Z"
		if st == "resolved" {
			ends = startsAt.Add(time.Minute).Format(time.RFC3339Nano)
		}
		lj := "{"
		first := true
		for k, v := range l {
			if !first {
				lj += ","
			}
			first = false
			lj += fmt.Sprintf("%q:%q", k, v)
		}
		lj += "}"
		as = append(as, fmt.Sprintf(`{"status":%q,"labels":%s,"annotations":{"summary":"test"},"startsAt":%q,"endsAt":%q,"generatorURL":"http://prom/graph"}`,
			st, lj, startsAt.Format(time.RFC3339Nano), ends))
	}
	body := fmt.Sprintf(`{"version":"4","groupKey":%q,"truncatedAlerts":0,"status":%q,"receiver":%q,"groupLabels":{},"commonLabels":{},"commonAnnotations":{},"externalURL":"http://am","alerts":[`, groupKey, status, receiver)
	for i, a := range as {
		if i > 0 {
			body += ","
		}
		body += a
	}
	return []byte(body + "]}")
}

// JSONAlert is one alert of a notification built by JSONPayload.
type JSONAlert struct {
	Status       string            `json:"status"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     string            `json:"startsAt"`
	EndsAt       string            `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
}

// JSONPayload builds a notification body with encoding/json, so that any
// string (a NUL, a long key) is encoded as Alertmanager would encode it.
func JSONPayload(t testing.TB, receiver, groupKey, status string, alerts ...JSONAlert) []byte {
	t.Helper()
	for i := range alerts {
		if alerts[i].EndsAt == "" {
			alerts[i].EndsAt = "0001-01-01T00:00:00Z"
		}
	}
	b, err := json.Marshal(map[string]any{
		"version": "4", "groupKey": groupKey, "truncatedAlerts": 0, "status": status, "receiver": receiver,
		"groupLabels": map[string]string{}, "commonLabels": map[string]string{}, "commonAnnotations": map[string]string{},
		"externalURL": "http://am", "alerts": alerts,
	})
	require.NoError(t, err)
	return b
}
