// Package integrations builds the target of a configured forwarder from its type: the one
// place that knows every integration. A new ticket system (or notification channel) is a
// package under forward/ implementing forward.Target, its section in config.ForwarderConfig,
// and one case here.
package integrations

import (
	"fmt"
	"time"

	commoncfg "github.com/prometheus/common/config"

	"github.com/kizashi-dev/kizashi/webhook/config"
	"github.com/kizashi-dev/kizashi/webhook/forward"
	"github.com/kizashi-dev/kizashi/webhook/forward/jira"
	"github.com/kizashi-dev/kizashi/webhook/forward/pagerduty"
	"github.com/kizashi-dev/kizashi/webhook/forward/servicenow"
	"github.com/kizashi-dev/kizashi/webhook/forward/webhook"
)

var _ forward.Builder = Build

// Build returns the target of a configured forwarder, with an HTTP client of its http_config
// whose requests end after forwarding.timeout.
func Build(fw config.Forwarding, t config.Target, now func() time.Time) (forward.Target, error) {
	hc, err := commoncfg.NewClientFromConfig(t.HTTPConfig, "kizashi_forward_"+t.Name, commoncfg.WithUserAgent("kizashi-webhook"))
	if err != nil {
		return nil, fmt.Errorf("http client of %s: %w", t.Key, err)
	}
	hc.Timeout = time.Duration(fw.Timeout)
	switch t.Type {
	case config.TypeServiceNow:
		return servicenow.New(hc, t.URL, t.ServiceNow, now), nil
	case config.TypeJira:
		return jira.New(hc, t.URL, t.Jira, now), nil
	case config.TypePagerDuty:
		return pagerduty.New(hc, t.URL, t.PagerDuty, now), nil
	case config.TypeWebhook:
		return webhook.New(hc, t.URL, t.Webhook, now), nil
	}
	return nil, fmt.Errorf("target %s: unknown type %q", t.Key, t.Type)
}
