// Package dashboards holds what wires Kizashi into a Prometheus + Grafana + Alertmanager
// stack: Grafana dashboards and provisioning files (grafana/), Prometheus alerting rules and
// an example configuration (prometheus/), and an Alertmanager configuration that routes
// alerts to kizashi-webhook per tenant (alertmanager/). The files are embedded so that the
// demo runs exactly what is shipped; lint_test.go checks them.
package dashboards

import "embed"

// Files are the shipped files, by their path under dashboards/.
//
//go:embed grafana prometheus alertmanager
var Files embed.FS

// Paths of the files the demo uses.
const (
	AlertRulesFile         = "prometheus/kizashi-alerts.yml"
	AlertmanagerConfigFile = "alertmanager/alertmanager.yml"
)

// Placeholders of alertmanager.yml that a deployment replaces: the webhook's URL and the
// directory of the receivers' token files.
const (
	WebhookURLPlaceholder = "http://kizashi-webhook:9095"
	TokenDirPlaceholder   = "/etc/alertmanager"
)
