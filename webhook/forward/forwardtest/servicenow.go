package forwardtest

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// ServiceNow operations (for faults and counts).
const (
	SNFind     = "find"
	SNCreate   = "create"
	SNGet      = "get"
	SNUpdate   = "update"
	SNJournal  = "journal"
	SNNotFound = "unknown"
)

// SNRecord is an incident record of the fake instance.
type SNRecord struct {
	Fields map[string]string
	// WorkNotes in the order they were added.
	WorkNotes []string
	Created   time.Time
}

// ServiceNow is a fake ServiceNow instance: the Table API on the incident
// table (POST, GET with sysparm_query, GET by sys_id, PATCH) and read access
// to sys_journal_field, with basic auth when User is set. Answers follow the
// Table API: {"result": {...}} or {"result": [...]}, 201 on create, errors
// as {"error": {"message", "detail"}, "status": "failure"}; resolving needs
// close_code and close_notes (the default data policy).
type ServiceNow struct {
	*Server
	User, Password string

	mu      sync.Mutex
	records []*SNRecord
	seq     int
}

// NewServiceNow starts a fake instance.
func NewServiceNow(t testing.TB) *ServiceNow {
	sn := &ServiceNow{}
	sn.Server = newServer(t, sn.route, sn.handle)
	return sn
}

func (sn *ServiceNow) route(r *http.Request) string {
	p := r.URL.Path
	switch {
	case p == "/api/now/table/incident" && r.Method == http.MethodPost:
		return SNCreate
	case p == "/api/now/table/incident" && r.Method == http.MethodGet:
		return SNFind
	case strings.HasPrefix(p, "/api/now/table/incident/") && r.Method == http.MethodGet:
		return SNGet
	case strings.HasPrefix(p, "/api/now/table/incident/") && (r.Method == http.MethodPatch || r.Method == http.MethodPut):
		return SNUpdate
	case p == "/api/now/table/sys_journal_field" && r.Method == http.MethodGet:
		return SNJournal
	}
	return SNNotFound
}

func snError(w http.ResponseWriter, code int, msg, detail string) {
	writeJSON(w, code, map[string]any{"error": map[string]string{"message": msg, "detail": detail}, "status": "failure"})
}

func newSysID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Records returns copies of the records.
func (sn *ServiceNow) Records() []SNRecord {
	sn.mu.Lock()
	defer sn.mu.Unlock()
	out := make([]SNRecord, len(sn.records))
	for i, r := range sn.records {
		f := make(map[string]string, len(r.Fields))
		for k, v := range r.Fields {
			f[k] = v
		}
		out[i] = SNRecord{Fields: f, WorkNotes: append([]string(nil), r.WorkNotes...), Created: r.Created}
	}
	return out
}

// ByCorrelation groups the records by correlation_id.
func (sn *ServiceNow) ByCorrelation() map[string][]SNRecord {
	out := map[string][]SNRecord{}
	for _, r := range sn.Records() {
		out[r.Fields["correlation_id"]] = append(out[r.Fields["correlation_id"]], r)
	}
	return out
}

func (sn *ServiceNow) handle(op string, w http.ResponseWriter, r *http.Request) {
	if sn.User != "" {
		if u, p, ok := r.BasicAuth(); !ok || u != sn.User || p != sn.Password {
			snError(w, http.StatusUnauthorized, "User Not Authenticated", "Required to provide Auth information")
			return
		}
	}
	switch op {
	case SNCreate:
		sn.create(w, r)
	case SNFind:
		sn.find(w, r)
	case SNGet:
		sn.get(w, r)
	case SNUpdate:
		sn.update(w, r)
	case SNJournal:
		sn.journal(w, r)
	default:
		snError(w, http.StatusBadRequest, "Invalid table", r.URL.Path)
	}
}

// fields selects sysparm_fields of a record (all when unset).
func fields(r *http.Request, rec *SNRecord) map[string]string {
	out := map[string]string{}
	want := r.URL.Query().Get("sysparm_fields")
	for k, v := range rec.Fields {
		if want == "" || slices.Contains(strings.Split(want, ","), k) {
			out[k] = v
		}
	}
	return out
}

var snFieldNames = []string{"short_description", "description", "impact", "urgency", "priority", "state", "category",
	"cmdb_ci", "caller_id", "assignment_group", "assigned_to", "correlation_id", "correlation_display", "hold_reason",
	"close_code", "close_notes", "contact_type", "subcategory", "work_notes", "comments"}

func (sn *ServiceNow) apply(rec *SNRecord, body map[string]any) (int, string) {
	next := map[string]string{}
	for k, v := range rec.Fields {
		next[k] = v
	}
	var note string
	for k, v := range body {
		if !slices.Contains(snFieldNames, k) {
			continue // the Table API ignores unknown fields
		}
		s := fmt.Sprint(v)
		if k == "work_notes" {
			note = s
			continue
		}
		next[k] = s
	}
	if st := next["state"]; st == "6" || st == "7" {
		if next["close_code"] == "" || next["close_notes"] == "" {
			return http.StatusForbidden, "Data Policy Exception: the following fields are mandatory: Resolution code, Resolution notes"
		}
	}
	i, _ := strconv.Atoi(next["impact"])
	u, _ := strconv.Atoi(next["urgency"])
	if i >= 1 && i <= 3 && u >= 1 && u <= 3 {
		next["priority"] = strconv.Itoa(min(5, i+u-1))
	}
	rec.Fields = next
	if note != "" {
		rec.WorkNotes = append(rec.WorkNotes, note)
	}
	return 0, ""
}

func (sn *ServiceNow) create(w http.ResponseWriter, r *http.Request) {
	var body map[string]any
	if err := decode(r, &body); err != nil {
		snError(w, http.StatusBadRequest, "Exception while reading request", err.Error())
		return
	}
	sn.mu.Lock()
	defer sn.mu.Unlock()
	sn.seq++
	rec := &SNRecord{Fields: map[string]string{"sys_id": newSysID(), "number": fmt.Sprintf("INC%07d", 10000+sn.seq),
		"state": "1", "impact": "3", "urgency": "3"}, Created: time.Now()}
	if code, msg := sn.apply(rec, body); code != 0 {
		sn.seq--
		snError(w, code, "Operation Failed", msg)
		return
	}
	sn.records = append(sn.records, rec)
	w.Header().Set("Location", "http://"+r.Host+"/api/now/table/incident/"+rec.Fields["sys_id"])
	writeJSON(w, http.StatusCreated, map[string]any{"result": fields(r, rec)})
}

// matches evaluates an encoded query (field=value, fieldLIKEvalue,
// ORDERBY..., joined by ^) on a record's fields.
func matches(query string, get func(string) string) bool {
	for _, term := range strings.Split(query, "^") {
		switch {
		case term == "" || strings.HasPrefix(term, "ORDERBY"):
		case strings.Contains(term, "LIKE"):
			k, v, _ := strings.Cut(term, "LIKE")
			if !strings.Contains(get(k), v) {
				return false
			}
		case strings.Contains(term, "="):
			k, v, _ := strings.Cut(term, "=")
			if get(k) != v {
				return false
			}
		default:
			return false
		}
	}
	return true
}

func limit(r *http.Request, n int) int {
	if l, err := strconv.Atoi(r.URL.Query().Get("sysparm_limit")); err == nil && l >= 0 && l < n {
		return l
	}
	return n
}

func (sn *ServiceNow) find(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query().Get("sysparm_query")
	sn.mu.Lock()
	defer sn.mu.Unlock()
	out := []map[string]string{}
	for _, rec := range sn.records {
		if matches(q, func(k string) string { return rec.Fields[k] }) {
			out = append(out, fields(r, rec))
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"result": out[:limit(r, len(out))]})
}

func (sn *ServiceNow) lookup(r *http.Request) (*SNRecord, error) {
	id := strings.TrimPrefix(r.URL.Path, "/api/now/table/incident/")
	for _, rec := range sn.records {
		if rec.Fields["sys_id"] == id {
			return rec, nil
		}
	}
	return nil, errNotFound
}

func (sn *ServiceNow) get(w http.ResponseWriter, r *http.Request) {
	sn.mu.Lock()
	defer sn.mu.Unlock()
	rec, err := sn.lookup(r)
	if err != nil {
		snError(w, http.StatusNotFound, "No Record found", "Record doesn't exist or ACL restricts the record retrieval")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"result": fields(r, rec)})
}

func (sn *ServiceNow) update(w http.ResponseWriter, r *http.Request) {
	var body map[string]any
	if err := decode(r, &body); err != nil {
		snError(w, http.StatusBadRequest, "Exception while reading request", err.Error())
		return
	}
	sn.mu.Lock()
	defer sn.mu.Unlock()
	rec, err := sn.lookup(r)
	if err != nil {
		snError(w, http.StatusNotFound, "No Record found", "Record doesn't exist or ACL restricts the record retrieval")
		return
	}
	if code, msg := sn.apply(rec, body); code != 0 {
		snError(w, code, "Operation Failed", msg)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"result": fields(r, rec)})
}

// journal serves sys_journal_field rows of work notes (newest first).
func (sn *ServiceNow) journal(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query().Get("sysparm_query")
	sn.mu.Lock()
	defer sn.mu.Unlock()
	out := []map[string]string{}
	for _, rec := range sn.records {
		for i := len(rec.WorkNotes) - 1; i >= 0; i-- {
			row := map[string]string{"element_id": rec.Fields["sys_id"], "element": "work_notes", "name": "incident",
				"value": rec.WorkNotes[i]}
			if matches(q, func(k string) string { return row[k] }) {
				out = append(out, row)
			}
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"result": out[:limit(r, len(out))]})
}
