// Package testenv starts real servers for integration tests: Prometheus,
// Alertmanager (single or clustered), PostgreSQL and a headless Chromium,
// all Debian-packaged binaries listening on 127.0.0.1 only, on free ports,
// with their data in temporary directories, and stopped when the test ends.
//
// Each helper takes a testing.TB. When the test fails, a server's whole log is
// saved to a file ($KIZASHI_TESTENV_LOGS, or kizashi-testenv-logs in the temporary
// directory) and only its last lines are printed, with the file's name. A missing binary fails the test with the apt-get command that
// installs it; in -short mode the helpers skip the test instead of starting
// anything. Every server runs in its own process group, killed as a whole
// when the test ends (and by the kernel if the test binary dies first).
//
// Debian 12 packages: prometheus (prometheus, promtool),
// prometheus-alertmanager (installed as prometheus-alertmanager),
// postgresql, chromium. The servers run as internal/proc processes;
// Program(t, proc.Promtool) finds such a program for a test that runs it
// itself.
//
// Example: Prometheus with two days of history scraping an in-test target,
// sending alerts to an Alertmanager that notifies an httptest webhook.
//
//	func TestExporter(t *testing.T) {
//		webhook := httptest.NewServer(handler)
//		defer webhook.Close()
//		am := testenv.StartAlertmanager(t, testenv.AMOptions{WebhookURL: webhook.URL})
//
//		target := testenv.NewTarget(t)
//		target.Set("node_load1", map[string]string{"instance": "a"}, 0.5)
//
//		start := time.Now().Add(-48 * time.Hour)
//		prom := testenv.StartPrometheus(t, testenv.PromOptions{
//			HistorySamples: testenv.Series("node_load1", map[string]string{"instance": "a"},
//				start, time.Minute, 48*60, func(i int, _ time.Time) float64 { return float64(i % 60) }),
//			ScrapeConfigs: []testenv.ScrapeConfig{{JobName: "node", Targets: []string{target.Addr()}}},
//			Rules:         map[string]string{"alerts.yml": rules},
//			Alertmanagers: []string{am.Addr()},
//		})
//		m, err := prom.QueryRange(ctx, "node_load1", start, time.Now(), time.Hour)
//		...
//		prom.Kill(t)    // crash it
//		prom.Restart(t) // same port, same data
//	}
//
// PostgreSQL: PostgresDSN(t) gives a fresh database on one server shared by
// the test binary, which needs
//
//	func TestMain(m *testing.M) { testenv.Main(m) }
//
// to stop it at exit; StartPostgres(t) starts a server of the test's own
// (to stop or kill it). Browser(t) returns a chromedp context driving
// headless Chromium, with BrowserErrors(t, ctx) listing its console errors
// and failed requests, and Screenshot(ctx, path) saving a full-page PNG.
package testenv
