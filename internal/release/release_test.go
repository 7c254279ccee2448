package release

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// root is the module root.
const root = "../.."

// ReleaseDirEnv names a release directory built by `go tool mage release` (go tool mage test
// builds one and passes it to the tests); when unset, TestRelease builds one.
const ReleaseDirEnv = "KIZASHI_RELEASE_DIR"

func TestReadVersion(t *testing.T) {
	for _, tc := range []struct{ content, want, err string }{
		{content: "0.1.0\n", want: "0.1.0"},
		{content: "1.20.3-rc.1", want: "1.20.3-rc.1"},
		{content: "v0.1.0", err: "not a semantic version"},
		{content: "0.1", err: "not a semantic version"},
		{content: "0.1.0' -X main.evil=1", err: "not a semantic version"},
		{content: "", err: "not a semantic version"},
	} {
		dir := t.TempDir()
		require.NoError(t, os.WriteFile(filepath.Join(dir, "VERSION"), []byte(tc.content), 0o644))
		v, err := ReadVersion(dir)
		if tc.err != "" {
			require.ErrorContains(t, err, tc.err, tc.content)
			continue
		}
		require.NoError(t, err)
		require.Equal(t, tc.want, v)
	}
}

// TestVersionsAgree: the plugin's version (datasource/package.json, written into plugin.json)
// and the CHANGELOG follow VERSION; Build refuses to run otherwise.
func TestVersionsAgree(t *testing.T) {
	v, err := ReadVersion(root)
	require.NoError(t, err)
	require.NoError(t, checkPluginVersion(root, v))
	require.ErrorContains(t, checkPluginVersion(root, "9.9.9"), `VERSION says "9.9.9"`)
	cl, err := os.ReadFile(filepath.Join(root, "CHANGELOG.md"))
	require.NoError(t, err)
	require.NoError(t, checkChangelog(cl, v))
	require.Error(t, checkChangelog(cl, "9.9.9"))
}

func TestLDFlags(t *testing.T) {
	i := Info{Version: "0.1.0", Revision: "abc", Branch: "main", BuildUser: "o'brien@host one", Time: time.Date(2027, 1, 2, 3, 4, 5, 0, time.UTC)}
	require.Equal(t, "-X 'github.com/prometheus/common/version.Version=0.1.0' -X 'github.com/prometheus/common/version.Revision=abc' "+
		"-X 'github.com/prometheus/common/version.Branch=main' -X 'github.com/prometheus/common/version.BuildUser=obrien@host one' "+
		"-X 'github.com/prometheus/common/version.BuildDate=20270102-03:04:05'", i.LDFlags())
}

// TestArchivesReproducible: the same files give the same archive bytes (sorted, one mtime,
// owner root), and they read back with their modes.
func TestArchivesReproducible(t *testing.T) {
	dir := t.TempDir()
	for n, c := range map[string]string{"a": "binary", "b": "text"} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, n), []byte(c), 0o600))
	}
	files := []File{{Name: "sub/b.txt", Src: filepath.Join(dir, "b"), Mode: 0o644}, {Name: "prog", Src: filepath.Join(dir, "a"), Mode: 0o755}}
	mtime := time.Date(2027, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, write := range []func(string, string, []File, time.Time) error{WriteTarGz, WriteZip} {
		p1, p2 := filepath.Join(dir, "1"), filepath.Join(dir, "2")
		require.NoError(t, write(p1, "top", files, mtime))
		require.NoError(t, write(p2, "top", []File{files[1], files[0]}, mtime))
		b1, err := os.ReadFile(p1)
		require.NoError(t, err)
		b2, err := os.ReadFile(p2)
		require.NoError(t, err)
		require.Equal(t, b1, b2)
	}
	require.NoError(t, WriteTarGz(filepath.Join(dir, "x.tar.gz"), "top", files, mtime))
	m, err := readTarGz(filepath.Join(dir, "x.tar.gz"))
	require.NoError(t, err)
	require.Equal(t, fs.FileMode(0o755), m["top/prog"].mode)
	require.Equal(t, fs.FileMode(0o644), m["top/sub/b.txt"].mode)
	require.Equal(t, fs.ModeDir|0o755, m["top/sub/"].mode)
	require.Equal(t, "text", string(m["top/sub/b.txt"].data))
}

// TestVerifyRejects: Verify's checks fail on what they exist for.
func TestVerifyRejects(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "a.zip"), []byte("zip"), 0o644))
	require.NoError(t, WriteChecksums(dir, []string{"a.zip"}))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "a.zip"), []byte("zap"), 0o644))
	require.ErrorContains(t, Verify(dir, "0.1.0", FullScope()), "a.zip: SHA-256")

	require.NoError(t, os.WriteFile(filepath.Join(dir, ChecksumsName), []byte("abc  a.zip\n"), 0o644))
	require.ErrorContains(t, Verify(dir, "0.1.0", FullScope()), `not "<sha256>  <file>"`)

	// Plugin zips Grafana's installer or validator would refuse.
	z := func(members map[string]string) string {
		p := filepath.Join(t.TempDir(), "p.zip")
		f, err := os.Create(p)
		require.NoError(t, err)
		zw := zip.NewWriter(f)
		for n, c := range members {
			h := &zip.FileHeader{Name: n}
			h.SetMode(0o644)
			w, err := zw.CreateHeader(h)
			require.NoError(t, err)
			_, err = io.WriteString(w, c)
			require.NoError(t, err)
		}
		require.NoError(t, zw.Close())
		require.NoError(t, f.Close())
		return p
	}
	pj := func(id, version string) string {
		return fmt.Sprintf(`{"id":%q,"type":"datasource","backend":true,"executable":%q,"info":{"version":%q,"logos":{"small":"img/logo.svg","large":"img/logo.svg"}}}`,
			id, PluginExecutable, version)
	}
	for want, members := range map[string]map[string]string{
		"is not below kizashi-anomaly-datasource/":  {"plugin.json": pj(PluginID, "0.1.0")},
		"not a clean relative path":                 {PluginID + "/../evil": "x"},
		"the legacy dist/ layout":                   {PluginID + "/dist/plugin.json": pj(PluginID, "0.1.0")},
		"plugin.json: id \"other\"":                 {PluginID + "/plugin.json": pj("other", "0.1.0")},
		`version "0.0.9"`:                           {PluginID + "/plugin.json": pj(PluginID, "0.0.9")},
		"module.js is missing":                      {PluginID + "/plugin.json": pj(PluginID, "0.1.0")},
		"gpx_kizashi_darwin_arm64 is missing":       {PluginID + "/plugin.json": pj(PluginID, "0.1.0")},
		"img/logo.svg is missing":                   {PluginID + "/plugin.json": pj(PluginID, "0.1.0")},
		"gpx_kizashi_linux_amd64: not an ELF":       {PluginID + "/gpx_kizashi_linux_amd64": "#!/bin/sh"},
		"gpx_kizashi_linux_arm: permissions 0644":   {PluginID + "/gpx_kizashi_linux_arm": "x"},
		`CHANGELOG.md has no section "## 0.1.0"`:    {PluginID + "/CHANGELOG.md": "# Changelog\n## 0.0.1\n"},
		"kizashi-anomaly-datasource/LICENSE is mis": {},
	} {
		require.ErrorContains(t, verifyPluginZip(z(members), "0.1.0", PluginPlatforms()), want)
	}
}

var built struct {
	once sync.Once
	dir  string
	err  error
}

// releaseDir returns $KIZASHI_RELEASE_DIR or a release built once by `go tool mage release`.
func releaseDir(t *testing.T) string {
	t.Helper()
	if d := os.Getenv(ReleaseDirEnv); d != "" {
		return d
	}
	if testing.Short() {
		t.Skip("-short: not building a release (go tool mage release)")
	}
	built.once.Do(func() {
		built.dir = filepath.Join(t.TempDir(), "dist")
		cmd := exec.Command("go", "tool", "mage", "release", "-dir="+built.dir)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			built.err = fmt.Errorf("go tool mage release: %w\n%s", err, out)
		}
	})
	require.NoError(t, built.err)
	return built.dir
}

// TestRelease checks a release as its users meet it: Verify's checks, `sha256sum -c`, the
// amd64 binaries taken out of their archives print the version, revision, branch and build
// date, and the plugin zip extracts as Grafana's installer extracts it.
func TestRelease(t *testing.T) {
	dir := releaseDir(t)
	version, err := ReadVersion(root)
	require.NoError(t, err)
	scope := FullScope()
	if os.Getenv(ReleaseDirEnv) != "" {
		scope = ScopeFromEnv() // built by go tool mage test, for this machine only
	}
	require.NoError(t, Verify(dir, version, scope))

	cmd := exec.Command("sha256sum", "--strict", "-c", ChecksumsName)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.Equal(t, len(scope.Daemons)*len(Daemons())+1, strings.Count(string(out), ": OK\n"), "%s", out)

	info, err := ReadInfo(root)
	require.NoError(t, err)
	host := Platform{"linux", runtime.GOARCH}
	for _, d := range Daemons() {
		t.Run(d.Name, func(t *testing.T) {
			members, err := readTarGz(filepath.Join(dir, d.ArchiveName(version, host)))
			require.NoError(t, err)
			bin := filepath.Join(t.TempDir(), d.Name)
			require.NoError(t, os.WriteFile(bin, members[d.archiveDir(version, host)+"/"+d.Name].data, 0o755))
			var stdout, stderr bytes.Buffer
			cmd := exec.Command(bin, "--version")
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			require.NoError(t, cmd.Run(), stderr.String())
			require.Empty(t, stderr.String(), "--version writes to stdout")
			got := stdout.String()
			require.Contains(t, got, fmt.Sprintf("%s, version %s (branch: ", d.Name, version))
			m := regexp.MustCompile(`\(branch: (\S+), revision: (\S+)\)\n\s+build user:\s+(\S+)\n\s+build date:\s+(\d{8}-\d\d:\d\d:\d\d)\n`).FindStringSubmatch(got)
			require.NotNil(t, m, "version, branch, revision, build user and date:\n%s", got)
			// Built from this checkout (by this test, or by go tool mage test just before).
			require.Equal(t, strings.TrimSuffix(info.Revision, "-modified"), strings.TrimSuffix(m[2], "-modified"), "the revision of this checkout")
			require.Equal(t, info.Branch, m[1])
			require.NotEqual(t, "unknown", m[2], "the revision is stamped")
		})
	}

	// Grafana's installer (grafana/grafana pkg/plugins/storage/fs.go): the first path element
	// of each member becomes the plugin id, members outside the plugins directory are refused,
	// backends named *_<os>_<arch> become executable; then it reads <id>/plugin.json.
	plugins := t.TempDir()
	zr, err := zip.OpenReader(filepath.Join(dir, PluginZipName(version)))
	require.NoError(t, err)
	defer func() { _ = zr.Close() }()
	first := regexp.MustCompile(`^[a-zA-Z0-9_.-]*/`)
	for _, f := range zr.File {
		require.False(t, filepath.IsAbs(f.Name) || strings.HasPrefix(f.Name, "../"), f.Name)
		require.True(t, strings.HasPrefix(filepath.Join(plugins, f.Name), plugins+string(os.PathSeparator)), f.Name)
		require.Zero(t, f.Mode()&fs.ModeSymlink, f.Name)
		dst := filepath.Join(plugins, first.ReplaceAllString(f.Name, PluginID+"/"))
		if f.FileInfo().IsDir() {
			require.NoError(t, os.MkdirAll(dst, 0o755))
			continue
		}
		require.NoError(t, os.MkdirAll(filepath.Dir(dst), 0o755))
		r, err := f.Open()
		require.NoError(t, err)
		b, err := io.ReadAll(r)
		require.NoError(t, err)
		require.NoError(t, r.Close())
		require.NoError(t, os.WriteFile(dst, b, f.Mode().Perm()))
	}
	entries, err := os.ReadDir(plugins)
	require.NoError(t, err)
	require.Len(t, entries, 1, "one plugin directory")
	raw, err := os.ReadFile(filepath.Join(plugins, PluginID, "plugin.json"))
	require.NoError(t, err)
	var pj pluginJSON
	require.NoError(t, json.Unmarshal(raw, &pj))
	require.Equal(t, PluginID, pj.ID)
	require.Equal(t, version, pj.Info.Version)
	for _, p := range scope.Plugins {
		fi, err := os.Stat(filepath.Join(plugins, PluginID, pluginBackend(p)))
		require.NoError(t, err)
		require.Equal(t, fs.FileMode(0o755), fi.Mode().Perm(), pluginBackend(p))
	}
}
