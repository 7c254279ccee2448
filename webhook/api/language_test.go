package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/kizashi-dev/kizashi/webhook/apitypes"
	"github.com/kizashi-dev/kizashi/webhook/store"
)

// answer is an API answer as a client reads it.
type answer struct {
	status   int
	lang     string
	vary     []string
	body     string
	apiError apitypes.Error
}

// call sends a request with Accept-Language (none when acceptLanguage is ""), as a token or
// as a user (basic authentication).
func (f *fixture) call(t *testing.T, method, path, body, acceptLanguage string, auth func(*http.Request)) answer {
	t.Helper()
	req, err := http.NewRequest(method, f.srv.URL+path, strings.NewReader(body))
	require.NoError(t, err)
	if acceptLanguage != "" {
		req.Header.Set("Accept-Language", acceptLanguage)
	}
	if auth != nil {
		auth(req)
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	raw, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	require.NoError(t, res.Body.Close())
	a := answer{status: res.StatusCode, lang: res.Header.Get("Content-Language"), vary: res.Header.Values("Vary"), body: string(raw)}
	if res.StatusCode >= 400 {
		require.Equal(t, "application/json", res.Header.Get("Content-Type"), a.body)
		require.NoError(t, json.Unmarshal(raw, &a.apiError), a.body)
		require.Contains(t, apitypes.ErrorCodes, a.apiError.Code, a.body)
	}
	return a
}

func bearer(token string) func(*http.Request) {
	return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+token) }
}

func basic(user, password string) func(*http.Request) {
	return func(r *http.Request) { r.SetBasicAuth(user, password) }
}

func languageFixture(t *testing.T) *fixture {
	hash := func(pw string) string {
		h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
		require.NoError(t, err)
		return string(h)
	}
	return newFixture(t, nil, cfgYAML+fmt.Sprintf(`
users:
  - {name: otto, role: operator, password_hash: %q}
  - {name: kenji, role: operator, password_hash: %q}
  - {name: cleo, role: customer, tenant: a, password_hash: %q}
`, hash("otto-password-01"), hash("kenji-password-01"), hash("cleo-password-01")))
}

// TestErrorsInTheNegotiatedLanguage: an API error is in Japanese for Accept-Language: ja, in
// English otherwise, with Content-Language and Vary: Accept-Language, and the same code in
// both; English is word for word what it was before the catalogue.
func TestErrorsInTheNegotiatedLanguage(t *testing.T) {
	f := languageFixture(t)
	op := bearer(tokOp)

	ja := f.call(t, "GET", apitypes.IncidentsPath+"/nope", "", "ja-JP,ja;q=0.9,en;q=0.8", op)
	require.Equal(t, http.StatusBadRequest, ja.status)
	require.Equal(t, "ja", ja.lang)
	require.Contains(t, ja.vary, "Accept-Language")
	require.Equal(t, apitypes.Error{Error: "インシデント ID が不正です。", Code: apitypes.CodeBadRequest}, ja.apiError)
	en := f.call(t, "GET", apitypes.IncidentsPath+"/nope", "", "en-US,en;q=0.9,ja;q=0.8", op)
	require.Equal(t, "en", en.lang)
	require.Contains(t, en.vary, "Accept-Language")
	require.Equal(t, apitypes.Error{Error: "invalid incident id", Code: apitypes.CodeBadRequest}, en.apiError)
	none := f.call(t, "GET", apitypes.IncidentsPath+"/nope", "", "", op)
	require.Equal(t, "en", none.lang, "no Accept-Language: English")
	require.JSONEq(t, `{"error":"invalid incident id","code":"bad_request"}`, none.body, "the error field keeps its English words")

	// A filter's error (readmodel) and a decoding error with Go's own words inside.
	ja = f.call(t, "GET", apitypes.IncidentsPath+"?state=sleeping", "", "ja", op)
	require.Equal(t, apitypes.Error{Error: `不明な状態です: "sleeping"`, Code: apitypes.CodeBadRequest}, ja.apiError)
	en = f.call(t, "GET", apitypes.IncidentsPath+"?state=sleeping", "", "en", op)
	require.Equal(t, `unknown state "sleeping"`, en.apiError.Error)
	ja = f.call(t, "POST", apitypes.IncidentsPath, `{"tenant":`, "ja", op)
	require.Equal(t, http.StatusBadRequest, ja.status)
	require.Equal(t, "インシデントのリクエストを読み取れません: unexpected EOF", ja.apiError.Error)

	// Before the caller is known: 401 in the header's language.
	ja = f.call(t, "GET", apitypes.IncidentsPath, "", "ja", nil)
	require.Equal(t, http.StatusUnauthorized, ja.status)
	require.Equal(t, "ja", ja.lang)
	require.Equal(t, apitypes.Error{Error: "認証が必要です。", Code: apitypes.CodeUnauthorized}, ja.apiError)

	// An Alertmanager credential on the REST API.
	ja = f.call(t, "GET", apitypes.IncidentsPath, "", "ja", bearer(tokA))
	require.Equal(t, http.StatusForbidden, ja.status)
	require.Equal(t, apitypes.CodeIngestOnly, ja.apiError.Code)
	require.Contains(t, ja.apiError.Error, "Alertmanager 用の認証情報")
	require.Contains(t, ja.apiError.Error, "tenants[].api_tokens", "the Japanese names the credential to use too")

	// A successful answer has no words of the catalogue (its data is the desk's, in the
	// language people wrote it), but it depends on the header.
	ok := f.call(t, "GET", apitypes.IncidentsPath, "", "ja", op)
	require.Equal(t, http.StatusOK, ok.status)
	require.Empty(t, ok.lang)
	require.Equal(t, []string{"Accept-Language"}, ok.vary)
}

// TestStateRuleErrorInJapanese: a refusal of the incident's rules (409: acknowledge a resolved
// incident) is Japanese for ja, English word for word for en, transition_not_allowed in both;
// a validation error is invalid.
func TestStateRuleErrorInJapanese(t *testing.T) {
	f := languageFixture(t)
	op := bearer(tokOp)
	code, resp := f.do(t, http.MethodPost, "/api/v1/alerts", tokA, payload("g1"))
	require.Equal(t, 200, code, string(resp))
	var recv struct{ Incidents []int64 }
	require.NoError(t, json.Unmarshal(resp, &recv))
	inc := fmt.Sprintf("%s/%d", apitypes.IncidentsPath, recv.Incidents[0])
	ok := f.call(t, "POST", inc+"/resolve", `{"close_code":"solved_permanently","text":"disk replaced"}`, "", op)
	require.Equal(t, http.StatusOK, ok.status, ok.body)

	ja := f.call(t, "POST", inc+"/acknowledge", "", "ja", op)
	require.Equal(t, http.StatusConflict, ja.status, ja.body)
	require.Equal(t, "ja", ja.lang)
	require.Equal(t, apitypes.CodeTransition, ja.apiError.Code)
	require.Equal(t, fmt.Sprintf("acknowledge（インシデント #%d）: 状態遷移エラー: 受付できるのは未解決のインシデントだけです（現在の状態: resolved）。", recv.Incidents[0]),
		ja.apiError.Error, "the incident is named by its public id, never the store's row id")
	en := f.call(t, "POST", inc+"/acknowledge", "", "en", op)
	require.Equal(t, http.StatusConflict, en.status)
	require.Equal(t, apitypes.CodeTransition, en.apiError.Code)
	require.Equal(t, fmt.Sprintf("acknowledge incident #%d: transition not allowed: acknowledge needs an open incident, is resolved", recv.Incidents[0]),
		en.apiError.Error)

	ja = f.call(t, "POST", inc+"/hold", `{"reason":"lunch"}`, "ja", op)
	require.Equal(t, http.StatusBadRequest, ja.status, ja.body)
	require.Equal(t, apitypes.CodeInvalid, ja.apiError.Code)
	require.Contains(t, ja.apiError.Error, "入力エラー: 保留理由は次のいずれかで指定してください: awaiting_caller")
	ja = f.call(t, "POST", inc+"/sleep", "", "ja", op)
	require.Equal(t, apitypes.Error{Error: `不明な操作です: "sleep"`, Code: apitypes.CodeBadRequest}, ja.apiError)
	ja = f.call(t, "GET", apitypes.IncidentsPath+"/424242", "", "ja", op)
	require.Equal(t, http.StatusNotFound, ja.status)
	require.Equal(t, apitypes.Error{Error: "インシデントが見つかりません。", Code: apitypes.CodeNotFound}, ja.apiError)
}

// TestUsersSavedLanguageWins: a named user's saved language (the page's preferences) wins over
// Accept-Language, both ways; without a saved choice the header decides.
func TestUsersSavedLanguageWins(t *testing.T) {
	f := languageFixture(t)
	prefs, ok := f.st.(store.Preferences)
	require.True(t, ok)
	ctx := context.Background()
	require.NoError(t, prefs.SetUserPreferences(ctx, "otto", store.UserPreferences{Language: "en", Zone: "UTC"}, time.Now()))
	require.NoError(t, prefs.SetUserPreferences(ctx, "kenji", store.UserPreferences{Language: "ja", Zone: "Asia/Tokyo"}, time.Now()))
	path := apitypes.IncidentsPath + "?priority=9"

	otto := f.call(t, "GET", path, "", "ja", basic("otto", "otto-password-01"))
	require.Equal(t, http.StatusBadRequest, otto.status)
	require.Equal(t, "en", otto.lang, "otto chose English")
	require.Equal(t, "priority must be an integer 1-5", otto.apiError.Error)

	kenji := f.call(t, "GET", path, "", "en-US,en;q=0.9", basic("kenji", "kenji-password-01"))
	require.Equal(t, "ja", kenji.lang, "kenji chose Japanese")
	require.Equal(t, "priority は 1 から 5 までの整数で指定してください。", kenji.apiError.Error)

	// Forgotten: the header decides again.
	require.NoError(t, prefs.SetUserPreferences(ctx, "otto", store.UserPreferences{}, time.Now()))
	otto = f.call(t, "GET", path, "", "ja", basic("otto", "otto-password-01"))
	require.Equal(t, "ja", otto.lang)
	// A token is nobody's: its requests follow the header (or the page's cookie).
	tok := f.call(t, "GET", path, "", "ja", bearer(tokOp))
	require.Equal(t, "ja", tok.lang)
	tok = f.call(t, "GET", path, "", "ja", func(r *http.Request) {
		r.Header.Set("Authorization", "Bearer "+tokOp)
		r.AddCookie(&http.Cookie{Name: "kizashi_lang", Value: "en"})
	})
	require.Equal(t, "en", tok.lang, "the page's language cookie is a choice too")
}

// TestCustomerRefusedInItsLanguage: a customer viewer's 403 on a write is in the negotiated
// language (its saved choice, else Accept-Language), code read_only.
func TestCustomerRefusedInItsLanguage(t *testing.T) {
	f := languageFixture(t)
	code, resp := f.do(t, http.MethodPost, "/api/v1/alerts", tokA, payload("g1"))
	require.Equal(t, 200, code, string(resp))
	var recv struct{ Incidents []int64 }
	require.NoError(t, json.Unmarshal(resp, &recv))
	inc := fmt.Sprintf("%s/%d", apitypes.IncidentsPath, recv.Incidents[0])
	cleo := basic("cleo", "cleo-password-01")
	for _, path := range []string{inc + "/acknowledge", inc + "/note", apitypes.IncidentsPath} {
		ja := f.call(t, "POST", path, `{"text":"x"}`, "ja", cleo)
		require.Equal(t, http.StatusForbidden, ja.status, ja.body)
		require.Equal(t, "ja", ja.lang)
		require.Equal(t, apitypes.Error{Error: "閲覧専用のロールです。変更はできません。", Code: apitypes.CodeReadOnly}, ja.apiError)
		en := f.call(t, "POST", path, `{"text":"x"}`, "en", cleo)
		require.Equal(t, apitypes.Error{Error: "read-only role: this changes nothing", Code: apitypes.CodeReadOnly}, en.apiError)
	}
	ja := f.call(t, "GET", apitypes.DeadLettersPath, "", "ja", cleo)
	require.Equal(t, http.StatusForbidden, ja.status)
	require.Equal(t, apitypes.Error{Error: "お客様向けの情報ではありません。", Code: apitypes.CodeForbidden}, ja.apiError)
	require.NoError(t, f.st.(store.Preferences).SetUserPreferences(context.Background(), "cleo", store.UserPreferences{Language: "ja"}, time.Now()))
	saved := f.call(t, "POST", inc+"/acknowledge", "", "", cleo)
	require.Equal(t, "ja", saved.lang, "the customer's saved choice")
	require.Equal(t, apitypes.CodeReadOnly, saved.apiError.Code)
}

// TestGarbageAcceptLanguage: an unknown, malformed or huge Accept-Language is English, with the
// answer the request deserves.
func TestGarbageAcceptLanguage(t *testing.T) {
	f := languageFixture(t)
	for _, h := range []string{"*", "xx-YY;q=abc", "xx-YY", "de-DE,fr;q=0.8", ";q=1", "ja;q=", "ja-JP;q=0.5;q=0.3,,,", "日本語", "\xff\xfe",
		strings.Repeat("ja-JP,", 16_000), strings.Repeat("x", 60_000)} {
		a := f.call(t, "GET", apitypes.IncidentsPath+"/nope", "", h, bearer(tokOp))
		require.Equal(t, http.StatusBadRequest, a.status, "%.40q", h)
		require.Equal(t, "en", a.lang, "%.40q", h)
		require.Equal(t, apitypes.Error{Error: "invalid incident id", Code: apitypes.CodeBadRequest}, a.apiError, "%.40q", h)
	}
}

// countingPrefs counts the reads of users' preferences.
type countingPrefs struct {
	store.Store
	n atomic.Int32
}

func (c *countingPrefs) UserPreferences(ctx context.Context, user string) (store.UserPreferences, error) {
	c.n.Add(1)
	return c.Store.(store.Preferences).UserPreferences(ctx, user)
}

func (c *countingPrefs) SetUserPreferences(ctx context.Context, user string, p store.UserPreferences, now time.Time) error {
	return c.Store.(store.Preferences).SetUserPreferences(ctx, user, p, now)
}

// TestLanguageNegotiatedForErrorsOnly: a successful request reads no preferences (the
// language is negotiated when an error is answered, once).
func TestLanguageNegotiatedForErrorsOnly(t *testing.T) {
	h, err := bcrypt.GenerateFromPassword([]byte("kenji-password-01"), bcrypt.MinCost)
	require.NoError(t, err)
	var counted *countingPrefs
	f := newFixture(t, func(st store.Store) store.Store {
		counted = &countingPrefs{Store: st}
		return counted
	}, cfgYAML+fmt.Sprintf("users:\n  - {name: kenji, role: operator, password_hash: %q}\n", h))
	require.NoError(t, counted.SetUserPreferences(context.Background(), "kenji", store.UserPreferences{Language: "ja"}, time.Now()))
	kenji := basic("kenji", "kenji-password-01")
	ok := f.call(t, "GET", apitypes.IncidentsPath, "", "en", kenji)
	require.Equal(t, http.StatusOK, ok.status, ok.body)
	require.Zero(t, counted.n.Load(), "a successful answer needs no language")
	bad := f.call(t, "GET", apitypes.IncidentsPath+"?open=maybe", "", "en", kenji)
	require.Equal(t, apitypes.Error{Error: "open は true または false で指定してください。", Code: apitypes.CodeBadRequest}, bad.apiError)
	require.Equal(t, int32(1), counted.n.Load())
}

type conflictStore struct{ store.Store }

func (conflictStore) Update(context.Context, func(context.Context, store.Tx) error) error {
	return fmt.Errorf("update incident 7 version 3: %w: %w", store.ErrConflict, errors.New("ERROR: could not serialize access (SQLSTATE 40001)"))
}

// TestConflictSaysNothingOfTheDatabase: a write that lost to a concurrent one answers 409
// conflict with the catalogue's words, never the database's.
func TestConflictSaysNothingOfTheDatabase(t *testing.T) {
	var conflicting atomic.Bool
	f := newFixture(t, func(st store.Store) store.Store {
		return &switchStore{Store: st, other: conflictStore{st}, on: &conflicting}
	})
	code, resp := f.do(t, http.MethodPost, "/api/v1/alerts", tokA, payload("g1"))
	require.Equal(t, 200, code, string(resp))
	var recv struct{ Incidents []int64 }
	require.NoError(t, json.Unmarshal(resp, &recv))
	conflicting.Store(true)
	inc := fmt.Sprintf("%s/%d/acknowledge", apitypes.IncidentsPath, recv.Incidents[0])
	ja := f.call(t, "POST", inc, "", "ja", bearer(tokOp))
	require.Equal(t, http.StatusConflict, ja.status, ja.body)
	require.Equal(t, apitypes.Error{Error: "インシデントが同時に変更されました。読み込み直してから再度お試しください。", Code: apitypes.CodeConflict}, ja.apiError)
	en := f.call(t, "POST", inc, "", "", bearer(tokOp))
	require.Equal(t, apitypes.Error{Error: "the incident changed meanwhile: read it again and retry", Code: apitypes.CodeConflict}, en.apiError)
	require.NotContains(t, en.body, "SQLSTATE")
}

// switchStore is its Store, or other while on is set.
type switchStore struct {
	store.Store
	other store.Store
	on    *atomic.Bool
}

func (s *switchStore) Update(ctx context.Context, f func(context.Context, store.Tx) error) error {
	if s.on.Load() {
		return s.other.Update(ctx, f)
	}
	return s.Store.Update(ctx, f)
}
