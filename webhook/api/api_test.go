package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/kizashi-dev/kizashi/webhook/api"
	"github.com/kizashi-dev/kizashi/webhook/apitypes"
	"github.com/kizashi-dev/kizashi/webhook/auth"
	"github.com/kizashi-dev/kizashi/webhook/config"
	"github.com/kizashi-dev/kizashi/webhook/publicid"
	"github.com/kizashi-dev/kizashi/webhook/readmodel"
	"github.com/kizashi-dev/kizashi/webhook/service"
	"github.com/kizashi-dev/kizashi/webhook/store"
	"github.com/kizashi-dev/kizashi/webhook/store/sqlite"
	"github.com/kizashi-dev/kizashi/webhook/testkit"
)

const (
	tokA  = "tenant-a-token-0123456789"
	tokB  = "tenant-b-token-0123456789"
	tokOp = "operator-token-0123456789"
	// apiA and apiB are the tenants' API tokens (role act): the REST API's credentials, where
	// tokA and tokB (Alertmanager's) only post alerts.
	apiA = "tenant-a-api-0123456789x"
	apiB = "tenant-b-api-0123456789x"
)

var cfgYAML = `
tenants:
  - name: a
    tokens: ["` + tokA + `"]
    api_tokens: [{name: a-ops, role: act, tokens: ["` + apiA + `"]}]
  - name: b
    tokens: ["` + tokB + `"]
    basic_auth: [{username: bee, password: bee-password-0123}]
    api_tokens: [{name: b-ops, role: act, tokens: ["` + apiB + `"]}]
operators:
  - name: noc
    tokens: ["` + tokOp + `"]
limits:
  max_body_bytes: 20000
`

type failingStore struct{ store.Store }

func (failingStore) Update(context.Context, func(context.Context, store.Tx) error) error {
	return errors.New("disk on fire")
}

type fixture struct {
	srv     *httptest.Server
	st      store.Store
	reg     *prometheus.Registry
	metrics *service.Metrics
	api     *api.API
	cfg     atomic.Pointer[config.Config]
	access  *auth.Access
	log     *syncBuffer
}

// syncBuffer is a log sink tests read while handlers write.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// newFixture serves the API over a SQLite store with yaml (cfgYAML when empty) as configuration.
func newFixture(t *testing.T, wrap func(store.Store) store.Store, yaml ...string) *fixture {
	y := cfgYAML
	if len(yaml) > 0 {
		y = yaml[0]
	}
	f := &fixture{log: &syncBuffer{}}
	cfg, err := config.Parse([]byte(y), ".")
	require.NoError(t, err)
	f.cfg.Store(cfg)
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "k.db"), sqlite.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, st.Close()) })
	var use store.Store = st
	if wrap != nil {
		use = wrap(st)
	}
	secret, err := st.ServerSecret(context.Background(), []byte("test secret"))
	require.NoError(t, err)
	ids, err := publicid.New(auth.DeriveKey(secret, "public ids"))
	require.NoError(t, err)
	reg := prometheus.NewRegistry()
	m := service.NewMetrics(reg)
	logger := slog.New(slog.NewTextHandler(f.log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	svc := &service.Service{Store: use, Rules: func() service.Rules { return f.cfg.Load() }, Metrics: m,
		Name: func(id int64) string { return ids.Name(publicid.Incident, id) }}
	f.access = &auth.Access{Authenticator: auth.WithUsers(auth.NewTokens(f.cfg.Load, secret), auth.NewUsers(f.cfg.Load, secret)), Sessions: auth.NewSessions(st, secret),
		Guard: auth.NewGuard(reg, logger), Settings: func() *config.Server { return &f.cfg.Load().Server }}
	a := &api.API{Service: svc, Access: f.access, MaxBodyBytes: func() int64 { return f.cfg.Load().Limits.MaxBodyBytes },
		Logger: logger, IDs: ids}
	mux := http.NewServeMux()
	a.Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	f.srv, f.st, f.reg, f.metrics, f.api = srv, st, reg, m, a
	return f
}

func (f *fixture) do(t *testing.T, method, path, token string, body []byte) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, f.srv.URL+path, bytes.NewReader(body))
	require.NoError(t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer func() { require.NoError(t, resp.Body.Close()) }()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, b
}

var t0 = time.Now().UTC().Add(-time.Hour).Truncate(time.Second)

func payload(gk string) []byte {
	return testkit.Payload("r", gk, "firing", t0, map[string]string{"alertname": "A", "instance": gk, "severity": "critical"})
}

func TestReceive(t *testing.T) {
	f := newFixture(t, nil)
	for _, tc := range []struct {
		name  string
		token string
		basic [2]string
		body  []byte
		code  int
	}{
		{"accepted", tokA, [2]string{}, payload("g1"), 200},
		{"duplicate", tokA, [2]string{}, payload("g1"), 200},
		{"basic auth", "", [2]string{"bee", "bee-password-0123"}, payload("g1"), 200},
		{"bad basic auth", "", [2]string{"bee", "nope"}, payload("g1"), 401},
		{"no credentials", "", [2]string{}, payload("g1"), 401},
		{"unknown token", "nope-nope-nope-nope", [2]string{}, payload("g1"), 401},
		{"operator cannot send", tokOp, [2]string{}, payload("g1"), 403},
		{"malformed", tokA, [2]string{}, []byte(`{"version":`), 400},
		{"unknown version", tokA, [2]string{}, bytes.Replace(payload("g2"), []byte(`"version":"4"`), []byte(`"version":"5"`), 1), 400},
		{"too large: retried, not dropped", tokA, [2]string{}, append(payload("g3")[:10], bytes.Repeat([]byte(" "), 30000)...), 503},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodPost, f.srv.URL+"/api/v1/alerts", bytes.NewReader(tc.body))
			require.NoError(t, err)
			if tc.token != "" {
				req.Header.Set("Authorization", "Bearer "+tc.token)
			}
			if tc.basic[0] != "" {
				req.SetBasicAuth(tc.basic[0], tc.basic[1])
			}
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			require.NoError(t, resp.Body.Close())
			require.Equal(t, tc.code, resp.StatusCode)
		})
	}
	c, err := f.st.Counts(context.Background())
	require.NoError(t, err)
	require.Equal(t, int64(2), c.Notifications, "tenant a once, tenant b once")
	require.Equal(t, int64(1), c.Duplicates)
	require.Equal(t, 2.0, testutil.ToFloat64(f.metrics.Notifications.WithLabelValues(service.ResultAccepted)))
	require.Equal(t, 1.0, testutil.ToFloat64(f.metrics.Notifications.WithLabelValues(service.ResultDuplicate)))
	require.Equal(t, 3.0, testutil.ToFloat64(f.metrics.Rejected.WithLabelValues(service.RejectUnauthorized)))
	problems, err := testutil.CollectAndLint(f.metrics.Notifications)
	require.NoError(t, err)
	require.Empty(t, problems)
	lint, err := testutil.GatherAndLint(f.reg)
	require.NoError(t, err)
	require.Empty(t, lint)
}

func TestReceiveStoreDown(t *testing.T) {
	f := newFixture(t, func(s store.Store) store.Store { return failingStore{s} })
	code, _ := f.do(t, http.MethodPost, "/api/v1/alerts", tokA, payload("g"))
	require.Equal(t, http.StatusServiceUnavailable, code)
}

func TestTenantIsolationAndActions(t *testing.T) {
	f := newFixture(t, nil)
	code, _ := f.do(t, http.MethodPost, "/api/v1/alerts", tokA, payload("ga"))
	require.Equal(t, 200, code)
	code, body := f.do(t, http.MethodPost, "/api/v1/alerts", tokB, payload("gb"))
	require.Equal(t, 200, code)
	var recv struct{ Incidents []int64 }
	require.NoError(t, json.Unmarshal(body, &recv))
	idB := recv.Incidents[0]

	list := func(token, query string) apitypes.ListResponse {
		code, body := f.do(t, http.MethodGet, "/api/v1/incidents"+query, token, nil)
		require.Equal(t, 200, code, string(body))
		var lr apitypes.ListResponse
		require.NoError(t, json.Unmarshal(body, &lr))
		return lr
	}
	la := list(apiA, "")
	require.Len(t, la.Incidents, 1)
	require.Equal(t, "a", la.Incidents[0].Tenant)
	require.Len(t, list(apiA, "?tenant=b").Incidents, 1, "tenant= is ignored for tenants")
	require.Equal(t, "a", list(apiA, "?tenant=b").Incidents[0].Tenant)
	require.Len(t, list(tokOp, "").Incidents, 2)
	require.Len(t, list(tokOp, "?tenant=b").Incidents, 1)

	// Tenant A cannot read or change tenant B's incident.
	code, _ = f.do(t, http.MethodGet, "/api/v1/incidents/"+itoa(idB), apiA, nil)
	require.Equal(t, 404, code)
	code, _ = f.do(t, http.MethodPost, "/api/v1/incidents/"+itoa(idB)+"/acknowledge", apiA, nil)
	require.Equal(t, 404, code)
	code, _ = f.do(t, http.MethodPost, "/api/v1/incidents/"+itoa(idB)+"/note", apiA, []byte(`{"text":"pwned"}`))
	require.Equal(t, 404, code)
	code, _ = f.do(t, http.MethodGet, "/api/v1/incidents", "", nil)
	require.Equal(t, 401, code)

	// Tenant B works its incident.
	steps := []struct {
		action, body string
		code         int
	}{
		{"acknowledge", `{"user":"alice"}`, 400}, // no free-text user: the journal names who is authenticated
		{"acknowledge", ``, 200},
		{"acknowledge", ``, 409},
		{"hold", `{"reason":"awaiting_vendor","text":"ticket 42"}`, 200},
		{"resume", ``, 200},
		{"assign", `{"assignment_group":"dba","assignee":"bob"}`, 200},
		{"note", `{"text":"found it"}`, 200},
		{"resolve", `{"close_code":"solved_permanently","text":"fixed"}`, 200},
		{"reopen", `{"text":"not fixed"}`, 200},
		{"resolve", `{"close_code":"nope","text":"x"}`, 400},
		{"cancel", `{"text":"noise","false_positive":true}`, 200},
		{"explode", ``, 400},
		{"note", `{"unknown":1}`, 400},
	}
	for _, s := range steps {
		code, body := f.do(t, http.MethodPost, "/api/v1/incidents/"+itoa(idB)+"/"+s.action, apiB, []byte(s.body))
		require.Equal(t, s.code, code, "%s: %s", s.action, body)
	}
	code, body = f.do(t, http.MethodGet, "/api/v1/incidents/"+itoa(idB), apiB, nil)
	require.Equal(t, 200, code)
	var d apitypes.Detail
	require.NoError(t, json.Unmarshal(body, &d))
	require.Equal(t, "canceled", string(d.Incident.State))
	require.Len(t, d.Alerts, 1)
	var actors []string
	for _, e := range d.Journal {
		actors = append(actors, e.Actor)
	}
	require.Contains(t, actors, "b-ops", "the API token's name is the actor")
	require.NotContains(t, strings.Join(actors, ","), "alice", "the request cannot name who acted")
	require.Contains(t, strings.Join(actors, ","), "alertmanager")
	// Filters.
	require.Len(t, list(apiB, "?state=canceled").Incidents, 1)
	require.Len(t, list(apiB, "?open=true").Incidents, 0)
	code, _ = f.do(t, http.MethodGet, "/api/v1/incidents?state=bogus", apiB, nil)
	require.Equal(t, 400, code)
	code, _ = f.do(t, http.MethodGet, "/api/v1/incidents?limit=0", apiB, nil)
	require.Equal(t, 400, code)
}

func itoa(n int64) string { return strconvI(n) }

func FuzzActionInput(f *testing.F) {
	f.Add("note", []byte(`{"text":"x"}`), "state=new&limit=5")
	f.Add("resolve", []byte(`{"close_code":"solved_permanently","text":"y","user":"z"}`), "open=true&priority=2")
	f.Add("hold", []byte(`{"reason":"awaiting_vendor"}`), "before=9&q=%25")
	f.Fuzz(func(t *testing.T, kind string, body []byte, query string) {
		act, err := api.DecodeAction(kind, bytes.NewReader(body))
		if err == nil {
			require.Equal(t, kind, act.Kind)
		}
		q, perr := parseQuery(query)
		if perr != nil {
			return
		}
		fl, err := (&readmodel.Reader{}).ParseFilter(q, "a")
		if err == nil {
			require.Equal(t, "a", fl.Tenant, "a tenant is always scoped")
			require.True(t, fl.Limit >= 1 && fl.Limit <= 500)
		}
	})
}

func TestTimesAtTheEdges(t *testing.T) {
	f := newFixture(t, nil)
	body := testkit.JSONPayload(t, "r", "g", "firing",
		testkit.JSONAlert{Status: "firing", Labels: map[string]string{"alertname": "Epoch"}, StartsAt: "1970-01-01T00:00:00Z"},
		testkit.JSONAlert{Status: "firing", Labels: map[string]string{"alertname": "Future"}, StartsAt: "2300-01-01T00:00:00Z"})
	code, resp := f.do(t, http.MethodPost, "/api/v1/alerts", tokA, body)
	require.Equal(t, 200, code, string(resp))
	var recv struct{ Incidents []int64 }
	require.NoError(t, json.Unmarshal(resp, &recv))
	code, resp = f.do(t, http.MethodGet, "/api/v1/incidents/"+itoa(recv.Incidents[0]), apiA, nil)
	require.Equal(t, 200, code)
	var d struct {
		Alerts []struct {
			Labels   map[string]string `json:"labels"`
			StartsAt *string           `json:"starts_at"`
		} `json:"alerts"`
	}
	require.NoError(t, json.Unmarshal(resp, &d))
	starts := map[string]string{}
	for _, a := range d.Alerts {
		require.NotNil(t, a.StartsAt, a.Labels["alertname"])
		starts[a.Labels["alertname"]] = *a.StartsAt
	}
	require.Equal(t, map[string]string{"Epoch": "1970-01-01T00:00:00Z", "Future": "2262-04-11T00:00:00Z"}, starts)

	for query, n := range map[string]int{"?to=1500-01-01T00:00:00Z": 0, "?from=1500-01-01T00:00:00Z&to=9999-01-01T00:00:00Z": 1} {
		code, resp = f.do(t, http.MethodGet, "/api/v1/incidents"+query, apiA, nil)
		require.Equal(t, 200, code)
		var lr apitypes.ListResponse
		require.NoError(t, json.Unmarshal(resp, &lr))
		require.Len(t, lr.Incidents, n, query)
	}
}
