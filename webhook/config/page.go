package config

import (
	"net/url"
	"time"

	"github.com/prometheus/common/model"
	_ "time/tzdata" // time zones by name on any system (the page shows dates in the user's zone)
)

// Page configures the service-desk page: where the anomaly chart of an incident is read from,
// how often the queue refreshes, and the defaults of a user who chose no language or zone.
type Page struct {
	// PrometheusURL is the Prometheus the chart of an anomaly incident is queried from
	// (query_range of kizashi_value, kizashi_lower, kizashi_upper, kizashi_anomaly_score for the
	// alert's labels); "" shows no chart.
	PrometheusURL string `yaml:"prometheus_url"`
	// ChartWindow is how long before (and after) the first alert's start the chart shows.
	ChartWindow model.Duration `yaml:"chart_window"`
	// Refresh is how often the queue and an incident refresh their live parts.
	Refresh model.Duration `yaml:"refresh"`
	// TimeZone is the default time zone (IANA name) of a user who chose none.
	TimeZone string `yaml:"time_zone"`
	// Language is the default language (en or ja) of a browser that asks for neither.
	Language string `yaml:"language"`
}

// DefaultPage: no chart, a 1h window, a refresh every 30s, UTC, English.
var DefaultPage = Page{ChartWindow: model.Duration(time.Hour), Refresh: model.Duration(30 * time.Second), TimeZone: "UTC", Language: "en"}

// UnmarshalYAML sets defaults.
func (p *Page) UnmarshalYAML(unmarshal func(any) error) error {
	*p = DefaultPage
	type plain Page
	return unmarshal((*plain)(p))
}

func (p *Page) validate() error {
	if p.PrometheusURL != "" {
		u, err := url.Parse(p.PrometheusURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return keyErrorf("page.prometheus_url", "%q is not an http(s) URL", p.PrometheusURL)
		}
	}
	if p.ChartWindow < model.Duration(time.Minute) || p.ChartWindow > model.Duration(7*24*time.Hour) {
		return keyErrorf("page.chart_window", "must be between 1m and 7d")
	}
	if p.Refresh < model.Duration(time.Second) {
		return keyErrorf("page.refresh", "must be at least 1s")
	}
	if _, err := time.LoadLocation(p.TimeZone); err != nil || p.TimeZone == "" || p.TimeZone == "Local" {
		return keyErrorf("page.time_zone", "%q is not a time zone name (such as Asia/Tokyo or UTC)", p.TimeZone)
	}
	if p.Language != "en" && p.Language != "ja" {
		return keyErrorf("page.language", "must be en or ja")
	}
	return nil
}

// Zone is the default time zone (UTC when unset).
func (p *Page) Zone() *time.Location {
	if l, err := time.LoadLocation(p.TimeZone); err == nil && p.TimeZone != "" {
		return l
	}
	return time.UTC
}
