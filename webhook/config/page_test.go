package config

import (
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"
)

const pageTenant = "tenants:\n  - name: acme\n    tokens: [\"acme-token-0123456789abcdef\"]\n"

func TestPageSection(t *testing.T) {
	c, err := Parse([]byte(pageTenant), ".")
	require.NoError(t, err)
	require.Equal(t, DefaultPage, c.Page, "defaults without a page section")
	require.Equal(t, time.UTC, c.Page.Zone())

	c, err = Parse([]byte(pageTenant+"page:\n  prometheus_url: http://prometheus:9090/\n  time_zone: Asia/Tokyo\n  language: ja\n  refresh: 5s\n"), ".")
	require.NoError(t, err)
	require.Equal(t, "http://prometheus:9090/", c.Page.PrometheusURL)
	require.Equal(t, "Asia/Tokyo", c.Page.Zone().String())
	require.Equal(t, model.Duration(5*time.Second), c.Page.Refresh)
	require.Equal(t, DefaultPage.ChartWindow, c.Page.ChartWindow, "what the section does not name keeps its default")

	ex, err := Load("../kizashi-webhook.example.yml")
	require.NoError(t, err)
	require.Equal(t, DefaultPage, ex.Page, "the example documents the defaults")

	for in, want := range map[string]string{
		"  prometheus_url: prometheus:9090\n": `line 5: page.prometheus_url: "prometheus:9090" is not an http(s) URL`,
		"  prometheus_url: ftp://p/\n":        `line 5: page.prometheus_url: "ftp://p/" is not an http(s) URL`,
		"  time_zone: Mars/Olympus\n":         `line 5: page.time_zone: "Mars/Olympus" is not a time zone name (such as Asia/Tokyo or UTC)`,
		"  time_zone: Local\n":                `line 5: page.time_zone: "Local" is not a time zone name`,
		"  language: fr\n":                    `line 5: page.language: must be en or ja`,
		"  refresh: 0s\n":                     `line 5: page.refresh: must be at least 1s`,
		"  chart_window: 30s\n":               `line 5: page.chart_window: must be between 1m and 7d`,
		"  colour: blue\n":                    `field colour not found`,
	} {
		_, err := Parse([]byte(pageTenant+"page:\n"+in), ".")
		require.ErrorContains(t, err, want, in)
	}
}
