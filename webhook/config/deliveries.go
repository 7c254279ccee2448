package config

import (
	"slices"
	"time"
)

// UpdateRemindersConfig is a tenant's notify.update_reminders: when a customer update of a
// major incident is due, its coordinator (a contact named like it, or whose user is it) and
// the on-call of Schedules are reminded through their channels, once per due time.
type UpdateRemindersConfig struct {
	// Coordinator reminds the major incident's coordinator (default true).
	Coordinator *bool    `yaml:"coordinator"`
	Schedules   []string `yaml:"schedules"`
	Contacts    []string `yaml:"contacts"`
}

// UpdateReminders is the compiled update_reminders.
type UpdateReminders struct {
	Coordinator bool
	Schedules   []string
	Contacts    []string
}

// ServiceReportConfig is a tenant's notify.service_report: the monthly service report mailed
// to Recipients on Day of the month at Time in TimeZone, about the month before.
type ServiceReportConfig struct {
	Recipients []string `yaml:"recipients"`
	// Lang: en (default) or ja.
	Lang string `yaml:"lang"`
	// TimeZone of the month and of the sending time (default UTC).
	TimeZone string `yaml:"time_zone"`
	// Day of the month 1-28 (default 1).
	Day int `yaml:"day"`
	// Time HH:MM (default 08:00).
	Time string `yaml:"time"`
	// Format: pdf (default: attached, with the HTML as body; HTML only when Chromium is
	// missing) or html (the report as the body).
	Format string `yaml:"format"`
}

// ServiceReport is the compiled service_report.
type ServiceReport struct {
	Recipients []string
	Lang       string
	Location   *time.Location
	Day        int
	// At is the sending time since midnight.
	At     time.Duration
	Format string
}

// Service report formats.
const (
	ReportPDF  = "pdf"
	ReportHTML = "html"
)

func compileDeliveries(pre string, tn TenantNotify, tp *TenantPeople, smtp bool) error {
	if ur := tn.UpdateReminders; ur != nil {
		p := pre + ".update_reminders"
		out := &UpdateReminders{Coordinator: ur.Coordinator == nil || *ur.Coordinator, Schedules: ur.Schedules, Contacts: ur.Contacts}
		for _, s := range ur.Schedules {
			if tp.Schedules[s] == nil {
				return keyErrorf(p+".schedules", "unknown schedule %q", s)
			}
		}
		for _, c := range ur.Contacts {
			if _, ok := tp.Contacts[c]; !ok {
				return keyErrorf(p+".contacts", "unknown contact %q", c)
			}
		}
		if !out.Coordinator && len(out.Schedules)+len(out.Contacts) == 0 {
			return keyErrorf(p, "reminds nobody: name schedules or contacts, or leave coordinator true")
		}
		tp.UpdateReminders = out
	}
	sr := tn.ServiceReport
	if sr == nil {
		return nil
	}
	p := pre + ".service_report"
	if !smtp {
		return keyErrorf(p, "mails the report: notify.smtp is required")
	}
	if len(sr.Recipients) == 0 {
		return keyErrorf(p+".recipients", "at least one address is required")
	}
	for _, r := range sr.Recipients {
		if !validAddress(r) {
			return keyErrorf(p+".recipients", "%q is not an email address", r)
		}
	}
	out := &ServiceReport{Recipients: slices.Clone(sr.Recipients), Lang: sr.Lang, Day: sr.Day, Format: sr.Format, Location: time.UTC, At: 8 * time.Hour}
	switch out.Lang {
	case "":
		out.Lang = "en"
	case "en", "ja":
	default:
		return keyErrorf(p+".lang", "must be en or ja, not %q", sr.Lang)
	}
	if out.Day == 0 {
		out.Day = 1
	}
	if out.Day < 1 || out.Day > 28 {
		return keyErrorf(p+".day", "must be 1-28 (every month has it)")
	}
	if sr.TimeZone != "" {
		loc, err := time.LoadLocation(sr.TimeZone)
		if err != nil {
			return keyErrorf(p+".time_zone", "%v", err)
		}
		out.Location = loc
	}
	if sr.Time != "" {
		t, err := time.Parse("15:04", sr.Time)
		if err != nil {
			return keyErrorf(p+".time", "must be HH:MM, not %q", sr.Time)
		}
		out.At = time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute
	}
	switch out.Format {
	case "":
		out.Format = ReportPDF
	case ReportPDF, ReportHTML:
	default:
		return keyErrorf(p+".format", "must be pdf or html, not %q", sr.Format)
	}
	tp.ServiceReport = out
	return nil
}
