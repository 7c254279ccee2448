package plugin

import (
	"context"
	"fmt"
	"strings"

	"github.com/grafana/grafana-plugin-sdk-go/backend"

	"github.com/kizashi-dev/kizashi/datasource/pkg/models"
)

// CheckHealth reports whether Prometheus answers (its build information) and, when configured,
// whether the webhook accepts the token.
// Messages show the URLs with their passwords redacted, and no secret of the settings
// whatever the servers answer.
func (d *Datasource) CheckHealth(ctx context.Context, _ *backend.CheckHealthRequest) (*backend.CheckHealthResult, error) {
	res := d.checkHealth(ctx)
	res.Message = d.redact(res.Message)
	return res, nil
}

func (d *Datasource) checkHealth(ctx context.Context) *backend.CheckHealthResult {
	if d.settingsErr != nil {
		return healthError("%v", d.settingsErr)
	}
	promURL := models.RedactURL(d.settings.URL)
	b, err := d.prom.Buildinfo(ctx)
	if err != nil {
		return healthError("Prometheus at %s did not answer: %v", promURL, err)
	}
	msgs := []string{fmt.Sprintf("Prometheus %s at %s is reachable.", b.Version, promURL)}
	if d.webhook != nil {
		hookURL := d.webhook.base.Redacted()
		if err := d.webhook.check(ctx); err != nil {
			return healthError("%s But the webhook at %s did not answer: %v", msgs[0], hookURL, err)
		}
		msgs = append(msgs, fmt.Sprintf("Webhook at %s is reachable.", hookURL))
	}
	return &backend.CheckHealthResult{Status: backend.HealthStatusOk, Message: strings.Join(msgs, " ")}
}

func healthError(format string, args ...any) *backend.CheckHealthResult {
	return &backend.CheckHealthResult{Status: backend.HealthStatusError, Message: fmt.Sprintf(format, args...)}
}
