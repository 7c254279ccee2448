package i18n

import (
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// sourceKeys finds the catalogue's keys in the webhook's code (not its tests): the string
// literal that i18n.Errorf, i18n.New and i18n.T are called with, and that a template in Go
// code gives {{.L.T "..."}} (an i18n.Lang). A message written with them
// and no Japanese fails TestCatalogue; calls whose words are not a literal are reported.
func sourceKeys(t *testing.T) map[string][]string {
	t.Helper()
	call := regexp.MustCompile(`i18n\.(?:Errorf|New)\(|i18n\.T\([^,()]+,\s*|\.L\.T `)
	keys := map[string][]string{}
	err := filepath.WalkDir("..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "node_modules" || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		src := string(b)
		for _, loc := range call.FindAllStringIndex(src, -1) {
			rest := src[loc[1]:]
			lit, err := strconv.QuotedPrefix(rest)
			if err != nil || !strings.HasPrefix(lit, `"`) {
				t.Errorf("%s: %s...: the message is not a string literal", path, src[loc[0]:min(len(src), loc[1]+30)])
				continue
			}
			if after := strings.TrimLeft(rest[len(lit):], " \t"); strings.HasPrefix(after, "+") {
				t.Errorf("%s: %s: the message is concatenated: write one literal", path, lit)
				continue
			}
			k, err := strconv.Unquote(lit)
			require.NoError(t, err)
			keys[k] = append(keys[k], path)
		}
		return nil
	})
	require.NoError(t, err)
	return keys
}

func japanese(t *testing.T) map[string]string {
	t.Helper()
	var ja map[string]string
	require.NoError(t, json.Unmarshal(JapaneseFile(), &ja))
	return ja
}

// verbs are a format's fmt verbs in order (%w, %s, %q, %d, %v, %%).
var verbs = regexp.MustCompile(`%(?:\[\d+\])?[-+# 0]*\d*[a-zA-Z%]`)

// TestCatalogue: every message of the API and of the service rules (i18n.Errorf, i18n.New,
// i18n.T in the webhook's code) has its Japanese, with the same fmt verbs; every Japanese
// entry is used.
func TestCatalogue(t *testing.T) {
	keys := sourceKeys(t)
	require.Greater(t, len(keys), 60, "the scan finds the messages")
	require.Contains(t, keys, "%w: acknowledge needs an open incident, is %s")
	require.Contains(t, keys, "unauthorized")
	ja := japanese(t)
	var missing []string
	for k := range keys {
		tr, ok := ja[k]
		if !ok {
			missing = append(missing, k)
			continue
		}
		require.Equal(t, verbs.FindAllString(k, -1), verbs.FindAllString(tr, -1), "fmt verbs of %q (in %v)", k, keys[k])
		require.NotEqual(t, k, tr, "%q is not translated", k)
	}
	slices.Sort(missing)
	require.Empty(t, missing, "no Japanese for these messages (add them to locales/ja.json)")
	for k := range ja {
		require.Contains(t, keys, k, "the Japanese of %q is not used", k)
	}
}

// TestHandlersSpeakThroughTheCatalogue: the REST API's handlers (packages api and problemapi)
// make no error of their own words outside the catalogue (errors.New, fmt.Errorf) and answer
// no plain-text error, except the Alertmanager receiver's (api.reject, English by design).
func TestHandlersSpeakThroughTheCatalogue(t *testing.T) {
	forbidden := regexp.MustCompile(`errors\.New\(|fmt\.Errorf\(|http\.Error\(`)
	for _, dir := range []string{"../api", "../problemapi"} {
		files, err := filepath.Glob(filepath.Join(dir, "*.go"))
		require.NoError(t, err)
		require.NotEmpty(t, files)
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			b, err := os.ReadFile(f)
			require.NoError(t, err)
			for i, line := range strings.Split(string(b), "\n") {
				if forbidden.MatchString(line) && !(f == filepath.Join("../api", "api.go") && strings.TrimSpace(line) == "http.Error(w, msg, code)") {
					t.Errorf("%s:%d: %s: use i18n.New or i18n.Errorf (and writeError)", f, i+1, strings.TrimSpace(line))
				}
			}
		}
	}
}
