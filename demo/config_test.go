//go:build e2e

package demo

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kizashi-dev/kizashi/dashboards"
	"github.com/kizashi-dev/kizashi/exporter/daemon"
	"github.com/kizashi-dev/kizashi/internal/proc"
	"github.com/kizashi-dev/kizashi/internal/testenv"
	"github.com/kizashi-dev/kizashi/webhook/config"
)

func checkWith(t *testing.T, tool string, args ...string) {
	t.Helper()
	out, err := exec.Command(tool, args...).CombinedOutput()
	require.NoError(t, err, "%s %s:\n%s", filepath.Base(tool), strings.Join(args, " "), out)
}

// TestConfigs: every configuration the demo writes is valid for the program that reads it,
// and the shipped files are used with only the demo's URL, token paths and timers changed.
func TestConfigs(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
		return p
	}

	tokens := map[string]string{}
	for _, tn := range demoTenants {
		tokens[tn] = token()
		write("kizashi-"+tn+".token", tokens[tn])
	}
	apiTokens := map[string]string{}
	for _, tn := range demoTenants {
		apiTokens[tn] = token()
	}
	wh, err := config.Load(write("webhook.yml", webhookConfig(dir, tokens, apiTokens, token(), "http://127.0.0.1:9090", false)))
	require.NoError(t, err)
	require.Len(t, wh.Tenants, len(demoTenants))
	for _, tc := range wh.Tenants {
		require.Len(t, tc.APITokens, 1, "a customer's view of %s for the page", tc.Name)
		require.Equal(t, config.APIRead, tc.APITokens[0].Role)
	}
	require.Equal(t, "http://127.0.0.1:9090", wh.Page.PrometheusURL, "the page charts anomalies from the demo's Prometheus")

	require.NoError(t, daemon.CheckConfig(write("exporter.yml", exporterConfig("http://127.0.0.1:9090", Step, History))))

	amtool := testenv.Program(t, proc.Amtool)
	for _, short := range []bool{false, true} {
		am, err := alertmanagerConfig("http://127.0.0.1:9095", dir, short)
		require.NoError(t, err)
		require.NotContains(t, am, dashboards.WebhookURLPlaceholder)
		require.NotContains(t, am, dashboards.TokenDirPlaceholder)
		require.Contains(t, am, "http://127.0.0.1:9095/api/v1/alerts")
		require.Contains(t, am, filepath.Join(dir, "kizashi-acme.token"))
		if short {
			require.Contains(t, am, "group_wait: 1s")
		} else {
			shipped, err := dashboards.Files.ReadFile(dashboards.AlertmanagerConfigFile)
			require.NoError(t, err)
			require.Equal(t, strings.Count(string(shipped), "\n"), strings.Count(am, "\n"), "only URLs and paths change")
		}
		checkWith(t, amtool, "check-config", write("alertmanager.yml", am))
	}

	rules, err := alertRules(ForSteps * Step)
	require.NoError(t, err)
	require.Contains(t, rules, "for: 10s")
	promtool := testenv.Program(t, proc.Promtool)
	rulesFile := write("kizashi-alerts.yml", rules)
	checkWith(t, promtool, "check", "rules", rulesFile)
	checkWith(t, promtool, "check", "config",
		write("prometheus.yml", promConfig(Step, "127.0.0.1:9090", "127.0.0.1:9142", "127.0.0.1:9742", "127.0.0.1:9095", "127.0.0.1:9093", rulesFile)))
}

// TestWorkload: the history and the live values follow one pattern (seasonal, noisy,
// deterministic), the fault triples acme's checkout sessions only, and the history is
// OpenMetrics that promtool loads.
func TestWorkload(t *testing.T) {
	anchor := time.Date(2026, 11, 24, 14, 0, 0, 0, time.UTC) // a Tuesday
	w := NewWorkload(anchor, Step)
	require.Len(t, w.Series, 6)
	var checkout, search *Series
	for _, s := range w.Series {
		if FaultSeries(s) {
			checkout = s
		}
		if s.Metric == SessionsMetric && s.Labels["tenant"] == "acme" && s.Labels["service"] == "search" {
			search = s
		}
	}
	require.NotNil(t, checkout)
	// Deterministic, daily and weekly: busy on a Tuesday afternoon, quiet at night and on Sunday.
	require.Equal(t, w.Value(checkout, anchor), w.Value(checkout, anchor))
	day, night := w.Value(checkout, anchor), w.Value(checkout, anchor.Add(12*time.Hour))
	sunday := w.Value(checkout, anchor.Add(5*24*time.Hour))
	require.Greater(t, day, 3*night)
	require.Greater(t, day, 1.5*sunday)
	// Noisy: neighbouring steps differ.
	require.NotEqual(t, w.Value(checkout, anchor), w.Value(checkout, anchor.Add(Step)))

	fault := anchor.Add(time.Minute)
	w.InjectFault(fault, 0)
	require.Equal(t, w.Value(checkout, anchor), w.ValueNow(checkout, anchor), "before the fault")
	require.InDelta(t, FaultFactor*w.Value(checkout, fault), w.ValueNow(checkout, fault), 1)
	require.Equal(t, w.Value(search, fault), w.ValueNow(search, fault), "only acme's checkout")

	// The disks grow: acme's fills up in a few days.
	for _, s := range w.Series {
		if s.Metric == DiskMetric && s.Labels["tenant"] == "acme" {
			now, later := w.Value(s, anchor), w.Value(s, anchor.Add(24*time.Hour))
			require.Less(t, now, DiskCapacity)
			require.Greater(t, later, now)
			require.Less(t, (DiskCapacity-now)/(later-now), 7.0, "days to full")
		}
	}

	// promtool reads the history.
	promtool := testenv.Program(t, proc.Promtool)
	dir := t.TempDir()
	path := filepath.Join(dir, "history.om")
	f, err := os.Create(path)
	require.NoError(t, err)
	require.NoError(t, w.WriteOpenMetrics(f, anchor.Add(-time.Hour), anchor))
	require.NoError(t, f.Close())
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, 6*int(time.Hour/Step), strings.Count(string(raw), "\n")-3, "one line per sample, two TYPE lines and # EOF")
	require.Contains(t, string(raw), `demo_active_sessions{instance="shop-1",job="shop",service="checkout",tenant="acme"} `)
	checkWith(t, promtool, "tsdb", "create-blocks-from", "openmetrics", path, filepath.Join(dir, "data"))
}

// TestInstall: a missing program is installed with apt-get as root, and otherwise the error
// says exactly what to run.
func TestInstall(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	progs := []proc.Binary{{Names: []string{"kizashi-demo-test-tool"}, Package: "kizashi-demo-test-pkg"}, proc.Promtool}
	// proc.AptInstall: apt-get without starting the services (TestAptInstallStartsNothing).
	want := "sudo sh -c '" + proc.AptInstall([]string{"kizashi-demo-test-pkg"}) + "'"

	var ran []string
	run := func(_ context.Context, cmd string) error {
		ran = append(ran, cmd)
		return os.WriteFile(filepath.Join(dir, "kizashi-demo-test-tool"), []byte("#!/bin/sh\n"), 0o755)
	}
	err := installer{install: false, root: true, run: run}.ensure(context.Background(), progs)
	require.ErrorContains(t, err, "install them with:\n  "+want)
	err = installer{install: true, root: false, run: run}.ensure(context.Background(), progs)
	require.ErrorContains(t, err, "(as root) with:\n  "+want)
	require.Empty(t, ran, "nothing installed unless allowed and root")

	var out strings.Builder
	require.NoError(t, installer{install: true, root: true, out: &out, run: run}.ensure(context.Background(), progs))
	require.Equal(t, []string{strings.TrimSuffix(strings.TrimPrefix(want, "sudo sh -c '"), "'")}, ran)
	require.Contains(t, out.String(), "Installing the Debian packages kizashi-demo-test-pkg")
	require.NoError(t, installer{}.ensure(context.Background(), progs), "nothing missing any more")
}
