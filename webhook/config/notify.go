package config

import (
	"fmt"
	"maps"
	"net/mail"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/common/model"

	"github.com/kizashi-dev/kizashi/webhook/bizhours"
	"github.com/kizashi-dev/kizashi/webhook/incident"
	"github.com/kizashi-dev/kizashi/webhook/notify"
	"github.com/kizashi-dev/kizashi/webhook/oncall"
)

// Notify is the root `notify` section: how people are reached (the SMTP
// relay), how often escalations are checked, and the business-hours
// calendars every tenant may use.
type Notify struct {
	// Interval between escalation checks (a step is at most this late).
	Interval model.Duration `yaml:"interval"`
	// MaxAge: incidents older than this when first seen start no escalation.
	MaxAge    model.Duration   `yaml:"max_age"`
	SMTP      *SMTPConfig      `yaml:"smtp"`
	Calendars []CalendarConfig `yaml:"calendars"`
}

// DefaultNotify is the default root notify section.
var DefaultNotify = Notify{Interval: model.Duration(30 * time.Second), MaxAge: model.Duration(24 * time.Hour)}

// SMTPConfig is the relay of email channels.
type SMTPConfig struct {
	Host string `yaml:"host"`
	Port int    `yaml:"port"`
	// TLS: starttls (default, required), tls (implicit, 465) or none.
	TLS string `yaml:"tls"`
	// CAFile verifies the relay's certificate (default: the system's roots).
	CAFile       string         `yaml:"ca_file"`
	ServerName   string         `yaml:"server_name"`
	Username     string         `yaml:"username"`
	Password     string         `yaml:"password"`
	PasswordFile string         `yaml:"password_file"`
	Auth         string         `yaml:"auth"`
	From         string         `yaml:"from"`
	HELO         string         `yaml:"helo"`
	Timeout      model.Duration `yaml:"timeout"`
}

// CalendarConfig is a business-hours calendar.
type CalendarConfig struct {
	Name     string `yaml:"name"`
	TimeZone string `yaml:"time_zone"`
	// Hours are lines such as "mon-fri 09:00-18:00" (see package bizhours).
	Hours []string `yaml:"hours"`
	// HolidaysFile lists closed dates, one YYYY-MM-DD a line (read at load and reload).
	HolidaysFile string `yaml:"holidays_file"`
}

// TenantNotify is a tenant's `notify` section.
type TenantNotify struct {
	// Calendars are the tenant's own (a name here hides a global one).
	Calendars          []CalendarConfig         `yaml:"calendars"`
	Channels           []ChannelConfig          `yaml:"channels"`
	Contacts           []ContactConfig          `yaml:"contacts"`
	Schedules          []ScheduleConfig         `yaml:"schedules"`
	EscalationPolicies []EscalationPolicyConfig `yaml:"escalation_policies"`
	// UpdateReminders and ServiceReport: see deliveries.go.
	UpdateReminders *UpdateRemindersConfig `yaml:"update_reminders"`
	ServiceReport   *ServiceReportConfig   `yaml:"service_report"`
}

// ChannelConfig is one way of reaching contacts.
type ChannelConfig struct {
	Name string `yaml:"name"`
	// Type: email (through notify.smtp), slack, teams, webhook, pagerduty.
	Type    string `yaml:"type"`
	URL     string `yaml:"url"`
	URLFile string `yaml:"url_file"`
	// Secret signs webhook deliveries.
	Secret     string `yaml:"secret"`
	SecretFile string `yaml:"secret_file"`
	// RoutingKey of a PagerDuty service (Events API v2).
	RoutingKey     string `yaml:"routing_key"`
	RoutingKeyFile string `yaml:"routing_key_file"`
}

// ContactConfig is a person. Until user accounts exist contacts are named
// here; `user` names the account a contact stands for.
type ContactConfig struct {
	Name        string   `yaml:"name"`
	User        string   `yaml:"user"`
	DisplayName string   `yaml:"display_name"`
	Email       string   `yaml:"email"`
	Slack       string   `yaml:"slack"`
	Teams       string   `yaml:"teams"`
	Lang        string   `yaml:"lang"`
	TimeZone    string   `yaml:"time_zone"`
	Channels    []string `yaml:"channels"`
}

// ScheduleConfig is an on-call rotation.
type ScheduleConfig struct {
	Name     string   `yaml:"name"`
	TimeZone string   `yaml:"time_zone"`
	Members  []string `yaml:"members"`
	// Handoff: daily or weekly.
	Handoff string `yaml:"handoff"`
	// HandoffTime is the wall-clock time of the hand-off (HH:MM, default 09:00).
	HandoffTime string `yaml:"handoff_time"`
	// Start is the first shift's date (YYYY-MM-DD); weekly hand-offs fall on its weekday.
	Start     string           `yaml:"start"`
	Overrides []OverrideConfig `yaml:"overrides"`
}

// OverrideConfig puts a contact on call for a range.
type OverrideConfig struct {
	Contact string    `yaml:"contact"`
	From    time.Time `yaml:"from"`
	To      time.Time `yaml:"to"`
}

// EscalationPolicyConfig escalates a tenant's incidents of some priorities.
type EscalationPolicyConfig struct {
	Name       string            `yaml:"name"`
	Priorities []int             `yaml:"priorities"`
	Repeat     int               `yaml:"repeat"`
	Levels     []EscalationLevel `yaml:"levels"`
}

// EscalationLevel is one level: who, and how long to wait for an acknowledgement.
type EscalationLevel struct {
	Schedules []string `yaml:"schedules"`
	Contacts  []string `yaml:"contacts"`
	// AssignmentGroup: the on-call person of the schedule named like the incident's
	// assignment group.
	AssignmentGroup bool           `yaml:"assignment_group"`
	After           model.Duration `yaml:"after"`
}

// TenantPeople is a tenant's compiled notify section.
type TenantPeople struct {
	Contacts  map[string]notify.Contact
	Schedules map[string]*oncall.Schedule
	Channels  []ChannelConfig
	Policies  []EscalationPolicyConfig
	Calendars map[string]*bizhours.Calendar
	// UpdateReminders and ServiceReport are nil when not configured (deliveries.go).
	UpdateReminders *UpdateReminders
	ServiceReport   *ServiceReport
}

// compiledNotify is what validateNotify builds.
type compiledNotify struct {
	tenants map[string]*TenantPeople
}

// People returns a tenant's contacts, schedules, channels and policies (nil:
// none configured).
func (c *Config) People(tenant string) *TenantPeople {
	if c.notify == nil {
		return nil
	}
	return c.notify.tenants[tenant]
}

// ReadPassword returns the SMTP password: password_file read now, or password.
func (s *SMTPConfig) ReadPassword() (string, error) {
	if s.PasswordFile == "" {
		return s.Password, nil
	}
	b, err := os.ReadFile(s.PasswordFile)
	if err != nil {
		return "", fmt.Errorf("smtp: read password_file: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}

func compileCalendar(path string, cc CalendarConfig, baseDir string) (*bizhours.Calendar, error) {
	if !validName(cc.Name) {
		return nil, keyErrorf(path+".name", "must be 1-64 characters of a-z, A-Z, 0-9, '-', '_', '.'")
	}
	loc, err := time.LoadLocation(cc.TimeZone)
	if err != nil || cc.TimeZone == "" {
		return nil, keyErrorf(path+".time_zone", "unknown time zone %q", cc.TimeZone)
	}
	week, err := bizhours.ParseWeek(cc.Hours)
	if err != nil {
		return nil, keyErrorf(path+".hours", "%v", err)
	}
	var holidays map[bizhours.Date]string
	if cc.HolidaysFile != "" {
		f, err := os.Open(resolve(baseDir, cc.HolidaysFile))
		if err != nil {
			return nil, keyErrorf(path+".holidays_file", "%v", err)
		}
		holidays, err = bizhours.ParseHolidays(f)
		_ = f.Close()
		if err != nil {
			return nil, keyErrorf(path+".holidays_file", "%s: %v", cc.HolidaysFile, err)
		}
	}
	cal, err := bizhours.New(cc.Name, loc, week, holidays)
	if err != nil {
		return nil, keyErrorf(path, "%v", err)
	}
	return cal, nil
}

// validateNotify checks the notify sections and compiles them.
func (c *Config) validateNotify(baseDir string) error {
	n := c.Notify
	if n.Interval <= 0 {
		return keyErrorf("notify.interval", "must be positive")
	}
	if n.MaxAge < 0 {
		return keyErrorf("notify.max_age", "must not be negative")
	}
	if s := n.SMTP; s != nil {
		switch {
		case s.Host == "":
			return keyErrorf("notify.smtp.host", "is required")
		case s.From == "":
			return keyErrorf("notify.smtp.from", "is required")
		case !validAddress(s.From):
			return keyErrorf("notify.smtp.from", "%q is not an email address", s.From)
		case s.TLS != "" && s.TLS != "starttls" && s.TLS != "tls" && s.TLS != "none":
			return keyErrorf("notify.smtp.tls", "must be starttls, tls or none, not %q", s.TLS)
		case s.Username != "" && s.TLS == "none":
			return keyErrorf("notify.smtp.username", "SMTP AUTH needs tls starttls or tls")
		case s.Port < 0 || s.Port > 65535:
			return keyErrorf("notify.smtp.port", "must be 1-65535")
		}
		s.CAFile, s.PasswordFile = resolve(baseDir, s.CAFile), resolve(baseDir, s.PasswordFile)
		if s.CAFile != "" {
			if _, err := os.ReadFile(s.CAFile); err != nil {
				return keyErrorf("notify.smtp.ca_file", "%v", err)
			}
		}
		if s.PasswordFile != "" {
			if _, err := os.ReadFile(s.PasswordFile); err != nil {
				return keyErrorf("notify.smtp.password_file", "%v", err)
			}
		}
	}
	global := map[string]*bizhours.Calendar{}
	for i, cc := range n.Calendars {
		cal, err := compileCalendar(fmt.Sprintf("notify.calendars[%d]", i), cc, baseDir)
		if err != nil {
			return err
		}
		if global[cc.Name] != nil {
			return keyErrorf(fmt.Sprintf("notify.calendars[%d].name", i), "duplicate calendar %q", cc.Name)
		}
		global[cc.Name] = cal
	}
	c.notify = &compiledNotify{tenants: map[string]*TenantPeople{}}
	for i := range c.Tenants {
		t := &c.Tenants[i]
		pre := fmt.Sprintf("tenants[%d].notify", i)
		tp, err := compileTenantNotify(pre, t.Notify, global, baseDir, n.SMTP != nil)
		if err != nil {
			return err
		}
		for k, name := range t.Policy.SLACalendars {
			var prio int
			if _, err := fmt.Sscanf(k, "P%d", &prio); err != nil || prio < 1 || prio > 5 || k != fmt.Sprintf("P%d", prio) {
				return keyErrorf(fmt.Sprintf("tenants[%d].policy.sla_calendars", i), "key %q must be P1..P5", k)
			}
			if name != "" && name != "24x7" && tp.Calendars[name] == nil {
				return keyErrorf(fmt.Sprintf("tenants[%d].policy.sla_calendars.%s", i, k), "unknown calendar %q", name)
			}
		}
		c.notify.tenants[t.Name] = tp
	}
	for k, name := range c.Defaults.SLACalendars {
		if name != "" && name != "24x7" && global[name] == nil {
			return keyErrorf("policy.sla_calendars."+k, "unknown calendar %q (the global policy sees only notify.calendars)", name)
		}
	}
	return nil
}

func compileTenantNotify(pre string, tn TenantNotify, global map[string]*bizhours.Calendar, baseDir string, smtp bool) (*TenantPeople, error) {
	tp := &TenantPeople{Contacts: map[string]notify.Contact{}, Schedules: map[string]*oncall.Schedule{}, Calendars: maps.Clone(global)}
	own := map[string]bool{}
	for j, cc := range tn.Calendars {
		cal, err := compileCalendar(fmt.Sprintf("%s.calendars[%d]", pre, j), cc, baseDir)
		if err != nil {
			return nil, err
		}
		if own[cc.Name] {
			return nil, keyErrorf(fmt.Sprintf("%s.calendars[%d].name", pre, j), "duplicate calendar %q", cc.Name)
		}
		own[cc.Name] = true
		tp.Calendars[cc.Name] = cal
	}
	channels := map[string]bool{}
	for j, ch := range tn.Channels {
		p := fmt.Sprintf("%s.channels[%d]", pre, j)
		if !validName(ch.Name) || channels[ch.Name] {
			return nil, keyErrorf(p+".name", "must be a unique name of 1-64 characters of a-z, A-Z, 0-9, '-', '_', '.'")
		}
		channels[ch.Name] = true
		switch ch.Type {
		case "email":
			if !smtp {
				return nil, keyErrorf(p+".type", "email needs notify.smtp")
			}
		case "slack", "teams", "webhook", "pagerduty":
			if ch.URL == "" && ch.URLFile == "" && ch.Type != "pagerduty" {
				return nil, keyErrorf(p+".url", "url or url_file is required")
			}
			if ch.URL != "" {
				if err := validURL(ch.URL); err != nil {
					return nil, keyErrorf(p+".url", "%v", err)
				}
			}
			if ch.Type == "pagerduty" && ch.RoutingKey == "" && ch.RoutingKeyFile == "" {
				return nil, keyErrorf(p+".routing_key", "routing_key or routing_key_file is required")
			}
			ch.URLFile = resolve(baseDir, ch.URLFile)
			ch.SecretFile = resolve(baseDir, ch.SecretFile)
			ch.RoutingKeyFile = resolve(baseDir, ch.RoutingKeyFile)
			// Checked now, read again at each message (a changed file needs no reload).
			for key, f := range map[string]string{"url_file": ch.URLFile, "secret_file": ch.SecretFile, "routing_key_file": ch.RoutingKeyFile} {
				if f == "" {
					continue
				}
				if _, err := os.ReadFile(f); err != nil {
					return nil, keyErrorf(p+"."+key, "%v", err)
				}
			}
		default:
			return nil, keyErrorf(p+".type", "must be email, slack, teams, webhook or pagerduty, not %q", ch.Type)
		}
		tp.Channels = append(tp.Channels, ch)
	}
	for j, cc := range tn.Contacts {
		p := fmt.Sprintf("%s.contacts[%d]", pre, j)
		if !validName(cc.Name) {
			return nil, keyErrorf(p+".name", "must be 1-64 characters of a-z, A-Z, 0-9, '-', '_', '.'")
		}
		if _, dup := tp.Contacts[cc.Name]; dup {
			return nil, keyErrorf(p+".name", "duplicate contact %q", cc.Name)
		}
		if cc.Email != "" && !validAddress(cc.Email) {
			return nil, keyErrorf(p+".email", "%q is not an email address", cc.Email)
		}
		lang := cc.Lang
		if lang == "" {
			lang = notify.LangEN
		}
		if lang != notify.LangEN && lang != notify.LangJA {
			return nil, keyErrorf(p+".lang", "must be en or ja, not %q", cc.Lang)
		}
		loc := time.UTC
		if cc.TimeZone != "" {
			l, err := time.LoadLocation(cc.TimeZone)
			if err != nil {
				return nil, keyErrorf(p+".time_zone", "unknown time zone %q", cc.TimeZone)
			}
			loc = l
		}
		for _, ch := range cc.Channels {
			if !channels[ch] {
				return nil, keyErrorf(p+".channels", "unknown channel %q", ch)
			}
		}
		tp.Contacts[cc.Name] = notify.Contact{Name: cc.Name, User: cc.User, DisplayName: cc.DisplayName, Email: cc.Email, Slack: cc.Slack,
			Teams: cc.Teams, Lang: lang, Location: loc, Channels: slices.Clone(cc.Channels)}
	}
	for j, sc := range tn.Schedules {
		p := fmt.Sprintf("%s.schedules[%d]", pre, j)
		if !validName(sc.Name) || tp.Schedules[sc.Name] != nil {
			return nil, keyErrorf(p+".name", "must be a unique name of 1-64 characters of a-z, A-Z, 0-9, '-', '_', '.'")
		}
		loc, err := time.LoadLocation(sc.TimeZone)
		if err != nil || sc.TimeZone == "" {
			return nil, keyErrorf(p+".time_zone", "unknown time zone %q", sc.TimeZone)
		}
		hot := sc.HandoffTime
		if hot == "" {
			hot = "09:00"
		}
		handoff, err := bizhours.ParseClock(hot)
		if err != nil || handoff >= 24*time.Hour {
			return nil, keyErrorf(p+".handoff_time", "bad time %q (want HH:MM)", hot)
		}
		start, err := time.ParseInLocation("2006-01-02", sc.Start, loc)
		if err != nil {
			return nil, keyErrorf(p+".start", "bad date %q (want YYYY-MM-DD)", sc.Start)
		}
		s := &oncall.Schedule{Name: sc.Name, Location: loc, Members: slices.Clone(sc.Members), Period: sc.Handoff, Handoff: handoff, Start: start}
		for _, m := range sc.Members {
			if _, ok := tp.Contacts[m]; !ok {
				return nil, keyErrorf(p+".members", "unknown contact %q", m)
			}
		}
		for k, o := range sc.Overrides {
			if _, ok := tp.Contacts[o.Contact]; !ok {
				return nil, keyErrorf(fmt.Sprintf("%s.overrides[%d].contact", p, k), "unknown contact %q", o.Contact)
			}
			s.Overrides = append(s.Overrides, oncall.Override{Contact: o.Contact, From: o.From, To: o.To})
		}
		if err := s.Validate(); err != nil {
			return nil, keyErrorf(p, "%v", err)
		}
		tp.Schedules[sc.Name] = s
	}
	byPrio := map[int]string{}
	names := map[string]bool{}
	for j, ep := range tn.EscalationPolicies {
		p := fmt.Sprintf("%s.escalation_policies[%d]", pre, j)
		if !validName(ep.Name) || names[ep.Name] {
			return nil, keyErrorf(p+".name", "must be a unique name of 1-64 characters of a-z, A-Z, 0-9, '-', '_', '.'")
		}
		names[ep.Name] = true
		if len(ep.Priorities) == 0 {
			return nil, keyErrorf(p+".priorities", "at least one priority (1-5) is required")
		}
		for _, pr := range ep.Priorities {
			if pr < 1 || pr > 5 {
				return nil, keyErrorf(p+".priorities", "priority %d is not 1-5", pr)
			}
			if other, dup := byPrio[pr]; dup {
				return nil, keyErrorf(p+".priorities", "P%d is already escalated by policy %q", pr, other)
			}
			byPrio[pr] = ep.Name
		}
		if ep.Repeat < 0 || ep.Repeat > 100 {
			return nil, keyErrorf(p+".repeat", "must be 0-100")
		}
		if len(ep.Levels) == 0 {
			return nil, keyErrorf(p+".levels", "at least one level is required")
		}
		for k, l := range ep.Levels {
			lp := fmt.Sprintf("%s.levels[%d]", p, k)
			if len(l.Schedules)+len(l.Contacts) == 0 && !l.AssignmentGroup {
				return nil, keyErrorf(lp, "names no schedule, no contact and not the assignment group")
			}
			for _, s := range l.Schedules {
				if tp.Schedules[s] == nil {
					return nil, keyErrorf(lp+".schedules", "unknown schedule %q", s)
				}
			}
			for _, ct := range l.Contacts {
				if _, ok := tp.Contacts[ct]; !ok {
					return nil, keyErrorf(lp+".contacts", "unknown contact %q", ct)
				}
			}
			if l.After < model.Duration(time.Minute) {
				return nil, keyErrorf(lp+".after", "must be at least 1m")
			}
		}
		tp.Policies = append(tp.Policies, ep)
	}
	if err := compileDeliveries(pre, tn, tp, smtp); err != nil {
		return nil, err
	}
	return tp, nil
}

// slaClocks returns the SLA clocks of a tenant's policy.
func (c *Config) slaClocks(tenant string, p PolicyConfig) map[int]incident.SLAClock {
	tp := c.People(tenant)
	if tp == nil || len(p.SLACalendars) == 0 {
		return nil
	}
	out := map[int]incident.SLAClock{}
	for k, name := range p.SLACalendars {
		var prio int
		if _, err := fmt.Sscanf(k, "P%d", &prio); err != nil {
			continue
		}
		if cal := tp.Calendars[name]; cal != nil {
			out[prio] = cal
		}
	}
	return out
}

// validAddress reports whether s is one bare email address (no display name).
func validAddress(s string) bool {
	a, err := mail.ParseAddress(s)
	return err == nil && a.Address == s
}
