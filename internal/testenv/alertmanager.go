package testenv

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/kizashi-dev/kizashi/internal/proc"
)

// AMOptions configures StartAlertmanager and StartAlertmanagerCluster.
type AMOptions struct {
	// Config is the complete alertmanager.yml. If empty, WebhookConfig(WebhookURL)
	// is used, or a configuration that notifies nobody if WebhookURL is empty too.
	Config string
	// WebhookURL is the webhook receiver's URL when Config is empty.
	WebhookURL string
	// ExtraFlags are added to the command line. A flag whose name is one of
	// the defaults (e.g. "--cluster.peer-timeout=15s") replaces the default.
	ExtraFlags []string
}

// WebhookConfig returns an alertmanager.yml that sends every alert to one
// webhook receiver at url, grouped by alertname, with short timers for tests:
// group_wait 1s, group_interval 1s, repeat_interval 1h, send_resolved true.
func WebhookConfig(url string) string {
	return fmt.Sprintf(`route:
  receiver: webhook
  group_by: [alertname]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: webhook
    webhook_configs:
      - url: %s
        send_resolved: true
`, strconv.Quote(url))
}

const nullAMConfig = `route:
  receiver: "null"
receivers:
  - name: "null"
`

// Alertmanager is a running (or stopped) Alertmanager on 127.0.0.1.
type Alertmanager struct {
	addr        string
	clusterAddr string // "" when not clustered
	dir         string
	proc        *proc.Process
}

// StartAlertmanager starts a single Alertmanager (HA mode off) on a free
// port of 127.0.0.1 with its storage in t.TempDir(), waits until it is
// ready and stops it at the end of the test.
func StartAlertmanager(t testing.TB, opts AMOptions) *Alertmanager {
	t.Helper()
	skipShort(t, "alertmanager")
	am := newAlertmanager(t, opts, FreeAddr(t), "", nil)
	am.start(t)
	return am
}

// StartAlertmanagerCluster starts n Alertmanagers gossiping with each other
// on 127.0.0.1, and waits until each one is ready and sees all n peers.
// Gossip timers are short so that the cluster forms in a few seconds:
// --cluster.gossip-interval=50ms, --cluster.pushpull-interval=1s,
// --cluster.settle-timeout=10s, --cluster.peer-timeout=1s (the delay before
// the i-th peer sends a notification itself is i × peer-timeout),
// --cluster.probe-interval=250ms.
func StartAlertmanagerCluster(t testing.TB, n int, opts AMOptions) []*Alertmanager {
	t.Helper()
	skipShort(t, "alertmanager cluster")
	if n < 1 {
		t.Fatalf("testenv: start alertmanager cluster: n = %d", n)
	}
	web := make([]string, n)
	gossip := make([]string, n)
	for i := range n {
		web[i], gossip[i] = FreeAddr(t), FreeAddr(t)
	}
	ams := make([]*Alertmanager, n)
	for i := range n {
		var peers []string
		for j, g := range gossip {
			if j != i {
				peers = append(peers, g)
			}
		}
		ams[i] = newAlertmanager(t, opts, web[i], gossip[i], peers)
		ams[i].proc.Name = fmt.Sprintf("alertmanager-%d", i)
		if err := ams[i].proc.Start(); err != nil {
			t.Fatalf("testenv: %v", err)
		}
	}
	for _, am := range ams {
		am.waitReady(t)
	}
	for _, am := range ams {
		am.WaitForPeers(t, n, 30*time.Second)
	}
	return ams
}

func newAlertmanager(t testing.TB, opts AMOptions, addr, clusterAddr string, peers []string) *Alertmanager {
	t.Helper()
	bin := Program(t, proc.Alertmanager)
	am := &Alertmanager{addr: addr, clusterAddr: clusterAddr, dir: t.TempDir()}
	cfg := opts.Config
	if cfg == "" && opts.WebhookURL != "" {
		cfg = WebhookConfig(opts.WebhookURL)
	}
	if cfg == "" {
		cfg = nullAMConfig
	}
	cfgFile := filepath.Join(am.dir, "alertmanager.yml")
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o644); err != nil {
		t.Fatalf("testenv: start alertmanager: %v", err)
	}
	args := []string{
		"--config.file=" + cfgFile,
		"--storage.path=" + filepath.Join(am.dir, "data"),
		"--web.listen-address=" + addr,
		"--log.level=info",
	}
	if clusterAddr == "" {
		args = append(args, "--cluster.listen-address=")
	} else {
		args = append(args,
			"--cluster.listen-address="+clusterAddr,
			"--cluster.advertise-address="+clusterAddr,
			"--cluster.gossip-interval=50ms",
			"--cluster.pushpull-interval=1s",
			"--cluster.settle-timeout=10s",
			"--cluster.peer-timeout=1s",
			"--cluster.reconnect-interval=1s",
			// Find a killed peer dead within about a second, not five.
			"--cluster.probe-interval=250ms",
			"--cluster.probe-timeout=200ms",
		)
		for _, p := range peers {
			args = append(args, "--cluster.peer="+p)
		}
	}
	am.proc = proc.New("alertmanager", bin, mergeFlags(args, opts.ExtraFlags)...)
	cleanup(t, am.proc)
	return am
}

func (am *Alertmanager) start(t testing.TB) {
	t.Helper()
	if err := am.proc.Start(); err != nil {
		t.Fatalf("testenv: %v", err)
	}
	am.waitReady(t)
}

func (am *Alertmanager) waitReady(t testing.TB) {
	t.Helper()
	if err := am.proc.WaitReady(context.Background(), startTimeout, proc.HTTPReady(am.URL()+"/-/ready")); err != nil {
		t.Fatalf("testenv: start %s: %v", am.proc.Name, err)
	}
}

// URL returns the base URL, "http://127.0.0.1:<port>".
func (am *Alertmanager) URL() string { return "http://" + am.addr }

// Addr returns "127.0.0.1:<port>", as PromOptions.Alertmanagers wants it.
func (am *Alertmanager) Addr() string { return am.addr }

// ClusterAddr returns the gossip address, or "" if not clustered.
func (am *Alertmanager) ClusterAddr() string { return am.clusterAddr }

// Alert is an alert as posted to /api/v2/alerts.
type Alert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	StartsAt     time.Time         `json:"startsAt,omitzero"`
	EndsAt       time.Time         `json:"endsAt,omitzero"` // set in the past to resolve
	GeneratorURL string            `json:"generatorURL,omitempty"`
}

// PostAlerts posts alerts to the API v2, as Prometheus would.
func (am *Alertmanager) PostAlerts(ctx context.Context, alerts ...Alert) error {
	if err := doJSON(ctx, "POST", am.URL()+"/api/v2/alerts", alerts, nil); err != nil {
		return fmt.Errorf("post alerts: %w", err)
	}
	return nil
}

// CreateSilence silences alerts whose labels equal matchers, for d from now,
// and returns the silence ID.
func (am *Alertmanager) CreateSilence(ctx context.Context, matchers map[string]string, d time.Duration) (string, error) {
	type matcher struct {
		Name    string `json:"name"`
		Value   string `json:"value"`
		IsRegex bool   `json:"isRegex"`
		IsEqual bool   `json:"isEqual"`
	}
	var ms []matcher
	for _, k := range slices.Sorted(maps.Keys(matchers)) {
		ms = append(ms, matcher{Name: k, Value: matchers[k], IsEqual: true})
	}
	now := time.Now()
	in := map[string]any{
		"matchers":  ms,
		"startsAt":  now,
		"endsAt":    now.Add(d),
		"createdBy": "testenv",
		"comment":   "created by a test",
	}
	var out struct {
		SilenceID string `json:"silenceID"`
	}
	if err := doJSON(ctx, "POST", am.URL()+"/api/v2/silences", in, &out); err != nil {
		return "", fmt.Errorf("create silence: %w", err)
	}
	return out.SilenceID, nil
}

// ClusterStatus is the "cluster" part of /api/v2/status.
type ClusterStatus struct {
	Name   string `json:"name"`
	Status string `json:"status"` // "ready", "settling" or "disabled"
	Peers  []struct {
		Name    string `json:"name"`
		Address string `json:"address"`
	} `json:"peers"`
}

// ClusterStatus returns the cluster status from /api/v2/status.
func (am *Alertmanager) ClusterStatus(ctx context.Context) (ClusterStatus, error) {
	var out struct {
		Cluster ClusterStatus `json:"cluster"`
	}
	if err := doJSON(ctx, "GET", am.URL()+"/api/v2/status", nil, &out); err != nil {
		return ClusterStatus{}, fmt.Errorf("cluster status: %w", err)
	}
	return out.Cluster, nil
}

// WaitForPeers waits until the cluster status is "ready" with n peers
// (this one included), and fails the test after timeout.
func (am *Alertmanager) WaitForPeers(t testing.TB, n int, timeout time.Duration) {
	t.Helper()
	err := am.proc.WaitReady(context.Background(), timeout, func(ctx context.Context) error {
		st, err := am.ClusterStatus(ctx)
		if err != nil {
			return err
		}
		if st.Status != "ready" || len(st.Peers) != n {
			return fmt.Errorf("cluster %s with %d peers, want ready with %d", st.Status, len(st.Peers), n)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("testenv: %s: %v", am.proc.Name, err)
	}
}

// Stop stops Alertmanager gracefully (SIGTERM); Restart starts it again.
func (am *Alertmanager) Stop(t testing.TB) {
	t.Helper()
	if err := am.proc.Stop(syscall.SIGTERM, 30*time.Second); err != nil {
		t.Fatalf("testenv: %v", err)
	}
}

// Kill kills Alertmanager (SIGKILL), as a crash would.
func (am *Alertmanager) Kill(t testing.TB) {
	t.Helper()
	if err := am.proc.Stop(syscall.SIGKILL, 30*time.Second); err != nil {
		t.Fatalf("testenv: %v", err)
	}
}

// Restart stops Alertmanager if it runs and starts it again with the same
// ports, storage and configuration (a clustered peer rejoins its peers).
func (am *Alertmanager) Restart(t testing.TB) {
	t.Helper()
	am.Stop(t)
	am.start(t)
}
