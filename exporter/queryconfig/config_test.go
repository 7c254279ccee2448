package queryconfig_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/alecthomas/units"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"

	"github.com/kizashi-dev/kizashi/exporter/queryconfig"
)

// TestLoadErrors: every error names the file, the line and the key (the query too), and
// none shows a value that could not be read, which could be a secret written under the wrong
// key (hunter2-s3cr3t in the files), nor a URL's password.
func TestLoadErrors(t *testing.T) {
	for _, tc := range []struct {
		file string
		err  string
	}{
		{"unknown_key.yml", "yaml: unmarshal errors:\n  line 6: query \"q\": field stepp not found in type queryconfig.plain"},
		{"unknown_source_key.yml", "yaml: unmarshal errors:\n  line 3: source: field bearer not found in type queryconfig.plain"},
		{"no_url.yml", "line 1: source: url is required"},
		{"bad_url.yml", `line 2: source: url "prometheus:9090": want http(s)://host[:port][/path]`},
		{"url_with_password.yml", `line 2: source: url "ftp://kizashi:xxxxx@prometheus:9090": want http(s)://host[:port][/path]`},
		{"bad_url_with_password.yml", `line 2: source: url: invalid character " " in host name`},
		{"bad_source_duration.yml", `line 3: source: query_timeout: not a valid duration string: (value not shown)`},
		{"bad_tls_version.yml", "line 3: source: tls_config: unknown TLS version: (value not shown)"},
		{"bad_response_size.yml", "line 3: source: max_response_size: units: invalid (value not shown)"},
		{"bad_response_samples.yml", "line 3: source: max_response_samples 1000: at least max_samples_per_query (1000000)"},
		{"secret_in_wrong_key.yml", "yaml: unmarshal errors:\n  line 5: source: max_samples_per_query: cannot unmarshal !!str (value not shown) into int"},
		{"two_auth.yml", "line 2: source: at most one of basic_auth, oauth2 & authorization must be configured"},
		{"no_queries.yml", "line 1: queries: at least one query is required"},
		{"duplicate_name.yml", `line 6: query "q": duplicate name`},
		{"bad_name.yml", `line 4: query "my-query": name "my-query": want letters, digits and underscores, not starting with a digit`},
		{"no_expr.yml", `line 4: query "q": expr is required`},
		{"bad_promql.yml", `line 5: query "q": expr: 1:16: parse error: unclosed left parenthesis`},
		{"bad_promql_block.yml", `line 8: query "multi_line": expr: 3:1: parse error: unexpected ")" in aggregation`},
		{"range_expr.yml", `line 5: query "q": expr: a matrix expression, want an instant vector or a scalar`},
		{"bad_step.yml", `line 6: query "q": step 500ms: at least 1s`},
		{"bad_sensitivity.yml", `line 6: query "q": sensitivity 2: must be in [0,1]`},
		{"bad_horizons.yml", `line 6: query "q": horizons must be positive and increasing, got 1h0m0s after 6h0m0s`},
		{"bad_horizon_duration.yml", `line 6: query "q": horizons: unknown unit (value not shown) in duration (value not shown)`},
		{"bad_mode.yml", `line 6: query "q": daily: unknown mode "sometimes" (want auto, on or off)`},
		{"bad_range.yml", `line 6: query "q": min 10 must be below max 1`},
		{"bad_max_series.yml", `line 6: query "q": max_series 0: must be positive`},
		{"bad_int.yml", "yaml: unmarshal errors:\n  line 6: query \"q\": max_series: cannot unmarshal !!str (value not shown) into int"},
		{"bad_duration.yml", `line 6: query "q": training_window: not a valid duration string: (value not shown)`},
		{"bad_staleness.yml", `line 7: query "q": staleness_timeout: not a valid duration string: (value not shown)`},
		{"bad_holidays.yml", `line 6: query "q": holiday "2026-13-01": want a date such as 2026-05-04 or a range such as 2026-12-29..2027-01-03`},
		{"bad_timezone.yml", `line 6: query "q": timezone: time zone "Mars/Olympus": unknown (want an IANA name such as Europe/Berlin or Asia/Tokyo, or UTC)`},
		{"bad_warm_up.yml", `line 6: query "q": warm_up: not a valid duration string: (value not shown)`},
		{"not_a_mapping.yml", "yaml: unmarshal errors:\n  line 1: cannot unmarshal !!str (value not shown) into queryconfig.plain"},
		{"empty.yml", "empty configuration"},
		{"bad_publish.yml", `line 6: query "q": publish[1]: unknown family (value not shown); want all or one of value, baseline, lower, upper, anomaly_score, anomaly_reason, deviation, model_ready, forecast, forecast_lower, forecast_upper, breach_eta_seconds`},
		{"bad_scrape_targets.yml", `line 3: source: scrape_targets: scrape_pools[1] "node": empty or repeated`},
		{"bad_scrape_timeout.yml", `line 3: source: scrape_targets: scrape_timeout must be positive`},
		{"unknown_scrape_key.yml", "yaml: unmarshal errors:\n  line 4: source: field pools not found in type queryconfig.plain"},
		{"bad_publish_horizon.yml", `line 6: query "q": publish[0]: the horizon is not one of horizons`},
	} {
		t.Run(tc.file, func(t *testing.T) {
			path := filepath.Join("testdata", tc.file)
			_, err := queryconfig.Load(path)
			require.EqualError(t, err, "parse config "+path+": "+tc.err)
			require.NotContains(t, err.Error(), "s3cr3t")
		})
	}
	_, err := queryconfig.Load("testdata/missing.yml")
	require.EqualError(t, err, "read config: open testdata/missing.yml: no such file or directory")
}

// TestEveryTestdataFileIsUsed: a file in testdata that no test reads is a case nobody checks.
func TestEveryTestdataFileIsUsed(t *testing.T) {
	src, err := os.ReadFile("config_test.go")
	require.NoError(t, err)
	files, err := filepath.Glob("testdata/*.yml")
	require.NoError(t, err)
	for _, f := range files {
		require.Contains(t, string(src), `"`+filepath.Base(f)+`"`, "testdata file %s has no test", f)
	}
}

func TestLoadGood(t *testing.T) {
	c, err := queryconfig.Load(filepath.Join("testdata", "good.yml"))
	require.NoError(t, err)
	require.Equal(t, "http://127.0.0.1:9090", c.Source.URL)
	require.Equal(t, model.Duration(10*time.Second), c.Source.QueryTimeout)
	require.Equal(t, 64*units.MiB, c.Source.MaxResponseSize)
	require.Equal(t, 2_000_000, c.Source.MaxResponseSamples)
	require.Equal(t, "kizashi", c.Source.HTTPClientConfig.BasicAuth.Username)
	require.True(t, c.Source.HTTPClientConfig.TLSConfig.InsecureSkipVerify)
	require.True(t, c.Source.HTTPClientConfig.FollowRedirects, "defaults of the HTTP client apply")
	require.Len(t, c.Queries, 2)

	q := c.Queries[0]
	require.Equal(t, "node_load", q.Name)
	require.Equal(t, model.Duration(30*time.Second), q.Step)
	require.Equal(t, model.Duration(48*time.Hour), q.TrainingWindow)
	require.Equal(t, []float64{4, 8}, q.Thresholds)
	require.Equal(t, 500, q.MaxSeries)
	require.Equal(t, 6*time.Hour, q.BreachHorizon())
	require.Equal(t, 5*time.Minute, q.Staleness())
	ac, err := q.Anomaly()
	require.NoError(t, err)
	require.Equal(t, 0.0, *ac.Min)
	require.Nil(t, ac.Max)
	require.Equal(t, "Asia/Tokyo", ac.Location.String())
	require.Len(t, ac.Holidays, 5, "a date and a range of four")
	require.Equal(t, "2026-05-06", ac.Holidays[4].Format(time.DateOnly))

	d := c.Queries[1]
	require.Equal(t, queryconfig.DefaultQuery.Step, d.Step)
	require.Equal(t, queryconfig.DefaultQuery.TrainingWindow, d.TrainingWindow)
	require.Equal(t, queryconfig.DefaultQuery.Horizons, d.Horizons)
	require.Equal(t, 0.5, d.Sensitivity)
	require.Equal(t, 10_000, d.MaxSeries)
	require.Equal(t, 24*time.Hour, d.BreachHorizon())
	ac, err = d.Anomaly()
	require.NoError(t, err)
	require.Nil(t, ac.Location, "UTC by default")

	// sensitivity: 0 reaches the engine as 0 (the widest band), not as "default".
	d.Sensitivity = 0
	ac, err = d.Anomaly()
	require.NoError(t, err)
	require.Equal(t, 0.0, *ac.Sensitivity)
}

func TestExampleConfig(t *testing.T) {
	c, err := queryconfig.Load("../examples/kizashi-exporter.yml")
	require.NoError(t, err)
	require.Equal(t, queryconfig.DefaultSource.MaxResponseSize, c.Source.MaxResponseSize)
	require.Len(t, c.Queries, 2)
}

// TestScrapeTargets: the scrape_targets section takes its defaults, its own HTTP client
// settings, and is absent (nil) when left out.
func TestScrapeTargets(t *testing.T) {
	c, err := queryconfig.Parse([]byte("source:\n  url: http://127.0.0.1:9090\n  scrape_targets:\n    scrape_pools: [node]\n    basic_auth: {username: u, password: p}\nqueries:\n  - name: q\n    expr: node_load1\n"))
	require.NoError(t, err)
	st := c.Source.ScrapeTargets
	require.NotNil(t, st)
	require.Equal(t, []string{"node"}, st.ScrapePools)
	require.Equal(t, queryconfig.DefaultScrapeTargets.RefreshInterval, st.RefreshInterval)
	require.Equal(t, queryconfig.DefaultScrapeTargets.ScrapeTimeout, st.ScrapeTimeout)
	require.Equal(t, queryconfig.DefaultScrapeTargets.MaxScrapeSize, st.MaxScrapeSize)
	require.Equal(t, "u", st.HTTPClientConfig.BasicAuth.Username)
	require.Nil(t, c.Source.HTTPClientConfig.BasicAuth, "the source's own client is not the targets'")

	c, err = queryconfig.Parse([]byte("source:\n  url: http://127.0.0.1:9090\nqueries:\n  - name: q\n    expr: node_load1\n"))
	require.NoError(t, err)
	require.Nil(t, c.Source.ScrapeTargets)
}
