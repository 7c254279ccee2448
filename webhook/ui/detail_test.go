package ui_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/kizashi-dev/kizashi/webhook/auth"
	"github.com/kizashi-dev/kizashi/webhook/incident"
	"github.com/kizashi-dev/kizashi/webhook/store"
)

// buttons are the action buttons an incident's page shows.
func buttons(page string) []string {
	var out []string
	for _, k := range incident.Actions {
		if contains(page, `<button id="`+k+`" type="submit">`) {
			out = append(out, k)
		}
	}
	return out
}

func contains(s, sub string) bool { return len(sub) > 0 && len(s) >= len(sub) && indexOf(s, sub) >= 0 }

func indexOf(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return i
		}
	}
	return -1
}

// TestActionsFollowTheState: the incident's page shows the actions its state allows, and after
// each action those of the new state.
func TestActionsFollowTheState(t *testing.T) {
	d := newDesk(t, "")
	id := d.ingest("acme", "g", time.Now(), map[string]string{"alertname": "A"}, nil)
	cookie, csrf := d.session(tok)
	path := "/incidents/" + strconv.FormatInt(id, 10)
	page := func() string {
		ans := d.do(cookie, http.MethodGet, path, nil, nil)
		require.Equal(t, http.StatusOK, ans.code)
		return ans.body
	}
	post := func(form url.Values) {
		form.Set("csrf", csrf)
		ans := d.do(cookie, http.MethodPost, path+"/act", form, nil)
		require.Equal(t, http.StatusSeeOther, ans.code, ans.body)
	}
	require.Equal(t, []string{"acknowledge", "assign", "note", "hold", "resolve", "cancel"}, buttons(page()))
	post(url.Values{"action": {"acknowledge"}})
	require.Equal(t, []string{"assign", "note", "hold", "resolve", "cancel"}, buttons(page()))
	post(url.Values{"action": {"hold"}, "reason": {"awaiting_vendor"}})
	require.Equal(t, []string{"assign", "note", "resume", "resolve", "cancel"}, buttons(page()))
	post(url.Values{"action": {"resolve"}, "close_code": {"solved_permanently"}, "text": {"vendor fixed it"}})
	require.Equal(t, []string{"assign", "note", "close", "reopen"}, buttons(page()))
	post(url.Values{"action": {"close"}})
	require.Equal(t, []string{"note"}, buttons(page()))

	// An action the page no longer offers, posted anyway, is refused with the rule's reason.
	ans := d.do(cookie, http.MethodPost, path+"/act", url.Values{"csrf": {csrf}, "action": {"acknowledge"}}, nil)
	require.Equal(t, http.StatusConflict, ans.code)
	require.Contains(t, ans.body, "The incident&#39;s state does not allow this action")
	require.Contains(t, ans.body, `data-refresh-url="`+path+`"`, "the page shown at .../act refreshes from the incident's address")
	ans = d.do(cookie, http.MethodPost, path+"/act", url.Values{"csrf": {csrf}, "action": {"acknowledge"}},
		map[string]string{"Accept-Language": "ja"})
	require.Contains(t, ans.body, "インシデントの状態ではこの操作はできません")
	require.Regexp(t, `インシデントの状態ではこの操作はできません（状態遷移エラー: このインシデントは \S+ に受付済みです）。`, ans.body,
		"the rule's own words in Japanese")
	require.NotContains(t, ans.body, "already acknowledged")
}

// TestForwardingOnTheIncident: the incident's page shows its delivery to each target from the
// outbox's jobs: delivered with its ticket, a dead letter with its reason.
func TestForwardingOnTheIncident(t *testing.T) {
	d := newDesk(t, "")
	ctx := context.Background()
	id := d.ingest("acme", "g", time.Now(), map[string]string{"alertname": "A"}, nil)
	other := d.ingest("acme", "h", time.Now(), map[string]string{"alertname": "B"}, nil)
	now := time.Now()
	_, err := d.st.DispatchOutbox(ctx, now, 100, func(string) []string { return []string{"acme/sn", "acme/hook"} })
	require.NoError(t, err)
	lease := now.Add(time.Minute)
	sn, err := d.st.ClaimJobs(ctx, "acme/sn", "w", now, lease, 10)
	require.NoError(t, err)
	require.Len(t, sn, 2)
	for _, j := range sn {
		if j.IncidentID != id {
			continue
		}
		ref := store.ExternalRef{Target: "acme/sn", ID: "abc", Key: "INC0010001", URL: "https://sn.example/inc/abc"}
		require.NoError(t, d.st.SaveRef(ctx, j.ID, "w", ref))
		ok, err := d.st.CompleteJob(ctx, j.ID, "w", store.JobDone{Gen: j.Gen, Ref: ref, At: now, ClaimedAt: now})
		require.NoError(t, err)
		require.True(t, ok)
	}
	hook, err := d.st.ClaimJobs(ctx, "acme/hook", "w", now, lease, 10)
	require.NoError(t, err)
	for _, j := range hook {
		if j.IncidentID == id {
			require.NoError(t, d.st.FailJob(ctx, j.ID, "w", store.JobFailed{Error: "400 Bad Request: unknown field", Count: true, Dead: true, At: now}))
		}
	}

	cookie, _ := d.session(tok)
	page := d.do(cookie, http.MethodGet, "/incidents/"+strconv.FormatInt(id, 10), nil, nil).body
	require.Regexp(t, `<tr data-target="acme/hook" class="dead"><td>acme/hook</td><td class="state">dead letter</td><td></td><td>1</td><td class="last-error">400 Bad Request: unknown field</td>`, page)
	require.Regexp(t, `<tr data-target="acme/sn" class=""><td>acme/sn</td><td class="state">delivered</td><td><a href="https://sn.example/inc/abc"[^>]*>INC0010001</a></td><td>0</td>`, page)
	page = d.do(cookie, http.MethodGet, "/incidents/"+strconv.FormatInt(other, 10), nil, map[string]string{"Accept-Language": "ja"}).body
	require.Regexp(t, `<td>acme/hook</td><td class="state">未配送</td>`, page, "the other incident is still pending")
	// Another tenant does not see acme's deliveries (nor the incident).
	gcookie, gcsrf := d.session(tokGlobx)
	require.Equal(t, http.StatusNotFound, d.do(gcookie, http.MethodGet, "/incidents/"+strconv.FormatInt(id, 10), nil, nil).code)

	// The dead letter is retried from the incident: due again, pending.
	page = d.do(cookie, http.MethodGet, "/incidents/"+strconv.FormatInt(id, 10), nil, nil).body
	m := regexp.MustCompile(`name="dead_letter" value="(\d+)"`).FindStringSubmatch(page)
	require.NotNil(t, m, page)
	cookie2, csrf2 := d.session(tok)
	retry := func(cookie, csrf string, incident int64) answer {
		return d.do(cookie, http.MethodPost, "/incidents/"+strconv.FormatInt(incident, 10)+"/retry", url.Values{"csrf": {csrf}, "dead_letter": {m[1]}}, nil)
	}
	require.Equal(t, http.StatusNotFound, retry(cookie2, csrf2, other).code, "a dead letter of another incident")
	require.Equal(t, http.StatusNotFound, retry(gcookie, gcsrf, id).code, "another tenant's")
	require.Equal(t, http.StatusForbidden, d.do(cookie2, http.MethodPost, "/incidents/"+strconv.FormatInt(id, 10)+"/retry", url.Values{"dead_letter": {m[1]}}, nil).code, "no CSRF token")
	ans := retry(cookie2, csrf2, id)
	require.Equal(t, http.StatusSeeOther, ans.code, ans.body)
	ans = d.do(cookie2, http.MethodGet, ans.location, nil, nil)
	require.Contains(t, ans.body, "The dead letter is due again.")
	require.Regexp(t, `<td>acme/hook</td><td class="state">pending</td>`, ans.body)
	ans = retry(cookie2, csrf2, id)
	require.Contains(t, d.do(cookie2, http.MethodGet, ans.location, nil, nil).body, "Not a dead letter (any more).")
	jobs, err := d.st.IncidentJobs(ctx, "acme", id)
	require.NoError(t, err)
	for _, j := range jobs {
		require.True(t, j.DeadAt.IsZero(), j.Target)
	}
}

// TestLanguageAndTimeZone: the browser's language picks the page's; a choice on the
// preferences page wins, and so does the user's time zone for every date.
func TestLanguageAndTimeZone(t *testing.T) {
	d := newDesk(t, "page:\n  time_zone: America/New_York\n")
	start := time.Date(2026, 12, 5, 0, 30, 0, 0, time.UTC)
	d.clock.Advance(start.Sub(d.clock.Now()))
	id := d.ingest("acme", "g", start, map[string]string{"alertname": "DiskFull"}, nil)
	path := "/incidents/" + strconv.FormatInt(id, 10)
	cookie, csrf := d.session(tok)

	en := d.do(cookie, http.MethodGet, path, nil, map[string]string{"Accept-Language": "fr-FR,fr;q=0.9"}).body
	require.Contains(t, en, `<html lang="en">`)
	require.Contains(t, en, `<dd id="created">2026-12-04 19:30:00</dd>`, "the configured default zone")
	require.Contains(t, en, "Acknowledge")
	ja := d.do(cookie, http.MethodGet, path, nil, map[string]string{"Accept-Language": "ja-JP,ja;q=0.9,en;q=0.8"}).body
	require.Contains(t, ja, `<html lang="ja">`)
	require.Contains(t, ja, `<dd id="state">新規</dd>`)
	require.Contains(t, ja, `>受付</button>`)
	require.Contains(t, ja, "インシデント")

	// The preferences: English although the browser asks for Japanese, in Tokyo.
	ans := d.do(cookie, http.MethodPost, "/preferences", url.Values{"csrf": {csrf}, "lang": {"en"}, "zone": {"Asia/Tokyo"}}, nil)
	require.Equal(t, http.StatusSeeOther, ans.code, ans.body)
	var prefs []*http.Cookie
	for _, c := range (&http.Response{Header: ans.header}).Cookies() {
		require.True(t, c.HttpOnly)
		prefs = append(prefs, c)
	}
	require.Len(t, prefs, 2)
	page := d.do(cookie, http.MethodGet, path, nil, map[string]string{"Accept-Language": "ja"}, prefs...).body
	require.Contains(t, page, `<html lang="en">`)
	require.Contains(t, page, `<dd id="created">2026-12-05 09:30:00</dd>`)
	require.Contains(t, page, `Asia/Tokyo</span>`)
	list := d.do(cookie, http.MethodGet, "/incidents", nil, nil, prefs...).body
	require.Contains(t, list, `<td class="t">2026-12-05 09:30:00</td>`)

	// A time zone that does not exist (or the server's own) is refused, and nothing is set.
	for _, z := range []string{"Mars/Olympus", "Local", "", "../../etc/passwd"} {
		ans = d.do(cookie, http.MethodPost, "/preferences", url.Values{"csrf": {csrf}, "lang": {"ja"}, "zone": {z}}, nil)
		require.Equal(t, http.StatusBadRequest, ans.code, z)
		require.Empty(t, ans.header.Values("Set-Cookie"))
	}
	require.Contains(t, ans.body, "Unknown time zone &#34;../../etc/passwd&#34;")
	// Without the CSRF token: refused, in the user's language.
	ans = d.do(cookie, http.MethodPost, "/preferences", url.Values{"lang": {"ja"}, "zone": {"UTC"}}, map[string]string{"Accept-Language": "ja"})
	require.Equal(t, http.StatusForbidden, ans.code)
	require.Contains(t, ans.body, "CSRF トークンがないか正しくありません")
	// A forged language cookie is ignored.
	page = d.do(cookie, http.MethodGet, path, nil, map[string]string{"Accept-Language": "ja"}, &http.Cookie{Name: "kizashi_lang", Value: "<script>"}).body
	require.Contains(t, page, `<html lang="ja">`)
	// The log-in page speaks the browser's language too.
	login := d.do("", http.MethodGet, "/login?error=expired", nil, map[string]string{"Accept-Language": "ja"}).body
	require.Contains(t, login, "セッションが終了しました")
}

// TestSavedPreferencesFollowTheUser: a named user's preferences are saved in the store, so
// another browser (a new session, without the preferences' cookies) shows the page in the
// user's language and zone, whatever it asks for; a token's stay in its browser.
func TestSavedPreferencesFollowTheUser(t *testing.T) {
	h, err := bcrypt.GenerateFromPassword([]byte("kenji-password-01"), bcrypt.MinCost)
	require.NoError(t, err)
	d := newDesk(t, fmt.Sprintf("users:\n  - {name: kenji, role: operator, password_hash: %q}\n", h))
	start := time.Date(2026, 12, 5, 0, 30, 0, 0, time.UTC)
	d.clock.Advance(start.Sub(d.clock.Now()))
	id := d.ingest("acme", "g", start, map[string]string{"alertname": "DiskFull"}, nil)
	path := "/incidents/" + strconv.FormatInt(id, 10)
	kenji := auth.Credential{Username: "kenji", Password: "kenji-password-01"}

	cookie, csrf := d.sessionOf(kenji)
	ans := d.do(cookie, http.MethodPost, "/preferences", url.Values{"csrf": {csrf}, "lang": {"ja"}, "zone": {"Asia/Tokyo"}}, nil)
	require.Equal(t, http.StatusSeeOther, ans.code, ans.body)
	saved, err := d.st.UserPreferences(context.Background(), "kenji")
	require.NoError(t, err)
	require.Equal(t, store.UserPreferences{Language: "ja", Zone: "Asia/Tokyo"}, saved)

	other, _ := d.sessionOf(kenji)
	page := d.do(other, http.MethodGet, path, nil, map[string]string{"Accept-Language": "en-US,en;q=0.9"}).body
	require.Contains(t, page, `<html lang="ja">`, "the saved language, not the browser's")
	require.Contains(t, page, `<dd id="created">2026-12-05 09:30:00</dd>`, "the saved zone")
	prefs := d.do(other, http.MethodGet, "/preferences", nil, nil).body
	require.Contains(t, prefs, `value="ja" selected`, "the preferences page shows the saved choice")
	// The saved choice wins over a stale cookie of the browser.
	page = d.do(other, http.MethodGet, path, nil, nil, &http.Cookie{Name: "kizashi_lang", Value: "en"}).body
	require.Contains(t, page, `<html lang="ja">`)

	// "The browser's language" is a choice too: saved, the browser decides again.
	ans = d.do(cookie, http.MethodPost, "/preferences", url.Values{"csrf": {csrf}, "lang": {""}, "zone": {"UTC"}}, nil)
	require.Equal(t, http.StatusSeeOther, ans.code, ans.body)
	page = d.do(other, http.MethodGet, path, nil, map[string]string{"Accept-Language": "en"}).body
	require.Contains(t, page, `<html lang="en">`)

	// A token is nobody in particular: its preferences live in its browser's cookies only.
	tc, tcsrf := d.session(tokNOC)
	ans = d.do(tc, http.MethodPost, "/preferences", url.Values{"csrf": {tcsrf}, "lang": {"ja"}, "zone": {"Asia/Tokyo"}}, nil)
	require.Equal(t, http.StatusSeeOther, ans.code, ans.body)
	saved, err = d.st.UserPreferences(context.Background(), "noc")
	require.NoError(t, err)
	require.Equal(t, store.UserPreferences{}, saved)
}

// TestManualIncidentRefusedInJapanese: the form for an incident reported by hand says why it
// was refused in the user's language (the rule's words translated); a read-only role's 403 too.
func TestManualIncidentRefusedInJapanese(t *testing.T) {
	d := newDesk(t, "")
	cookie, csrf := d.session(tokNOC)
	ja := map[string]string{"Accept-Language": "ja"}
	ans := d.do(cookie, http.MethodPost, "/incidents/new", url.Values{"csrf": {csrf}, "tenant": {"acme"}, "title": {" "},
		"channel": {"phone"}, "impact": {"2"}, "urgency": {"2"}}, ja)
	require.Equal(t, http.StatusBadRequest, ans.code, ans.body)
	require.Contains(t, ans.body, "インシデントの起票: 入力エラー: タイトルを入力してください。")
	ans = d.do(cookie, http.MethodPost, "/incidents/new", url.Values{"csrf": {csrf}, "tenant": {"acme"}, "title": {" "},
		"channel": {"phone"}, "impact": {"2"}, "urgency": {"2"}}, nil)
	require.Contains(t, ans.body, "create incident: invalid action: title required")
}
