// Package servicenow is the ServiceNow integration of the forwarders: one record of the Table
// API's incident table per incident.
package servicenow

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kizashi-dev/kizashi/webhook/config"
	"github.com/kizashi-dev/kizashi/webhook/forward"
	"github.com/kizashi-dev/kizashi/webhook/incident"
	"github.com/kizashi-dev/kizashi/webhook/sanitize"
	"github.com/kizashi-dev/kizashi/webhook/store"
)

// Target keeps one record of the Table API's incident table per
// incident: POST creates it (correlation_id holds our correlation id, so
// GET ?sysparm_query=correlation_id=... finds it again), PATCH sets state,
// impact, urgency, assignment group, hold reason and close code and appends
// work notes; sys_journal_field is read back after an uncertain attempt.
type Target struct {
	c    *forward.Client
	base string
	cfg  *config.ServiceNowConfig
}

// New returns the ServiceNow target of an instance URL.
func New(c *http.Client, baseURL string, cfg *config.ServiceNowConfig, now func() time.Time) *Target {
	return &Target{c: &forward.Client{HTTP: c, Now: now}, base: strings.TrimSuffix(baseURL, "/"), cfg: cfg}
}

type snRecord struct {
	SysID  string `json:"sys_id"`
	Number string `json:"number"`
	State  string `json:"state"`
}

// ServiceNow incident states and hold reasons (choice values).
var (
	snStates = map[incident.State]string{
		incident.StateNew: "1", incident.StateInProgress: "2", incident.StateOnHold: "3",
		incident.StateResolved: "6", incident.StateClosed: "7", incident.StateCanceled: "8",
	}
	snHoldReasons = map[string]string{"awaiting_caller": "1", "awaiting_problem": "3", "awaiting_vendor": "4", "awaiting_change": "5"}
)

func (t *Target) tableURL(query url.Values, path ...string) string {
	u := t.base + "/api/now/table/" + url.PathEscape(t.cfg.Table)
	for _, p := range path {
		u += "/" + url.PathEscape(p)
	}
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	return u
}

func (t *Target) ref(r snRecord) store.ExternalRef {
	return store.ExternalRef{ID: r.SysID, Key: r.Number, URL: t.base + "/" + t.cfg.Table + ".do?sys_id=" + url.QueryEscape(r.SysID)}
}

// Sync implements forward.Target.
func (t *Target) Sync(ctx context.Context, s *forward.Sync) (forward.Result, error) {
	res := forward.Result{Ref: s.Ref, RemoteState: s.RemoteState, JournalThrough: s.SyncedJournalID}
	uncertain := s.Uncertain
	fields := t.fields(s.Incident)
	state := fingerprint(fields)
	if res.Ref.ID == "" {
		var (
			rec   snRecord
			found bool
			err   error
		)
		if !s.FirstAttempt {
			if rec, found, err = t.find(ctx, s.CorrelationID); err != nil {
				return res, err
			}
		}
		if !found {
			// One request: the record is created as the incident is now,
			// with its journal as the first work note.
			text, through, more := forward.Note(s.CorrelationID, s.Journal, s.SyncedJournalID)
			if rec, err = t.create(ctx, s, fields, text); err != nil {
				return res, err
			}
			res.Ref = t.ref(rec)
			if err := s.SaveRef(ctx, res.Ref); err != nil {
				return res, err
			}
			res.RemoteState, res.JournalThrough, res.More = state, through, more
			return res, nil
		}
		uncertain = true // adopted: an earlier attempt created it
		res.Ref = t.ref(rec)
		if err := s.SaveRef(ctx, res.Ref); err != nil {
			return res, err
		}
	}
	after := s.SyncedJournalID
	if uncertain {
		n, err := t.notesThrough(ctx, res.Ref.ID, s.CorrelationID)
		if err != nil {
			return res, err
		}
		after = max(after, n)
	}
	text, through, more := forward.Note(s.CorrelationID, s.Journal, after)
	body := map[string]string{}
	if state != s.RemoteState {
		for k, v := range fields {
			body[k] = v
		}
	}
	if text != "" {
		body["work_notes"] = text
	}
	if len(body) > 0 {
		q := url.Values{"sysparm_input_display_value": {"true"}, "sysparm_fields": {"sys_id,number,state"}}
		var out struct {
			Result snRecord `json:"result"`
		}
		if _, err := t.c.Do(ctx, "servicenow: update "+res.Ref.Key, http.MethodPatch, t.tableURL(q, res.Ref.ID), nil, body, &out); err != nil {
			return res, err
		}
	}
	res.RemoteState, res.JournalThrough, res.More = state, through, more
	return res, nil
}

func (t *Target) find(ctx context.Context, cid string) (snRecord, bool, error) {
	q := url.Values{
		"sysparm_query":  {"correlation_id=" + cid + "^ORDERBYsys_created_on"},
		"sysparm_fields": {"sys_id,number,state"},
		"sysparm_limit":  {"1"},
	}
	var out struct {
		Result []snRecord `json:"result"`
	}
	if _, err := t.c.Do(ctx, "servicenow: find "+cid, http.MethodGet, t.tableURL(q), nil, nil, &out); err != nil {
		return snRecord{}, false, err
	}
	if len(out.Result) == 0 || out.Result[0].SysID == "" {
		return snRecord{}, false, nil
	}
	return out.Result[0], true, nil
}

func (t *Target) create(ctx context.Context, s *forward.Sync, fields map[string]string, workNote string) (snRecord, error) {
	in := s.Incident
	body := map[string]string{
		"short_description":   sanitize.Text(in.Title, 160),
		"description":         forward.Description(s),
		"correlation_id":      s.CorrelationID,
		"correlation_display": t.cfg.CorrelationDisplay,
	}
	for k, v := range fields {
		body[k] = v
	}
	if workNote != "" {
		body["work_notes"] = workNote
	}
	if in.CI != "" {
		body["cmdb_ci"] = in.CI
	}
	if t.cfg.CallerID != "" {
		body["caller_id"] = t.cfg.CallerID
	}
	q := url.Values{"sysparm_input_display_value": {"true"}, "sysparm_fields": {"sys_id,number,state"}}
	var out struct {
		Result snRecord `json:"result"`
	}
	if _, err := t.c.Do(ctx, "servicenow: create "+s.CorrelationID, http.MethodPost, t.tableURL(q), nil, body, &out); err != nil {
		return snRecord{}, err
	}
	if out.Result.SysID == "" {
		return snRecord{}, &forward.Error{Kind: forward.Retry, Reason: forward.ReasonBadResponse, Err: fmt.Errorf("servicenow: create %s: no sys_id in the answer", s.CorrelationID)}
	}
	return out.Result, nil
}

// notesThrough reads back the work notes of a record that hold our marker.
func (t *Target) notesThrough(ctx context.Context, sysID, cid string) (int64, error) {
	q := url.Values{
		"sysparm_query":  {"element_id=" + sysID + "^element=work_notes^valueLIKE[kizashi " + cid + " journal ^ORDERBYDESCsys_created_on"},
		"sysparm_fields": {"value"},
		"sysparm_limit":  {"20"},
	}
	var out struct {
		Result []struct {
			Value string `json:"value"`
		} `json:"result"`
	}
	u := t.base + "/api/now/table/sys_journal_field?" + q.Encode()
	if _, err := t.c.Do(ctx, "servicenow: read work notes", http.MethodGet, u, nil, nil, &out); err != nil {
		return 0, err
	}
	texts := make([]string, len(out.Result))
	for i, r := range out.Result {
		texts[i] = r.Value
	}
	return forward.NotesThrough(cid, texts...), nil
}

func (t *Target) group(in *incident.Incident) string {
	if t.cfg.AssignmentGroup != "" {
		return t.cfg.AssignmentGroup
	}
	return in.AssignmentGroup
}

// fields are the record's fields that follow the incident.
func (t *Target) fields(in *incident.Incident) map[string]string {
	f := map[string]string{
		"state":   snStates[in.State],
		"impact":  strconv.Itoa(in.Impact),
		"urgency": strconv.Itoa(in.Urgency),
	}
	if g := t.group(in); g != "" {
		f["assignment_group"] = g
	}
	switch in.State {
	case incident.StateOnHold:
		if r, ok := snHoldReasons[in.HoldReason]; ok {
			f["hold_reason"] = r
		} else {
			f["hold_reason"] = snHoldReasons["awaiting_problem"]
		}
	case incident.StateResolved, incident.StateClosed:
		code, ok := t.cfg.CloseCodes[in.CloseCode]
		if !ok {
			code = t.cfg.DefaultCloseCode
		}
		f["close_code"] = code
		f["close_notes"] = closeNotes(in)
	case incident.StateCanceled:
		f["close_notes"] = closeNotes(in)
	}
	return f
}

func closeNotes(in *incident.Incident) string {
	n := strings.TrimSpace(in.CloseNotes)
	if n == "" {
		n = string(in.State)
	}
	by := in.ResolvedBy
	if by == "" {
		by = incident.ActorSystem
	}
	return fmt.Sprintf("%s (Kizashi close code %s, by %s)", n, in.CloseCode, by)
}

// fingerprint is a hash of fields (the RemoteState: unchanged fields are not sent again).
func fingerprint(fields map[string]string) string {
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	h := sha256.New()
	for _, k := range keys {
		fmt.Fprintf(h, "%s=%q;", k, fields[k])
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}
