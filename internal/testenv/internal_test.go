package testenv

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kizashi-dev/kizashi/internal/proc"
)

func TestWriteOpenMetrics(t *testing.T) {
	start := time.Unix(1700000000, 250e6)
	var b strings.Builder
	require.NoError(t, WriteOpenMetrics(&b, Series("m", map[string]string{"z": "1", "a": `q"\`}, start, time.Second, 2,
		func(i int, _ time.Time) float64 { return []float64{1.5, 2}[i] })))
	require.Equal(t, `m{a="q\"\\",z="1"} 1.5 1700000000.250
m{a="q\"\\",z="1"} 2 1700000001.250
# EOF
`, b.String())

	err := WriteOpenMetrics(&b, slices.Values([]Sample{{Metric: "bad-name"}}))
	require.ErrorContains(t, err, `invalid metric name "bad-name"`)
}

func TestMergeFlags(t *testing.T) {
	got := mergeFlags([]string{"--a=1", "--b", "--c=3"}, []string{"--c=4", "--d"})
	require.Equal(t, []string{"--a=1", "--b", "--c=4", "--d"}, got)
}

func TestFreePortUnique(t *testing.T) {
	seen := map[int]bool{}
	for range 50 {
		p := FreePort(t)
		require.False(t, seen[p], "port %d handed out twice", p)
		seen[p] = true
	}
}

// TestFailedTestPrintsLogTail runs a test that fails while a server with a 40-line log runs
// (this test binary, re-run on that test alone): it prints where the whole log is and only
// the last lines, and the file holds all of it.
func TestFailedTestPrintsLogTail(t *testing.T) {
	if os.Getenv("KIZASHI_TESTENV_FAIL") == "1" {
		p := proc.New("chatty", "/bin/sh", "-c", `i=1; while [ $i -le 40 ]; do echo "server line $i"; i=$((i+1)); done; exec sleep 60`)
		require.NoError(t, p.Start())
		cleanup(t, p)
		require.NoError(t, p.WaitReady(context.Background(), time.Minute, func(context.Context) error {
			if !strings.Contains(p.Log.String(), "server line 40\n") {
				return errors.New("not yet")
			}
			return nil
		}))
		t.Error("the test fails")
		return
	}
	logs := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestFailedTestPrintsLogTail$", "-test.v")
	cmd.Env = append(os.Environ(), "KIZASHI_TESTENV_FAIL=1", LogDirEnv+"="+logs)
	out, err := cmd.CombinedOutput()
	require.Error(t, err, "the inner test fails:\n%s", out)
	require.Contains(t, string(out), "the test fails")
	require.Contains(t, string(out), "server line 40")
	require.Contains(t, string(out), "server line 32\n")
	require.NotContains(t, string(out), "server line 31\n", "only the last lines (and the line proc adds when it exits):\n%s", out)
	m := regexp.MustCompile(`testenv: chatty log in (\S+); its last lines:`).FindSubmatch(out)
	require.NotNil(t, m, "%s", out)
	saved, err := os.ReadFile(string(m[1]))
	require.NoError(t, err)
	require.Contains(t, string(saved), "server line 1\n")
	require.Contains(t, string(saved), "server line 40\n")
	require.Equal(t, logs, filepath.Dir(string(m[1])))
}

// DecodeWriteRequest reads what RemoteWrite sends (the hand-written encoder against prompb),
// and refuses a body that is not snappy.
func TestDecodeWriteRequest(t *testing.T) {
	at := time.UnixMilli(1700000000123)
	body, err := encodeWriteRequest([]Sample{{Metric: "m", Labels: map[string]string{"a": "b"}, Time: at, Value: 1.5},
		{Metric: "m", Labels: map[string]string{"a": "b"}, Time: at.Add(time.Second), Value: 2}})
	require.NoError(t, err)
	req, err := DecodeWriteRequest(httptest.NewRequest(http.MethodPost, "/api/v1/write", bytes.NewReader(body)))
	require.NoError(t, err)
	require.Len(t, req.Timeseries, 1)
	ts := req.Timeseries[0]
	labels := map[string]string{}
	for _, l := range ts.Labels {
		labels[l.Name] = l.Value
	}
	require.Equal(t, map[string]string{"__name__": "m", "a": "b"}, labels)
	require.Len(t, ts.Samples, 2)
	require.Equal(t, 1.5, ts.Samples[0].Value)
	require.Equal(t, at.UnixMilli(), ts.Samples[0].Timestamp)
	require.Equal(t, 2.0, ts.Samples[1].Value)

	_, err = DecodeWriteRequest(httptest.NewRequest(http.MethodPost, "/api/v1/write", strings.NewReader("not snappy")))
	require.Error(t, err)
}
