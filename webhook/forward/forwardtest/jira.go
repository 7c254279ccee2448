package forwardtest

import (
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// Jira operations.
const (
	JiraCreate      = "create"
	JiraSearch      = "search"
	JiraGet         = "get"
	JiraEdit        = "edit"
	JiraComment     = "comment"
	JiraComments    = "comments"
	JiraTransitions = "transitions"
	JiraTransition  = "transition"
	JiraUnknown     = "unknown"
)

// JiraIssue is an issue of the fake site.
type JiraIssue struct {
	ID, Key  string
	Project  string
	Summary  string
	Type     string
	Labels   []string
	Priority string
	Status   string
	Comments []string
}

// Jira is a fake Jira site (REST API v2): create issues, search them by JQL
// on a label (GET /rest/api/2/search/jql as Jira Cloud, GET
// /rest/api/2/search as Data Center), read them, edit the priority, add and
// list comments, list and run transitions. The workflow has To Do, In
// Progress, Waiting and Done, each reachable from every other. Errors are
// {"errorMessages": [...], "errors": {...}}.
type Jira struct {
	*Server

	mu     sync.Mutex
	issues []*JiraIssue
}

// NewJira starts a fake site.
func NewJira(t testing.TB) *Jira {
	j := &Jira{}
	j.Server = newServer(t, j.route, j.handle)
	return j
}

var (
	jiraIssuePath = regexp.MustCompile(`^/rest/api/2/issue/([^/]+)(/comment|/transitions)?$`)
	jiraLabelJQL  = regexp.MustCompile(`^labels\s*=\s*"([^"]+)"(\s+ORDER BY .*)?$`)
	jiraStatuses  = []struct{ id, name, category string }{
		{"11", "To Do", "new"}, {"21", "In Progress", "indeterminate"}, {"31", "Done", "done"}, {"41", "Waiting", "indeterminate"},
	}
)

func (j *Jira) route(r *http.Request) string {
	p := r.URL.Path
	if p == "/rest/api/2/issue" && r.Method == http.MethodPost {
		return JiraCreate
	}
	if (p == "/rest/api/2/search/jql" || p == "/rest/api/2/search") && r.Method == http.MethodGet {
		return JiraSearch
	}
	m := jiraIssuePath.FindStringSubmatch(p)
	if m == nil {
		return JiraUnknown
	}
	switch {
	case m[2] == "" && r.Method == http.MethodGet:
		return JiraGet
	case m[2] == "" && r.Method == http.MethodPut:
		return JiraEdit
	case m[2] == "/comment" && r.Method == http.MethodPost:
		return JiraComment
	case m[2] == "/comment" && r.Method == http.MethodGet:
		return JiraComments
	case m[2] == "/transitions" && r.Method == http.MethodGet:
		return JiraTransitions
	case m[2] == "/transitions" && r.Method == http.MethodPost:
		return JiraTransition
	}
	return JiraUnknown
}

func jiraError(w http.ResponseWriter, code int, msg string, fields map[string]string) {
	if fields == nil {
		fields = map[string]string{}
	}
	msgs := []string{}
	if msg != "" {
		msgs = append(msgs, msg)
	}
	writeJSON(w, code, map[string]any{"errorMessages": msgs, "errors": fields})
}

// Issues returns copies of the issues.
func (j *Jira) Issues() []JiraIssue {
	j.mu.Lock()
	defer j.mu.Unlock()
	out := make([]JiraIssue, len(j.issues))
	for i, is := range j.issues {
		out[i] = *is
		out[i].Labels = append([]string(nil), is.Labels...)
		out[i].Comments = append([]string(nil), is.Comments...)
	}
	return out
}

func (j *Jira) issue(r *http.Request) *JiraIssue {
	m := jiraIssuePath.FindStringSubmatch(r.URL.Path)
	for _, is := range j.issues {
		if is.Key == m[1] || is.ID == m[1] {
			return is
		}
	}
	return nil
}

func (j *Jira) self(r *http.Request, is *JiraIssue) string {
	return "http://" + r.Host + "/rest/api/2/issue/" + is.ID
}

func (j *Jira) view(r *http.Request, is *JiraIssue) map[string]any {
	st := jiraStatuses[0]
	for _, s := range jiraStatuses {
		if s.name == is.Status {
			st = s
		}
	}
	return map[string]any{"id": is.ID, "key": is.Key, "self": j.self(r, is), "fields": map[string]any{
		"summary": is.Summary, "labels": is.Labels,
		"status": map[string]any{"name": st.name, "id": st.id, "statusCategory": map[string]string{"key": st.category}},
	}}
}

func (j *Jira) handle(op string, w http.ResponseWriter, r *http.Request) {
	j.mu.Lock()
	defer j.mu.Unlock()
	var is *JiraIssue
	if op != JiraCreate && op != JiraSearch && op != JiraUnknown {
		if is = j.issue(r); is == nil {
			jiraError(w, http.StatusNotFound, "Issue does not exist or you do not have permission to see it.", nil)
			return
		}
	}
	switch op {
	case JiraCreate:
		var body struct {
			Fields struct {
				Project   struct{ Key string }   `json:"project"`
				Summary   string                 `json:"summary"`
				IssueType struct{ Name string }  `json:"issuetype"`
				Labels    []string               `json:"labels"`
				Priority  *struct{ Name string } `json:"priority"`
			} `json:"fields"`
		}
		if err := decode(r, &body); err != nil {
			jiraError(w, http.StatusBadRequest, err.Error(), nil)
			return
		}
		f := body.Fields
		errs := map[string]string{}
		if f.Project.Key == "" {
			errs["project"] = "project is required"
		}
		if f.Summary == "" {
			errs["summary"] = "You must specify a summary of the issue."
		}
		if f.IssueType.Name == "" {
			errs["issuetype"] = "issue type is required"
		}
		for _, l := range f.Labels {
			if strings.ContainsAny(l, " \t") {
				errs["labels"] = "The label '" + l + "' contains spaces which is invalid."
			}
		}
		if len(errs) > 0 {
			jiraError(w, http.StatusBadRequest, "", errs)
			return
		}
		n := len(j.issues) + 1
		is := &JiraIssue{ID: strconv.Itoa(10000 + n), Key: fmt.Sprintf("%s-%d", f.Project.Key, n), Project: f.Project.Key,
			Summary: f.Summary, Type: f.IssueType.Name, Labels: f.Labels, Status: "To Do"}
		if f.Priority != nil {
			is.Priority = f.Priority.Name
		}
		j.issues = append(j.issues, is)
		writeJSON(w, http.StatusCreated, map[string]string{"id": is.ID, "key": is.Key, "self": j.self(r, is)})
	case JiraSearch:
		m := jiraLabelJQL.FindStringSubmatch(r.URL.Query().Get("jql"))
		if m == nil {
			jiraError(w, http.StatusBadRequest, "the fake understands only labels = \"...\" queries", nil)
			return
		}
		var found []map[string]any
		for _, is := range j.issues {
			if slices.Contains(is.Labels, m[1]) {
				found = append(found, j.view(r, is))
			}
		}
		if n, err := strconv.Atoi(r.URL.Query().Get("maxResults")); err == nil && n < len(found) {
			found = found[:n]
		}
		if found == nil {
			found = []map[string]any{}
		}
		if r.URL.Path == "/rest/api/2/search/jql" {
			writeJSON(w, http.StatusOK, map[string]any{"issues": found, "isLast": true})
		} else {
			writeJSON(w, http.StatusOK, map[string]any{"startAt": 0, "maxResults": 50, "total": len(found), "issues": found})
		}
	case JiraGet:
		writeJSON(w, http.StatusOK, j.view(r, is))
	case JiraEdit:
		var body struct {
			Fields map[string]struct{ Name string } `json:"fields"`
		}
		if err := decode(r, &body); err != nil {
			jiraError(w, http.StatusBadRequest, err.Error(), nil)
			return
		}
		if p, ok := body.Fields["priority"]; ok {
			is.Priority = p.Name
		}
		w.WriteHeader(http.StatusNoContent)
	case JiraComment:
		var body struct{ Body string }
		if err := decode(r, &body); err != nil || body.Body == "" {
			jiraError(w, http.StatusBadRequest, "", map[string]string{"comment": "Comment body can not be empty!"})
			return
		}
		is.Comments = append(is.Comments, body.Body)
		writeJSON(w, http.StatusCreated, map[string]any{"id": strconv.Itoa(len(is.Comments)), "body": body.Body})
	case JiraComments:
		cs := []map[string]any{}
		for i, c := range is.Comments {
			cs = append(cs, map[string]any{"id": strconv.Itoa(i + 1), "body": c})
		}
		if r.URL.Query().Get("orderBy") == "-created" {
			slices.Reverse(cs)
		}
		if n, err := strconv.Atoi(r.URL.Query().Get("maxResults")); err == nil && n < len(cs) {
			cs = cs[:n]
		}
		writeJSON(w, http.StatusOK, map[string]any{"startAt": 0, "maxResults": len(cs), "total": len(is.Comments), "comments": cs})
	case JiraTransitions:
		ts := []map[string]any{}
		for _, s := range jiraStatuses {
			if s.name != is.Status {
				ts = append(ts, map[string]any{"id": s.id, "name": s.name,
					"to": map[string]any{"id": s.id, "name": s.name, "statusCategory": map[string]string{"key": s.category}}})
			}
		}
		writeJSON(w, http.StatusOK, map[string]any{"transitions": ts})
	case JiraTransition:
		var body struct {
			Transition struct{ ID string } `json:"transition"`
		}
		if err := decode(r, &body); err != nil {
			jiraError(w, http.StatusBadRequest, err.Error(), nil)
			return
		}
		for _, s := range jiraStatuses {
			if s.id == body.Transition.ID && s.name != is.Status {
				is.Status = s.name
				w.WriteHeader(http.StatusNoContent)
				return
			}
		}
		jiraError(w, http.StatusBadRequest, "Transition id '"+body.Transition.ID+"' is not valid for this issue.", nil)
	default:
		jiraError(w, http.StatusNotFound, "null for uri: "+r.URL.Path, nil)
	}
}
