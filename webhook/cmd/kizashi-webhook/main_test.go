package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/common/version"
	"github.com/stretchr/testify/require"
)

func TestRun(t *testing.T) {
	stampVersion(t)
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yml")
	require.NoError(t, os.WriteFile(bad, []byte("tenants: []\nstorag: {}\n"), 0o600))
	limited := filepath.Join(dir, "web.yml")
	require.NoError(t, os.WriteFile(limited, []byte("rate_limit: {interval: 1s, burst: 5}\n"), 0o600))
	example := filepath.Join("..", "..", "kizashi-webhook.example.yml")
	for _, tc := range []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout []string // substrings of stdout
		wantStderr []string // substrings of stderr; empty: stderr must be empty
	}{
		{name: "version", args: []string{"--version"}, wantStdout: []string{
			"kizashi-webhook, version 1.2.3 (branch: release-1.2, revision: 0123abc)", "build user:       ci@builder",
			"build date:       20270102-03:04:05"}},
		// --help shows the serve command's flags (the default command), not only the global ones.
		{name: "help", args: []string{"--help"}, wantStdout: []string{"usage: kizashi-webhook", "bench --token=TOKEN",
			"--config.file=", "--[no-]config.check", "--log.level=info", "--web.listen-address=:9095", "--web.config.file="}},
		{name: "help of serve", args: []string{"serve", "-h"}, wantStdout: []string{"usage: kizashi-webhook serve", "--web.listen-address=:9095",
			"--[no-]web.enable-lifecycle"}},
		{name: "config check", args: []string{"--config.file", example, "--config.check"},
			wantStdout: []string{"config OK:"}},
		{name: "config check of the web config", args: []string{"--config.file", example, "--web.config.file", limited, "--config.check"}, wantCode: 1,
			wantStderr: []string{"web config " + limited + ": rate_limit is not supported"}},
		{name: "bad config", args: []string{"--config.file", bad, "--config.check"}, wantCode: 1,
			wantStderr: []string{"storag"}},
		{name: "unknown flag", args: []string{"--web.listen-adress=:1"}, wantCode: 2,
			wantStderr: []string{"kizashi-webhook: unknown long flag '--web.listen-adress', try --help"}},
		{name: "bench without token", args: []string{"bench"}, wantCode: 2,
			wantStderr: []string{"required flag(s) '--token' not provided"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr strings.Builder
			code := run(context.Background(), tc.args, &stdout, &stderr, nil)
			require.Equal(t, tc.wantCode, code, "stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
			for _, s := range tc.wantStdout {
				require.Contains(t, stdout.String(), s)
			}
			for _, s := range tc.wantStderr {
				require.Contains(t, stderr.String(), s)
			}
			if tc.wantStderr == nil {
				require.Empty(t, stderr.String())
			}
		})
	}
}

// stampVersion sets the build information as the release's -ldflags -X do, for the test.
func stampVersion(t *testing.T) {
	old := [...]string{version.Version, version.Revision, version.Branch, version.BuildUser, version.BuildDate}
	version.Version, version.Revision, version.Branch, version.BuildUser, version.BuildDate =
		"1.2.3", "0123abc", "release-1.2", "ci@builder", "20270102-03:04:05"
	t.Cleanup(func() {
		version.Version, version.Revision, version.Branch, version.BuildUser, version.BuildDate = old[0], old[1], old[2], old[3], old[4]
	})
}
