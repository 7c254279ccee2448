//go:build e2e

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

// TestInterrupt runs the README's `go tool mage demo -short` and presses Ctrl-C while the
// demo runs (SIGINT to the whole process group, as a terminal does): it stops everything,
// removes its work directory, and mage exits 0.
func TestInterrupt(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the demo starts Prometheus and Alertmanager")
	}
	root, err := filepath.Abs("../..")
	require.NoError(t, err)
	cmd := exec.Command("go", "tool", "mage", "demo", "-short")
	cmd.Dir = root
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = os.Stderr
	require.NoError(t, cmd.Start())
	defer func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }()

	var (
		lines []string
		dir   string
		urls  []string
	)
	dirRE := regexp.MustCompile(`work directory (\S+);`)
	urlRE := regexp.MustCompile(`(127\.0\.0\.1:\d+)`)
	sc := bufio.NewScanner(stdout)
	interrupted := false
	timer := time.AfterFunc(4*time.Minute, func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) })
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
			require.NoError(t, syscall.Kill(-cmd.Process.Pid, syscall.SIGINT))
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
