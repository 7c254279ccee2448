package models

import (
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/stretchr/testify/require"

	"github.com/kizashi-dev/kizashi/anomaly"
)

func TestLoadSettings(t *testing.T) {
	for _, tc := range []struct {
		name     string
		url      string
		jsonData string
		secure   map[string]string
		basic    bool
		check    func(t *testing.T, s *Settings)
		err      string
	}{
		{name: "defaults", url: "http://prom:9090/", check: func(t *testing.T, s *Settings) {
			require.Equal(t, "http://prom:9090", s.URL)
			require.Equal(t, DefaultTimeout, s.Timeout)
			require.Zero(t, s.WarmUp, "the default of each query type")
			require.Equal(t, DefaultMaxSeries, s.MaxSeries)
			require.Equal(t, DefaultMaxPoints, s.MaxPoints)
			require.Equal(t, 0.5, s.Engine.Sensitivity)
			require.Empty(t, s.BearerToken)
		}},
		{name: "everything", url: "https://prom", secure: map[string]string{"bearerToken": "t", "webhookToken": "w"},
			jsonData: `{"timeout":5,"authType":"bearer","sensitivity":0.8,"daily":"on","weekly":"off","trend":"auto","warmUp":"7d","horizon":"1d",
			"maxSeries":10,"maxPoints":1000,"webhookUrl":"http://hook:8080/","webhookTenant":"acme"}`,
			check: func(t *testing.T, s *Settings) {
				require.Equal(t, 5*time.Second, s.Timeout)
				require.Equal(t, "t", s.BearerToken)
				require.Equal(t, EngineDefaults{Sensitivity: 0.8, Daily: anomaly.On, Weekly: anomaly.Off, Trend: anomaly.Auto, TrendSet: true}, s.Engine)
				require.Equal(t, 7*24*time.Hour, s.WarmUp)
				require.Equal(t, 24*time.Hour, s.Horizon)
				require.Equal(t, 10, s.MaxSeries)
				require.Equal(t, 1000, s.MaxPoints)
				require.Equal(t, "http://hook:8080", s.WebhookURL)
				require.Equal(t, "w", s.WebhookToken)
				require.Equal(t, "acme", s.WebhookTenant)
			}},
		{name: "sensitivity zero is kept", url: "http://p", jsonData: `{"sensitivity":0}`, check: func(t *testing.T, s *Settings) {
			require.Equal(t, 0.0, s.Engine.Sensitivity)
		}},
		{name: "basic", url: "http://p", basic: true, jsonData: `{"authType":"basic"}`},
		{name: "no url", err: "Prometheus URL is not set"},
		{name: "relative url", url: "prom:9090", err: `Prometheus URL "prom:9090": want http(s)://host[:port][/path]`},
		{name: "url with a query", url: "http://prom/?token=abc", err: `Prometheus URL "http://prom/?token=xxxxx": want http(s)://host[:port][/path]`},
		{name: "url with a fragment", url: "http://prom/#x", err: `Prometheus URL "http://prom/#x": want http(s)://host[:port][/path]`},
		{name: "bad url with a password", url: "ftp://u:pw@prom", err: `Prometheus URL "ftp://u:xxxxx@prom": want http(s)://host[:port][/path]`},
		{name: "bad webhook url", url: "http://p", jsonData: `{"webhookUrl":"hook"}`, err: `webhook URL "hook"`},
		{name: "bad json", url: "http://p", jsonData: `[`, err: "decode jsonData"},
		{name: "negative timeout", url: "http://p", jsonData: `{"timeout":-1}`, err: "timeout -1s: must not be negative"},
		{name: "bearer without token", url: "http://p", jsonData: `{"authType":"bearer"}`, err: "no bearer token"},
		{name: "basic not enabled", url: "http://p", jsonData: `{"authType":"basic"}`, err: "basic auth is not enabled"},
		{name: "both", url: "http://p", basic: true, jsonData: `{"authType":"bearer"}`, secure: map[string]string{"bearerToken": "t"}, err: "choose one"},
		{name: "unknown auth", url: "http://p", jsonData: `{"authType":"oauth"}`, err: `auth type "oauth"`},
		{name: "sensitivity", url: "http://p", jsonData: `{"sensitivity":1.5}`, err: "sensitivity 1.5: must be in [0,1]"},
		{name: "mode", url: "http://p", jsonData: `{"weekly":"sometimes"}`, err: "weekly seasonality: unknown mode"},
		{name: "time zone", url: "http://p", jsonData: `{"timezone":"Asia/Tokio"}`, err: `time zone "Asia/Tokio": unknown`},
		{name: "time zone of the data source", url: "http://p", jsonData: `{"timezone":"Europe/Berlin","holidays":["2026-12-24..2026-12-26"]}`, check: func(t *testing.T, s *Settings) {
			require.Equal(t, "Europe/Berlin", s.Engine.Location.String())
			require.Len(t, s.Engine.Holidays, 3)
		}},
		{name: "holidays", url: "http://p", jsonData: `{"holidays":["12/25"]}`, err: `holiday "12/25": want a date`},
		{name: "warm-up", url: "http://p", jsonData: `{"warmUp":"1 day"}`, err: `warm-up "1 day"`},
		{name: "limits", url: "http://p", jsonData: `{"maxSeries":-1}`, err: "must not be negative"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := LoadSettings(backend.DataSourceInstanceSettings{URL: tc.url, JSONData: []byte(tc.jsonData),
				DecryptedSecureJSONData: tc.secure, BasicAuthEnabled: tc.basic})
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			if tc.check != nil {
				tc.check(t, s)
			}
		})
	}
}

func TestParseQuery(t *testing.T) {
	now := time.Date(2026, 1, 5, 12, 0, 0, 0, time.UTC)
	s, err := LoadSettings(backend.DataSourceInstanceSettings{URL: "http://p", JSONData: []byte(`{"sensitivity":0.3,"daily":"on"}`)})
	require.NoError(t, err)
	sTrend, err := LoadSettings(backend.DataSourceInstanceSettings{URL: "http://p", JSONData: []byte(`{"trend":"auto","warmUp":"2d"}`)})
	require.NoError(t, err)
	sWebhook, err := LoadSettings(backend.DataSourceInstanceSettings{URL: "http://p", JSONData: []byte(`{"webhookUrl":"http://h"}`)})
	require.NoError(t, err)
	for _, tc := range []struct {
		name      string
		queryType string
		json      string
		settings  *Settings
		check     func(t *testing.T, q *Query)
		err       string
	}{
		{name: "defaults from the data source", queryType: "anomaly", json: `{"expr":"up"}`, check: func(t *testing.T, q *Query) {
			require.Equal(t, QueryTypeAnomaly, q.Type)
			require.Equal(t, 0.3, *q.Engine.Sensitivity)
			require.Equal(t, anomaly.On, q.Engine.Daily)
			require.Equal(t, time.Minute, q.Step)
			require.Equal(t, time.Minute, q.Engine.Step)
			require.Equal(t, DefaultWarmUp, q.WarmUp)
			require.True(t, q.Keep(FieldScore))
		}},
		{name: "type from the model", json: `{"queryType":"forecast","expr":"up"}`, check: func(t *testing.T, q *Query) {
			require.Equal(t, QueryTypeForecast, q.Type)
			require.Equal(t, []time.Duration{time.Hour, DefaultHorizon}, q.Engine.Horizons)
		}},
		{name: "forecast defaults", queryType: "forecast", json: `{"expr":"up","threshold":90}`, check: func(t *testing.T, q *Query) {
			require.Equal(t, DefaultForecastWarmUp, q.WarmUp)
			require.Equal(t, anomaly.On, q.Engine.Trend, "a forecast uses the trend unless told otherwise")
			require.Equal(t, DefaultBreachWithin, q.BreachWithin)
		}},
		{name: "forecast with the data source's trend", queryType: "forecast", json: `{"expr":"up"}`, settings: sTrend, check: func(t *testing.T, q *Query) {
			require.Equal(t, anomaly.Auto, q.Engine.Trend)
			require.Equal(t, 2*24*time.Hour, q.WarmUp, "the data source's warm-up serves every type")
		}},
		{name: "forecast with the query's trend", queryType: "forecast", json: `{"expr":"up","trend":"off","breachWithin":"30d"}`, check: func(t *testing.T, q *Query) {
			require.Equal(t, anomaly.Off, q.Engine.Trend)
			require.Equal(t, 30*24*time.Hour, q.BreachWithin)
		}},
		{name: "time zone of the query", queryType: "anomaly", json: `{"expr":"up","timezone":"America/New_York","holidays":["2026-11-26"]}`, check: func(t *testing.T, q *Query) {
			require.Equal(t, "America/New_York", q.Engine.Location.String())
			require.Len(t, q.Engine.Holidays, 1)
			require.Equal(t, "America/New_York", q.Spec.Config().Location.String())
		}},
		{name: "UTC by default", queryType: "anomaly", json: `{"expr":"up"}`, check: func(t *testing.T, q *Query) {
			require.Nil(t, q.Engine.Location)
		}},
		{name: "bad time zone of the query", queryType: "anomaly", json: `{"expr":"up","timezone":"Local"}`, err: `time zone "Local"`},
		{name: "anomaly trend stays auto", queryType: "anomaly", json: `{"expr":"up"}`, check: func(t *testing.T, q *Query) {
			require.Equal(t, anomaly.Auto, q.Engine.Trend)
		}},
		{name: "forecast field of an anomaly query", queryType: "anomaly", json: `{"expr":"up","fields":["forecast"]}`, err: `field "forecast": only forecast queries have it`},
		{name: "breach eta without threshold", queryType: "forecast", json: `{"expr":"up","fields":["breach eta"]}`, err: `field "breach eta": set a threshold`},
		{name: "bad breach within", queryType: "forecast", json: `{"expr":"up","breachWithin":"0s"}`, err: "breach within 0s: must be positive"},
		{name: "no type is anomaly", json: `{"expr":"up"}`, check: func(t *testing.T, q *Query) { require.Equal(t, QueryTypeAnomaly, q.Type) }},
		{name: "sensitivity zero is the widest band, not the default", json: `{"expr":"up","sensitivity":0}`, check: func(t *testing.T, q *Query) {
			require.Equal(t, 0.0, *q.Engine.Sensitivity)
			require.Equal(t, 0.0, *q.Spec.Config().Sensitivity)
		}},
		{name: "query overrides", queryType: "forecast", json: `{"expr":"up","sensitivity":0.9,"daily":"off","step":"5m","warmUp":"3d","horizon":"2d","threshold":90,"min":0,"fields":["score"]}`,
			check: func(t *testing.T, q *Query) {
				require.Equal(t, 0.9, *q.Engine.Sensitivity)
				require.Equal(t, anomaly.Off, q.Engine.Daily)
				require.Equal(t, 5*time.Minute, q.Step)
				require.Equal(t, 72*time.Hour, q.WarmUp)
				require.Equal(t, 48*time.Hour, q.Horizon)
				require.Equal(t, []time.Duration{time.Hour, 6 * time.Hour, 24 * time.Hour, 48 * time.Hour}, q.Engine.Horizons)
				require.Equal(t, 90.0, *q.Threshold)
				require.Equal(t, 0.0, *q.Engine.Min)
				require.False(t, q.Keep(FieldValue))
			}},
		{name: "exported", queryType: "exported", json: `{"queryName":"cpu"}`, check: func(t *testing.T, q *Query) { require.Equal(t, "cpu", q.QueryName) }},
		{name: "incidents", queryType: "incidents", settings: sWebhook},
		{name: "incidents without webhook", queryType: "incidents", err: "no webhook URL"},
		{name: "empty expr", queryType: "anomaly", json: `{}`, err: "expression is empty"},
		{name: "no query name", queryType: "exported", json: `{}`, err: "exporter query name is empty"},
		{name: "unknown type", queryType: "magic", json: `{"expr":"up"}`, err: `query type "magic"`},
		{name: "bad step", queryType: "anomaly", json: `{"expr":"up","step":"fast"}`, err: `step "fast"`},
		{name: "bad field", queryType: "anomaly", json: `{"expr":"up","fields":["raw"]}`, err: `field "raw"`},
		{name: "horizon too long", queryType: "forecast", json: `{"expr":"up","horizon":"60d"}`, err: "engine settings: horizon"},
		{name: "min", queryType: "anomaly", json: `{"expr":"up","sensitivity":-0.1}`, err: "sensitivity -0.1"},
		{name: "lower limit", queryType: "forecast", json: `{"expr":"up","threshold":10,"breach":"above"}`, check: func(t *testing.T, q *Query) {
			require.True(t, q.LowerLimit)
		}},
		{name: "bad breach", queryType: "forecast", json: `{"expr":"up","threshold":10,"breach":"sideways"}`, err: `breach "sideways"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := tc.settings
			if st == nil {
				st = s
			}
			q, err := ParseQuery(backend.DataQuery{RefID: "A", QueryType: tc.queryType, JSON: []byte(tc.json), Interval: time.Minute,
				TimeRange: backend.TimeRange{From: now.Add(-time.Hour), To: now}}, st)
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			if tc.check != nil {
				tc.check(t, q)
			}
		})
	}
}

func TestRedactURL(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"http://prom:9090", "http://prom:9090"},
		{"http://user:s3cret@prom:9090/path", "http://user:xxxxx@prom:9090/path"},
		{"http://user@prom", "http://user@prom"},
		{"http://prom/?token=s3cret&x=1", "http://prom/?token=xxxxx&x=xxxxx"},
		{"hook:s3cret@x", "hook:xxxxx@x"},
		{"http://user:s3cret@prom:99999999999999999999/", "http://user:xxxxx@prom:99999999999999999999/"},
		{"http://user:s3cret@[::1/x?token=s3cret", "http://user:xxxxx@[::1/x?xxxxx"},
		{"prom:9090", "prom:9090"},
	} {
		require.Equal(t, tc.want, RedactURL(tc.in), tc.in)
	}
}

func TestRedactor(t *testing.T) {
	r := NewRedactor(backend.DataSourceInstanceSettings{
		URL:              "http://kz:pr%40m-pw@prom",
		JSONData:         []byte(`{"webhookUrl":"http://hook:h00k-pw@hook"}`),
		BasicAuthEnabled: true, BasicAuthUser: "kz",
		DecryptedSecureJSONData: map[string]string{"bearerToken": "b-token", "basicAuthPassword": "basic-pw", "webhookToken": "abc"},
	})
	for _, tc := range []struct{ in, want string }{
		{"denied pr@m-pw and pr%40m-pw", "denied xxxxx and xxxxx"},
		{`Authorization: "Bearer b-token"`, `Authorization: "Bearer xxxxx"`},
		{"Basic a3o6YmFzaWMtcHc=", "Basic xxxxx"}, // base64("kz:basic-pw")
		{"GET http://hook:h00k-pw@hook", "GET http://hook:xxxxx@hook"},
		{"abc is too short to be searched for", "abc is too short to be searched for"},
	} {
		require.Equal(t, tc.want, r.Redact(tc.in), tc.in)
	}
	require.Equal(t, "x", (*Redactor)(nil).Redact("x"))
}
