package plugin

import (
	"context"
	"fmt"
	"strings"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
)

// CheckHealth reports whether Prometheus answers (its build information) and, when configured,
// whether the webhook accepts the token.
func (d *Datasource) CheckHealth(ctx context.Context, _ *backend.CheckHealthRequest) (*backend.CheckHealthResult, error) {
	if d.settingsErr != nil {
		return healthError("%v", d.settingsErr), nil
	}
	b, err := d.prom.Buildinfo(ctx)
	if err != nil {
		return healthError("Prometheus at %s did not answer: %v", d.settings.URL, err), nil
	}
	msgs := []string{fmt.Sprintf("Prometheus %s at %s is reachable.", b.Version, d.settings.URL)}
	if d.webhook != nil {
		if err := d.webhook.check(ctx); err != nil {
			return healthError("%s But the webhook at %s did not answer: %v", msgs[0], d.webhook.url, err), nil
		}
		msgs = append(msgs, fmt.Sprintf("Webhook at %s is reachable.", d.webhook.url))
	}
	return &backend.CheckHealthResult{Status: backend.HealthStatusOk, Message: strings.Join(msgs, " ")}, nil
}

func healthError(format string, args ...any) *backend.CheckHealthResult {
	return &backend.CheckHealthResult{Status: backend.HealthStatusError, Message: fmt.Sprintf(format, args...)}
}
