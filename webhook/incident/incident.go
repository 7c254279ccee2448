package incident

import (
	"maps"
	"time"
)

// Incident is one ITIL incident. Times are UTC; a zero time means "not yet".
type Incident struct {
	ID      int64
	Version int64 // optimistic concurrency: bumped on every update
	Tenant  string
	// CorrelationKey identifies the alert group or alert this incident tracks.
	// At most one non-final incident exists per (Tenant, CorrelationKey).
	CorrelationKey string
	Receiver       string
	GroupKey       string

	Title           string
	State           State
	Impact          int
	Urgency         int
	Priority        int
	Category        string
	CI              string
	AssignmentGroup string
	Assignee        string
	HoldReason      string
	Labels          map[string]string

	CreatedAt      time.Time
	UpdatedAt      time.Time
	AcknowledgedAt time.Time
	ResolvedAt     time.Time
	ClosedAt       time.Time
	LastNotifiedAt time.Time

	ResponseDue        time.Time
	ResolveDue         time.Time
	ResponseBreachedAt time.Time
	ResolveBreachedAt  time.Time
	HoldSince          time.Time
	PausedTotal        time.Duration

	CloseCode  string
	CloseNotes string
	ResolvedBy string

	ReopenCount int
	FlapTimes   []time.Time
	Flapping    bool
	// Touched is set once a person acted on the incident.
	Touched       bool
	MajorProposed bool
	// MuteUntil suppresses re-fires of a canceled (false positive) incident.
	MuteUntil    time.Time
	PreviousID   int64
	FiringAlerts int
}

// Clone returns a deep copy.
func (in *Incident) Clone() *Incident {
	c := *in
	c.Labels = maps.Clone(in.Labels)
	c.FlapTimes = append([]time.Time(nil), in.FlapTimes...)
	return &c
}

// Open reports whether the incident still holds its correlation key.
func (in *Incident) Open() bool { return !in.State.Final() }

// Alert is one alert attached to an incident.
type Alert struct {
	Fingerprint  string
	Status       string
	Labels       map[string]string
	Annotations  map[string]string
	StartsAt     time.Time
	EndsAt       time.Time
	GeneratorURL string
	LastSeenAt   time.Time
}

// Firing reports whether the alert is firing.
func (a Alert) Firing() bool { return a.Status == "firing" }

// Entry kinds of the journal.
const (
	KindNotification = "notification"
	KindCreated      = "created"
	KindState        = "state"
	KindPriority     = "priority"
	KindAssign       = "assign"
	// KindNote is an internal work note: never shown to customers.
	KindNote = "note"
	// KindComment is a comment visible to the tenant's customers (ServiceNow's "additional
	// comments").
	KindComment    = "comment"
	KindSLABreach  = "sla_breach"
	KindMajor      = "major_proposed"
	KindFlapping   = "flapping"
	KindSuppressed = "suppressed"
	KindLinked     = "linked"
	// KindAcknowledged records an acknowledgement that changed no state (the
	// incident was already In Progress or On Hold).
	KindAcknowledged = "acknowledged"
)

// Actors that are not people.
const (
	ActorAlertmanager = "alertmanager"
	ActorSystem       = "system"
)

// Entry is one append-only journal line.
type Entry struct {
	ID         int64
	Tenant     string
	IncidentID int64
	At         time.Time
	Actor      string
	// ActorType says what Actor is: ActorTypeUser, ActorTypeCredential or ActorTypeSystem
	// ("" when written: ActorTypeOf(Actor)).
	ActorType string
	Kind      string
	Message   string
}

// Actor types of the journal.
const (
	// ActorTypeUser: a named person (a configured user, logged in).
	ActorTypeUser = "user"
	// ActorTypeCredential: the owner of a tenant's or operator's credential (a token, a
	// basic-auth user), and lines of earlier releases written by people.
	ActorTypeCredential = "credential"
	// ActorTypeSystem: Alertmanager, the desk's own rules, reconciliation.
	ActorTypeSystem = "system"
)

// SystemActors are the actors that are not people; no user may take their names.
var SystemActors = []string{ActorAlertmanager, ActorSystem, ActorReconciler}

// ActorTypeOf is the type of an actor no caller named: system for SystemActors, else
// credential.
func ActorTypeOf(actor string) string {
	for _, a := range SystemActors {
		if a == actor {
			return ActorTypeSystem
		}
	}
	return ActorTypeCredential
}

// customerKinds are the journal kinds a customer reads: what happened to its incident and the
// comments meant for it; never internal work notes, assignments, raw notifications or the
// desk's bookkeeping.
var customerKinds = map[string]bool{
	KindCreated: true, KindState: true, KindPriority: true, KindSLABreach: true, KindComment: true,
	KindAcknowledged: true, KindLinked: true, KindMajor: true,
}

// CustomerVisible reports whether a journal line of kind is shown to customers.
func CustomerVisible(kind string) bool { return customerKinds[kind] }
