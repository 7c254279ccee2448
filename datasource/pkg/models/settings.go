// Package models holds the data source's settings and query model: what Grafana stores and
// sends, decoded and validated in one place.
package models

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/prometheus/common/model"

	"github.com/kizashi-dev/kizashi/anomaly"
	"github.com/kizashi-dev/kizashi/internal/timezone"
)

// Defaults of the data source settings.
const (
	DefaultTimeout = 30 * time.Second
	// DefaultWarmUp is the history an anomaly query reads before the panel's range: the
	// exporter's default training window, so that the models have learned from what the
	// exporter's learned from (the daily profile needs two days of it, the weekly one two weeks).
	DefaultWarmUp = 7 * 24 * time.Hour
	// DefaultForecastWarmUp is a forecast query's: the damped trend is learned once a day and
	// takes about two weeks to settle (with one week, a disk filling in three days is forecast
	// to grow a third as fast as it does, and no breach is found).
	DefaultForecastWarmUp = 14 * 24 * time.Hour
	// DefaultBreachWithin is how far ahead a forecast query looks for its threshold's breach.
	DefaultBreachWithin = 7 * 24 * time.Hour
	DefaultMaxSeries    = 500
	// DefaultMaxPoints bounds the samples one query fetches (all series, warm-up included):
	// about 100 bytes each while a query runs.
	DefaultMaxPoints = 5_000_000
	DefaultHorizon   = 6 * time.Hour
)

// JSONData is what the data source stores in jsonData (never secrets). The URL of Prometheus
// is the data source's own URL (settings.URL); basic auth uses Grafana's standard fields
// (basicAuth, basicAuthUser, secure basicAuthPassword) and TLS Grafana's standard ones
// (tlsSkipVerify, tlsAuth, tlsAuthWithCACert, serverName, secure tlsCACert/tlsClientCert/tlsClientKey),
// all applied by settings.HTTPClientOptions.
type JSONData struct {
	// Timeout is the Prometheus request timeout in seconds (Grafana's standard "timeout" key).
	Timeout float64 `json:"timeout,omitempty"`
	// AuthType is "", "none", "basic" or "bearer" (bearer uses secure bearerToken).
	AuthType string `json:"authType,omitempty"`

	// Engine defaults for queries that do not set their own.
	Sensitivity *float64 `json:"sensitivity,omitempty"`
	Daily       string   `json:"daily,omitempty"`
	Weekly      string   `json:"weekly,omitempty"`
	Trend       string   `json:"trend,omitempty"`
	// Timezone: the IANA zone whose days and weeks the seasonal profiles follow (UTC).
	Timezone string `json:"timezone,omitempty"`
	// Holidays: dates and ranges the weekly profiles read as Sundays (anomaly.ParseHolidays).
	Holidays []string `json:"holidays,omitempty"`
	// WarmUp is the history fetched before the panel range to warm the models up ("7d");
	// unset: DefaultWarmUp for anomaly queries, DefaultForecastWarmUp for forecast queries.
	WarmUp string `json:"warmUp,omitempty"`
	// Horizon is the default forecast horizon ("6h").
	Horizon string `json:"horizon,omitempty"`

	// Limits per query.
	MaxSeries int `json:"maxSeries,omitempty"`
	MaxPoints int `json:"maxPoints,omitempty"`

	// WebhookURL is the kizashi-webhook base URL, for incidents (optional).
	WebhookURL string `json:"webhookUrl,omitempty"`
	// WebhookTenant restricts incidents to one tenant (optional).
	WebhookTenant string `json:"webhookTenant,omitempty"`
}

// Secure keys in secureJsonData.
const (
	SecureBearerToken  = "bearerToken"
	SecureWebhookToken = "webhookToken"
	SecureBasicAuth    = "basicAuthPassword"
)

// Settings are the validated settings of one data source instance.
type Settings struct {
	URL     string
	Timeout time.Duration

	BasicAuth   bool
	BearerToken string

	Engine EngineDefaults
	// WarmUp is the warm-up of every query; 0: the default of the query's type.
	WarmUp  time.Duration
	Horizon time.Duration

	MaxSeries int
	MaxPoints int

	WebhookURL    string
	WebhookToken  string
	WebhookTenant string
}

// EngineDefaults are the engine settings a query inherits.
type EngineDefaults struct {
	Sensitivity          float64
	Daily, Weekly, Trend anomaly.Mode
	// Location is the time zone of the seasonal profiles (nil: UTC; anomaly.Config.Location).
	Location *time.Location
	// Holidays are read as Sundays by the weekly profiles (anomaly.Config.Holidays).
	Holidays []time.Time
	// TrendSet: Trend was set (by the data source or the query); else forecast queries use
	// the trend (On) and anomaly queries let the engine decide (Auto).
	TrendSet bool
}

// LoadSettings decodes and validates a data source's settings. Secrets come only from
// DecryptedSecureJSONData.
func LoadSettings(s backend.DataSourceInstanceSettings) (*Settings, error) {
	var jd JSONData
	if len(s.JSONData) > 0 {
		if err := json.Unmarshal(s.JSONData, &jd); err != nil {
			return nil, fmt.Errorf("decode jsonData: %w", err)
		}
	}
	out := &Settings{
		URL:           strings.TrimRight(strings.TrimSpace(s.URL), "/"),
		Timeout:       DefaultTimeout,
		BasicAuth:     s.BasicAuthEnabled,
		BearerToken:   s.DecryptedSecureJSONData[SecureBearerToken],
		Horizon:       DefaultHorizon,
		MaxSeries:     DefaultMaxSeries,
		MaxPoints:     DefaultMaxPoints,
		WebhookURL:    strings.TrimRight(strings.TrimSpace(jd.WebhookURL), "/"),
		WebhookToken:  s.DecryptedSecureJSONData[SecureWebhookToken],
		WebhookTenant: jd.WebhookTenant,
		Engine:        EngineDefaults{Sensitivity: *anomaly.DefaultConfig().Sensitivity},
	}
	if err := checkURL("Prometheus URL", out.URL); err != nil {
		return nil, err
	}
	if out.WebhookURL != "" {
		if err := checkURL("webhook URL", out.WebhookURL); err != nil {
			return nil, err
		}
	}
	if jd.Timeout < 0 {
		return nil, fmt.Errorf("timeout %gs: must not be negative", jd.Timeout)
	}
	if jd.Timeout > 0 {
		out.Timeout = time.Duration(jd.Timeout * float64(time.Second))
	}
	switch jd.AuthType {
	case "", "none":
		if out.BasicAuth {
			jd.AuthType = "basic"
		}
	case "basic":
		if !out.BasicAuth {
			return nil, errors.New("auth type basic: basic auth is not enabled (basicAuth)")
		}
	case "bearer":
		if out.BearerToken == "" {
			return nil, errors.New("auth type bearer: no bearer token in the secure settings")
		}
	default:
		return nil, fmt.Errorf("auth type %q: want none, basic or bearer", jd.AuthType)
	}
	if jd.AuthType != "bearer" {
		out.BearerToken = "" // a token left behind by an earlier auth type is not sent
	}
	if out.BasicAuth && out.BearerToken != "" {
		return nil, errors.New("both basic auth and a bearer token are configured: choose one")
	}
	var err error
	if out.Engine, err = ParseEngine(out.Engine, jd.Sensitivity, jd.Daily, jd.Weekly, jd.Trend, jd.Timezone, jd.Holidays); err != nil {
		return nil, err
	}
	if out.WarmUp, err = parseDuration("warm-up", jd.WarmUp, out.WarmUp); err != nil {
		return nil, err
	}
	if out.Horizon, err = parseDuration("horizon", jd.Horizon, out.Horizon); err != nil {
		return nil, err
	}
	if jd.MaxSeries < 0 || jd.MaxPoints < 0 {
		return nil, fmt.Errorf("max series %d, max points %d: must not be negative", jd.MaxSeries, jd.MaxPoints)
	}
	if jd.MaxSeries > 0 {
		out.MaxSeries = jd.MaxSeries
	}
	if jd.MaxPoints > 0 {
		out.MaxPoints = jd.MaxPoints
	}
	return out, nil
}

// ParseEngine applies the engine settings that are set on top of def.
func ParseEngine(def EngineDefaults, sensitivity *float64, daily, weekly, trend, zone string, holidays []string) (EngineDefaults, error) {
	out := def
	if sensitivity != nil {
		if !(*sensitivity >= 0 && *sensitivity <= 1) {
			return def, fmt.Errorf("sensitivity %g: must be in [0,1]", *sensitivity)
		}
		out.Sensitivity = *sensitivity
	}
	for _, m := range []struct {
		name string
		s    string
		dst  *anomaly.Mode
	}{{"daily", daily, &out.Daily}, {"weekly", weekly, &out.Weekly}, {"trend", trend, &out.Trend}} {
		if m.s == "" {
			continue
		}
		if err := m.dst.UnmarshalText([]byte(m.s)); err != nil {
			return def, fmt.Errorf("%s seasonality: %w", m.name, err)
		}
	}
	out.TrendSet = out.TrendSet || trend != ""
	if zone != "" {
		loc, err := timezone.Parse(zone)
		if err != nil {
			return def, err
		}
		out.Location = loc
	}
	if holidays != nil {
		hs, err := anomaly.ParseHolidays(holidays)
		if err != nil {
			return def, err
		}
		out.Holidays = hs
	}
	return out, nil
}

// checkURL validates a server's base URL: http(s)://[user[:password]@]host[:port][/path], no
// query or fragment (API paths are joined to it). Errors show it with its password redacted.
func checkURL(what, s string) error {
	if s == "" {
		return fmt.Errorf("%s is not set", what)
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.ForceQuery {
		return fmt.Errorf("%s %q: want http(s)://host[:port][/path]", what, RedactURL(s))
	}
	return nil
}

// parseDuration parses a Prometheus duration ("90s", "6h", "1d", "1w"); empty gives def.
func parseDuration(what, s string, def time.Duration) (time.Duration, error) {
	if s == "" {
		return def, nil
	}
	d, err := model.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%s %q: %w", what, s, err)
	}
	return time.Duration(d), nil
}
