package app_test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/exporter-toolkit/web"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/kizashi-dev/kizashi/webhook/app"
	"github.com/kizashi-dev/kizashi/webhook/forward/forwardtest"
	"github.com/kizashi-dev/kizashi/webhook/testkit"
)

// The tests of this file drive the program over HTTP only, as a browser or an attacker
// would (issue 12).

// noRedirect is a client that shows redirects instead of following them.
var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

type answer struct {
	code   int
	header http.Header
	body   string
}

// send sends a request with a cookie (nil: none) and headers.
func send(t *testing.T, method, u string, cookie *http.Cookie, body string, headers map[string]string) answer {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	require.NoError(t, err)
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	if cookie != nil {
		req.AddCookie(cookie)
	}
	resp, err := noRedirect.Do(req)
	require.NoError(t, err)
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	return answer{resp.StatusCode, resp.Header, string(b)}
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]*)"`)

// csrfOf reads the CSRF token from a page of the session ("" if the page has none).
func csrfOf(t *testing.T, base string, cookie *http.Cookie, path string) string {
	t.Helper()
	a := send(t, http.MethodGet, base+path, cookie, "", nil)
	require.Equal(t, 200, a.code, a.body)
	if m := csrfRE.FindStringSubmatch(a.body); m != nil {
		return m[1]
	}
	return ""
}

const form = "application/x-www-form-urlencoded"

// anotherPort is the origin of a page served by another program on the same host: the same
// site, so the SameSite=Strict cookie goes along.
const anotherPort = "http://127.0.0.1:1"

func openIncident(t *testing.T, w *webhook, group string) int64 {
	t.Helper()
	post(t, w.URL+"/api/v1/alerts", tokAcme, testkit.Payload("acme-ops", group, "firing", time.Now().UTC(),
		map[string]string{"alertname": "Disk" + group, "instance": "db1", "severity": "warning"}))
	for _, in := range w.incidents(t, apiAcme) {
		if in.Title == "Disk"+group+" on db1" {
			return in.ID
		}
	}
	t.Fatal("no incident")
	return 0
}

// TestAnotherSiteCannotUseThePageSession replays the attack of issue 12: a page on another
// port of the host makes the logged-in operator's browser post to the REST API.
func TestAnotherSiteCannotUseThePageSession(t *testing.T) {
	w := startWebhook(t, "")
	id := openIncident(t, w, "g1")
	cookie := pageSession(t, w.URL, apiAcme)
	evil := map[string]string{"Origin": anotherPort, "Sec-Fetch-Site": "same-site", "Content-Type": "text/plain"}

	p1 := testkit.Payload("acme-ops", "forged", "firing", time.Now().UTC(), map[string]string{"alertname": "Forged", "severity": "critical"})
	a := send(t, http.MethodPost, w.URL+"/api/v1/alerts", cookie, string(p1), evil)
	require.Equal(t, http.StatusUnauthorized, a.code, "the Alertmanager endpoint never takes the cookie")
	for _, action := range []string{"note", "acknowledge"} {
		a = send(t, http.MethodPost, fmt.Sprintf("%s/api/v1/incidents/%d/%s", w.URL, id, action), cookie, `{"text":"pwned"}`, evil)
		require.Equal(t, http.StatusForbidden, a.code, action)
	}
	ins := w.incidents(t, apiAcme)
	require.Len(t, ins, 1, "no forged incident")
	require.Equal(t, "new", string(ins[0].State), "not acknowledged")
}

// TestGuessingIsThrottled: after 10 failures (server.auth_failures' default burst) a source is
// refused unchecked with 503 and Retry-After on the Alertmanager endpoint.
func TestGuessingIsThrottled(t *testing.T) {
	w := startWebhook(t, "")
	body := testkit.Payload("acme-ops", "g", "firing", time.Now().UTC(), map[string]string{"alertname": "A"})
	for i := range 10 {
		a := send(t, http.MethodPost, w.URL+"/api/v1/alerts", nil, string(body), map[string]string{"Authorization": fmt.Sprintf("Bearer guess-%016d", i)})
		require.Equal(t, http.StatusUnauthorized, a.code)
	}
	a := send(t, http.MethodPost, w.URL+"/api/v1/alerts", nil, string(body), map[string]string{"Authorization": "Bearer " + tokAcme})
	require.Equal(t, http.StatusServiceUnavailable, a.code)
	require.NotEmpty(t, a.header.Get("Retry-After"))
	m := send(t, http.MethodGet, w.URL+"/metrics", nil, "", nil)
	require.Equal(t, 200, m.code, "/metrics needs no credential here: not throttled")
	require.True(t, strings.Contains(m.body, `kizashi_webhook_auth_failures_total{reason="token"} 10`), "failures counted")
	require.True(t, strings.Contains(m.body, `kizashi_webhook_auth_throttled_total 1`), "throttled request counted")
}

// TestLogoutEndsTheSession: the cookie is worthless after logout (the server forgets the
// session), and it never held the token or its hash.
func TestLogoutEndsTheSession(t *testing.T) {
	w := startWebhook(t, "")
	cookie := pageSession(t, w.URL, apiAcme)
	h := sha256.Sum256([]byte(apiAcme))
	for _, leak := range []string{base64.RawURLEncoding.EncodeToString(h[:]), hex.EncodeToString(h[:])} {
		require.NotContains(t, cookie.Value, leak, "the cookie holds no hash of the token")
	}
	token := csrfOf(t, w.URL, cookie, "/incidents")

	a := send(t, http.MethodPost, w.URL+"/logout", cookie, url.Values{"csrf": {token}}.Encode(),
		map[string]string{"Content-Type": form, "Origin": anotherPort})
	require.Equal(t, http.StatusForbidden, a.code, "another site cannot log the user out")
	require.Equal(t, 200, send(t, http.MethodGet, w.URL+"/incidents", cookie, "", nil).code)

	a = send(t, http.MethodPost, w.URL+"/logout", cookie, url.Values{"csrf": {token}}.Encode(), map[string]string{"Content-Type": form, "Origin": w.URL})
	require.Equal(t, http.StatusSeeOther, a.code)
	a = send(t, http.MethodGet, w.URL+"/incidents", cookie, "", nil)
	require.Equal(t, http.StatusSeeOther, a.code, "the old cookie no longer opens the page")
	require.Equal(t, "/login?error=expired", a.header.Get("Location"))
	a = send(t, http.MethodGet, w.URL+"/api/v1/incidents", cookie, "", nil)
	require.Equal(t, http.StatusUnauthorized, a.code, "nor the API")
}

// TestLoginPageShowsNoTextFromTheURL: ?error= is a code, not a message.
func TestLoginPageShowsNoTextFromTheURL(t *testing.T) {
	w := startWebhook(t, "")
	lure := "Your account is locked: call +81 3 0000 0000"
	a := send(t, http.MethodGet, w.URL+"/login?error="+url.QueryEscape(lure), nil, "", nil)
	require.Equal(t, 200, a.code)
	require.NotContains(t, a.body, "call +81")
	a = send(t, http.MethodGet, w.URL+"/login?error=expired", nil, "", nil)
	require.Contains(t, a.body, "Your session ended")
}

// TestIncidentIDsSayNothingAboutOtherTenants: globex's incidents between acme's leave no gaps
// in acme's ids.
func TestIncidentIDsSayNothingAboutOtherTenants(t *testing.T) {
	w := startWebhook(t, "")
	for i := range 3 {
		openIncident(t, w, fmt.Sprintf("a%d", i))
		post(t, w.URL+"/api/v1/alerts", tokGlobex, testkit.Payload("globex-ops", fmt.Sprintf("b%d", i), "firing", time.Now().UTC(),
			map[string]string{"alertname": fmt.Sprintf("B%d", i)}))
	}
	var ids []int64
	for _, in := range w.incidents(t, apiAcme) {
		ids = append(ids, in.ID)
	}
	slices.Sort(ids)
	require.Len(t, ids, 3)
	require.NotEqual(t, []int64{1, 3, 5}, ids, "sequential ids show globex's incidents in the gaps")
	require.Greater(t, ids[2]-ids[0], int64(1000), "public ids are spread over 2^52")
}

// TestSecureCookieBehindATrustedProxy: behind a TLS proxy the cookie is Secure when the proxy is
// trusted and says https; X-Forwarded-Proto from anyone else is not believed.
func TestSecureCookieBehindATrustedProxy(t *testing.T) {
	for _, tc := range []struct {
		name, server string
		secure       bool
	}{
		{"trusted proxy", "server: {trusted_proxies: [127.0.0.1]}", true},
		{"untrusted", "", false},
		{"always", "server: {secure_cookies: true}", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, err := net.Listen("tcp", "127.0.0.1:0")
			require.NoError(t, err)
			w := runWebhook(t, l, configYAML("storage: {driver: sqlite, path: "+filepath.Join(t.TempDir(), "k.db")+"}\n"+tc.server+"\n"))
			a := send(t, http.MethodPost, w.URL+"/login", nil, url.Values{"token": {apiAcme}}.Encode(),
				map[string]string{"Content-Type": form, "X-Forwarded-Proto": "https"})
			require.Equal(t, http.StatusSeeOther, a.code)
			require.Equal(t, tc.secure, strings.Contains(a.header.Get("Set-Cookie"), "; Secure"), a.header.Get("Set-Cookie"))
		})
	}
}

// TestEveryFormAction posts every form of the incident page with the session's CSRF token,
// without it, and with it from another origin.
func TestEveryFormAction(t *testing.T) {
	w := startWebhook(t, "")
	id := openIncident(t, w, "g1")
	second := openIncident(t, w, "g2")
	cookie := pageSession(t, w.URL, apiAcme)
	page := fmt.Sprintf("/incidents/%d", id)
	token := csrfOf(t, w.URL, cookie, page)
	require.NotEmpty(t, token)
	detail := send(t, http.MethodGet, w.URL+page, cookie, "", nil).body
	forms := regexp.MustCompile(`name="action" value="([a-z_]+)"`).FindAllStringSubmatch(detail, -1)
	require.Len(t, forms, 6, "the page's action forms: those a new incident allows (acknowledge, note, assign, hold, resolve, cancel)")
	require.Equal(t, len(forms)+1, strings.Count(detail, `name="csrf" value="`+token+`"`), "every form posts the token (and the logout form)")

	steps := []struct {
		id     int64
		fields url.Values
	}{
		{id, url.Values{"action": {"acknowledge"}}},
		{id, url.Values{"action": {"note"}, "text": {"looking"}}},
		{id, url.Values{"action": {"assign"}, "assignment_group": {"dba"}, "assignee": {"bob"}}},
		{id, url.Values{"action": {"hold"}, "reason": {"awaiting_vendor"}, "text": {"case 7"}}},
		{id, url.Values{"action": {"resume"}}},
		{id, url.Values{"action": {"resolve"}, "close_code": {"solved_permanently"}, "text": {"fixed"}}},
		{id, url.Values{"action": {"reopen"}, "text": {"back"}}},
		{id, url.Values{"action": {"resolve"}, "close_code": {"solved_workaround"}, "text": {"again"}}},
		{id, url.Values{"action": {"close"}}},
		{second, url.Values{"action": {"cancel"}, "text": {"noise"}, "false_positive": {"on"}}},
	}
	seen := map[string]bool{}
	for _, s := range steps {
		target := fmt.Sprintf("%s/incidents/%d/act", w.URL, s.id)
		kind := s.fields.Get("action")
		seen[kind] = true
		require.Contains(t, send(t, http.MethodGet, fmt.Sprintf("%s/incidents/%d", w.URL, s.id), cookie, "", nil).body,
			`name="action" value="`+kind+`"`, "the page offers %s in this state", kind)
		a := send(t, http.MethodPost, target, cookie, s.fields.Encode(), map[string]string{"Content-Type": form, "Origin": w.URL})
		require.Equal(t, http.StatusForbidden, a.code, "%s without the token", kind)
		with := url.Values{"csrf": {token}}
		for k, v := range s.fields {
			with[k] = v
		}
		a = send(t, http.MethodPost, target, cookie, with.Encode(), map[string]string{"Content-Type": form, "Origin": anotherPort})
		require.Equal(t, http.StatusForbidden, a.code, "%s from another origin", kind)
		a = send(t, http.MethodPost, target, cookie, with.Encode(), map[string]string{"Content-Type": form, "Origin": w.URL, "Sec-Fetch-Site": "same-origin"})
		require.Equal(t, http.StatusSeeOther, a.code, "%s: %s", kind, a.body)
		require.Equal(t, fmt.Sprintf("/incidents/%d?done=%s", s.id, kind), a.header.Get("Location"))
	}
	for _, f := range forms {
		require.True(t, seen[f[1]], "form %s posted", f[1])
	}
	// A refused action shows the page again with the reason (not a redirect with text).
	a := send(t, http.MethodPost, w.URL+page+"/act", cookie, url.Values{"csrf": {token}, "action": {"acknowledge"}}.Encode(),
		map[string]string{"Content-Type": form})
	require.Equal(t, http.StatusConflict, a.code)
	require.Contains(t, a.body, `class="error"`)
	var states []string
	for _, in := range w.incidents(t, apiAcme) {
		states = append(states, string(in.State))
	}
	slices.Sort(states)
	require.Equal(t, []string{"canceled", "closed"}, states)
}

// TestMetricsBehindTheWebConfig: the web config's basic_auth_users guard /metrics, and only the
// operational endpoints: Alertmanager and the API keep their own credentials.
func TestMetricsBehindTheWebConfig(t *testing.T) {
	dir := t.TempDir()
	hash, err := bcrypt.GenerateFromPassword([]byte("scrape-password"), bcrypt.MinCost)
	require.NoError(t, err)
	webPath := filepath.Join(dir, "web.yml")
	require.NoError(t, os.WriteFile(webPath, []byte("basic_auth_users:\n  prometheus: "+string(hash)+"\n"), 0o600))
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	w := runWebhook(t, l, configYAML("storage: {driver: sqlite, path: "+filepath.Join(dir, "k.db")+"}\n"), func(o *app.Options) {
		o.Web = &web.FlagConfig{WebConfigFile: &webPath, WebListenAddresses: &[]string{}}
	})

	require.Equal(t, http.StatusUnauthorized, send(t, http.MethodGet, w.URL+"/metrics", nil, "", nil).code)
	basic := func(user, pass string) map[string]string {
		req, _ := http.NewRequest(http.MethodGet, "/", nil)
		req.SetBasicAuth(user, pass)
		return map[string]string{"Authorization": req.Header.Get("Authorization")}
	}
	require.Equal(t, http.StatusUnauthorized, send(t, http.MethodGet, w.URL+"/metrics", nil, "", basic("prometheus", "wrong")).code)
	m := send(t, http.MethodGet, w.URL+"/metrics", nil, "", basic("prometheus", "scrape-password"))
	require.Equal(t, 200, m.code)
	require.True(t, strings.Contains(m.body, "kizashi_webhook_store_up 1"))

	body := testkit.Payload("acme-ops", "g", "firing", time.Now().UTC(), map[string]string{"alertname": "A"})
	a := send(t, http.MethodPost, w.URL+"/api/v1/alerts", nil, string(body), map[string]string{"Authorization": "Bearer " + tokAcme})
	require.Equal(t, 200, a.code, "Alertmanager's bearer token still works")
	require.Equal(t, 200, send(t, http.MethodGet, w.URL+"/api/v1/incidents", nil, "", map[string]string{"Authorization": "Bearer " + apiAcme}).code)
	refused := send(t, http.MethodGet, w.URL+"/api/v1/incidents", nil, "", map[string]string{"Authorization": "Bearer " + tokAcme})
	require.Equal(t, http.StatusForbidden, refused.code, "Alertmanager's token only posts alerts")
	require.Contains(t, refused.body, "tenants[].api_tokens")
	require.Equal(t, 200, send(t, http.MethodGet, w.URL+"/-/healthy", nil, "", nil).code)
	require.Equal(t, 200, send(t, http.MethodGet, w.URL+"/login", nil, "", nil).code)
}

// TestForwardingPageShowsAPause: a target that answers 429 with a year's Retry-After is paused
// for forwarding.max_retry_after, and the page says so (to its tenant only).
func TestForwardingPageShowsAPause(t *testing.T) {
	sn := forwardtest.NewServiceNow(t)
	sn.Fail(forwardtest.Fault{Op: forwardtest.SNCreate, Status: http.StatusTooManyRequests, RetryAfter: "31536000"})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	w := runWebhook(t, l, fmt.Sprintf(`storage: {driver: sqlite, path: %q}
forwarding: {poll_interval: 100ms, max_retry_after: 1h}
tenants:
  - name: acme
    tokens: [%q]
    api_tokens: [{name: acme, role: act, tokens: ["`+apiAcme+`"]}]
    forwarders: [{name: snow, type: servicenow, url: %q}]
  - name: globex
    tokens: [%q]
    api_tokens: [{name: globex, role: act, tokens: ["`+apiGlobex+`"]}]
`, filepath.Join(t.TempDir(), "k.db"), tokAcme, sn.URL(), tokGlobex))
	require.Equal(t, 200, postTo(t, w.URL+"/api/v1/alerts", tokAcme, notification(1, "firing")))
	require.Eventually(t, func() bool {
		return metric(t, w.URL, `kizashi_webhook_forward_failures_total{reason="rate_limited",target="acme/snow"}`) == 1
	}, time.Minute, 50*time.Millisecond)
	until := metric(t, w.URL, `kizashi_webhook_forward_paused_until_timestamp_seconds{target="acme/snow"}`)
	require.Greater(t, until, float64(time.Now().Add(50*time.Minute).Unix()))
	require.LessOrEqual(t, until, float64(time.Now().Add(time.Hour).Unix()+1), "capped at max_retry_after")

	page := send(t, http.MethodGet, w.URL+"/forwarding", pageSession(t, w.URL, apiAcme), "", nil)
	require.Equal(t, 200, page.code)
	row := regexp.MustCompile(`<tr data-target="acme/snow">.*?</tr>`).FindString(page.body)
	require.Contains(t, row, `<td class="state">paused</td>`)
	require.Contains(t, row, time.Unix(int64(until), 0).Local().Format("2006-01-02 15:04"), "until when")
	other := send(t, http.MethodGet, w.URL+"/forwarding", pageSession(t, w.URL, apiGlobex), "", nil)
	require.NotContains(t, other.body, "acme/snow", "another tenant does not see the target")
}
