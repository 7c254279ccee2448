// Package jira is the Jira integration of the forwarders: one issue per incident (REST API v2).
package jira

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/kizashi-dev/kizashi/webhook/config"
	"github.com/kizashi-dev/kizashi/webhook/forward"
	"github.com/kizashi-dev/kizashi/webhook/sanitize"
	"github.com/kizashi-dev/kizashi/webhook/store"
)

// Target keeps one issue per incident (REST API v2): POST /issue creates it
// with our correlation id as a label, a JQL search on that label finds it
// again, comments carry the journal, and the issue is transitioned to the
// status configured for the incident's state.
type Target struct {
	c    *forward.Client
	base string
	cfg  *config.JiraConfig
}

// New returns the Jira target of a site URL.
func New(c *http.Client, baseURL string, cfg *config.JiraConfig, now func() time.Time) *Target {
	return &Target{c: &forward.Client{HTTP: c, Now: now}, base: strings.TrimSuffix(baseURL, "/"), cfg: cfg}
}

type jiraIssue struct {
	ID     string `json:"id"`
	Key    string `json:"key"`
	Fields struct {
		Status *struct {
			Name string `json:"name"`
		} `json:"status"`
	} `json:"fields"`
}

type jiraState struct{ status, priority string }

func parseJiraState(s string) jiraState {
	var st jiraState
	for _, part := range strings.Split(s, "\n") {
		if v, ok := strings.CutPrefix(part, "status="); ok {
			st.status = v
		}
		if v, ok := strings.CutPrefix(part, "priority="); ok {
			st.priority = v
		}
	}
	return st
}

func (s jiraState) String() string { return "status=" + s.status + "\npriority=" + s.priority }

func (t *Target) issueURL(key string, rest ...string) string {
	u := t.base + "/rest/api/2/issue/" + url.PathEscape(key)
	for _, r := range rest {
		u += "/" + r
	}
	return u
}

// Sync implements forward.Target.
func (t *Target) Sync(ctx context.Context, s *forward.Sync) (forward.Result, error) {
	res := forward.Result{Ref: s.Ref, RemoteState: s.RemoteState, JournalThrough: s.SyncedJournalID}
	in := s.Incident
	remote := parseJiraState(s.RemoteState)
	wantPrio := t.cfg.Priorities[fmt.Sprintf("P%d", in.Priority)]
	uncertain := s.Uncertain
	if res.Ref.ID == "" {
		var (
			issue jiraIssue
			found bool
			err   error
		)
		if !s.FirstAttempt {
			if issue, found, err = t.find(ctx, s.CorrelationID); err != nil {
				return res, err
			}
		}
		if found {
			uncertain = true
		} else {
			if issue, err = t.create(ctx, s, wantPrio); err != nil {
				return res, err
			}
			remote.priority = wantPrio
		}
		res.Ref = store.ExternalRef{ID: issue.ID, Key: issue.Key, URL: t.base + "/browse/" + issue.Key}
		if err := s.SaveRef(ctx, res.Ref); err != nil {
			return res, err
		}
	}
	key := res.Ref.Key
	if key == "" {
		key = res.Ref.ID
	}
	after := s.SyncedJournalID
	if uncertain {
		n, err := t.notesThrough(ctx, key, s.CorrelationID)
		if err != nil {
			return res, err
		}
		after = max(after, n)
	}
	text, through, more := forward.Note(s.CorrelationID, s.Journal, after)
	if text != "" {
		if _, err := t.c.Do(ctx, "jira: comment "+key, http.MethodPost, t.issueURL(key, "comment"), nil, map[string]string{"body": text}, nil); err != nil {
			return res, err
		}
	}
	res.JournalThrough, res.More = through, more
	if wantPrio != "" && wantPrio != remote.priority {
		body := map[string]any{"fields": map[string]any{"priority": map[string]string{"name": wantPrio}}}
		if _, err := t.c.Do(ctx, "jira: set priority of "+key, http.MethodPut, t.issueURL(key), nil, body, nil); err != nil {
			return res, err
		}
		remote.priority = wantPrio
		res.RemoteState = remote.String()
	}
	if want := t.cfg.Statuses[string(in.State)]; want != "" && !strings.EqualFold(want, remote.status) {
		if err := t.transition(ctx, key, want); err != nil {
			return res, err
		}
		remote.status = want
	}
	res.RemoteState = remote.String()
	return res, nil
}

func (t *Target) find(ctx context.Context, cid string) (jiraIssue, bool, error) {
	q := url.Values{"jql": {fmt.Sprintf(`labels = "%s" ORDER BY created ASC`, cid)}, "fields": {"status"}, "maxResults": {"1"}}
	path := "/rest/api/2/search/jql"
	if t.cfg.Deployment == "datacenter" {
		path = "/rest/api/2/search"
	}
	var out struct {
		Issues []jiraIssue `json:"issues"`
	}
	if _, err := t.c.Do(ctx, "jira: find "+cid, http.MethodGet, t.base+path+"?"+q.Encode(), nil, nil, &out); err != nil {
		return jiraIssue{}, false, err
	}
	if len(out.Issues) == 0 || out.Issues[0].ID == "" {
		return jiraIssue{}, false, nil
	}
	return out.Issues[0], true, nil
}

func (t *Target) create(ctx context.Context, s *forward.Sync, prio string) (jiraIssue, error) {
	in := s.Incident
	labels := append([]string{s.CorrelationID, "kizashi"}, t.cfg.Labels...)
	fields := map[string]any{
		"project":     map[string]string{"key": t.cfg.Project},
		"summary":     sanitize.Text(strings.ReplaceAll(in.Title, "\n", " "), 250),
		"description": forward.Description(s),
		"issuetype":   map[string]string{"name": t.cfg.IssueType},
		"labels":      labels,
	}
	if prio != "" {
		fields["priority"] = map[string]string{"name": prio}
	}
	var out jiraIssue
	if _, err := t.c.Do(ctx, "jira: create "+s.CorrelationID, http.MethodPost, t.base+"/rest/api/2/issue", nil, map[string]any{"fields": fields}, &out); err != nil {
		return jiraIssue{}, err
	}
	if out.ID == "" || out.Key == "" {
		return jiraIssue{}, &forward.Error{Kind: forward.Retry, Reason: forward.ReasonBadResponse, Err: fmt.Errorf("jira: create %s: no id or key in the answer", s.CorrelationID)}
	}
	return out, nil
}

func (t *Target) notesThrough(ctx context.Context, key, cid string) (int64, error) {
	q := url.Values{"orderBy": {"-created"}, "maxResults": {"50"}}
	var out struct {
		Comments []struct {
			Body string `json:"body"`
		} `json:"comments"`
	}
	if _, err := t.c.Do(ctx, "jira: read comments of "+key, http.MethodGet, t.issueURL(key, "comment")+"?"+q.Encode(), nil, nil, &out); err != nil {
		return 0, err
	}
	texts := make([]string, len(out.Comments))
	for i, c := range out.Comments {
		texts[i] = c.Body
	}
	return forward.NotesThrough(cid, texts...), nil
}

// transition moves the issue to status want, unless it is there already.
func (t *Target) transition(ctx context.Context, key, want string) error {
	var issue jiraIssue
	if _, err := t.c.Do(ctx, "jira: read status of "+key, http.MethodGet, t.issueURL(key)+"?fields=status", nil, nil, &issue); err != nil {
		return err
	}
	if issue.Fields.Status != nil && strings.EqualFold(issue.Fields.Status.Name, want) {
		return nil
	}
	var out struct {
		Transitions []struct {
			ID   string `json:"id"`
			Name string `json:"name"`
			To   struct {
				Name string `json:"name"`
			} `json:"to"`
		} `json:"transitions"`
	}
	if _, err := t.c.Do(ctx, "jira: list transitions of "+key, http.MethodGet, t.issueURL(key, "transitions"), nil, nil, &out); err != nil {
		return err
	}
	var names []string
	for _, tr := range out.Transitions {
		if strings.EqualFold(tr.To.Name, want) || strings.EqualFold(tr.Name, want) {
			body := map[string]any{"transition": map[string]string{"id": tr.ID}}
			_, err := t.c.Do(ctx, "jira: transition "+key+" to "+want, http.MethodPost, t.issueURL(key, "transitions"), nil, body, nil)
			return err
		}
		names = append(names, tr.To.Name)
	}
	return &forward.Error{Kind: forward.Permanent, Reason: forward.ReasonRejected,
		Err: fmt.Errorf("jira: no transition of %s to %q (available: %s)", key, want, strings.Join(names, ", "))}
}
