package forwardtest

import (
	"net/http"
	"slices"
	"sync"
	"testing"
)

// PagerDuty operations.
const (
	PDEnqueue = "enqueue"
	PDUnknown = "unknown"
)

// PDEvent is one accepted Events API v2 event.
type PDEvent struct {
	Action, DedupKey, Summary, Severity, Source string
	// RoutingKey is the integration key the event was sent with.
	RoutingKey string
}

// PDAlert is the state of one dedup_key: PagerDuty opens an incident on a
// trigger when none is open; a trigger for an open alert is deduplicated.
type PDAlert struct {
	Status    string // triggered, acknowledged, resolved
	Incidents int    // incidents opened for this dedup_key
	Events    int
}

// PagerDuty is a fake of the Events API v2: POST /v2/enqueue with
// routing_key, event_action (trigger, acknowledge, resolve), dedup_key and,
// for triggers, payload.summary/source/severity. It answers 202 with
// {"status": "success", "message": "Event processed", "dedup_key": ...},
// 400 {"status": "invalid event", "message": ..., "errors": [...]} for
// invalid events, and 429 when told to.
type PagerDuty struct {
	*Server
	// RoutingKey, when set, is the only integration key accepted.
	RoutingKey string

	mu     sync.Mutex
	events []PDEvent
	alerts map[string]*PDAlert
}

// NewPagerDuty starts a fake Events API.
func NewPagerDuty(t testing.TB) *PagerDuty {
	pd := &PagerDuty{alerts: map[string]*PDAlert{}}
	pd.Server = newServer(t, func(r *http.Request) string {
		if r.URL.Path == "/v2/enqueue" && r.Method == http.MethodPost {
			return PDEnqueue
		}
		return PDUnknown
	}, pd.handle)
	return pd
}

// Events returns the accepted events.
func (pd *PagerDuty) Events() []PDEvent {
	pd.mu.Lock()
	defer pd.mu.Unlock()
	return append([]PDEvent(nil), pd.events...)
}

// Alerts returns the state per dedup_key.
func (pd *PagerDuty) Alerts() map[string]PDAlert {
	pd.mu.Lock()
	defer pd.mu.Unlock()
	out := map[string]PDAlert{}
	for k, a := range pd.alerts {
		out[k] = *a
	}
	return out
}

func pdInvalid(w http.ResponseWriter, errs ...string) {
	writeJSON(w, http.StatusBadRequest, map[string]any{"status": "invalid event", "message": "Event object is invalid", "errors": errs})
}

func (pd *PagerDuty) handle(op string, w http.ResponseWriter, r *http.Request) {
	if op != PDEnqueue {
		writeJSON(w, http.StatusNotFound, map[string]string{"status": "not found"})
		return
	}
	var ev struct {
		RoutingKey  string `json:"routing_key"`
		EventAction string `json:"event_action"`
		DedupKey    string `json:"dedup_key"`
		Payload     *struct {
			Summary  string `json:"summary"`
			Source   string `json:"source"`
			Severity string `json:"severity"`
		} `json:"payload"`
	}
	if err := decode(r, &ev); err != nil {
		pdInvalid(w, err.Error())
		return
	}
	var errs []string
	if ev.RoutingKey == "" || pd.RoutingKey != "" && ev.RoutingKey != pd.RoutingKey {
		errs = append(errs, "'routing_key' is invalid")
	}
	if !slices.Contains([]string{"trigger", "acknowledge", "resolve"}, ev.EventAction) {
		errs = append(errs, "'event_action' is invalid (must be one of: trigger, acknowledge, resolve)")
	}
	if ev.EventAction != "trigger" && ev.DedupKey == "" {
		errs = append(errs, "'dedup_key' is missing and required for acknowledge and resolve")
	}
	if ev.EventAction == "trigger" {
		switch {
		case ev.Payload == nil:
			errs = append(errs, "'payload' is missing or blank")
		case ev.Payload.Summary == "" || ev.Payload.Source == "":
			errs = append(errs, "'payload.summary' and 'payload.source' are required")
		case !slices.Contains([]string{"critical", "error", "warning", "info"}, ev.Payload.Severity):
			errs = append(errs, "'payload.severity' is invalid (must be one of: critical, error, warning, info)")
		}
	}
	if len(errs) > 0 {
		pdInvalid(w, errs...)
		return
	}
	pd.mu.Lock()
	if ev.DedupKey == "" {
		ev.DedupKey = newSysID()
	}
	e := PDEvent{Action: ev.EventAction, DedupKey: ev.DedupKey, RoutingKey: ev.RoutingKey}
	if ev.Payload != nil {
		e.Summary, e.Severity, e.Source = ev.Payload.Summary, ev.Payload.Severity, ev.Payload.Source
	}
	pd.events = append(pd.events, e)
	a := pd.alerts[ev.DedupKey]
	if a == nil {
		a = &PDAlert{}
		pd.alerts[ev.DedupKey] = a
	}
	a.Events++
	switch ev.EventAction {
	case "trigger":
		if a.Status != "triggered" && a.Status != "acknowledged" {
			a.Incidents++
			a.Status = "triggered"
		}
	case "acknowledge":
		if a.Status == "triggered" {
			a.Status = "acknowledged"
		}
	case "resolve":
		if a.Status == "triggered" || a.Status == "acknowledged" {
			a.Status = "resolved"
		}
	}
	pd.mu.Unlock()
	writeJSON(w, http.StatusAccepted, map[string]string{"status": "success", "message": "Event processed", "dedup_key": ev.DedupKey})
}
