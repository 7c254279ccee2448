package app

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kizashi-dev/kizashi/internal/lifecycle"
	"github.com/kizashi-dev/kizashi/webhook/config"
	"github.com/kizashi-dev/kizashi/webhook/deliver"
	"github.com/kizashi-dev/kizashi/webhook/forward"
	"github.com/kizashi-dev/kizashi/webhook/problem"
	"github.com/kizashi-dev/kizashi/webhook/publicid"
	"github.com/kizashi-dev/kizashi/webhook/report"
	"github.com/kizashi-dev/kizashi/webhook/store"
)

// deliveriesSetup is what the scheduled deliveries are built from one configuration.
type deliveriesSetup struct {
	reminders *deliver.ReminderConfig
	reports   *deliver.ReportConfig
	mailer    deliver.Mailer // nil without notify.smtp
}

// DeliveriesConfig builds the reminders' and the reports' configurations (channels
// included) from a loaded configuration.
func DeliveriesConfig(c *config.Config) (*deliver.ReminderConfig, *deliver.ReportConfig, deliver.Mailer, error) {
	rem := &deliver.ReminderConfig{Tenants: map[string]*deliver.ReminderTenant{}, ExternalURL: c.Forwarding.ExternalURL}
	rep := &deliver.ReportConfig{Tenants: map[string]*deliver.ReportTenant{}}
	client := &http.Client{Timeout: 30 * time.Second}
	for _, name := range c.TenantNames() {
		tp := c.People(name)
		if tp == nil {
			continue
		}
		if ur := tp.UpdateReminders; ur != nil {
			chans, err := tenantChannels(c, name, tp, client)
			if err != nil {
				return nil, nil, nil, err
			}
			rem.Tenants[name] = &deliver.ReminderTenant{People: deliver.People{Contacts: tp.Contacts, Channels: chans, Schedules: tp.Schedules},
				Coordinator: ur.Coordinator, Schedules: ur.Schedules, Contacts: ur.Contacts}
		}
		if sr := tp.ServiceReport; sr != nil {
			rep.Tenants[name] = &deliver.ReportTenant{Recipients: sr.Recipients, Lang: sr.Lang, Location: sr.Location, Day: sr.Day, At: sr.At, Format: sr.Format}
		}
	}
	var mailer deliver.Mailer
	if c.Notify.SMTP != nil {
		m, err := emailChannel(c.Notify.SMTP)
		if err != nil {
			return nil, nil, nil, err
		}
		mailer = m
	}
	return rem, rep, mailer, nil
}

// startDeliveries runs the reminders of customer updates and the monthly report mails (when
// the store keeps deliveries) in bg until bg stops. Their configuration is rebuilt when the
// configuration is reloaded.
func (p *program) startDeliveries(bg *lifecycle.Group, st store.Store, ids *publicid.Codec, reg prometheus.Registerer) error {
	ds, ok := st.(store.Delivering)
	ps, okp := st.(store.Problems)
	if !ok || !okp {
		return nil
	}
	now := p.opts.Now
	if now == nil {
		now = time.Now
	}
	desk, err := problem.New(st, func(string) problem.Settings { return problemSettings(p.cfg.Load()) }, now)
	if err != nil {
		return fmt.Errorf("reminders: %w", err)
	}
	setup := newDerived(p, "scheduled deliveries", &deliveriesSetup{reminders: &deliver.ReminderConfig{}, reports: &deliver.ReportConfig{}},
		func(c *config.Config) (*deliveriesSetup, error) {
			rem, rep, mailer, err := DeliveriesConfig(c)
			return &deliveriesSetup{reminders: rem, reports: rep, mailer: mailer}, err
		})
	current := setup.get
	owner := forward.LeaseOwner()
	metrics := deliver.NewMetrics(reg)
	log := p.logger.With("component", "deliveries")
	rem := &deliver.Reminders{Due: func(ctx context.Context) ([]store.MajorIncident, error) { return desk.DueUpdates(ctx, "") },
		Incident: st.Incident, Config: func() *deliver.ReminderConfig { return current().reminders }, IDs: ids}
	rem.Store, rem.Now, rem.Owner, rem.Log, rem.Metrics = ds, now, owner, log, metrics
	rep := &deliver.Reports{Compute: func(ctx context.Context, o report.Options) (*report.Report, error) {
		o.PublicID = func(id int64) int64 { return ids.Public(publicid.Incident, id) }
		o.ProblemID = func(id int64) int64 { return ids.Public(publicid.Problem, id) }
		return report.Compute(ctx, st, ps, o)
	}, Config: func() *deliver.ReportConfig { return current().reports }, Printer: &report.Printer{}}
	rep.Store, rep.Now, rep.Owner, rep.Log, rep.Metrics = ds, now, owner, log, metrics
	interval := func() time.Duration { return time.Duration(p.cfg.Load().Notify.Interval) }
	bg.Every(interval, func(ctx context.Context) {
		if _, err := rem.Tick(ctx); err != nil && ctx.Err() == nil {
			log.Error("update reminders", "err", err)
		}
		rep.Mailer = current().mailer
		if _, err := rep.Tick(ctx); err != nil && ctx.Err() == nil {
			log.Error("service report mails", "err", err)
		}
	})
	return nil
}
