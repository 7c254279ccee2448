// Package demo runs Kizashi's whole story on one machine, on 127.0.0.1 only: a small demo
// workload (a shop with two tenants) whose two weeks of seasonal history are loaded into
// Debian's Prometheus before it starts, the live workload itself, kizashi-exporter learning
// from that history, kizashi-webhook with its embedded SQLite store, and Debian's Alertmanager
// routing to it with the shipped alertmanager.yml and alerting rules. A fault then makes the
// anomaly alert fire and an incident appear on the service-desk page.
//
// Run is the whole demo (the command in ./cmd is flags around it), so a test runs it
// in-process in short mode. Prometheus and Alertmanager are started here with internal/proc,
// the process core that internal/testenv's starters (which take a testing.TB) use too.
package demo

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"

	"github.com/kizashi-dev/kizashi/exporter/daemon"
	"github.com/kizashi-dev/kizashi/internal/proc"
	"github.com/kizashi-dev/kizashi/webhook/apitypes"
	"github.com/kizashi-dev/kizashi/webhook/app"
)

// Step is the demo's scrape interval and the exporter's step.
const Step = 5 * time.Second

// ForSteps is the anomaly alert's `for:` in steps of the exporter (the shipped rule's 2m are
// two steps of the default 1m).
const ForSteps = 2

// History is how much of the workload's past is loaded into Prometheus (and learned by the
// exporter): two weeks, so that the weekly rhythm and the disks' growth are learned.
const History = 14 * 24 * time.Hour

// Default ports of the full demo (a busy one is replaced by a free one).
var DefaultPorts = Ports{Prometheus: 9090, Alertmanager: 9093, Exporter: 9742, Webhook: 9095, Shop: 9142}

// Ports of the demo's components on 127.0.0.1; 0 picks a free port.
type Ports struct {
	Prometheus, Alertmanager, Exporter, Webhook, Shop int
}

// Options configure Run.
type Options struct {
	// Short is the CI variant: the fault as soon as the models are ready, Alertmanager's group
	// timers in seconds, and Run returns once the incident has appeared (after OnIncident).
	Short bool
	// Ports of the components (zero value: all free ports).
	Ports Ports
	// Install lets the demo apt-get install missing Debian packages when it runs as root.
	Install bool
	// FaultDelay is the time between the models being ready and the fault in the full demo
	// (default 30s, time to open the pages).
	FaultDelay time.Duration
	// Out receives the progress and the instructions.
	Out io.Writer
	// Terminal: Out is a terminal, progress is redrawn on one line.
	Terminal bool
	// OnIncident, if set, is called with the running stack once the incident has appeared.
	OnIncident func(ctx context.Context, s *Stack, inc apitypes.Incident) error
}

// Stack is the running demo.
type Stack struct {
	Dir string // work directory, removed when the demo stops
	// Base URLs, http://127.0.0.1:<port>.
	PrometheusURL, AlertmanagerURL, ExporterURL, WebhookURL, ShopURL string
	// Pages are the URLs the demo printed: only pages that work on the installed versions.
	Pages []Page
	// OperatorToken logs in to the service-desk page and the API (all tenants).
	OperatorToken string
	// TenantTokens are the tenants' Alertmanager tokens (also in the receivers' token files):
	// they only post alerts.
	TenantTokens map[string]string
	// TenantAPITokens are the tenants' API tokens (role read): the page and the REST API as
	// the tenant's customer sees them.
	TenantAPITokens map[string]string
	Workload        *Workload
	// FaultAt is when the fault started (zero before).
	FaultAt time.Time

	prom      v1.API
	procs     []*proc.Process
	stops     []func() error // in-process components, stopped in reverse order
	logs      *proc.Buffer
	cleanedUp bool
}

// Run runs the demo until ctx ends (Ctrl-C), or in short mode until the incident appeared,
// then stops everything it started and removes its work directory.
func Run(ctx context.Context, o Options) (err error) {
	if o.Out == nil {
		o.Out = io.Discard
	}
	if o.FaultDelay == 0 {
		o.FaultDelay = 30 * time.Second
	}
	if o.Short {
		o.FaultDelay = 0
	}
	p := &progress{out: o.Out, terminal: o.Terminal, start: time.Now()}
	bins, err := ensureBinaries(ctx, o.Install, o.Out)
	if err != nil {
		return err
	}
	s, err := start(ctx, o, bins, p)
	if s != nil {
		defer func() {
			p.line("Stopping the demo ...")
			if cerr := s.close(); cerr != nil && err == nil {
				err = cerr
			}
			if err == nil {
				p.line("Stopped everything and removed %s.", s.Dir)
			}
		}()
	}
	if err != nil {
		if s != nil && ctx.Err() == nil {
			err = fmt.Errorf("%w\nlast log lines of the exporter and the webhook:\n%s", err, lastLines(s.logs.String(), 20))
		}
		return interrupted(ctx, err)
	}
	if s.Pages, err = s.pages(ctx); err != nil {
		return interrupted(ctx, err)
	}
	s.printInstructions(o)
	inc, err := s.story(ctx, o, p)
	if err != nil {
		return interrupted(ctx, err)
	}
	if o.OnIncident != nil {
		if err := o.OnIncident(ctx, s, inc); err != nil {
			return err
		}
	}
	if o.Short {
		return nil
	}
	p.line("Look around; Ctrl-C stops the demo and cleans up.")
	<-ctx.Done()
	p.line("")
	return nil
}

// interrupted hides the errors caused by Ctrl-C.
func interrupted(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// start starts every component and waits until the models are ready. On error it returns
// the stack started so far, for close.
func start(ctx context.Context, o Options, bins binaries, p *progress) (*Stack, error) {
	dir, err := os.MkdirTemp("", "kizashi-demo-")
	if err != nil {
		return nil, fmt.Errorf("work directory: %w", err)
	}
	s := &Stack{Dir: dir, TenantTokens: map[string]string{}, TenantAPITokens: map[string]string{}, logs: &proc.Buffer{Max: 256 << 10}}
	fallback := o.Ports != (Ports{})
	p.line("Kizashi demo: work directory %s; everything listens on 127.0.0.1 only.", dir)

	// Listeners first: the in-process components get theirs, the external programs a port.
	// Closed last when the stack closes, so that none is left open by a start that fails
	// before its component runs (closing one that its server closed already does nothing).
	var listeners []net.Listener
	s.stops = append(s.stops, func() error {
		for _, l := range listeners {
			_ = l.Close()
		}
		return nil
	})
	for _, port := range []int{o.Ports.Shop, o.Ports.Exporter, o.Ports.Webhook} {
		l, err := listen(port, fallback)
		if err != nil {
			return s, err
		}
		listeners = append(listeners, l)
	}
	shopL, exporterL, webhookL := listeners[0], listeners[1], listeners[2]
	s.ShopURL = "http://" + shopL.Addr().String()
	s.ExporterURL = "http://" + exporterL.Addr().String()
	s.WebhookURL = "http://" + webhookL.Addr().String()
	promAddr, err := reserve(o.Ports.Prometheus, fallback)
	if err != nil {
		return s, err
	}
	amAddr, err := reserve(o.Ports.Alertmanager, fallback)
	if err != nil {
		return s, err
	}
	s.PrometheusURL, s.AlertmanagerURL = "http://"+promAddr, "http://"+amAddr

	// The workload and its history.
	now := time.Now()
	s.Workload = NewWorkload(now, Step)
	s.serve(shopL)
	histStart, histEnd := now.Add(-History).Truncate(Step), now.Truncate(Step)
	samples := int(histEnd.Sub(histStart)/Step) * len(s.Workload.Series)
	p.step("Writing %s of seasonal history for the demo shop (%d series, %s samples) ...",
		humanDuration(History), len(s.Workload.Series), humanCount(samples))
	promDir := filepath.Join(dir, "prometheus")
	if err := os.MkdirAll(filepath.Join(promDir, "data"), 0o755); err != nil {
		return s, fmt.Errorf("prometheus directory: %w", err)
	}
	if err := s.loadHistory(ctx, bins.promtool, promDir, histStart, histEnd); err != nil {
		return s, err
	}
	p.done()

	// kizashi-webhook (in-process, SQLite).
	for _, t := range demoTenants {
		s.TenantTokens[t] = token()
		s.TenantAPITokens[t] = token()
	}
	s.OperatorToken = token()
	whDir := filepath.Join(dir, "webhook")
	tokenDir := filepath.Join(dir, "alertmanager", "tokens")
	for _, d := range []string{whDir, tokenDir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return s, fmt.Errorf("work directory: %w", err)
		}
	}
	whCfg := filepath.Join(whDir, "kizashi-webhook.yml")
	if err := writeFile(whCfg, webhookConfig(whDir, s.TenantTokens, s.TenantAPITokens, s.OperatorToken, s.PrometheusURL, o.Short), 0o600); err != nil {
		return s, err
	}
	p.step("Starting kizashi-webhook on %s ...", hostPort(s.WebhookURL))
	logger := slog.New(slog.NewTextHandler(s.logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	s.goRun("kizashi-webhook", func(ctx context.Context) error {
		return app.Run(ctx, app.Options{ConfigFile: whCfg, Listener: webhookL, Logger: logger.With("component", "webhook")})
	})
	if err := waitHTTP(ctx, s.WebhookURL+"/-/ready", 30*time.Second); err != nil {
		return s, fmt.Errorf("kizashi-webhook: %w", err)
	}
	p.done()

	// Alertmanager with the shipped routes.
	amDir := filepath.Join(dir, "alertmanager")
	for _, t := range demoTenants {
		if err := writeFile(filepath.Join(tokenDir, "kizashi-"+t+".token"), s.TenantTokens[t]+"\n", 0o600); err != nil {
			return s, err
		}
	}
	amCfg, err := alertmanagerConfig(s.WebhookURL, tokenDir, o.Short)
	if err != nil {
		return s, err
	}
	if err := writeFile(filepath.Join(amDir, "alertmanager.yml"), amCfg, 0o644); err != nil {
		return s, err
	}
	p.step("Starting Alertmanager on %s ...", hostPort(s.AlertmanagerURL))
	am, err := s.startProcess("alertmanager", bins.alertmanager,
		"--config.file="+filepath.Join(amDir, "alertmanager.yml"),
		"--storage.path="+filepath.Join(amDir, "data"),
		"--web.listen-address="+amAddr,
		"--cluster.listen-address=", // no gossip port
		"--log.level=info")
	if err != nil {
		return s, err
	}
	if err := am.WaitReady(ctx, time.Minute, proc.HTTPReady(s.AlertmanagerURL+"/-/ready")); err != nil {
		return s, err
	}
	p.done()

	// Prometheus with the history, the shipped rules and the scrape jobs.
	rules, err := alertRules(ForSteps * Step)
	if err != nil {
		return s, err
	}
	rulesFile := filepath.Join(promDir, "kizashi-alerts.yml")
	if err := writeFile(rulesFile, rules, 0o644); err != nil {
		return s, err
	}
	promCfg := filepath.Join(promDir, "prometheus.yml")
	cfg := promConfig(Step, promAddr, hostPort(s.ShopURL), hostPort(s.ExporterURL), hostPort(s.WebhookURL), amAddr, rulesFile)
	if err := writeFile(promCfg, cfg, 0o644); err != nil {
		return s, err
	}
	p.step("Starting Prometheus on %s ...", hostPort(s.PrometheusURL))
	prom, err := s.startProcess("prometheus", bins.prometheus,
		"--config.file="+promCfg,
		"--storage.tsdb.path="+filepath.Join(promDir, "data"),
		"--storage.tsdb.retention.time=30d",
		"--web.listen-address="+promAddr,
		"--rules.alert.resend-delay=5s",
		"--log.level=info")
	if err != nil {
		return s, err
	}
	if err := prom.WaitReady(ctx, time.Minute, proc.HTTPReady(s.PrometheusURL+"/-/ready")); err != nil {
		return s, err
	}
	client, err := api.NewClient(api.Config{Address: s.PrometheusURL})
	if err != nil {
		return s, fmt.Errorf("prometheus client: %w", err)
	}
	s.prom = v1.NewAPI(client)
	p.done()

	// kizashi-exporter (in-process), learning from the history.
	exDir := filepath.Join(dir, "exporter")
	if err := os.MkdirAll(exDir, 0o755); err != nil {
		return s, fmt.Errorf("work directory: %w", err)
	}
	exCfg := filepath.Join(exDir, "kizashi-exporter.yml")
	if err := writeFile(exCfg, exporterConfig(s.PrometheusURL, Step, History), 0o644); err != nil {
		return s, err
	}
	p.step("Starting kizashi-exporter on %s: learning from the history ...", hostPort(s.ExporterURL))
	s.goRun("kizashi-exporter", func(ctx context.Context) error {
		return daemon.Run(ctx, daemon.Options{ConfigFile: exCfg, Listener: exporterL,
			DataDir: filepath.Join(exDir, "data"), Logger: logger.With("component", "exporter")})
	})
	if err := waitHTTP(ctx, s.ExporterURL+"/-/ready", 5*time.Minute); err != nil {
		return s, fmt.Errorf("kizashi-exporter: %w", err)
	}
	p.done()
	p.step("Waiting for Prometheus to scrape the models (all %d ready) ...", len(s.Workload.Series))
	want := fmt.Sprintf(`sum(kizashi_exporter_series_ready) == %d`, len(s.Workload.Series))
	if err := s.waitQuery(ctx, want, 2*time.Minute); err != nil {
		return s, err
	}
	p.done()
	return s, nil
}

// loadHistory writes the workload's history as OpenMetrics and turns it into TSDB blocks
// with promtool: one file per CPU, split at day boundaries, converted in parallel.
func (s *Stack) loadHistory(ctx context.Context, promtool, promDir string, from, to time.Time) error {
	parts := max(1, runtime.NumCPU())
	days := int(to.Sub(from)/(24*time.Hour)) + 1
	perPart := (days + parts - 1) / parts
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for i, start := 0, from; start.Before(to); i++ {
		end := start.Truncate(24 * time.Hour).Add(time.Duration(perPart) * 24 * time.Hour)
		if end.After(to) || i == parts-1 {
			end = to
		}
		path := filepath.Join(promDir, fmt.Sprintf("history-%d.om", i))
		a, b := start, end
		wg.Go(func() {
			if err := s.convert(ctx, promtool, path, filepath.Join(promDir, "data"), a, b); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		})
		start = end
	}
	wg.Wait()
	return errors.Join(errs...)
}

// convert writes the history from..to (exclusive) to path and turns it into blocks in dataDir.
func (s *Stack) convert(ctx context.Context, promtool, path, dataDir string, from, to time.Time) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("history: %w", err)
	}
	werr := s.Workload.WriteOpenMetrics(f, from, to)
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return fmt.Errorf("history: %w", werr)
	}
	p := proc.New("promtool", promtool, "tsdb", "create-blocks-from", "openmetrics", "--quiet",
		"--max-block-duration=24h", path, dataDir)
	p.Log.Max = 64 << 10
	if err := p.Start(); err != nil {
		return err
	}
	if err := p.Wait(ctx); err != nil {
		if ctx.Err() != nil {
			_ = p.Stop(syscall.SIGTERM, 5*time.Second)
			return ctx.Err()
		}
		return fmt.Errorf("promtool tsdb create-blocks-from openmetrics: %w: %s", err, p.Log.String())
	}
	if err := os.Remove(path); err != nil {
		return fmt.Errorf("history: %w", err)
	}
	return nil
}

// startProcess starts an external program, stopped when the stack closes; its output is kept
// (the last 64 KiB) for the errors.
func (s *Stack) startProcess(name, path string, args ...string) (*proc.Process, error) {
	p := proc.New(name, path, args...)
	p.Log.Max = 64 << 10
	if err := p.Start(); err != nil {
		return nil, err
	}
	s.procs = append(s.procs, p)
	return p, nil
}

// serve serves the workload's /metrics on l until the stack closes.
func (s *Stack) serve(l net.Listener) {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", s.Workload)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		_ = srv.Serve(l)
		close(done)
	}()
	s.stops = append(s.stops, func() error {
		err := srv.Close()
		<-done
		if err != nil {
			return fmt.Errorf("stop the shop: %w", err)
		}
		return nil
	})
}

// goRun runs an in-process component until the stack closes.
func (s *Stack) goRun(name string, run func(context.Context) error) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx) }()
	s.stops = append(s.stops, func() error {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			return nil
		case <-time.After(20 * time.Second):
			return fmt.Errorf("%s: still running 20s after it was asked to stop", name)
		}
	})
}

// close stops every component (Prometheus first, so that nothing alerts on the others
// stopping) and removes the work directory.
func (s *Stack) close() error {
	if s.cleanedUp {
		return nil
	}
	s.cleanedUp = true
	var errs []error
	for i := len(s.procs) - 1; i >= 0; i-- {
		if err := s.procs[i].Stop(syscall.SIGTERM, 10*time.Second); err != nil {
			errs = append(errs, err)
		}
	}
	for i := len(s.stops) - 1; i >= 0; i-- {
		if err := s.stops[i](); err != nil {
			errs = append(errs, err)
		}
	}
	if err := os.RemoveAll(s.Dir); err != nil {
		errs = append(errs, fmt.Errorf("remove %s: %w", s.Dir, err))
	}
	return errors.Join(errs...)
}

// waitHTTP polls url until it answers 200.
func waitHTTP(ctx context.Context, url string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last error
	for {
		if last = proc.HTTPReady(url)(ctx); last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("not ready after %s: %w", timeout, last)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// query runs an instant query and returns the vector.
func (s *Stack) query(ctx context.Context, q string) (model.Vector, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	v, _, _, err := s.prom.Query(ctx, q, time.Now())
	if err != nil {
		return nil, fmt.Errorf("query %s: %w", q, err)
	}
	vec, ok := v.(model.Vector)
	if !ok {
		return nil, fmt.Errorf("query %s: got %s, want a vector", q, v.Type())
	}
	return vec, nil
}

// waitQuery polls q until it returns something.
func (s *Stack) waitQuery(ctx context.Context, q string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last error
	for {
		vec, err := s.query(ctx, q)
		if err == nil && len(vec) > 0 {
			return nil
		}
		last = err
		select {
		case <-ctx.Done():
			return fmt.Errorf("prometheus: %s still empty after %s (%v)", q, timeout, last)
		case <-time.After(time.Second):
		}
	}
}

// Incidents lists the incidents of every tenant, newest first, with the operator token.
func (s *Stack) Incidents(ctx context.Context) ([]apitypes.Incident, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.WebhookURL+apitypes.IncidentsPath, nil)
	if err != nil {
		return nil, fmt.Errorf("list incidents: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+s.OperatorToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("list incidents: %w", err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("list incidents: %s", resp.Status)
	}
	var lr apitypes.ListResponse
	if err := json.NewDecoder(resp.Body).Decode(&lr); err != nil {
		return nil, fmt.Errorf("list incidents: %w", err)
	}
	return lr.Incidents, nil
}

// faultSelector selects the faulty series' kizashi_* series.
const faultSelector = `{tenant="acme",service="checkout",kizashi_query="sessions"}`

// story injects the fault and follows it to the incident, printing what happens.
func (s *Stack) story(ctx context.Context, o Options, p *progress) (apitypes.Incident, error) {
	if o.FaultDelay > 0 {
		p.step("The fault starts in %s ...", o.FaultDelay)
		select {
		case <-ctx.Done():
			return apitypes.Incident{}, ctx.Err()
		case <-time.After(o.FaultDelay):
		}
		p.done()
	}
	s.FaultAt = time.Now()
	s.Workload.InjectFault(s.FaultAt, 0)
	p.line("Fault injected at %s: a bot storm triples acme's checkout sessions (a step no fixed threshold was set for).",
		s.FaultAt.Format("15:04:05"))

	timeout := 5 * time.Minute
	deadline := time.Now().Add(timeout)
	var (
		maxScore                   float64
		crossed, pending, fired    bool
		notified                   bool
		lastStatus, lastShownState string
	)
	for {
		if time.Now().After(deadline) {
			return apitypes.Incident{}, fmt.Errorf("no incident %s after the fault (highest anomaly score %.2f, alert pending %v, firing %v)",
				timeout, maxScore, pending, fired)
		}
		if vec, err := s.query(ctx, "kizashi_anomaly_score"+faultSelector); err == nil && len(vec) > 0 {
			sc := float64(vec[0].Value)
			maxScore = max(maxScore, sc)
			if sc > 0.65 && !crossed {
				crossed = true
				p.event("anomaly score %.2f > 0.65 (the alert threshold): kizashi_anomaly_score%s", sc, faultSelector)
			}
			lastStatus = fmt.Sprintf("score %.2f", sc)
		}
		if vec, err := s.query(ctx, `ALERTS{alertname="KizashiAnomaly",tenant="acme"}`); err == nil {
			state := ""
			for _, a := range vec {
				if st := string(a.Metric["alertstate"]); st == "firing" || state == "" {
					state = st
				}
			}
			if state == "pending" && !pending {
				pending = true
				p.event("Prometheus: alert KizashiAnomaly pending (for: %s)", model.Duration(ForSteps*Step))
			}
			if state == "firing" && !fired {
				pending, fired = true, true
				p.event("Prometheus: alert KizashiAnomaly firing, sent to Alertmanager")
			}
			if state != "" {
				lastShownState = state
			}
		}
		if fired && !notified {
			if n, err := s.amAlerts(ctx); err == nil && n > 0 {
				notified = true
				p.event("Alertmanager: routed to receiver kizashi-acme (tenant=\"acme\"), group_wait then webhook")
			}
		}
		incs, err := s.Incidents(ctx)
		if err == nil {
			for _, inc := range incs {
				if inc.Tenant == "acme" {
					p.event("kizashi-webhook: incident #%d opened for tenant acme: P%d (impact %d, urgency %d) %q",
						inc.ID, inc.Priority, inc.Impact, inc.Urgency, inc.Title)
					p.line("The incident appeared %s after the fault, %s after the demo started.",
						humanDuration(time.Since(s.FaultAt)), humanDuration(time.Since(p.start)))
					return inc, nil
				}
			}
		}
		status := lastStatus
		if lastShownState != "" {
			status += ", alert " + lastShownState
		}
		p.wait("waiting for the incident: %s", status)
		select {
		case <-ctx.Done():
			return apitypes.Incident{}, ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// amAlerts counts the active alerts in Alertmanager for tenant acme.
func (s *Stack) amAlerts(ctx context.Context) (int, error) {
	u := s.AlertmanagerURL + "/api/v2/alerts?filter=" + url.QueryEscape(`tenant="acme"`)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer func() { _ = resp.Body.Close() }()
	var alerts []json.RawMessage
	if err := json.NewDecoder(resp.Body).Decode(&alerts); err != nil {
		return 0, fmt.Errorf("alertmanager alerts: %w", err)
	}
	return len(alerts), nil
}

// printInstructions prints the pages and what to look at.
func (s *Stack) printInstructions(o Options) {
	var b strings.Builder
	b.WriteString("\nThe demo is running. Open:\n\n")
	for _, p := range s.Pages {
		fmt.Fprintf(&b, "  %-13s %s\n", p.Name, p.URL)
		for _, l := range strings.Split(p.What, "\n") {
			fmt.Fprintf(&b, "  %-13s %s\n", "", l)
		}
	}
	fmt.Fprintf(&b, `
What happens: the shop's sessions follow their daily and weekly rhythm (%s of it were loaded
into Prometheus, the exporter learned them). Then a bot storm triples acme's checkout
sessions. The exporter's anomaly score jumps, the KizashiAnomaly rule fires after %s,
Alertmanager routes it on tenant="acme" to the acme receiver, and kizashi-webhook opens a P2
incident (service checkout has impact 1, severity warning urgency 2). The model learns the new
level after about ten minutes and the score falls; the alert keeps firing ten more minutes
(keep_firing_for), then resolves, and the incident stays open (policy auto_resolve: note) for
you to acknowledge and resolve on the service-desk page. acme's disk is forecast to fill up in
a few days: kizashi_breach_eta_seconds{tenant="acme"}.

`, humanDuration(History), model.Duration(ForSteps*Step))
	fmt.Fprint(o.Out, b.String())
}

// token returns a random 24-byte hex token.
func token() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func hostPort(u string) string { return strings.TrimPrefix(u, "http://") }

// humanDuration formats d as "14 days", "3 minutes", "42s".
func humanDuration(d time.Duration) string {
	switch {
	case d >= 48*time.Hour:
		return fmt.Sprintf("%d days", int(d.Hours()/24+0.5))
	case d >= 2*time.Minute:
		return fmt.Sprintf("%.1f minutes", d.Minutes())
	}
	return d.Round(time.Second).String()
}

func humanCount(n int) string {
	switch {
	case n >= 1_000_000:
		return fmt.Sprintf("%.1fM", float64(n)/1e6)
	case n >= 1000:
		return fmt.Sprintf("%dk", n/1000)
	}
	return fmt.Sprint(n)
}

// lastLines returns the last n lines of s.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
