package testenv

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/kizashi-dev/kizashi/internal/proc"
)

var chromiumBinary = proc.Binary{Names: []string{"chromium", "chromium-browser", "google-chrome"}, Package: "chromium"}

// consoleKey is the context key of a Browser tab's *console.
type consoleKey struct{}

// console collects the console messages of one tab.
type console struct {
	mu     sync.Mutex
	msgs   []chromedp.ConsoleMessage
	marks  map[string]chan struct{} // sync markers awaited by BrowserErrors
	nmarks atomic.Int64
}

func (c *console) add(m chromedp.ConsoleMessage) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ch, ok := c.marks[m.Text]; ok && m.Type == chromedp.ConsoleDebug {
		close(ch)
		delete(c.marks, m.Text)
		return
	}
	c.msgs = append(c.msgs, m)
}

// Browser starts a headless Chromium with a fresh profile in t.TempDir() and
// returns the chromedp context of its tab, for chromedp.Run and chromedp.Do.
// The browser is stopped at the end of the test. Console errors, uncaught
// exceptions and failed requests of the tab are collected: see BrowserErrors.
//
// Flags: --headless --no-sandbox --disable-gpu --disable-quic --no-first-run
// --disable-background-networking --disable-component-update --disable-sync,
// with chromedp's other defaults; the window is 1280×800.
func Browser(t testing.TB) context.Context {
	t.Helper()
	skipShort(t, "chromium")
	path := Program(t, chromiumBinary)
	dir := t.TempDir()
	log := &proc.Buffer{}
	var cmd *exec.Cmd
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.UserDataDir(filepath.Join(dir, "profile")),
		chromedp.WindowSize(1280, 800),
		chromedp.CombinedOutput(log),
		chromedp.ModifyCmdFunc(func(c *exec.Cmd) {
			// Its own process group, killed as a whole at cleanup.
			c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
			cmd = c
		}),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx,
		chromedp.WithErrorf(func(format string, args ...any) { fmt.Fprintf(log, "chromedp: "+format+"\n", args...) }))
	con := &console{marks: map[string]chan struct{}{}}
	ctx = context.WithValue(ctx, consoleKey{}, con)
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
		if cmd != nil && cmd.Process != nil {
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		}
		if t.Failed() {
			t.Log(logReport(t.Name(), "chromium", log.String()))
		}
	})

	// Start the browser now, so that a failure shows here.
	timer := time.AfterFunc(startTimeout, cancel)
	err := chromedp.Do(ctx)
	timer.Stop()
	if err != nil {
		t.Fatalf("testenv: start chromium: %v; log:\n%s", err, log.Tail(8<<10))
	}
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			con.add(m)
		}
	}()
	return ctx
}

// BrowserErrors returns what went wrong so far in the tab of a Browser
// context: console.error calls, uncaught exceptions and unhandled promise
// rejections, and browser log errors such as failed requests ("Failed to
// load resource: ... 404"). Each is "<type>: <text>" with the URL it came
// from. A test asserts a clean page with
//
//	require.Empty(t, testenv.BrowserErrors(t, ctx))
func BrowserErrors(t testing.TB, ctx context.Context) []string {
	t.Helper()
	con, ok := ctx.Value(consoleKey{}).(*console)
	if !ok {
		t.Fatalf("testenv: BrowserErrors: ctx does not come from testenv.Browser")
	}
	// Messages arrive in order: once a marker logged now has arrived, all
	// messages before it have been collected.
	mark := fmt.Sprintf("testenv-sync-%d", con.nmarks.Add(1))
	ch := make(chan struct{})
	con.mu.Lock()
	con.marks[mark] = ch
	con.mu.Unlock()
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := chromedp.Run(sctx, chromedp.Evaluate[any](fmt.Sprintf("console.debug(%q)", mark))); err != nil {
		t.Fatalf("testenv: BrowserErrors: %v", err)
	}
	select {
	case <-ch:
	case <-sctx.Done():
		t.Fatalf("testenv: BrowserErrors: console messages did not arrive: %v", sctx.Err())
	}
	con.mu.Lock()
	defer con.mu.Unlock()
	var errs []string
	for _, m := range con.msgs {
		if m.Type != chromedp.ConsoleError && m.Type != chromedp.ConsoleException {
			continue
		}
		s := m.String()
		if m.URL != "" {
			s += " (" + m.URL + ")"
		}
		errs = append(errs, strings.TrimSpace(s))
	}
	return errs
}

// Screenshot saves a PNG of the whole page (beyond the viewport) of the tab
// of ctx to path.
func Screenshot(ctx context.Context, path string) error {
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		return fmt.Errorf("screenshot: %w", err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		return fmt.Errorf("screenshot: %w", err)
	}
	return nil
}
