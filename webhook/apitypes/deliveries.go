package apitypes

import "time"

// DeliveriesPath: GET answers DeliveriesResponse, the record of the once-per-period
// deliveries (query: kind service_report or update_reminder, required; ParamTenant for
// operators; newest first, at most 500).
const DeliveriesPath = "/api/v1/deliveries"

// Delivery is the record of one scheduled delivery: a month's report mail or the reminder of
// a customer update due at a time.
type Delivery struct {
	Kind    string `json:"kind"`
	Tenant  string `json:"tenant"`
	Subject string `json:"subject,omitempty"`
	Period  string `json:"period"`
	// Outcome is "" while pending, else sent or failed.
	Outcome   string    `json:"outcome"`
	DueAt     time.Time `json:"due_at"`
	DoneAt    time.Time `json:"done_at,omitzero"`
	Attempts  int       `json:"attempts"`
	Delivered []string  `json:"delivered"`
	Note      string    `json:"note,omitempty"`
	LastError string    `json:"last_error,omitempty"`
}

// DeliveriesResponse is GET DeliveriesPath.
type DeliveriesResponse struct {
	Deliveries []Delivery `json:"deliveries"`
}
