//go:build e2e

package demo

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kizashi-dev/kizashi/webhook/apitypes"
)

// syncBuffer is a bytes.Buffer safe for concurrent use (the demo's output).
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestDemoShort runs the demo as CI does (`go tool mage demo -short`): Debian's Prometheus and
// Alertmanager, the exporter and the webhook in-process, the fault, and the incident on the
// webhook's API. While it runs, the pages are checked and photographed in headless Chromium
// (browser_test.go) and the shipped dashboards' queries are run against its Prometheus
// (queries_test.go). Afterwards nothing it started may be left: no process, no listener, no
// work directory.
func TestDemoShort(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the demo starts Prometheus and Alertmanager")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	out := &syncBuffer{}
	var (
		stack    *Stack
		incident apitypes.Incident
		addrs    []string
	)
	err := Run(ctx, Options{Short: true, Out: out, OnIncident: func(ctx context.Context, s *Stack, inc apitypes.Incident) error {
		stack, incident = s, inc
		for _, u := range []string{s.PrometheusURL, s.AlertmanagerURL, s.ExporterURL, s.WebhookURL, s.ShopURL} {
			addrs = append(addrs, strings.TrimPrefix(u, "http://"))
		}
		for _, check := range duringDemo() {
			t.Run(check.name, func(t *testing.T) { check.run(ctx, t, s) })
		}
		t.Run("printed URLs", func(t *testing.T) { checkPrintedURLs(ctx, t, s, out.String()) })
		return nil
	}})
	t.Logf("demo output:\n%s", out.String())
	require.NoError(t, err)
	require.NotNil(t, stack, "the incident appeared")

	// The incident is the one the story tells: acme, P2 from service checkout (impact 1) and
	// severity warning (urgency 2), from the shipped KizashiAnomaly rule.
	require.Equal(t, "acme", incident.Tenant)
	require.Equal(t, 2, incident.Priority)
	require.Equal(t, 1, incident.Impact)
	require.Equal(t, 2, incident.Urgency)
	require.Equal(t, "KizashiAnomaly", incident.Labels["alertname"])
	require.Equal(t, "checkout", incident.Labels["service"])
	require.Equal(t, "kizashi-acme", incident.Receiver)
	require.Contains(t, incident.Title, "demo_active_sessions")
	require.Contains(t, out.String(), "incident #")
	require.Contains(t, out.String(), "Stopped everything")

	// Everything stopped and cleaned up.
	_, err = os.Stat(stack.Dir)
	require.ErrorIs(t, err, os.ErrNotExist, "work directory removed")
	for _, a := range addrs {
		c, err := net.DialTimeout("tcp", a, time.Second)
		if err == nil {
			_ = c.Close()
		}
		require.Error(t, err, "nothing listens on %s any more", a)
	}
	for _, p := range stack.procs {
		require.True(t, p.Exited(), "%s exited", p.Name)
	}
}

// demoCheck is a check on the running demo, once the incident appeared.
type demoCheck struct {
	name string
	run  func(ctx context.Context, t *testing.T, s *Stack)
}

func duringDemo() []demoCheck {
	return []demoCheck{
		{"listens on loopback only", checkLoopback},
		{"disk breach forecast", checkBreachForecast},
		{"pages", checkPages},
		{"dashboard queries", checkDashboardQueries},
	}
}

func checkLoopback(_ context.Context, t *testing.T, s *Stack) {
	for _, u := range []string{s.PrometheusURL, s.AlertmanagerURL, s.ExporterURL, s.WebhookURL, s.ShopURL} {
		require.True(t, strings.HasPrefix(u, "http://127.0.0.1:"), u)
	}
}

// checkBreachForecast: acme's volume fills up in about four days, the exporter publishes the ETA.
func checkBreachForecast(ctx context.Context, t *testing.T, s *Stack) {
	vec, err := s.query(ctx, fmt.Sprintf(`kizashi_breach_eta_seconds{tenant="acme",kizashi_query="storage",threshold="%g"}`, DiskCapacity))
	require.NoError(t, err)
	require.Len(t, vec, 1)
	eta := time.Duration(float64(vec[0].Value)) * time.Second
	require.Greater(t, eta, 24*time.Hour)
	require.Less(t, eta, 7*24*time.Hour)
}

// checkPrintedURLs fetches every URL the demo printed: each answers 200 (after redirects, as a
// browser follows them) with what the demo says it shows, never a 404 or Debian's
// Alertmanager placeholder page ("does not include a web application").
func checkPrintedURLs(ctx context.Context, t *testing.T, s *Stack, out string) {
	// What each page must show, by URL without query or fragment.
	shows := map[string]string{
		s.ExporterURL + "/":                  "demo_active_sessions",
		s.WebhookURL + "/":                   `id="token"`,
		s.PrometheusURL + "/alerts":          "KizashiAnomaly",
		s.PrometheusURL + "/classic/alerts":  "KizashiAnomaly",
		s.PrometheusURL + "/graph":           "<title>Prometheus",
		s.PrometheusURL + "/classic/graph":   "<title>Prometheus",
		s.AlertmanagerURL + "/":              "<title>Alertmanager",
		s.AlertmanagerURL + "/api/v2/alerts": `"alertname":"KizashiAnomaly"`,
		s.AlertmanagerURL + "/api/v2/status": "- name: kizashi-acme",
	}
	urls := regexp.MustCompile(`https?://[^\s"'<>]+`).FindAllString(out, -1)
	require.GreaterOrEqual(t, len(urls), 5, "the demo prints its pages:\n%s", out)
	for _, u := range urls {
		key, _, _ := strings.Cut(u, "?")
		key, _, _ = strings.Cut(key, "#")
		want, ok := shows[key]
		require.True(t, ok, "the demo printed %s, which this test does not know: say what it shows", u)
		code, body, err := fetch(ctx, u, true)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, code, "GET %s", u)
		require.NotContains(t, body, debianAMPlaceholder, "GET %s: a placeholder", u)
		require.Contains(t, body, want, "GET %s", u)
	}
}
