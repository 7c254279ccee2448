package demo

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"go.yaml.in/yaml/v3"

	"github.com/kizashi-dev/kizashi/dashboards"
)

// Names of the demo's tenants, as in dashboards/alertmanager/alertmanager.yml.
var demoTenants = []string{"platform", "acme", "globex"}

// webhookConfig is kizashi-webhook's configuration for the demo: SQLite in dir, one tenant per
// Alertmanager receiver, an operator for the service-desk page (which charts an anomaly
// incident from the demo's Prometheus at promURL), and a policy that keeps the incident open
// when its alert resolves (a journal line says so), so that you can acknowledge and resolve it
// yourself.
//
// tokens are the tenants' Alertmanager tokens (they only post alerts); apiTokens their API
// tokens of role read (named <tenant>-viewer), which log in to the page and the REST API as the
// tenant's customer: its incidents, no internal notes, no actions.
func webhookConfig(dir string, tokens, apiTokens map[string]string, operator, promURL string, short bool) string {
	sweep := "10s"
	if short {
		sweep = "1s"
	}
	var b strings.Builder
	fmt.Fprintf(&b, `storage:
  driver: sqlite
  path: %q
sweep:
  interval: %s
page:
  prometheus_url: %s
policy:
  auto_resolve: note
  priority:
    impact_labels: [service]
    services: {checkout: 1, search: 2}
  templates:
    title: '{{ with .Annotations.summary }}{{ . }}{{ else }}{{ .Labels.alertname }}{{ end }}'
    category: '{{ with .Labels.category }}{{ . }}{{ else }}monitoring{{ end }}'
    ci: '{{ with .Labels.service }}{{ . }}{{ else }}{{ .Labels.instance }}{{ end }}'
    assignment_group: '{{ with .Labels.tenant }}{{ . }}-ops{{ else }}noc{{ end }}'
tenants:
`, filepath.Join(dir, "kizashi-webhook.db"), sweep, promURL)
	for _, t := range demoTenants {
		fmt.Fprintf(&b, "  - name: %s\n    tokens: [%q]\n    api_tokens: [{name: %s-viewer, role: read, tokens: [%q]}]\n", t, tokens[t], t, apiTokens[t])
	}
	fmt.Fprintf(&b, "operators:\n  - name: noc\n    tokens: [%q]\n", operator)
	return b.String()
}

// alertmanagerConfig is the shipped alertmanager.yml with the demo's webhook URL and token
// files; in short mode the group timers are a second or two.
func alertmanagerConfig(webhookURL, tokenDir string, short bool) (string, error) {
	raw, err := dashboards.Files.ReadFile(dashboards.AlertmanagerConfigFile)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", dashboards.AlertmanagerConfigFile, err)
	}
	s := strings.ReplaceAll(string(raw), dashboards.WebhookURLPlaceholder, webhookURL)
	s = strings.ReplaceAll(s, dashboards.TokenDirPlaceholder+"/", tokenDir+"/")
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(s), &doc); err != nil {
		return "", fmt.Errorf("parse %s: %w", dashboards.AlertmanagerConfigFile, err)
	}
	route := mapValue(doc.Content[0], "route")
	if route == nil {
		return "", fmt.Errorf("%s: no route", dashboards.AlertmanagerConfigFile)
	}
	if !short {
		return s, nil
	}
	for k, v := range map[string]string{"group_wait": "1s", "group_interval": "2s"} {
		if n := mapValue(route, k); n != nil {
			n.Value = v
		}
	}
	return encodeYAML(&doc, dashboards.AlertmanagerConfigFile)
}

// alertRules is the shipped rule file with the anomaly alert's `for:` set to forDur (the
// shipped value assumes the exporter's default 1m step; the demo's step is 5s).
func alertRules(forDur time.Duration) (string, error) {
	raw, err := dashboards.Files.ReadFile(dashboards.AlertRulesFile)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", dashboards.AlertRulesFile, err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return "", fmt.Errorf("parse %s: %w", dashboards.AlertRulesFile, err)
	}
	found := false
	for _, g := range mapValue(doc.Content[0], "groups").Content {
		for _, r := range mapValue(g, "rules").Content {
			if a := mapValue(r, "alert"); a != nil && a.Value == "KizashiAnomaly" {
				if f := mapValue(r, "for"); f != nil {
					f.Value = model.Duration(forDur).String()
					found = true
				}
			}
		}
	}
	if !found {
		return "", fmt.Errorf("%s: no KizashiAnomaly rule with a for duration", dashboards.AlertRulesFile)
	}
	return encodeYAML(&doc, dashboards.AlertRulesFile)
}

// encodeYAML encodes an edited shipped file, indented as the shipped files are.
func encodeYAML(doc *yaml.Node, name string) (string, error) {
	var out bytes.Buffer
	enc := yaml.NewEncoder(&out)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return "", fmt.Errorf("encode %s: %w", name, err)
	}
	return out.String(), nil
}

// mapValue returns the value of key in a YAML mapping node, or nil.
func mapValue(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// promConfig is prometheus.yml for the demo: the shop, the exporter (honor_labels), the
// webhook, Alertmanager and Prometheus itself, the shipped rules, alerts to Alertmanager.
func promConfig(interval time.Duration, self, shop, exporter, webhook, am, rules string) string {
	iv := model.Duration(interval).String()
	return fmt.Sprintf(`global:
  scrape_interval: %[1]s
  evaluation_interval: %[1]s
rule_files: [%[2]q]
alerting:
  alertmanagers:
    - api_version: v2
      timeout: 10s
      static_configs: [{targets: [%[3]q]}]
scrape_configs:
  - job_name: shop
    static_configs: [{targets: [%[4]q], labels: {instance: shop-1}}]
  - job_name: kizashi-exporter
    honor_labels: true
    static_configs: [{targets: [%[5]q]}]
  - job_name: kizashi-webhook
    static_configs: [{targets: [%[6]q]}]
  - job_name: alertmanager
    static_configs: [{targets: [%[3]q]}]
  - job_name: prometheus
    static_configs: [{targets: [%[7]q]}]
`, iv, rules, am, shop, exporter, webhook, self)
}

// exporterConfig models the shop's sessions and disk usage: the step is the scrape interval,
// the training window the history loaded into Prometheus; the disk's breach ETA is published
// for its capacity, with the trend always on (capacity series grow by definition; auto waits
// for six days of evidence).
func exporterConfig(promURL string, step, history time.Duration) string {
	return fmt.Sprintf(`source:
  url: %q
  query_timeout: 30s
queries:
  - name: sessions
    expr: %s
    step: %s
    training_window: %s
    min: 0
  - name: storage
    expr: %s
    step: %s
    training_window: %s
    min: 0
    trend: "on"
    thresholds: [%g]
    breach_within: 7d
`, promURL, SessionsMetric, model.Duration(step), model.Duration(history),
		DiskMetric, model.Duration(step), model.Duration(history), DiskCapacity)
}

func writeFile(path, content string, perm os.FileMode) error {
	if err := os.WriteFile(path, []byte(content), perm); err != nil {
		return fmt.Errorf("write %s: %w", filepath.Base(path), err)
	}
	return nil
}
