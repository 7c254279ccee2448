package store

import (
	"context"
	"time"

	"github.com/kizashi-dev/kizashi/webhook/i18n"
	"github.com/kizashi-dev/kizashi/webhook/incident"
)

// Problem management (ITIL): problems, the incidents they link, suppressed (won't-fix) keys,
// major incidents with their customer updates and post-incident reviews. The SQL stores
// implement Problems next to Store; the rules (when a problem is proposed, what a known error
// does) are package problem's.

// ErrExists is returned when an open problem already covers the same subject (a correlation
// key or a CI) of the tenant, or an incident is already declared major.
var ErrExists = i18n.New("already exists")

// Incident journal kinds written by problem management.
const (
	KindMajorDeclared  = "major_declared"
	KindMajor          = "major"
	KindCustomerUpdate = "customer_update"
	KindKnownError     = "known_error"
	KindProblem        = "problem"
)

// Problem states.
const (
	ProblemOpen     = "open"
	ProblemResolved = "resolved"
	ProblemClosed   = "closed"
)

// Problem scopes: what a problem is about.
const (
	ScopeNone = ""    // created by hand about nothing in particular
	ScopeKey  = "key" // a correlation key
	ScopeCI   = "ci"  // a service / configuration item
)

// Problem origins.
const (
	OriginManual     = "manual"
	OriginRecurrence = "recurrence"
	OriginFlapping   = "flapping"
	OriginReview     = "review" // a major incident's post-incident review
)

// Problem is one problem record.
type Problem struct {
	ID      int64
	Tenant  string
	Title   string
	State   string
	Origin  string
	Scope   string
	Subject string // the correlation key or the CI; "" with ScopeNone
	// RootCause, Workaround and KnownError: a known error's workaround annotates the new
	// incidents of its subject.
	RootCause  string
	Workaround string
	KnownError bool
	CreatedBy  string
	CreatedAt  time.Time
	UpdatedAt  time.Time
	ResolvedAt time.Time
	ClosedAt   time.Time
}

// ProblemEntry is one line of the problem journal (problems and suppressions).
type ProblemEntry struct {
	ID        int64
	Tenant    string
	ProblemID int64  // 0 for a suppression
	Subject   string // the suppressed key, or the problem's subject
	At        time.Time
	Actor     string
	Kind      string
	Message   string
}

// ProblemFilter selects problems, newest first.
type ProblemFilter struct {
	Tenant   string // "" = all (operators)
	OpenOnly bool   // not closed
	Scope    string
	Subject  string
	// KnownError keeps known errors only.
	KnownError bool
	// Created in [From, To); zero = unbounded.
	From, To time.Time
	Limit    int
}

// Suppression holds a key back from problem proposals (won't fix) until a time.
type Suppression struct {
	Tenant    string
	Key       string
	Until     time.Time
	Reason    string
	Actor     string
	CreatedAt time.Time
}

// MajorIncident is an incident declared major.
type MajorIncident struct {
	Tenant      string
	IncidentID  int64
	DeclaredAt  time.Time
	DeclaredBy  string
	Coordinator string
	// UpdateEvery is the cadence of customer updates; NextUpdateDue the next one due.
	UpdateEvery   time.Duration
	LastUpdateAt  time.Time
	NextUpdateDue time.Time
	EndedAt       time.Time
	// The post-incident review: a summary and the problem it is linked to.
	ReviewSummary string
	ReviewBy      string
	ReviewAt      time.Time
	ProblemID     int64
}

// MajorUpdate is one customer update of a major incident.
type MajorUpdate struct {
	ID         int64
	Tenant     string
	IncidentID int64
	At         time.Time
	Actor      string
	Message    string
}

// Problems is the store side of problem management and of the audit-trail export.
type Problems interface {
	// CreateProblem inserts p (setting its ID), links incidents and journals e. ErrExists when
	// an open problem of the tenant has the same scope and subject (not ScopeNone).
	CreateProblem(ctx context.Context, p *Problem, incidents []int64, e ProblemEntry) error
	// UpdateProblem writes p's fields and journals e.
	UpdateProblem(ctx context.Context, p *Problem, e ProblemEntry) error
	// Problem returns a problem; tenant "" matches any. ErrNotFound.
	Problem(ctx context.Context, tenant string, id int64) (*Problem, error)
	ListProblems(ctx context.Context, f ProblemFilter) ([]*Problem, error)
	// LinkIncident links an incident to a problem; it reports false when it was linked
	// already. With note non-nil (a known error's workaround), note is appended to the
	// incident's journal in the same transaction, only when the link is new.
	LinkIncident(ctx context.Context, tenant string, problemID, incidentID int64, at time.Time, note *incident.Entry) (bool, error)
	// ProblemIncidents lists the ids of a problem's incidents, ascending.
	ProblemIncidents(ctx context.Context, problemID int64) ([]int64, error)
	// IncidentProblems lists the problems an incident is linked to.
	IncidentProblems(ctx context.Context, incidentID int64) ([]int64, error)
	ProblemJournal(ctx context.Context, tenant string, problemID int64) ([]ProblemEntry, error)

	// Suppress sets (or replaces) a key's suppression and journals e.
	Suppress(ctx context.Context, s Suppression, e ProblemEntry) error
	// Suppressed returns the key's suppression in force at now, or nil.
	Suppressed(ctx context.Context, tenant, key string, now time.Time) (*Suppression, error)
	Suppressions(ctx context.Context, tenant string, now time.Time) ([]Suppression, error)

	// RecurringIncidents lists the ids (ascending) of the tenant's incidents whose
	// correlation key (ScopeKey) or CI (ScopeCI) is subject, created in [from, to].
	RecurringIncidents(ctx context.Context, tenant, scope, subject string, from, to time.Time) ([]int64, error)
	// IncidentsAfter lists incidents by id (store row id) above afterID, ascending.
	IncidentsAfter(ctx context.Context, afterID int64, limit int) ([]*incident.Incident, error)
	// FlappingIncidents lists open incidents marked flapping.
	FlappingIncidents(ctx context.Context, limit int) ([]*incident.Incident, error)
	// Cursor reads and SetCursor writes a named position (the detector's last incident).
	Cursor(ctx context.Context, name string) (int64, error)
	SetCursor(ctx context.Context, name string, v int64) error

	// DeclareMajor declares an incident major (ErrExists if it is) and journals on the
	// incident.
	DeclareMajor(ctx context.Context, m MajorIncident, e incident.Entry) error
	// UpdateMajor writes a major incident's coordinator, cadence, due time, end and review,
	// and journals e on the incident.
	UpdateMajor(ctx context.Context, m MajorIncident, e incident.Entry) error
	Major(ctx context.Context, tenant string, incidentID int64) (*MajorIncident, error)
	// ListMajors lists major incidents declared in [from, to) (zero: unbounded); with
	// dueAt non-zero, only those not ended whose next update is due at dueAt.
	ListMajors(ctx context.Context, tenant string, from, to, dueAt time.Time) ([]MajorIncident, error)
	// AddMajorUpdate records a customer update, sets the next one due and journals it on the
	// incident.
	AddMajorUpdate(ctx context.Context, u *MajorUpdate, next time.Time) error
	MajorUpdates(ctx context.Context, tenant string, incidentID int64) ([]MajorUpdate, error)

	// JournalRange lists the tenant's incident journal lines written in [from, to), by id
	// above afterID, ascending (tenant "" = all).
	JournalRange(ctx context.Context, tenant string, from, to time.Time, afterID int64, limit int) ([]incident.Entry, error)
}
