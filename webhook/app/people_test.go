package app_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/oauth2-proxy/mockoidc"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/kizashi-dev/kizashi/webhook/apitypes"
	"github.com/kizashi-dev/kizashi/webhook/testkit"
)

// userAgent is a person's user agent: a cookie jar, following redirects.
type userAgent struct {
	t      *testing.T
	c      *http.Client
	origin string
	csrf   string
}

func newBrowser(t *testing.T, origin string) *userAgent {
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	return &userAgent{t: t, c: &http.Client{Jar: jar, Timeout: time.Minute}, origin: origin}
}

func (b *userAgent) do(method, u string, body io.Reader, header map[string]string) (int, string, *url.URL) {
	b.t.Helper()
	req, err := http.NewRequest(method, u, body)
	require.NoError(b.t, err)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := b.c.Do(req)
	require.NoError(b.t, err)
	defer func() { require.NoError(b.t, resp.Body.Close()) }()
	out, err := io.ReadAll(resp.Body)
	require.NoError(b.t, err)
	return resp.StatusCode, string(out), resp.Request.URL
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// page reads a page of the desk and keeps its CSRF token.
func (b *userAgent) page(path string) (int, string) {
	code, body, _ := b.do(http.MethodGet, b.origin+path, nil, nil)
	if m := csrfField.FindStringSubmatch(body); m != nil {
		b.csrf = m[1]
	}
	return code, body
}

// act calls the REST API with the page's session (and its CSRF token).
func (b *userAgent) act(id int64, action string, body any) (int, string) {
	raw, err := json.Marshal(body)
	require.NoError(b.t, err)
	code, out, _ := b.do(http.MethodPost, fmt.Sprintf("%s/api/v1/incidents/%d/%s", b.origin, id, action), bytes.NewReader(raw),
		map[string]string{"X-CSRF-Token": b.csrf, "Origin": b.origin, "Content-Type": "application/json"})
	return code, out
}

func (b *userAgent) detail(id int64) (int, apitypes.Detail) {
	code, body, _ := b.do(http.MethodGet, fmt.Sprintf("%s/api/v1/incidents/%d", b.origin, id), nil, nil)
	var d apitypes.Detail
	if code == 200 {
		require.NoError(b.t, json.Unmarshal([]byte(body), &d))
	}
	return code, d
}

// TestNamedPeople: an operator logs in through a real OpenID Connect provider (mockoidc: its
// discovery, JWKS, authorization and token endpoints; go-oidc verifies the ID token), another
// with a password, a customer with a password: the journal names each of them, the customer
// reads its tenant's incident without internal notes and changes nothing.
func TestNamedPeople(t *testing.T) {
	op, err := mockoidc.Run()
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, op.Shutdown()) })
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	origin := "http://" + l.Addr().String()
	hash := func(pw string) string {
		h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
		require.NoError(t, err)
		return string(h)
	}
	cfg := op.Config()
	w := runWebhook(t, l, configYAML(fmt.Sprintf("storage: {driver: sqlite, path: %q}", filepath.Join(t.TempDir(), "k.db")))+fmt.Sprintf(`
users:
  - {name: alice, role: operator, oidc_subject: alice-sub}
  - {name: bob, role: admin, password_hash: %q}
  - {name: carol, role: customer, tenant: acme, password_hash: %q, email: carol@acme.example}
oidc:
  issuer: %q
  client_id: %q
  client_secret: %q
  redirect_url: %q
`, hash("bob-password-0123"), hash("carol-password-0123"), cfg.Issuer, cfg.ClientID, cfg.ClientSecret, origin+"/login/oidc/callback"))

	var recv struct{ Incidents []int64 }
	body := testkit.Payload("acme.ops", "g", "firing", time.Now().Add(-time.Minute), map[string]string{"alertname": "Disk", "instance": "db1"})
	req, err := http.NewRequest(http.MethodPost, w.URL+"/api/v1/alerts", bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+tokAcme)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&recv))
	require.NoError(t, resp.Body.Close())
	id := recv.Incidents[0]

	// Alice: single sign-on.
	op.QueueUser(&mockoidc.MockUser{Subject: "alice-sub", Email: "alice@msp.example", EmailVerified: true})
	alice := newBrowser(t, origin)
	code, _, at := alice.do(http.MethodGet, origin+"/login/oidc", nil, nil)
	require.Equal(t, 200, code)
	require.Equal(t, "/incidents", at.Path, "logged in and sent to the queue")
	code, _ = alice.page(fmt.Sprintf("/incidents/%d", id))
	require.Equal(t, 200, code)
	code, out := alice.act(id, "note", map[string]string{"text": "internal: disk controller suspected"})
	require.Equal(t, 200, code, out)

	// Bob: user name and password on the log-in page.
	bob := newBrowser(t, origin)
	code, _, at = bob.do(http.MethodPost, origin+"/login", strings.NewReader(url.Values{"username": {"bob"}, "password": {"bob-password-0123"}}.Encode()),
		map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Origin": origin})
	require.Equal(t, 200, code)
	require.Equal(t, "/incidents", at.Path)
	bob.page(fmt.Sprintf("/incidents/%d", id))
	code, out = bob.act(id, "acknowledge", map[string]string{})
	require.Equal(t, 200, code, out)
	code, out = bob.act(id, "comment", map[string]string{"text": "We are replacing the disk."})
	require.Equal(t, 200, code, out)

	// Bob takes a phone call: an incident opened by hand on the page.
	code, form := bob.page("/incidents/new")
	require.Equal(t, 200, code)
	require.Contains(t, form, `<button id="create" type="submit">Open incident</button></form></main>`, "the whole form renders")
	code, created, at := bob.do(http.MethodPost, origin+"/incidents/new", strings.NewReader(url.Values{"csrf": {bob.csrf},
		"tenant": {"acme"}, "title": {"Shop down (phone call)"}, "channel": {"phone"}, "impact": {"1"}, "urgency": {"1"},
		"description": {"Caller: Sato"}}.Encode()), map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Origin": origin})
	require.Equal(t, 200, code)
	require.Contains(t, at.Path, "/incidents/")
	require.Contains(t, created, "Shop down (phone call)")
	require.Contains(t, created, "created by hand (phone): P1")

	// Every line of the journal names a person or the system.
	_, d := bob.detail(id)
	actors := map[string]string{}
	for _, e := range d.Journal {
		actors[e.Kind] = e.Actor
		want := map[string]string{"alice": "user", "bob": "user", "alertmanager": "system"}[e.Actor]
		require.Equal(t, want, e.ActorType, "%s %s", e.Actor, e.Kind)
	}
	require.Equal(t, "alice", actors["note"])
	require.Equal(t, "bob", actors["comment"])
	require.Equal(t, "bob", actors["state"])
	require.Equal(t, "alertmanager", actors["created"])

	// Carol, the customer: her tenant's incident, the comment, not the internal note.
	carol := newBrowser(t, origin)
	code, _, _ = carol.do(http.MethodPost, origin+"/login", strings.NewReader(url.Values{"username": {"carol"}, "password": {"carol-password-0123"}}.Encode()),
		map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Origin": origin})
	require.Equal(t, 200, code)
	code, page := carol.page(fmt.Sprintf("/incidents/%d", id))
	require.Equal(t, 200, code)
	code, d = carol.detail(id)
	require.Equal(t, 200, code)
	var texts []string
	for _, e := range d.Journal {
		texts = append(texts, e.Message)
	}
	require.Contains(t, strings.Join(texts, "\n"), "We are replacing the disk.")
	require.NotContains(t, strings.Join(texts, "\n"), "disk controller", "an internal note never reaches a customer")
	require.NotContains(t, page, "disk controller", "nor on the page")
	for _, action := range []string{"note", "comment", "cancel", "resolve"} {
		code, _ = carol.act(id, action, map[string]string{"text": "x", "close_code": "solved_permanently"})
		require.Equal(t, http.StatusForbidden, code, action)
	}
	code, _, _ = carol.do(http.MethodGet, origin+"/api/v1/deadletters", nil, nil)
	require.Equal(t, http.StatusForbidden, code)
	code, _ = carol.page("/forwarding")
	require.Equal(t, http.StatusForbidden, code)
	code, _ = carol.page("/incidents/new")
	require.Equal(t, http.StatusForbidden, code)
	code, _, _ = carol.do(http.MethodPost, origin+"/incidents/new", strings.NewReader(url.Values{"csrf": {carol.csrf},
		"tenant": {"acme"}, "title": {"x"}, "channel": {"phone"}, "impact": {"1"}, "urgency": {"1"}}.Encode()),
		map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Origin": origin})
	require.Equal(t, http.StatusForbidden, code)
	for _, action := range []string{"acknowledge", "note", "cancel"} {
		code, _, _ = carol.do(http.MethodPost, fmt.Sprintf("%s/incidents/%d/act", origin, id),
			strings.NewReader(url.Values{"csrf": {carol.csrf}, "action": {action}, "text": {"x"}}.Encode()),
			map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Origin": origin})
		require.Equal(t, http.StatusForbidden, code, "page action %s", action)
	}

	// A person the configuration does not list gets no session, whatever the provider says.
	op.QueueUser(&mockoidc.MockUser{Subject: "mallory", Email: "carol@acme.example", EmailVerified: false})
	mallory := newBrowser(t, origin)
	code, _, at = mallory.do(http.MethodGet, origin+"/login/oidc", nil, nil)
	require.Equal(t, 200, code)
	require.Equal(t, "/login", at.Path)
	require.Equal(t, "oidc", at.Query().Get("error"))
	code, _, _ = mallory.do(http.MethodGet, origin+"/api/v1/incidents", nil, nil)
	require.Equal(t, http.StatusUnauthorized, code)
}
