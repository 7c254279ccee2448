package app

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kizashi-dev/kizashi/internal/lifecycle"
	"github.com/kizashi-dev/kizashi/webhook/channel/email"
	"github.com/kizashi-dev/kizashi/webhook/channel/pagerduty"
	"github.com/kizashi-dev/kizashi/webhook/channel/slack"
	"github.com/kizashi-dev/kizashi/webhook/channel/teams"
	nwebhook "github.com/kizashi-dev/kizashi/webhook/channel/webhook"
	"github.com/kizashi-dev/kizashi/webhook/config"
	"github.com/kizashi-dev/kizashi/webhook/escalation"
	"github.com/kizashi-dev/kizashi/webhook/forward"
	"github.com/kizashi-dev/kizashi/webhook/notify"
	"github.com/kizashi-dev/kizashi/webhook/publicid"
	"github.com/kizashi-dev/kizashi/webhook/store"
)

// startEscalation runs the escalation policies (when the store keeps escalation steps) in bg
// until bg stops. The engine's configuration is rebuilt when the configuration is reloaded.
func (p *program) startEscalation(bg *lifecycle.Group, st store.Store, ids *publicid.Codec, reg prometheus.Registerer) {
	es, ok := st.(escalation.Store)
	if !ok {
		return
	}
	current := newDerived[*escalation.Config](p, "escalation", nil, EscalationConfig)
	e := &escalation.Engine{Store: es, Config: current.get, Now: p.opts.Now, IDs: ids, Log: p.logger.With("component", "escalation"), Metrics: escalation.NewMetrics(reg),
		Owner: forward.LeaseOwner()}
	bg.Go(func(ctx context.Context) { e.Run(ctx, time.Duration(p.cfg.Load().Notify.Interval)) })
}

// EscalationConfig builds the escalation engine's configuration (its channels included)
// from a loaded configuration.
func EscalationConfig(c *config.Config) (*escalation.Config, error) {
	out := &escalation.Config{Tenants: map[string]*escalation.Tenant{}, ExternalURL: c.Forwarding.ExternalURL, MaxAge: time.Duration(c.Notify.MaxAge)}
	client := &http.Client{Timeout: 30 * time.Second}
	for _, name := range c.TenantNames() {
		tp := c.People(name)
		if tp == nil || len(tp.Policies) == 0 {
			continue
		}
		chans, err := tenantChannels(c, name, tp, client)
		if err != nil {
			return nil, err
		}
		t := &escalation.Tenant{Schedules: tp.Schedules, Contacts: tp.Contacts, Channels: chans}
		for _, pc := range tp.Policies {
			pol := escalation.Policy{Name: pc.Name, Priorities: pc.Priorities, Repeat: pc.Repeat}
			for _, l := range pc.Levels {
				pol.Levels = append(pol.Levels, escalation.Level{Schedules: l.Schedules, Contacts: l.Contacts, AssignmentGroup: l.AssignmentGroup, After: time.Duration(l.After)})
			}
			t.Policies = append(t.Policies, pol)
		}
		out.Tenants[name] = t
	}
	return out, nil
}

// tenantChannels builds a tenant's notification channels.
func tenantChannels(c *config.Config, name string, tp *config.TenantPeople, client *http.Client) (map[string]notify.Channel, error) {
	out := map[string]notify.Channel{}
	for _, ch := range tp.Channels {
		var (
			nc  notify.Channel
			err error
		)
		switch ch.Type {
		case "email":
			nc, err = emailChannel(c.Notify.SMTP)
		case "slack":
			nc = slack.New(client, ch.URL, ch.URLFile)
		case "teams":
			nc = teams.New(client, ch.URL, ch.URLFile)
		case "webhook":
			nc = nwebhook.New(client, ch.URL, ch.Secret, ch.SecretFile, nil)
		case "pagerduty":
			base := ch.URL
			if base == "" {
				base = "https://events.pagerduty.com"
			}
			nc = pagerduty.New(client, base, ch.RoutingKey, ch.RoutingKeyFile)
		}
		if err != nil {
			return nil, fmt.Errorf("tenant %s: channel %s: %w", name, ch.Name, err)
		}
		out[ch.Name] = nc
	}
	return out, nil
}

func emailChannel(s *config.SMTPConfig) (*email.Channel, error) {
	if s == nil {
		return nil, fmt.Errorf("no notify.smtp")
	}
	cfg := email.Config{Host: s.Host, Port: s.Port, TLS: s.TLS, Username: s.Username, Password: s.Password, PasswordFile: s.PasswordFile,
		Auth: s.Auth, From: s.From, HELO: s.HELO, Timeout: time.Duration(s.Timeout)}
	if s.CAFile != "" || s.ServerName != "" {
		tc := &tls.Config{ServerName: s.Host, MinVersion: tls.VersionTLS12}
		if s.ServerName != "" {
			tc.ServerName = s.ServerName
		}
		if s.CAFile != "" {
			pem, err := os.ReadFile(s.CAFile)
			if err != nil {
				return nil, fmt.Errorf("smtp: ca_file: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("smtp: ca_file %s holds no PEM certificate", s.CAFile)
			}
			tc.RootCAs = pool
		}
		cfg.TLSConfig = tc
	}
	return email.New(cfg)
}
