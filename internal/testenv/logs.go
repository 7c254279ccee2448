package testenv

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// logTailLines is how many of a server's last log lines a failing test prints: enough to see
// why it stopped answering, not so many that the test's own failure scrolls away. The whole
// log goes to a file.
const logTailLines = 10

// LogDirEnv names the directory where servers' logs of failed tests are kept (default:
// $TMPDIR/kizashi-testenv-logs).
const LogDirEnv = "KIZASHI_TESTENV_LOGS"

// logReport writes a server's whole log to a file that outlives the test (the test's own
// temporary directories are removed) and returns what a failing test prints: the file and the
// log's last lines.
func logReport(test, server, log string) string {
	dir := os.Getenv(LogDirEnv)
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "kizashi-testenv-logs")
	}
	name := regexp.MustCompile(`[^A-Za-z0-9_.-]+`).ReplaceAllString(test+"-"+server, "_")
	where, err := saveLog(dir, name, log)
	if err != nil {
		where = fmt.Sprintf("not saved (%v)", err)
	}
	return fmt.Sprintf("testenv: %s log in %s; its last lines:\n%s", server, where, lastLines(log, logTailLines))
}

// saveLog writes log to a new file in dir and returns its path.
func saveLog(dir, name, log string) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	f, err := os.CreateTemp(dir, name+"-*.log")
	if err != nil {
		return "", err
	}
	_, err = f.WriteString(log)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return f.Name(), err
}

// lastLines returns the last n lines of s.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
