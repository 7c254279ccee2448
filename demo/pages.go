package demo

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Page is a URL the demo prints, with what it shows.
type Page struct {
	Name, URL, What string
}

// debianAMPlaceholder is in the page Debian's Alertmanager serves at / instead of the web
// application its package does not include.
const debianAMPlaceholder = "does not include a web"

// pages returns the pages to open, each one that works on the installed Prometheus and
// Alertmanager: Debian's Prometheus 2.42 serves only the classic UI (/classic/alerts; /alerts
// is a 404), Debian's Alertmanager 0.25 no UI at all (a placeholder page), only its API.
func (s *Stack) pages(ctx context.Context) ([]Page, error) {
	alerts, err := firstOK(ctx, s.PrometheusURL, "/alerts", "/classic/alerts")
	if err != nil {
		return nil, fmt.Errorf("prometheus alerts page: %w", err)
	}
	graph, err := firstOK(ctx, s.PrometheusURL, "/graph", "/classic/graph")
	if err != nil {
		return nil, fmt.Errorf("prometheus graph page: %w", err)
	}
	graph += "?g0.range_input=1h&g0.tab=0&g0.expr=" + url.QueryEscape(
		`{__name__=~"demo_active_sessions|kizashi_lower|kizashi_upper",tenant="acme",service="checkout"}`)
	ps := []Page{
		{"Exporter", s.ExporterURL + "/", "every modelled series with its band, forecast and anomaly score;\nacme / checkout is the one the fault hits"},
		{"Service desk", s.WebhookURL + "/", fmt.Sprintf("log in with the operator token %s\n(a customer's view, read only: acme %s, globex %s)",
			s.OperatorToken, s.TenantAPITokens["acme"], s.TenantAPITokens["globex"])},
		{"Prometheus", alerts, "the shipped rules (KizashiAnomaly, breach forecasts, health)"},
		{"", graph, "acme's checkout sessions and their band"},
	}
	_, body, err := fetch(ctx, s.AlertmanagerURL+"/", true)
	if err != nil {
		return nil, fmt.Errorf("alertmanager page: %w", err)
	}
	if !strings.Contains(body, debianAMPlaceholder) {
		return append(ps, Page{"Alertmanager", s.AlertmanagerURL + "/#/alerts", "the alerts it holds and where it routed them"}), nil
	}
	return append(ps,
		Page{"Alertmanager", s.AlertmanagerURL + "/api/v2/alerts", "the alerts it holds, as JSON (Debian's Alertmanager has no web UI:\nits API, or amtool alert query)"},
		Page{"", s.AlertmanagerURL + "/api/v2/status", "its status and configuration, as JSON"}), nil
}

// firstOK returns base+path for the first path that answers 200 itself (no redirect).
func firstOK(ctx context.Context, base string, paths ...string) (string, error) {
	var tried []string
	for _, p := range paths {
		code, _, err := fetch(ctx, base+p, false)
		if err != nil {
			return "", err
		}
		if code == http.StatusOK {
			return base + p, nil
		}
		tried = append(tried, fmt.Sprintf("%s: %d", p, code))
	}
	return "", fmt.Errorf("none answers 200 (%s)", strings.Join(tried, ", "))
}

// fetch GETs url, following redirects or not, and returns the status and the body (the
// status of a redirect when not following).
func fetch(ctx context.Context, url string, follow bool) (int, string, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, "", err
	}
	c := &http.Client{}
	if !follow {
		c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return 0, "", fmt.Errorf("GET %s: %w", url, err)
	}
	return resp.StatusCode, string(b), nil
}
