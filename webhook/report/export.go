package report

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/kizashi-dev/kizashi/webhook/apitypes"
	"github.com/kizashi-dev/kizashi/webhook/incident"
	"github.com/kizashi-dev/kizashi/webhook/readmodel"
	"github.com/kizashi-dev/kizashi/webhook/store"
)

// Export formats.
const (
	FormatCSV  = "csv"
	FormatJSON = "json"
)

// Export is the audit-trail export of one tenant ("" only for operators: every tenant) over
// [From, To). It is written a page of rows at a time (at most PageSize rows held), each page
// flushed, so a year of journal does not sit in memory.
type Export struct {
	Store    store.Store
	Problems store.Problems
	Tenant   string
	From, To time.Time
	// IncidentID and JournalID map store ids to public ids (nil: as they are).
	IncidentID, JournalID func(int64) int64
	// Flush is called after each page (an http.Flusher's Flush; nil: nothing).
	Flush func()
	Now   time.Time
	// PageSize is the rows read from the store and written per page (0: 500).
	PageSize int
}

func (e *Export) pageSize() int {
	if e.PageSize <= 0 || e.PageSize > 500 {
		return 500
	}
	return e.PageSize
}

func (e *Export) ids() (func(int64) int64, func(int64) int64) {
	same := func(id int64) int64 { return id }
	in, j := e.IncidentID, e.JournalID
	if in == nil {
		in = same
	}
	if j == nil {
		j = same
	}
	return in, j
}

func (e *Export) flush() {
	if e.Flush != nil {
		e.Flush()
	}
}

// incidentColumns are the CSV export's columns of an incident.
var incidentColumns = []string{"id", "tenant", "title", "state", "priority", "impact", "urgency", "category", "ci",
	"assignment_group", "assignee", "correlation_key", "created_at", "acknowledged_at", "resolved_at", "closed_at",
	"response_due", "resolve_due", "response_breached_at", "resolve_breached_at", "close_code", "close_notes",
	"resolved_by", "reopen_count", "flapping", "previous_id"}

// journalColumns are the CSV export's columns of a journal line.
var journalColumns = []string{"id", "incident_id", "tenant", "at", "actor", "kind", "message"}

// Incidents writes the incidents active in the range (created by To, not resolved or closed
// before From), newest first, as CSV (a header, then one row each) or JSON (an array of
// apitypes.Incident).
func (e *Export) Incidents(ctx context.Context, w io.Writer, format string) error {
	pub, _ := e.ids()
	f := store.Filter{Tenant: e.Tenant, ActiveFrom: e.From, ActiveTo: e.To, Limit: e.pageSize()}
	out, err := newSink(w, format, incidentColumns)
	if err != nil {
		return err
	}
	for {
		ins, err := e.Store.ListIncidents(ctx, f)
		if err != nil {
			return err
		}
		for _, in := range ins {
			if err := out.incident(in, pub, e.Now); err != nil {
				return err
			}
		}
		if err := out.page(); err != nil {
			return err
		}
		e.flush()
		if len(ins) < f.Limit {
			return out.end()
		}
		f.BeforeID = ins[len(ins)-1].ID
	}
}

// Journal writes the journal lines written in the range, oldest first, as CSV or JSON (an
// array of apitypes.JournalLine).
func (e *Export) Journal(ctx context.Context, w io.Writer, format string) error {
	pub, jpub := e.ids()
	out, err := newSink(w, format, journalColumns)
	if err != nil {
		return err
	}
	var after int64
	for {
		lines, err := e.Problems.JournalRange(ctx, e.Tenant, e.From, e.To, after, e.pageSize())
		if err != nil {
			return err
		}
		for _, l := range lines {
			if err := out.journal(l, pub, jpub); err != nil {
				return err
			}
		}
		if err := out.page(); err != nil {
			return err
		}
		e.flush()
		if len(lines) < e.pageSize() {
			return out.end()
		}
		after = lines[len(lines)-1].ID
	}
}

// sink writes rows as CSV or as the elements of one JSON array.
type sink struct {
	csv   *csv.Writer
	w     io.Writer
	json  *json.Encoder
	first bool
}

func newSink(w io.Writer, format string, header []string) (*sink, error) {
	switch format {
	case FormatCSV:
		s := &sink{csv: csv.NewWriter(w)}
		return s, s.csv.Write(header)
	case FormatJSON:
		s := &sink{w: w, json: json.NewEncoder(w), first: true}
		_, err := io.WriteString(w, "[")
		return s, err
	default:
		return nil, fmt.Errorf("unknown export format %q (csv or json)", format)
	}
}

func (s *sink) row(v any, cells []string) error {
	if s.csv != nil {
		for i, c := range cells {
			cells[i] = SafeCell(c)
		}
		return s.csv.Write(cells)
	}
	sep := ",\n"
	if s.first {
		sep, s.first = "\n", false
	}
	if _, err := io.WriteString(s.w, sep); err != nil {
		return err
	}
	// Encode writes a newline after the value; the array stays valid JSON.
	return s.json.Encode(v)
}

func (s *sink) page() error {
	if s.csv != nil {
		s.csv.Flush()
		return s.csv.Error()
	}
	return nil
}

func (s *sink) end() error {
	if s.csv != nil {
		s.csv.Flush()
		return s.csv.Error()
	}
	_, err := io.WriteString(s.w, "]\n")
	return err
}

func (s *sink) incident(in *incident.Incident, pub func(int64) int64, now time.Time) error {
	if s.csv == nil {
		a := readmodel.FromIncident(in, now)
		a.ID = pub(in.ID)
		if in.PreviousID != 0 {
			a.PreviousID = pub(in.PreviousID)
		}
		return s.row(a, nil)
	}
	prev := ""
	if in.PreviousID != 0 {
		prev = strconv.FormatInt(pub(in.PreviousID), 10)
	}
	return s.row(nil, []string{strconv.FormatInt(pub(in.ID), 10), in.Tenant, in.Title, string(in.State), strconv.Itoa(in.Priority),
		strconv.Itoa(in.Impact), strconv.Itoa(in.Urgency), in.Category, in.CI, in.AssignmentGroup, in.Assignee, in.CorrelationKey,
		ts(in.CreatedAt), ts(in.AcknowledgedAt), ts(in.ResolvedAt), ts(in.ClosedAt), ts(in.ResponseDue), ts(in.ResolveDue),
		ts(in.ResponseBreachedAt), ts(in.ResolveBreachedAt), in.CloseCode, in.CloseNotes, in.ResolvedBy,
		strconv.Itoa(in.ReopenCount), strconv.FormatBool(in.Flapping), prev})
}

func (s *sink) journal(l incident.Entry, pub, jpub func(int64) int64) error {
	if s.csv == nil {
		return s.row(apitypes.JournalLine{ID: jpub(l.ID), IncidentID: pub(l.IncidentID), Tenant: l.Tenant, At: l.At,
			Actor: l.Actor, Kind: l.Kind, Message: l.Message}, nil)
	}
	return s.row(nil, []string{strconv.FormatInt(jpub(l.ID), 10), strconv.FormatInt(pub(l.IncidentID), 10), l.Tenant, ts(l.At),
		l.Actor, l.Kind, l.Message})
}

func ts(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// SafeCell defuses a CSV cell a spreadsheet would run as a formula (OWASP's CSV injection):
// a cell whose first character is =, +, -, @, a tab or a carriage return — or their
// full-width forms, which Japanese spreadsheets also read as formulas — gets a leading
// apostrophe. Everything else is left as it is, so the data stays exact.
func SafeCell(s string) string {
	if s == "" {
		return s
	}
	switch s[0] {
	case '=', '+', '-', '@', '\t', '\r', '\n':
		return "'" + s
	}
	for _, p := range []string{"＝", "＋", "－", "＠"} {
		if strings.HasPrefix(s, p) {
			return "'" + s
		}
	}
	return s
}
