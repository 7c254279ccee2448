package app_test

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kizashi-dev/kizashi/webhook/apitypes"
)

// TestProblemAPIErrorsInJapanese: the problem, report and export API (package problemapi)
// answers its errors in the negotiated language with their codes, like the incidents' API,
// and its page /problems is in that language.
func TestProblemAPIErrorsInJapanese(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	storage := "storage:\n  driver: sqlite\n  path: " + filepath.Join(t.TempDir(), "kizashi.db") + "\n"
	w := runWebhook(t, l, configYAML(storage))
	ask := func(method, path, body, lang string) (int, string, apitypes.Error) {
		req, err := http.NewRequest(method, w.URL+path, strings.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+apiAcme)
		req.Header.Set("Accept-Language", lang)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer func() { require.NoError(t, resp.Body.Close()) }()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		var e apitypes.Error
		require.NoError(t, json.Unmarshal(b, &e), "%s", b)
		return resp.StatusCode, resp.Header.Get("Content-Language"), e
	}
	code, lang, e := ask("POST", apitypes.ProblemsPath, `{"title":" "}`, "ja")
	require.Equal(t, http.StatusBadRequest, code)
	require.Equal(t, "ja", lang)
	require.Equal(t, apitypes.Error{Error: "入力エラー: 問題のタイトルを入力してください。", Code: apitypes.CodeInvalid}, e)
	_, lang, e = ask("POST", apitypes.ProblemsPath, `{"title":" "}`, "en")
	require.Equal(t, "en", lang)
	require.Equal(t, apitypes.Error{Error: "invalid: a problem needs a title", Code: apitypes.CodeInvalid}, e)

	code, _, e = ask("GET", apitypes.ProblemsPath+"/987654", "", "ja")
	require.Equal(t, http.StatusNotFound, code)
	require.Equal(t, apitypes.Error{Error: "見つかりません。", Code: apitypes.CodeNotFound}, e)
	code, _, e = ask("GET", apitypes.ReportPath+"?month=2026-13", "", "ja")
	require.Equal(t, http.StatusBadRequest, code)
	require.Equal(t, apitypes.Error{Error: "month は YYYY-MM 形式で指定してください。", Code: apitypes.CodeBadRequest}, e)
	code, _, e = ask("POST", apitypes.ProblemsPath, `{"title":`, "ja")
	require.Equal(t, http.StatusBadRequest, code)
	require.Equal(t, "入力エラー: リクエスト本文の JSON が不正です: unexpected EOF", e.Error)

	page := func(lang string) (string, string) {
		req, err := http.NewRequest("GET", w.URL+"/problems", nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+apiAcme)
		req.Header.Set("Accept-Language", lang)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer func() { require.NoError(t, resp.Body.Close()) }()
		require.Equal(t, http.StatusOK, resp.StatusCode)
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.Header.Get("Content-Language"), string(b)
	}
	lang, body := page("ja-JP,ja;q=0.9")
	require.Equal(t, "ja", lang)
	for _, s := range []string{`<html lang="ja">`, "<h1>重大インシデント</h1>", "<h1>問題</h1>", "テナント acme", "<p>ありません。</p>", `<option value="ja" selected>`} {
		require.Contains(t, body, s)
	}
	lang, body = page("en")
	require.Equal(t, "en", lang)
	for _, s := range []string{`<html lang="en">`, "<h1>Major incidents</h1>", "tenant acme", "<p>None.</p>"} {
		require.Contains(t, body, s)
	}
	require.NotContains(t, body, "重大")
}
