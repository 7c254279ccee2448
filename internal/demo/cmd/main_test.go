package main

import (
	"bufio"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestInterrupt runs the demo command and presses Ctrl-C (SIGINT) while it runs: it stops
// everything, removes its work directory and exits 0.
func TestInterrupt(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the demo starts Prometheus and Alertmanager")
	}
	bin := filepath.Join(t.TempDir(), "demo")
	build := exec.Command("go", "build", "-o", bin, ".")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "%s", out)

	cmd := exec.Command(bin, "--short", "--install=false")
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = os.Stderr
	require.NoError(t, cmd.Start())
	defer func() { _ = cmd.Process.Kill() }()

	var (
		lines []string
		dir   string
		urls  []string
	)
	dirRE := regexp.MustCompile(`work directory (\S+);`)
	urlRE := regexp.MustCompile(`http://(127\.0\.0\.1:\d+)`)
	sc := bufio.NewScanner(stdout)
	interrupted := false
	timer := time.AfterFunc(3*time.Minute, func() { _ = cmd.Process.Kill() })
	defer timer.Stop()
	for sc.Scan() {
		line := sc.Text()
		lines = append(lines, line)
		if m := dirRE.FindStringSubmatch(line); m != nil {
			dir = m[1]
		}
		for _, m := range urlRE.FindAllStringSubmatch(line, -1) {
			urls = append(urls, m[1])
		}
		if !interrupted && strings.Contains(line, "Fault injected") {
			interrupted = true
			require.NoError(t, cmd.Process.Signal(syscall.SIGINT))
		}
	}
	err = cmd.Wait()
	all := strings.Join(lines, "\n")
	require.NoError(t, err, "exit status 0 after Ctrl-C:\n%s", all)
	require.True(t, interrupted, all)
	require.Contains(t, all, "Stopped everything and removed "+dir)
	require.NotEmpty(t, dir)
	_, err = os.Stat(dir)
	require.ErrorIs(t, err, os.ErrNotExist)
	require.NotEmpty(t, urls)
	for _, a := range urls {
		c, err := net.DialTimeout("tcp", a, time.Second)
		if err == nil {
			_ = c.Close()
		}
		require.Error(t, err, "nothing listens on %s", a)
	}
}
