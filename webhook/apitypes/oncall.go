package apitypes

import "time"

// Paths of the on-call API: GET OnCallPath answers OnCallResponse (who is on call now in each
// schedule the caller sees); GET OnCallPath/{schedule}/shifts answers ShiftsResponse (query
// from, to: RFC 3339, default now to 14 days later, at most 366 days); GET
// OnCallPath/{schedule}/calendar.ics answers the schedule's shifts as iCalendar (RFC 5545)
// from 7 days ago to 8 weeks ahead. Operators name the tenant with ParamTenant for a
// schedule's shifts and calendar.
const OnCallPath = "/api/v1/oncall"

// Shift is one person's time on call.
type Shift struct {
	Contact     string `json:"contact"`
	DisplayName string `json:"display_name,omitempty"`
	// User is the user account the contact stands for ("" until accounts are mapped).
	User     string    `json:"user,omitempty"`
	Start    time.Time `json:"start"`
	End      time.Time `json:"end"`
	Override bool      `json:"override"`
}

// Schedule is a schedule and who is on call in it.
type Schedule struct {
	Tenant   string `json:"tenant"`
	Name     string `json:"name"`
	TimeZone string `json:"time_zone"`
	Handoff  string `json:"handoff"` // daily | weekly
	Now      Shift  `json:"now"`
	Next     Shift  `json:"next"`
}

// OnCallResponse is GET /api/v1/oncall.
type OnCallResponse struct {
	At        time.Time  `json:"at"`
	Schedules []Schedule `json:"schedules"`
}

// ShiftsResponse is GET /api/v1/oncall/{schedule}/shifts.
type ShiftsResponse struct {
	Tenant   string    `json:"tenant"`
	Schedule string    `json:"schedule"`
	From     time.Time `json:"from"`
	To       time.Time `json:"to"`
	Shifts   []Shift   `json:"shifts"`
}

// On-call overrides made through the API: GET OnCallPath/{schedule}/overrides answers
// OverridesResponse (the schedule's stored overrides that have not ended); POST it with an
// OverrideRequest creates one (201, Override); DELETE OnCallPath/{schedule}/overrides/{id}
// deletes one (200, the deleted Override). Creating and deleting need an operator or admin
// credential (who name the tenant with ParamTenant); overrides of the configuration file are
// not listed here (they show in shifts and calendars alike).

// OverrideRequest puts Contact on call in a schedule for [From, To).
type OverrideRequest struct {
	Contact string    `json:"contact"`
	From    time.Time `json:"from"`
	To      time.Time `json:"to"`
	Reason  string    `json:"reason,omitempty"`
}

// Override is a stored override.
type Override struct {
	ID        int64     `json:"id"`
	Tenant    string    `json:"tenant"`
	Schedule  string    `json:"schedule"`
	Contact   string    `json:"contact"`
	From      time.Time `json:"from"`
	To        time.Time `json:"to"`
	Reason    string    `json:"reason,omitempty"`
	CreatedBy string    `json:"created_by"`
	CreatedAt time.Time `json:"created_at"`
}

// OverridesResponse is GET OnCallPath/{schedule}/overrides.
type OverridesResponse struct {
	Tenant    string     `json:"tenant"`
	Schedule  string     `json:"schedule"`
	Overrides []Override `json:"overrides"`
}
