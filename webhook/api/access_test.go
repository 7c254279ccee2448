package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/kizashi-dev/kizashi/webhook/apitypes"
	"github.com/kizashi-dev/kizashi/webhook/auth"
	"github.com/kizashi-dev/kizashi/webhook/incident"
	"github.com/kizashi-dev/kizashi/webhook/limit"
	"github.com/kizashi-dev/kizashi/webhook/publicid"
	"github.com/kizashi-dev/kizashi/webhook/service"
	"github.com/kizashi-dev/kizashi/webhook/store"
)

// request sends a request with the given headers (and cookie, when not empty).
func (f *fixture) request(t *testing.T, method, path, cookie string, body []byte, headers map[string]string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(method, f.srv.URL+path, strings.NewReader(string(body)))
	require.NoError(t, err)
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	if cookie != "" {
		req.AddCookie(&http.Cookie{Name: auth.SessionCookie, Value: cookie})
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer func() { require.NoError(t, resp.Body.Close()) }()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, resp.Header, string(b)
}

func (f *fixture) login(t *testing.T, token string) string {
	t.Helper()
	cookie, _, err := f.access.Sessions.Open(context.Background(), f.access.Authenticator, auth.Credential{Token: token}, time.Now())
	require.NoError(t, err)
	return cookie
}

// TestAlertmanagerEndpointsNeverTakeTheCookie: a page on another origin cannot make the
// operator's browser send notifications with the page's session, even with its CSRF token.
func TestAlertmanagerEndpointsNeverTakeTheCookie(t *testing.T) {
	f := newFixture(t, nil)
	cookie := f.login(t, apiA)
	same := map[string]string{"Origin": f.srv.URL, auth.CSRFHeader: f.access.Sessions.CSRFToken(cookie)}
	for _, path := range []string{"/api/v1/alerts", "/api/v1/watchdog"} {
		code, _, _ := f.request(t, http.MethodPost, path, cookie, payload("g1"), same)
		require.Equal(t, http.StatusUnauthorized, code, path)
	}
	c, err := f.st.Counts(context.Background())
	require.NoError(t, err)
	require.Zero(t, c.Notifications)
}

// TestCookieStateChangesNeedCSRF is the attack of issue 12: a page on another port of the same
// host (same site: the SameSite=Strict cookie goes along) posts to the REST API.
func TestCookieStateChangesNeedCSRF(t *testing.T) {
	f := newFixture(t, nil)
	code, body := f.do(t, http.MethodPost, "/api/v1/alerts", tokA, payload("g1"))
	require.Equal(t, 200, code)
	var recv struct{ Incidents []int64 }
	require.NoError(t, json.Unmarshal(body, &recv))
	path := fmt.Sprintf("/api/v1/incidents/%d", recv.Incidents[0])
	cookie := f.login(t, apiA)
	token := f.access.Sessions.CSRFToken(cookie)
	note := []byte(`{"text":"from the cookie"}`)
	wrong := "x" + token[1:]
	if token[0] == 'x' {
		wrong = "y" + token[1:]
	}
	for _, tc := range []struct {
		name    string
		headers map[string]string
		code    int
	}{
		{"no token", map[string]string{"Origin": "http://127.0.0.1:1"}, 403},
		{"no token, no origin", nil, 403},
		{"wrong token", map[string]string{auth.CSRFHeader: wrong}, 403},
		{"token from another port", map[string]string{auth.CSRFHeader: token, "Origin": "http://127.0.0.1:1"}, 403},
		{"token, same-site fetch", map[string]string{auth.CSRFHeader: token, "Sec-Fetch-Site": "same-site"}, 403},
		{"token, same origin", map[string]string{auth.CSRFHeader: token, "Origin": f.srv.URL, "Sec-Fetch-Site": "same-origin"}, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, b := f.request(t, http.MethodPost, path+"/note", cookie, note, tc.headers)
			require.Equal(t, tc.code, code, b)
		})
	}
	code, _, b := f.request(t, http.MethodGet, path, cookie, nil, nil)
	require.Equal(t, 200, code, "reading with the cookie needs no token")
	var d apitypes.Detail
	require.NoError(t, json.Unmarshal([]byte(b), &d))
	notes := 0
	for _, e := range d.Journal {
		if strings.Contains(e.Message, "from the cookie") {
			notes++
		}
	}
	require.Equal(t, 1, notes, "only the same-origin request with the token added a note")
	require.Equal(t, 5.0, counter(t, f, "kizashi_webhook_auth_failures_total", "csrf"))
}

func counter(t *testing.T, f *fixture, name, reason string) float64 {
	t.Helper()
	mfs, err := f.reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if len(m.GetLabel()) == 0 || m.GetLabel()[0].GetValue() == reason {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

const throttleYAML = `
server:
  trusted_proxies: [127.0.0.1]
  auth_failures: {burst: 3, per_minute: 0.0001}
tenants:
  - name: a
    tokens: ["` + tokA + `"]
`

// TestFailedAuthenticationsAreThrottled: after burst failures a source is refused unchecked,
// with 503 on Alertmanager's endpoints (retried) and 429 on the REST API; other sources are
// not; the log names the source and the reason, never the credential.
func TestFailedAuthenticationsAreThrottled(t *testing.T) {
	f := newFixture(t, nil, throttleYAML)
	from := func(ip string) map[string]string { return map[string]string{"X-Forwarded-For": ip} }
	guesses := []string{"guess-0000000000000001", "guess-0000000000000002", "guess-0000000000000003"}
	for _, g := range guesses {
		h := from("203.0.113.5")
		h["Authorization"] = "Bearer " + g
		code, _, _ := f.request(t, http.MethodPost, "/api/v1/alerts", "", payload("g1"), h)
		require.Equal(t, 401, code)
	}
	h := from("203.0.113.5")
	h["Authorization"] = "Bearer " + tokA
	code, hdr, _ := f.request(t, http.MethodPost, "/api/v1/alerts", "", payload("g1"), h)
	require.Equal(t, http.StatusServiceUnavailable, code, "throttled even with the right token: a guess that is right is not told apart")
	require.NotEmpty(t, hdr.Get("Retry-After"))
	code, hdr, _ = f.request(t, http.MethodGet, "/api/v1/incidents", "", nil, h)
	require.Equal(t, http.StatusTooManyRequests, code, "the REST API answers 429")
	require.NotEmpty(t, hdr.Get("Retry-After"))

	h = from("203.0.113.6")
	h["Authorization"] = "Bearer " + tokA
	code, _, _ = f.request(t, http.MethodPost, "/api/v1/alerts", "", payload("g1"), h)
	require.Equal(t, 200, code, "another source is not throttled")

	require.Equal(t, 3.0, counter(t, f, "kizashi_webhook_auth_failures_total", "token"))
	require.Equal(t, 2.0, counter(t, f, "kizashi_webhook_auth_throttled_total", ""))
	require.Equal(t, 1.0, testutil.ToFloat64(f.metrics.Rejected.WithLabelValues(service.RejectThrottled)))
	log := f.log.String()
	require.Contains(t, log, `msg="authentication failed" source=203.0.113.5 reason=token path=/api/v1/alerts`)
	require.Contains(t, log, `msg="source throttled after failed authentications" source=203.0.113.5`)
	for _, g := range append(guesses, tokA) {
		require.NotContains(t, log, g, "no credential in the log")
	}
	lint, err := testutil.GatherAndLint(f.reg)
	require.NoError(t, err)
	require.Empty(t, lint)
}

// TestForwardedForIsBelievedOnlyFromTrustedProxies: without a trusted proxy, a guesser cannot
// escape the limit by writing X-Forwarded-For.
func TestForwardedForIsBelievedOnlyFromTrustedProxies(t *testing.T) {
	f := newFixture(t, nil, strings.Replace(throttleYAML, "trusted_proxies: [127.0.0.1]", "trusted_proxies: []", 1))
	for i := range 3 {
		code, _, _ := f.request(t, http.MethodGet, "/api/v1/incidents", "", nil,
			map[string]string{"Authorization": "Bearer guess-000000000000000", "X-Forwarded-For": fmt.Sprintf("198.51.100.%d", i)})
		require.Equal(t, 401, code)
	}
	code, _, _ := f.request(t, http.MethodGet, "/api/v1/incidents", "", nil,
		map[string]string{"Authorization": "Bearer " + tokA, "X-Forwarded-For": "198.51.100.99"})
	require.Equal(t, http.StatusTooManyRequests, code)
}

// TestPublicIDs: a tenant sees ids that say nothing about other tenants' incidents; paging,
// reading and acting work with them.
func TestPublicIDs(t *testing.T) {
	f := newFixture(t, nil)
	var storeIDs []int64
	for i := range 6 {
		tok := tokA
		if i%2 == 1 {
			tok = tokB
		}
		code, body := f.do(t, http.MethodPost, "/api/v1/alerts", tok, payload(fmt.Sprintf("g%d", i)))
		require.Equal(t, 200, code)
		var recv struct{ Incidents []int64 }
		require.NoError(t, json.Unmarshal(body, &recv))
		id, ok := f.api.IDs.Private(publicid.Incident, recv.Incidents[0])
		require.True(t, ok)
		storeIDs = append(storeIDs, id)
	}
	require.Equal(t, []int64{1, 2, 3, 4, 5, 6}, storeIDs, "the store counts every tenant's incidents")
	var seen []int64
	for next := ""; ; {
		code, body := f.do(t, http.MethodGet, "/api/v1/incidents?limit=1"+next, apiA, nil)
		require.Equal(t, 200, code, string(body))
		var lr apitypes.ListResponse
		require.NoError(t, json.Unmarshal(body, &lr))
		for _, in := range lr.Incidents {
			seen = append(seen, in.ID)
			code, _ := f.do(t, http.MethodGet, fmt.Sprintf("/api/v1/incidents/%d", in.ID), apiA, nil)
			require.Equal(t, 200, code)
		}
		if lr.Next == "" {
			break
		}
		next = "&before=" + lr.Next
	}
	require.Len(t, seen, 3, "tenant a's three incidents")
	for _, id := range seen {
		require.NotContains(t, storeIDs, id, "no store id shows")
	}
	code, _ := f.do(t, http.MethodGet, "/api/v1/incidents/1", apiA, nil)
	require.Equal(t, 404, code, "a store id is not an id of the API")
	code, _ = f.do(t, http.MethodPost, fmt.Sprintf("/api/v1/incidents/%d/acknowledge", seen[0]), apiA, nil)
	require.Equal(t, 200, code)
}

type failingReads struct{ store.Store }

func (failingReads) ListIncidents(context.Context, store.Filter) ([]*incident.Incident, error) {
	return nil, errors.New(`pq: relation "incidents" does not exist at 10.0.0.7`)
}

// TestStoreErrorsStayInTheLog: the caller gets a generic message with a request id, the log
// the database's words under the same id.
func TestStoreErrorsStayInTheLog(t *testing.T) {
	f := newFixture(t, func(s store.Store) store.Store { return failingReads{s} })
	code, body := f.do(t, http.MethodGet, "/api/v1/incidents", apiA, nil)
	require.Equal(t, http.StatusServiceUnavailable, code)
	var e struct{ Error string }
	require.NoError(t, json.Unmarshal(body, &e))
	require.NotContains(t, e.Error, "pq:")
	id, ok := strings.CutPrefix(e.Error, "store unavailable (request id ")
	require.True(t, ok, e.Error)
	id = strings.TrimSuffix(id, ")")
	require.Len(t, id, 16)
	require.Contains(t, f.log.String(), "request_id="+id+` err="pq: relation`)
}

// TestThrottledAndHeldAreBothRetried: Alertmanager's endpoints answer a throttled source and a
// tenant over its quota alike (503 with Retry-After: retried, never dropped), each counted under
// its own reason. A throttled source is refused before its tenant's quota is looked at, so a
// guesser behind one address cannot spend the quota of the tenant whose token it guesses.
func TestThrottledAndHeldAreBothRetried(t *testing.T) {
	f := newFixture(t, nil, throttleYAML+`
limits:
  tenant: {notifications_per_second: 0.0001, notifications_burst: 1}
`)
	f.api.Gate = limit.NewGate(nil, f.metrics)
	f.api.TenantLimits = f.cfg.Load().TenantLimits
	send := func(ip, token, gk string) (int, http.Header) {
		code, h, _ := f.request(t, http.MethodPost, "/api/v1/alerts", "", payload(gk),
			map[string]string{"X-Forwarded-For": ip, "Authorization": "Bearer " + token})
		return code, h
	}
	for i := range 3 {
		code, _ := send("203.0.113.5", fmt.Sprintf("guess-000000000000000%d", i), "g1")
		require.Equal(t, 401, code)
	}
	code, h := send("203.0.113.5", tokA, "g1")
	require.Equal(t, http.StatusServiceUnavailable, code, "throttled")
	require.NotEmpty(t, h.Get("Retry-After"))

	code, _ = send("203.0.113.6", tokA, "g2")
	require.Equal(t, 200, code, "the throttled request did not spend the tenant's quota")
	code, h = send("203.0.113.6", tokA, "g3")
	require.Equal(t, http.StatusServiceUnavailable, code, "the quota is spent now")
	require.NotEmpty(t, h.Get("Retry-After"))

	require.Equal(t, 1.0, testutil.ToFloat64(f.metrics.Rejected.WithLabelValues(service.RejectThrottled)))
	require.Equal(t, 1.0, testutil.ToFloat64(f.metrics.Rejected.WithLabelValues(service.RejectHeld)))
	require.Equal(t, 3.0, counter(t, f, "kizashi_webhook_auth_failures_total", "token"), "a held notification is no failed authentication")
	c, err := f.st.Counts(context.Background())
	require.NoError(t, err)
	require.Equal(t, int64(1), c.Notifications)
}

// TestTokenFileRotationNeedsNoReload: Alertmanager's token is replaced in its file while the
// webhook runs on the same configuration: the new token is accepted and the old one refused
// from the next notification on. A file that cannot be read answers 503 (Alertmanager retries),
// not 401 (it would drop the notification).
func TestTokenFileRotationNeedsNoReload(t *testing.T) {
	file := filepath.Join(t.TempDir(), "a.token")
	require.NoError(t, os.WriteFile(file, []byte("a-first-token-0123456789\n"), 0o600))
	f := newFixture(t, nil, "tenants:\n  - name: a\n    token_files: ["+file+"]\n")
	code, _ := f.do(t, http.MethodPost, "/api/v1/alerts", "a-first-token-0123456789", payload("g1"))
	require.Equal(t, 200, code)

	require.NoError(t, os.WriteFile(file+".new", []byte("a-second-token-0123456789\n"), 0o600))
	require.NoError(t, os.Rename(file+".new", file))
	code, _ = f.do(t, http.MethodPost, "/api/v1/alerts", "a-first-token-0123456789", payload("g2"))
	require.Equal(t, 401, code, "the old token left the file")
	code, _ = f.do(t, http.MethodPost, "/api/v1/alerts", "a-second-token-0123456789", payload("g2"))
	require.Equal(t, 200, code, "the new token works without a reload")
	code, body := f.do(t, http.MethodGet, "/api/v1/incidents", "a-second-token-0123456789", nil)
	require.Equal(t, http.StatusForbidden, code, "Alertmanager's token only posts alerts")
	require.Contains(t, string(body), "tenants[].api_tokens")

	require.NoError(t, os.Remove(file))
	code, _ = f.do(t, http.MethodPost, "/api/v1/alerts", "a-second-token-0123456789", payload("g3"))
	require.Equal(t, http.StatusServiceUnavailable, code, "retried, not dropped")
	code, _ = f.do(t, http.MethodGet, "/api/v1/incidents", "a-second-token-0123456789", nil)
	require.Equal(t, http.StatusServiceUnavailable, code)
	require.Contains(t, f.log.String(), "check credentials")
	require.Equal(t, 1.0, counter(t, f, "kizashi_webhook_auth_failures_total", "token"), "only the old token counted as a failure")
}
