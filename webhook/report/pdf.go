package report

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// Printer prints HTML pages to PDF with headless Chromium (`chromium --headless
// --print-to-pdf`): the page is written to a private temporary directory, Chromium runs in a
// process group of its own with a fresh profile and no network use of its own, and the group
// is killed when ctx ends or Timeout passes.
type Printer struct {
	// Chromium is the browser's path or name on PATH ("" tries chromium, chromium-browser,
	// google-chrome).
	Chromium string
	// Timeout bounds one print (0: 60s).
	Timeout time.Duration
}

// ErrNoChromium is returned when no Chromium is installed.
var ErrNoChromium = errors.New("no chromium to print PDF with (install chromium)")

func (p *Printer) binary() (string, error) {
	names := []string{"chromium", "chromium-browser", "google-chrome"}
	if p.Chromium != "" {
		names = []string{p.Chromium}
	}
	for _, n := range names {
		if path, err := exec.LookPath(n); err == nil {
			return path, nil
		}
	}
	return "", ErrNoChromium
}

// PDF prints page (a standalone HTML document: styles inline, no external resources) to PDF.
func (p *Printer) PDF(ctx context.Context, page []byte) ([]byte, error) {
	bin, err := p.binary()
	if err != nil {
		return nil, err
	}
	timeout := p.Timeout
	if timeout <= 0 {
		timeout = 60 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	dir, err := os.MkdirTemp("", "kizashi-report-")
	if err != nil {
		return nil, fmt.Errorf("print pdf: %w", err)
	}
	defer func() { _ = os.RemoveAll(dir) }()
	in, out := filepath.Join(dir, "report.html"), filepath.Join(dir, "report.pdf")
	if err := os.WriteFile(in, page, 0o600); err != nil {
		return nil, fmt.Errorf("print pdf: %w", err)
	}
	args := []string{"--headless", "--disable-gpu", "--no-first-run", "--disable-background-networking",
		"--disable-component-update", "--disable-sync", "--disable-extensions", "--disable-quic",
		"--user-data-dir=" + filepath.Join(dir, "profile"), "--no-pdf-header-footer",
		"--print-to-pdf=" + out, "file://" + in}
	if os.Geteuid() == 0 {
		// Chromium's sandbox refuses to run as root.
		args = append([]string{"--no-sandbox"}, args...)
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	err = cmd.Run()
	if cmd.Process != nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // helpers left behind
	}
	if err != nil {
		return nil, fmt.Errorf("print pdf: %s: %w; output: %s", bin, err, tail(log.Bytes(), 2048))
	}
	b, err := os.ReadFile(out)
	if err != nil || len(b) == 0 || !bytes.HasPrefix(b, []byte("%PDF-")) {
		return nil, fmt.Errorf("print pdf: %s wrote no PDF (%v); output: %s", bin, err, tail(log.Bytes(), 2048))
	}
	return b, nil
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}
