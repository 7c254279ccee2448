package config

import (
	"fmt"
	"time"

	"github.com/prometheus/common/model"
	"go.yaml.in/yaml/v3"

	"github.com/kizashi-dev/kizashi/webhook/limit"
)

// MaxBodyBytesLimit is the largest limits.max_body_bytes accepted (1 GiB): notifications are
// decoded as a stream, but a body is held whole (compressed above 64 KiB) until it is stored.
const MaxBodyBytesLimit = 1 << 30

// TenantLimits bound one tenant's ingest (see package limit): limits.tenant
// for every tenant; a tenant's own "limits" overrides any part of it.
type TenantLimits struct {
	Concurrency   int            `yaml:"concurrency"`
	InflightBytes int64          `yaml:"inflight_bytes"`
	Wait          model.Duration `yaml:"wait"`
	// Quotas; 0 is none.
	NotificationsPerSecond float64 `yaml:"notifications_per_second"`
	NotificationsBurst     int     `yaml:"notifications_burst"`
	BytesPerSecond         int64   `yaml:"bytes_per_second"`
	BytesBurst             int64   `yaml:"bytes_burst"`
}

// DefaultTenantLimits share the store fairly and set no quota.
var DefaultTenantLimits = TenantLimits{Concurrency: 64, InflightBytes: 4 << 20, Wait: model.Duration(5 * time.Second)}

// Retention prunes what grows with every notification, in small batches.
type Retention struct {
	Interval model.Duration `yaml:"interval"`
	// Batch is the number of rows deleted per transaction.
	Batch int `yaml:"batch"`
	// Notifications: raw notifications whose last delivery is older; 0 keeps them.
	Notifications model.Duration `yaml:"notifications"`
	// JournalNotifications: journal lines that record a notification
	// (kind "notification") older than this; 0 keeps them (the audit trail).
	JournalNotifications model.Duration `yaml:"journal_notifications"`
}

// DefaultRetention keeps raw notifications a week and the journal for ever.
var DefaultRetention = Retention{Interval: model.Duration(time.Minute), Batch: 500, Notifications: model.Duration(7 * 24 * time.Hour)}

// UnmarshalYAML sets defaults.
func (r *Retention) UnmarshalYAML(unmarshal func(any) error) error {
	*r = DefaultRetention
	type plain Retention
	return unmarshal((*plain)(r))
}

func (l *Limits) validate() error {
	switch {
	case l.MaxBodyBytes <= 0 || l.MaxBodyBytes > MaxBodyBytesLimit:
		return keyErrorf("limits.max_body_bytes", "must be 1-%d (1 GiB), not %d", MaxBodyBytesLimit, l.MaxBodyBytes)
	case l.MaxAlerts <= 0:
		return keyErrorf("limits.max_alerts", "must be positive")
	case l.ReadTimeout <= 0:
		return keyErrorf("limits.read_timeout", "must be positive")
	}
	return under("limits.tenant", l.Tenant.validate())
}

// validate returns errors keyed relative to the limits' section.
func (t TenantLimits) validate() error {
	switch {
	case t.Concurrency <= 0:
		return keyErrorf("concurrency", "must be positive")
	case t.InflightBytes <= 0:
		return keyErrorf("inflight_bytes", "must be positive")
	case t.Wait <= 0:
		return keyErrorf("wait", "must be positive")
	case t.NotificationsPerSecond < 0:
		return keyErrorf("notifications_per_second", "must not be negative")
	case t.BytesPerSecond < 0:
		return keyErrorf("bytes_per_second", "must not be negative")
	case t.NotificationsPerSecond > 0 && t.NotificationsBurst < 1:
		return keyErrorf("notifications_burst", "must be at least 1 when notifications_per_second is set")
	case t.BytesPerSecond > 0 && t.BytesBurst < 1:
		return keyErrorf("bytes_burst", "must be at least 1 when bytes_per_second is set")
	}
	return nil
}

func (r Retention) validate() error {
	switch {
	case r.Interval <= 0:
		return keyErrorf("retention.interval", "must be positive")
	case r.Batch < 1 || r.Batch > 10000:
		return keyErrorf("retention.batch", "must be 1-10000")
	case r.Notifications != 0 && r.Notifications < model.Duration(time.Hour):
		return keyErrorf("retention.notifications", "must be 0 (keep) or at least 1h (duplicates are recognised by the stored notification)")
	case r.JournalNotifications < 0:
		return keyErrorf("retention.journal_notifications", "must not be negative")
	}
	return nil
}

// overlayTenantLimits decodes each tenant's limits block on top of a copy of
// limits.tenant, so a tenant overrides only what it names.
func (c *Config) overlayTenantLimits() error {
	tenants := lookup(c.root, "tenants")
	for i := range c.Tenants {
		c.Tenants[i].Limits = c.Limits.Tenant
		if tenants == nil || tenants.Kind != yaml.SequenceNode || i >= len(tenants.Content) {
			continue
		}
		if n := lookup(tenants.Content[i], "limits"); n != nil {
			if err := n.Decode(&c.Tenants[i].Limits); err != nil {
				return fmt.Errorf("tenant %q: limits: %w", c.Tenants[i].Name, err)
			}
			if err := c.Tenants[i].Limits.validate(); err != nil {
				return under(fmt.Sprintf("tenants[%d].limits", i), err)
			}
		}
	}
	return nil
}

// TenantLimits returns the ingest limits of a tenant.
func (c *Config) TenantLimits(tenant string) limit.Settings {
	l := c.Limits.Tenant
	if t, ok := c.tenants[tenant]; ok {
		l = t.Limits
	}
	return limit.Settings{
		Concurrency: l.Concurrency, InflightBytes: l.InflightBytes, Wait: time.Duration(l.Wait),
		NotificationsPerSecond: l.NotificationsPerSecond, NotificationsBurst: float64(l.NotificationsBurst),
		BytesPerSecond: float64(l.BytesPerSecond), BytesBurst: float64(l.BytesBurst),
	}
}
