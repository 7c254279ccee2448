//go:build e2e

package testenv_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/kizashi-dev/kizashi/internal/testenv"
)

const (
	cleanPage = `<!doctype html><html><head><title>clean</title><link rel="icon" href="data:,"></head>
<body><button id="b" onclick="document.getElementById('out').textContent = 'clicked ' + (++n)">go</button>
<p id="out">idle</p><script>let n = 0; console.log("hello")</script></body></html>`
	brokenPage = `<!doctype html><html><head><title>broken</title><link rel="icon" href="data:,"></head>
<body><script>console.error("deliberate error")</script>
<script src="/missing.js"></script>
<script>setTimeout(() => { throw new Error("deliberate exception") }, 0)</script></body></html>`
)

func TestBrowser(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/clean":
			w.Write([]byte(cleanPage))
		case "/broken":
			w.Write([]byte(brokenPage))
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)

	ctx := testenv.Browser(t)
	tctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()

	require.NoError(t, chromedp.Do(tctx,
		chromedp.Navigate(srv.URL+"/clean"),
		chromedp.Click(chromedp.ID("b")),
		chromedp.Click(chromedp.ID("b")),
	))
	text, err := chromedp.Run(tctx, chromedp.Text(chromedp.ID("out")))
	require.NoError(t, err)
	require.Equal(t, "clicked 2", text)
	require.Empty(t, testenv.BrowserErrors(t, ctx))

	shot := filepath.Join(t.TempDir(), "clean.png")
	require.NoError(t, testenv.Screenshot(tctx, shot))
	png, err := os.ReadFile(shot)
	require.NoError(t, err)
	require.True(t, bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")))

	require.NoError(t, chromedp.Do(tctx, chromedp.Navigate(srv.URL+"/broken")))
	var errs []string
	require.Eventually(t, func() bool { // the exception is thrown from a timer
		errs = testenv.BrowserErrors(t, ctx)
		return len(errs) >= 3
	}, 10*time.Second, 50*time.Millisecond)
	all := strings.Join(errs, "\n")
	require.Contains(t, all, "error: deliberate error")
	require.Contains(t, all, "deliberate exception")
	require.Contains(t, all, "missing.js")
}
