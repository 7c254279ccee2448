package i18n

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kizashi-dev/kizashi/webhook/apitypes"
)

var errSentinel = New("transition not allowed")

// TestErrorEnglishIsFmt: an Error's English is fmt.Errorf's, and errors.Is/As see what it wraps,
// through further wrapping.
func TestErrorEnglishIsFmt(t *testing.T) {
	inner := Errorf("%w: acknowledge needs an open incident, is %s", errSentinel, "resolved")
	want := fmt.Errorf("%w: acknowledge needs an open incident, is %s", errors.New("transition not allowed"), "resolved")
	require.Equal(t, want.Error(), inner.Error())
	outer := Errorf("%s incident %s: %w", "acknowledge", "#12345", inner)
	require.Equal(t, "acknowledge incident #12345: transition not allowed: acknowledge needs an open incident, is resolved", outer.Error())
	require.ErrorIs(t, outer, errSentinel)
	require.ErrorIs(t, outer, inner)
	var e *Error
	require.ErrorAs(t, outer, &e)
	require.Equal(t, "%s incident %s: %w", e.Key())
	require.NotErrorIs(t, outer, New("transition not allowed"), "a sentinel is itself, not its words")

	var pe *fs.PathError
	two := Errorf("%w: invalid JSON body: %w", New("invalid"), &fs.PathError{Op: "read", Path: "x", Err: fs.ErrNotExist})
	require.ErrorAs(t, two, &pe, "several %%w wrap each")
	require.ErrorIs(t, two, fs.ErrNotExist)
	require.Nil(t, errors.Unwrap(Errorf("no verbs")), "nothing wrapped")
	require.Nil(t, errors.Unwrap(New("sentinel")))
}

func TestText(t *testing.T) {
	ack := Errorf("%s incident %s: %w", "acknowledge", "#12345", Errorf("%w: acknowledge needs an open incident, is %s", errSentinel, "resolved"))
	require.Equal(t, ack.Error(), Text(English, ack), "English is the error's own text")
	require.Equal(t, ack.Error(), Text("", ack))
	require.Equal(t, "acknowledge（インシデント #12345）: 状態遷移エラー: 受付できるのは未解決のインシデントだけです（現在の状態: resolved）。", Text(Japanese, ack),
		"nested errors are translated")
	require.Equal(t, "limit は 1 から 10000 までの整数で指定してください。", Text(Japanese, Errorf("%s must be an integer %d-%d", "limit", 1, 10000)),
		"numbers are not grouped")
	// A plain wrapper keeps its English words before the translated part.
	wrapped := fmt.Errorf("context: %w", Errorf("unknown state %q", "nope"))
	require.Equal(t, `context: 不明な状態です: "nope"`, Text(Japanese, wrapped))
	// An error with no catalogue message, or a message without Japanese, stays English.
	require.Equal(t, "disk full", Text(Japanese, errors.New("disk full")))
	require.Equal(t, "no such message 7", Text(Japanese, Errorf("no such message %d", 7)))
	require.Equal(t, "", Text(Japanese, nil))
	// A foreign error inside a translated message stays as it is.
	require.Equal(t, "操作のリクエストを読み取れません: unexpected EOF", Text(Japanese, Errorf("decode action: %w", errors.New("unexpected EOF"))))
}

func TestNegotiate(t *testing.T) {
	for _, c := range []struct {
		choice, header, def, want string
	}{
		{"", "ja", "", Japanese},
		{"", "ja-JP,ja;q=0.9,en-US;q=0.8,en;q=0.7", "", Japanese},
		{"", "en-US,en;q=0.9,ja;q=0.8", "", English},
		{"", "fr-FR, ja;q=0.5", "", Japanese},
		{"", "en;q=0.1, ja;q=0.9", "", Japanese},
		{"en", "ja", "", English},
		{"ja", "en-US", "", Japanese},
		{"de", "ja", "", Japanese},
		{"", "", "", English},
		{"", "", "ja", Japanese},
		{"", "fr", "", English},
		{"", "*", "", English},
		{"", "xx-YY;q=abc", "", English},
		{"", "ja;q=abc", "ja", Japanese},
		{"", "ja;q=abc", "", English},
		{"", ";;;,,,", "", English},
		{"", "\xff\xfe", "", English},
		{"", strings.Repeat("ja-JP,", 200_000), "", English},
		{"", strings.Repeat("a-", 600) + "ja", "", English},
	} {
		require.Equal(t, c.want, Negotiate(c.choice, c.header, c.def), "choice %q, Accept-Language %.40q, default %q", c.choice, c.header, c.def)
	}
}

func TestWriteError(t *testing.T) {
	r := httptest.NewRequest(http.MethodGet, "/api/v1/incidents", nil)
	r.Header.Set("Accept-Language", "ja-JP,ja;q=0.9,en;q=0.5")
	w := httptest.NewRecorder()
	w.Header().Add("Vary", "Origin")
	WriteError(w, r, http.StatusNotFound, apitypes.CodeNotFound, New("incident not found"))
	require.Equal(t, http.StatusNotFound, w.Code)
	require.Equal(t, "ja", w.Header().Get("Content-Language"))
	require.Equal(t, []string{"Origin", "Accept-Language"}, w.Header().Values("Vary"))
	var body apitypes.Error
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &body))
	require.Equal(t, apitypes.Error{Error: "インシデントが見つかりません。", Code: "not_found"}, body)

	// The language set once the caller is known wins over the header; the cookie over the header.
	w = httptest.NewRecorder()
	WriteError(w, WithLanguage(r, English), http.StatusNotFound, apitypes.CodeNotFound, New("incident not found"))
	require.Equal(t, "en", w.Header().Get("Content-Language"))
	require.JSONEq(t, `{"error":"incident not found","code":"not_found"}`, w.Body.String())
	r.AddCookie(&http.Cookie{Name: Cookie, Value: "en"})
	require.Equal(t, English, Language(r))
}

func TestNewCatalog(t *testing.T) {
	c, err := NewCatalog([]byte(`{"Incidents": "インシデント"}`))
	require.NoError(t, err)
	f, ok := Format(c, Japanese, "Incidents")
	require.True(t, ok)
	require.Equal(t, "インシデント", f)
	f, ok = Format(c, Japanese, "incident not found")
	require.True(t, ok, "the API's messages are in every catalogue")
	require.Equal(t, "インシデントが見つかりません。", f)
	_, ok = Format(c, Japanese, "nothing like this")
	require.False(t, ok)
	_, err = NewCatalog([]byte(`{"incident not found": "別の訳"}`))
	require.ErrorContains(t, err, "translated twice")
	_, err = NewCatalog([]byte(`not json`))
	require.Error(t, err)
}

func BenchmarkText(b *testing.B) {
	err := Errorf("%s incident %s: %w", "acknowledge", "#12345", Errorf("%w: acknowledge needs an open incident, is %s", errSentinel, "resolved"))
	b.ReportAllocs()
	for b.Loop() {
		_ = Text(Japanese, err)
	}
}

func FuzzNegotiate(f *testing.F) {
	for _, s := range []string{"ja", "en-US,en;q=0.9", "*", "xx-YY;q=abc", "ja;q=0", "", "zh-Hant-TW;q=0.3,ja"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got := Negotiate("", s, ""); !Valid(got) {
			t.Fatalf("Negotiate(%q) = %q", s, got)
		}
	})
}
