package cli

import (
	"runtime/debug"
	"strings"
	"testing"

	"github.com/prometheus/common/version"
	"github.com/stretchr/testify/require"
)

func TestDefaultVersion(t *testing.T) {
	old := version.Version
	t.Cleanup(func() { version.Version = old })
	for _, tc := range []struct {
		name    string
		stamped string // by -ldflags -X
		info    *debug.BuildInfo
		ok      bool
		want    string
	}{
		{name: "stamped wins", stamped: "0.2.0", info: &debug.BuildInfo{Main: debug.Module{Version: "v0.1.0"}}, ok: true, want: "0.2.0"},
		{name: "go install @version", info: &debug.BuildInfo{Main: debug.Module{Version: "v0.1.0"}}, ok: true, want: "v0.1.0"},
		{name: "build in a checkout", info: &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, ok: true, want: "(devel)"},
		{name: "no build info", info: nil, ok: false, want: ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			version.Version = tc.stamped
			DefaultVersion(tc.info, tc.ok)
			require.Equal(t, tc.want, version.Version)
		})
	}
}

// TestNew: help and version on stdout, errors on stderr, the default command's flags in --help
// but not another command's.
func TestNew(t *testing.T) {
	for _, tc := range []struct {
		args          []string
		wantStdout    []string
		notStdout     []string
		wantStderr    string
		wantTerminate int
	}{
		{args: []string{"--help"}, wantStdout: []string{"usage: prog", "serve* [<flags>]", "--listen=\":1\"", "Where to listen.", "other [<flags>]"},
			notStdout: []string{"other-flag"}, wantTerminate: 0},
		{args: []string{"other", "--help"}, wantStdout: []string{"usage: prog other", "--[no-]other-flag"}, notStdout: []string{"--listen"}},
		{args: []string{"--version"}, wantStdout: []string{"prog, version"}},
		{args: []string{"--nope"}, wantStderr: "unknown long flag '--nope'", wantTerminate: -1},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var stdout, stderr strings.Builder
			a := New("prog", "A program.", &stdout, &stderr)
			code := -1
			a.Terminate(func(c int) { code = c })
			serve := a.Command("serve", "Serve.").Default()
			serve.Flag("listen", "Where to listen.").Default(":1").String()
			other := a.Command("other", "Other.")
			other.Flag("other-flag", "Other flag.").Bool()
			_, err := a.Parse(tc.args)
			if tc.wantStderr != "" {
				require.ErrorContains(t, err, tc.wantStderr)
				return
			}
			require.Equal(t, tc.wantTerminate, code)
			require.Empty(t, stderr.String())
			for _, s := range tc.wantStdout {
				require.Contains(t, stdout.String(), s)
			}
			for _, s := range tc.notStdout {
				require.NotContains(t, stdout.String(), s)
			}
		})
	}
}
