package api_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/kizashi-dev/kizashi/webhook/apitypes"
)

// TestRoutesByRole calls every route of the REST API as every kind of principal: customers
// get 403 on every request that changes something (and on dead letters), never read an
// internal note, and never another tenant's incident; Alertmanager's credentials post alerts
// and do nothing else (403 naming the API token), people and API tokens post no alerts; a read
// API token reads as a customer does, an act API token works on its tenant's incidents.
func TestRoutesByRole(t *testing.T) {
	const apiRead = "tenant-a-read-0123456789x"
	hash := func(pw string) string {
		h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
		require.NoError(t, err)
		return string(h)
	}
	y := strings.Replace(cfgYAML, `api_tokens: [{name: a-ops, role: act, tokens: ["`+apiA+`"]}]`,
		`api_tokens: [{name: a-ops, role: act, tokens: ["`+apiA+`"]}, {name: a-dash, role: read, tokens: ["`+apiRead+`"]}]`, 1)
	require.Contains(t, y, apiRead)
	f := newFixture(t, nil, y+fmt.Sprintf(`
users:
  - {name: ada, role: admin, password_hash: %q}
  - {name: otto, role: operator, password_hash: %q}
  - {name: cleo, role: customer, tenant: a, password_hash: %q}
  - {name: bert, role: customer, tenant: b, password_hash: %q}
`, hash("ada-password-01"), hash("otto-password-01"), hash("cleo-password-01"), hash("bert-password-01")))
	code, resp := f.do(t, http.MethodPost, "/api/v1/alerts", tokA, payload("g1"))
	require.Equal(t, 200, code, string(resp))
	var recv struct{ Incidents []int64 }
	require.NoError(t, json.Unmarshal(resp, &recv))
	id := recv.Incidents[0]
	code, resp = f.do(t, http.MethodPost, fmt.Sprintf("/api/v1/incidents/%d/note", id), tokOp, []byte(`{"text":"INTERNAL-SECRET"}`))
	require.Equal(t, 200, code, string(resp))
	code, resp = f.do(t, http.MethodPost, fmt.Sprintf("/api/v1/incidents/%d/comment", id), tokOp, []byte(`{"text":"PUBLIC-COMMENT"}`))
	require.Equal(t, 200, code, string(resp))

	type who struct {
		name, user, password, token string
		customer, sendsAlerts       bool
		ingestOnly                  bool
		tenant                      string // "" = every tenant
	}
	people := []who{
		{name: "admin user", user: "ada", password: "ada-password-01"},
		{name: "operator user", user: "otto", password: "otto-password-01"},
		{name: "operator token", token: tokOp},
		{name: "customer of a", user: "cleo", password: "cleo-password-01", customer: true, tenant: "a"},
		{name: "customer of b", user: "bert", password: "bert-password-01", customer: true, tenant: "b"},
		{name: "tenant a alertmanager token", token: tokA, sendsAlerts: true, ingestOnly: true, tenant: "a"},
		{name: "tenant b alertmanager basic auth", user: "bee", password: "bee-password-0123", sendsAlerts: true, ingestOnly: true, tenant: "b"},
		{name: "tenant a act API token", token: apiA, tenant: "a"},
		{name: "tenant b act API token", token: apiB, tenant: "b"},
		{name: "tenant a read API token", token: apiRead, customer: true, tenant: "a"},
	}
	inc := fmt.Sprintf("%s/%d", apitypes.IncidentsPath, id)
	type route struct {
		method, path, body string
		write              bool
	}
	routes := []route{
		{"GET", apitypes.IncidentsPath, "", false},
		{"GET", inc, "", false},
		{"GET", apitypes.KPIsPath, "", false},
		{"GET", apitypes.DeadLettersPath, "", false},
		{"POST", apitypes.DeadLettersPath + "/retry?target=a/x", "", true},
		{"POST", apitypes.DeadLettersPath + "/1/retry", "", true},
		{"POST", "/api/v1/alerts", string(payload("g2")), true},
		{"POST", "/api/v1/watchdog", string(payload("wd")), true},
		{"POST", apitypes.IncidentsPath, `{"tenant":"a","title":"phone call","channel":"phone","impact":2,"urgency":2}`, true},
	}
	for _, a := range []string{"acknowledge", "assign", "note", "comment", "priority", "hold", "resume", "resolve", "close", "cancel", "reopen", "link", "merge"} {
		routes = append(routes, route{"POST", inc + "/" + a, `{"text":"x","assignee":"x","reason":"awaiting_caller","close_code":"solved_permanently"}`, true})
	}
	for _, p := range people {
		for _, r := range routes {
			t.Run(p.name+" "+r.method+" "+r.path, func(t *testing.T) {
				req, err := http.NewRequest(r.method, f.srv.URL+r.path, bytes.NewReader([]byte(r.body)))
				require.NoError(t, err)
				if p.token != "" {
					req.Header.Set("Authorization", "Bearer "+p.token)
				} else {
					req.SetBasicAuth(p.user, p.password)
				}
				res, err := http.DefaultClient.Do(req)
				require.NoError(t, err)
				raw, err := io.ReadAll(res.Body)
				require.NoError(t, err)
				require.NoError(t, res.Body.Close())
				body := string(raw)
				alerts := r.path == "/api/v1/alerts" || r.path == "/api/v1/watchdog"
				if res.StatusCode >= 400 && !alerts {
					// Every refusal of the REST API is an apitypes.Error with a documented code.
					var e apitypes.Error
					require.NoError(t, json.Unmarshal(raw, &e), body)
					require.Contains(t, apitypes.ErrorCodes, e.Code, body)
					require.NotEmpty(t, e.Error, body)
				}
				switch {
				case p.ingestOnly && !alerts:
					require.Equal(t, http.StatusForbidden, res.StatusCode, body)
					require.Contains(t, body, "api_tokens", "the refusal names the credential to use")
				case p.customer && (r.write || r.path == apitypes.DeadLettersPath):
					require.Equal(t, http.StatusForbidden, res.StatusCode, body)
				case alerts && !p.sendsAlerts:
					require.Equal(t, http.StatusForbidden, res.StatusCode, body)
				case alerts:
					require.Equal(t, http.StatusOK, res.StatusCode, body)
				case r.path == inc && p.tenant == "b":
					require.Equal(t, http.StatusNotFound, res.StatusCode, "another tenant's incident")
				default:
					require.NotEqual(t, http.StatusForbidden, res.StatusCode, body)
					require.NotEqual(t, http.StatusUnauthorized, res.StatusCode, body)
				}
				if p.customer {
					require.NotContains(t, body, "INTERNAL-SECRET", "a customer never reads an internal note")
				}
				if p.customer && p.tenant == "a" && r.path == inc && r.method == "GET" {
					require.Contains(t, body, "PUBLIC-COMMENT")
				}
			})
		}
	}
}

// TestOperatorLimitedToGroups: an operator user with groups lists, reads and works on the
// incidents of its assignment groups and the unassigned ones, of every tenant; another group's
// incident answers 404 as another tenant's does; an admin sees every incident.
func TestOperatorLimitedToGroups(t *testing.T) {
	hash := func(pw string) string {
		h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
		require.NoError(t, err)
		return string(h)
	}
	f := newFixture(t, nil, cfgYAML+fmt.Sprintf(`
users:
  - {name: ada, role: admin, password_hash: %q}
  - {name: dora, role: operator, groups: [dba], password_hash: %q}
`, hash("ada-password-01"), hash("dora-password-01")))
	as := func(user, pw, method, path, body string) (int, string) {
		req, err := http.NewRequest(method, f.srv.URL+path, strings.NewReader(body))
		require.NoError(t, err)
		req.SetBasicAuth(user, pw)
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		raw, err := io.ReadAll(res.Body)
		require.NoError(t, err)
		require.NoError(t, res.Body.Close())
		return res.StatusCode, string(raw)
	}
	ids := map[string]int64{}
	for _, tc := range []struct{ tok, gk, group string }{{tokA, "a-dba", "dba"}, {tokA, "a-web", "web"}, {tokA, "a-none", ""}, {tokB, "b-dba", "dba"}} {
		code, resp := f.do(t, http.MethodPost, "/api/v1/alerts", tc.tok, payload(tc.gk))
		require.Equal(t, 200, code, resp)
		var recv struct{ Incidents []int64 }
		require.NoError(t, json.Unmarshal(resp, &recv))
		ids[tc.gk] = recv.Incidents[0]
		if tc.group != "" {
			code, body := as("ada", "ada-password-01", "POST", fmt.Sprintf("%s/%d/assign", apitypes.IncidentsPath, recv.Incidents[0]), `{"assignment_group":"`+tc.group+`"}`)
			require.Equal(t, 200, code, body)
		}
	}
	list := func(user, pw string) []string {
		code, body := as(user, pw, "GET", apitypes.IncidentsPath, "")
		require.Equal(t, 200, code, body)
		var lr apitypes.ListResponse
		require.NoError(t, json.Unmarshal([]byte(body), &lr))
		var out []string
		for _, in := range lr.Incidents {
			out = append(out, in.Tenant+"/"+in.AssignmentGroup)
		}
		return out
	}
	require.ElementsMatch(t, []string{"a/dba", "a/", "b/dba"}, list("dora", "dora-password-01"))
	require.ElementsMatch(t, []string{"a/dba", "a/web", "a/", "b/dba"}, list("ada", "ada-password-01"))

	web := fmt.Sprintf("%s/%d", apitypes.IncidentsPath, ids["a-web"])
	code, _ := as("dora", "dora-password-01", "GET", web, "")
	require.Equal(t, http.StatusNotFound, code, "another group's incident")
	code, _ = as("dora", "dora-password-01", "POST", web+"/acknowledge", "")
	require.Equal(t, http.StatusNotFound, code)
	code, _ = as("dora", "dora-password-01", "POST", web+"/note", `{"text":"x"}`)
	require.Equal(t, http.StatusNotFound, code)
	code, body := as("dora", "dora-password-01", "POST", fmt.Sprintf("%s/%d/acknowledge", apitypes.IncidentsPath, ids["b-dba"]), "")
	require.Equal(t, 200, code, body)
	code, body = as("dora", "dora-password-01", "POST", fmt.Sprintf("%s/%d/assign", apitypes.IncidentsPath, ids["a-none"]), `{"assignment_group":"dba","assignee":"dora"}`)
	require.Equal(t, 200, code, body)
	code, _ = as("dora", "dora-password-01", "GET", apitypes.IncidentsPath+"?assignment_group=web", "")
	require.Equal(t, 200, code)
	require.NotContains(t, list("dora", "dora-password-01"), "a/web")
	code, _ = as("ada", "ada-password-01", "POST", web+"/acknowledge", "")
	require.Equal(t, 200, code, "admins see every group")

	// Opening an incident by hand: for its groups or unassigned, not for another group.
	code, body = as("dora", "dora-password-01", "POST", apitypes.IncidentsPath, `{"tenant":"a","title":"call","channel":"phone","impact":2,"urgency":2,"assignment_group":"web"}`)
	require.Equal(t, http.StatusForbidden, code, body)
	code, body = as("dora", "dora-password-01", "POST", apitypes.IncidentsPath, `{"tenant":"a","title":"call","channel":"phone","impact":2,"urgency":2,"assignment_group":"dba"}`)
	require.Equal(t, http.StatusCreated, code, body)
}
