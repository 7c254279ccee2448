package config_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"

	"github.com/kizashi-dev/kizashi/exporter/config"
)

func TestLoadErrors(t *testing.T) {
	for _, tc := range []struct {
		file string
		err  string
	}{
		{"unknown_key.yml", "parse config testdata/unknown_key.yml: yaml: unmarshal errors:\n  line 6: field stepp not found in type config.plain"},
		{"unknown_source_key.yml", "parse config testdata/unknown_source_key.yml: yaml: unmarshal errors:\n  line 3: field bearer not found in type config.plain"},
		{"no_url.yml", "parse config testdata/no_url.yml: source: url is required"},
		{"bad_url.yml", `parse config testdata/bad_url.yml: source: url "prometheus:9090": want http(s)://host[:port][/path]`},
		{"no_queries.yml", "parse config testdata/no_queries.yml: queries: at least one query is required"},
		{"duplicate_name.yml", `parse config testdata/duplicate_name.yml: query "q": duplicate name`},
		{"bad_name.yml", `parse config testdata/bad_name.yml: query "my-query": name "my-query": want letters, digits and underscores, not starting with a digit`},
		{"no_expr.yml", `parse config testdata/no_expr.yml: query "q": expr is required`},
		{"bad_step.yml", `parse config testdata/bad_step.yml: query "q": step 500ms: at least 1s`},
		{"bad_sensitivity.yml", `parse config testdata/bad_sensitivity.yml: query "q": sensitivity 2: must be in [0,1]`},
		{"bad_horizons.yml", `parse config testdata/bad_horizons.yml: query "q": horizons must be positive and increasing, got 1h0m0s after 6h0m0s`},
		{"bad_mode.yml", `parse config testdata/bad_mode.yml: query "q": daily: unknown mode "sometimes" (want auto, on or off)`},
		{"bad_range.yml", `parse config testdata/bad_range.yml: query "q": min 10 must be below max 1`},
		{"bad_max_series.yml", `parse config testdata/bad_max_series.yml: query "q": max_series 0: must be positive`},
		{"two_auth.yml", "parse config testdata/two_auth.yml: source: at most one of basic_auth, oauth2 & authorization must be configured"},
		{"bad_duration.yml", "parse config testdata/bad_duration.yml: not a valid duration string: \"a week\""},
		{"empty.yml", "parse config testdata/empty.yml: empty configuration"},
		{"missing.yml", "read config: open testdata/missing.yml: no such file or directory"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			_, err := config.Load(filepath.Join("testdata", tc.file))
			require.EqualError(t, err, tc.err)
		})
	}
}

func TestLoadGood(t *testing.T) {
	c, err := config.Load("testdata/good.yml")
	require.NoError(t, err)
	require.Equal(t, "http://127.0.0.1:9090", c.Source.URL)
	require.Equal(t, model.Duration(10*time.Second), c.Source.QueryTimeout)
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

	d := c.Queries[1]
	require.Equal(t, config.DefaultQuery.Step, d.Step)
	require.Equal(t, config.DefaultQuery.TrainingWindow, d.TrainingWindow)
	require.Equal(t, config.DefaultQuery.Horizons, d.Horizons)
	require.Equal(t, 0.5, d.Sensitivity)
	require.Equal(t, 10_000, d.MaxSeries)
	require.Equal(t, 24*time.Hour, d.BreachHorizon())

	// sensitivity: 0 reaches the engine as 0 (the widest band), not as "default".
	d.Sensitivity = 0
	ac, err = d.Anomaly()
	require.NoError(t, err)
	require.Equal(t, 0.0, *ac.Sensitivity)
}

func TestExampleConfig(t *testing.T) {
	c, err := config.Load("../examples/kizashi-exporter.yml")
	require.NoError(t, err)
	require.Len(t, c.Queries, 2)
}
