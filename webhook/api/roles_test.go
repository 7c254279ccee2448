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
