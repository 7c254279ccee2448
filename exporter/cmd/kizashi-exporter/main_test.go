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
	dir := t.TempDir()
	in := filepath.Join(dir, "in")
	require.NoError(t, os.MkdirAll(filepath.Join(in, "cat"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(in, "cat", "good.csv"),
		[]byte("timestamp,value\n2014-04-01 00:00:00,1\n2014-04-01 00:05:00,2\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(in, "bad.csv"),
		[]byte("timestamp,value\n2014-04-01 00:00:00,1\n2014-04-01 00:05:00,abc\n"), 0o644))
	m4 := filepath.Join(dir, "train.csv")
	require.NoError(t, os.WriteFile(m4, []byte("\"V1\",\"V2\",\"V3\"\n\"H1\",\"1\",\"2\"\n"), 0o644))
	cfg := filepath.Join(dir, "kizashi.yml")
	require.NoError(t, os.WriteFile(cfg, []byte("sensitivity: 0.4\nmin: 0\n"), 0o644))
	badPromQL := filepath.Join(dir, "exporter.yml")
	require.NoError(t, os.WriteFile(badPromQL, []byte("source:\n  url: http://127.0.0.1:9090\nqueries:\n  - name: ok\n    expr: up\n  - name: broken\n    expr: sum(rate(x[5m])\n"), 0o644))
	// Port 1 of the loopback: nothing listens there.
	unreachable := filepath.Join(dir, "unreachable.yml")
	require.NoError(t, os.WriteFile(unreachable, []byte("source:\n  url: http://127.0.0.1:1\nqueries:\n  - name: ok\n    expr: up\n"), 0o644))
	badCfg := filepath.Join(dir, "bad.yml")
	require.NoError(t, os.WriteFile(badCfg, []byte("sensitivity: 0.4\nsensitivty: 1\n"), 0o644))

	stampVersion(t)
	for _, tc := range []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout []string // substrings of stdout (stderr must then be empty)
		wantOut    []string // substrings of stderr
		wantFile   string
	}{
		{name: "version", args: []string{"--version"}, wantStdout: []string{
			"kizashi-exporter, version 1.2.3 (branch: release-1.2, revision: 0123abc)", "build user:       ci@builder",
			"build date:       20270102-03:04:05"}},
		// --help shows the serve command's flags (the default command), not only the global ones.
		{name: "help", args: []string{"--help"}, wantStdout: []string{"usage: kizashi-exporter", "backtest [<flags>]",
			"--log.level=info", "--config.file=", "--[no-]config.check", "--storage.path=", "--storage.snapshot-interval=", "--shard=",
			"--web.chart-series=", "--web.listen-address=", "--web.config.file="}},
		{name: "help of serve", args: []string{"serve", "--help"}, wantStdout: []string{"usage: kizashi-exporter serve", "--storage.path="}},
		{name: "unknown flag", args: []string{"--storage.pth=x"}, wantCode: 2, wantOut: []string{"unknown long flag '--storage.pth', try --help"}},
		{name: "backtest with a bad file", args: []string{"backtest", "--input", in, "--output", filepath.Join(dir, "out")},
			wantCode: 1, wantOut: []string{"2 files, 2 rows, 1 failed", `bad.csv:3: parse value \"abc\": invalid syntax`},
			wantFile: filepath.Join(dir, "out", "cat", "good.csv")},
		{name: "backtest single file with config and flags", args: []string{"backtest", "--input", filepath.Join(in, "cat", "good.csv"),
			"--output", filepath.Join(dir, "one.csv"), "--config", cfg, "--daily", "off", "--weekly=off", "--step", "5m",
			"--horizons", "5m,1h", "--emit-forecasts"},
			wantOut: []string{"1 files, 2 rows, 0 failed"}, wantFile: filepath.Join(dir, "one.csv")},
		{name: "bad config", args: []string{"backtest", "--input", in, "--output", filepath.Join(dir, "o2"), "--config", badCfg},
			wantCode: 1, wantOut: []string{"line 2: field sensitivty not found"}},
		{name: "bad mode", args: []string{"backtest", "--input", in, "--output", filepath.Join(dir, "o3"), "--trend", "maybe"},
			wantCode: 2, wantOut: []string{"enum value must be one of auto,on,off"}},
		{name: "bad horizons", args: []string{"backtest", "--input", in, "--output", filepath.Join(dir, "o4"), "--horizons", "1h,x"},
			wantCode: 1, wantOut: []string{`--horizons: duration \"x\"`}},
		{name: "bad timezone", args: []string{"backtest", "--input", in, "--output", filepath.Join(dir, "o5"), "--timezone", "Europe/Berln"},
			wantCode: 1, wantOut: []string{`--timezone: time zone \"Europe/Berln\": unknown`}},
		{name: "bad holidays", args: []string{"backtest", "--input", in, "--output", filepath.Join(dir, "o6"), "--holidays", "2026-05-04,05-05"},
			wantCode: 1, wantOut: []string{`--holidays: holiday \"05-05\": want a date`}},
		{name: "backtest with a timezone", args: []string{"backtest", "--input", filepath.Join(in, "cat", "good.csv"),
			"--output", filepath.Join(dir, "tz.csv"), "--timezone", "Asia/Tokyo", "--holidays", "2014-04-01,2014-05-03..2014-05-06"},
			wantOut: []string{"1 files, 2 rows, 0 failed"}, wantFile: filepath.Join(dir, "tz.csv")},
		{name: "backtest without input", args: []string{"backtest"}, wantCode: 1,
			wantOut: []string{"backtest needs --input and --output (CSV files) or --config.file"}},
		{name: "backtest of an unreachable source", args: []string{"backtest", "--config.file", unreachable, "--range", "1h",
			"--out", filepath.Join(dir, "report")}, wantCode: 1, wantOut: []string{"query ok, range ", "127.0.0.1:1", "connection refused"}},
		{name: "backtest of a bad range", args: []string{"backtest", "--config.file", unreachable, "--range", "7x"},
			wantCode: 1, wantOut: []string{`--range \"7x\": unknown unit`}},
		{name: "backtest of a bad configuration", args: []string{"backtest", "--config.file", badPromQL},
			wantCode: 1, wantOut: []string{"parse config", "unclosed left parenthesis"}},
		{name: "bad shard label", args: []string{"serve", "--shard=0/2", "--shard.by=", "--config.file", "../../examples/kizashi-exporter.yml"},
			wantCode: 1, wantOut: []string{"--shard.by", "not a label name"}},
		{name: "serve help", args: []string{"serve", "--help"}, wantStdout: []string{"--[no-]web.enable-lifecycle", "--[no-]config.check", "--web.compression=none"}},
		{name: "config check", args: []string{"serve", "--config.file", "../../examples/kizashi-exporter.yml", "--config.check"},
			wantOut: []string{"kizashi-exporter.yml: configuration is valid"}},
		{name: "config check refuses bad PromQL", args: []string{"serve", "--config.file", badPromQL, "--config.check"},
			wantCode: 1, wantOut: []string{"parse config " + badPromQL + `: line 7: query \"broken\": expr: 1:16: parse error: unclosed left parenthesis`}},
		{name: "forecast", args: []string{"forecast", "--m4", m4, "--horizon", "4", "--step", "1h", "--output", filepath.Join(dir, "f.csv")},
			wantOut: []string{"1 series, 4 forecasts each"}, wantFile: filepath.Join(dir, "f.csv")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr strings.Builder
			code := run(context.Background(), tc.args, environment{stdout: &stdout, stderr: &stderr})
			require.Equal(t, tc.wantCode, code, stderr.String())
			for _, s := range tc.wantStdout {
				require.Contains(t, stdout.String(), s)
			}
			if tc.wantStdout != nil {
				require.Empty(t, stderr.String())
			}
			for _, s := range tc.wantOut {
				require.Contains(t, stderr.String(), s)
			}
			if tc.wantFile != "" {
				require.FileExists(t, tc.wantFile)
			}
		})
	}
	data, err := os.ReadFile(filepath.Join(dir, "one.csv"))
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(string(data), "timestamp,value,baseline,lower,upper,anomaly_score,deviation,reason,forecast_5m,forecast_1h\n"))
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
