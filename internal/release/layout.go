package release

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
)

// Platform is a GOOS/GOARCH pair.
type Platform struct{ OS, Arch string }

func (p Platform) String() string { return p.OS + "/" + p.Arch }

// dir is the platform's directory in a release (linux-amd64): the binaries the archives hold,
// unpacked, where the Dockerfiles COPY them from (as TARGETOS-TARGETARCH).
func (p Platform) dir() string { return p.OS + "-" + p.Arch }

// DaemonPlatforms are the platforms the daemons are released for.
func DaemonPlatforms() []Platform {
	return []Platform{{"linux", "amd64"}, {"linux", "arm64"}}
}

// PluginPlatforms are the platforms Grafana runs backend plugins on (the SDK's build
// targets, and the executables Grafana's installer marks executable).
func PluginPlatforms() []Platform {
	return []Platform{{"linux", "amd64"}, {"linux", "arm64"}, {"linux", "arm"},
		{"darwin", "amd64"}, {"darwin", "arm64"}, {"windows", "amd64"}}
}

// Scope is the platforms a release is built for.
type Scope struct{ Daemons, Plugins []Platform }

// FullScope is what `go tool mage release` builds: DaemonPlatforms and PluginPlatforms.
func FullScope() Scope { return Scope{Daemons: DaemonPlatforms(), Plugins: PluginPlatforms()} }

// HostScope is what `go tool mage test` builds: the daemons for Linux on this machine's
// architecture and the plugin's backend for this machine. Cross-compiling the plugin for six
// platforms from a cold build cache takes about 20 minutes on 2 cores, more than the rest of
// the tests together; the other platforms are checked by `go tool mage release` itself.
func HostScope() Scope {
	return Scope{Daemons: []Platform{{"linux", runtime.GOARCH}}, Plugins: []Platform{{runtime.GOOS, runtime.GOARCH}}}
}

// ScopeEnv says which scope the release in ReleaseDirEnv was built for: "host" (HostScope)
// or unset (FullScope).
const ScopeEnv = "KIZASHI_RELEASE_SCOPE"

// ScopeFromEnv is the scope ScopeEnv names.
func ScopeFromEnv() Scope {
	if os.Getenv(ScopeEnv) == "host" {
		return HostScope()
	}
	return FullScope()
}

// Daemon is a program released as an archive per platform.
type Daemon struct {
	Name    string // binary and archive name
	Package string // Go package of its main, relative to the module root
	Config  string // example configuration, shipped as <Name>.yml
}

// Daemons are kizashi-exporter and kizashi-webhook.
func Daemons() []Daemon {
	return []Daemon{
		{Name: "kizashi-exporter", Package: "./exporter/cmd/kizashi-exporter", Config: "exporter/examples/kizashi-exporter.yml"},
		{Name: "kizashi-webhook", Package: "./webhook/cmd/kizashi-webhook", Config: "webhook/kizashi-webhook.example.yml"},
	}
}

// ArchiveName is the daemon's archive for p: kizashi-exporter-0.1.0.linux-amd64.tar.gz,
// holding one directory of the same name without .tar.gz.
func (d Daemon) ArchiveName(version string, p Platform) string {
	return d.archiveDir(version, p) + ".tar.gz"
}

func (d Daemon) archiveDir(version string, p Platform) string {
	return fmt.Sprintf("%s-%s.%s-%s", d.Name, version, p.OS, p.Arch)
}

// files are the daemon archive's members for p, relative to the release's root (dir) and to
// the module root (root).
func (d Daemon) files(root, dir string, p Platform) []File {
	return []File{
		{Name: d.Name, Src: filepath.Join(dir, p.dir(), d.Name), Mode: 0o755},
		{Name: "LICENSE", Src: filepath.Join(root, "LICENSE"), Mode: 0o644},
		{Name: "CHANGELOG.md", Src: filepath.Join(root, "CHANGELOG.md"), Mode: 0o644},
		{Name: d.Name + ".yml", Src: filepath.Join(root, d.Config), Mode: 0o644},
		{Name: "systemd/" + d.Name + ".service", Src: filepath.Join(root, "deploy", "systemd", d.Name+".service"), Mode: 0o644},
		{Name: "systemd/" + d.Name + ".sysusers", Src: filepath.Join(root, "deploy", "systemd", d.Name+".sysusers"), Mode: 0o644},
	}
}

// PluginID is the Grafana data source's id: the zip's top folder, Grafana's plugin directory.
const PluginID = "kizashi-anomaly-datasource"

// PluginExecutable is plugin.json's executable: the backends are <it>_<os>_<arch>[.exe].
const PluginExecutable = "gpx_kizashi"

// PluginZipName is the plugin's zip: kizashi-anomaly-datasource-0.1.0.zip.
func PluginZipName(version string) string { return PluginID + "-" + version + ".zip" }

// pluginBackend is the backend executable's name for p.
func pluginBackend(p Platform) string {
	name := fmt.Sprintf("%s_%s_%s", PluginExecutable, p.OS, p.Arch)
	if p.OS == "windows" {
		name += ".exe"
	}
	return name
}

// ChecksumsName is the file of SHA-256 checksums (sha256sum's format) of the archives.
const ChecksumsName = "sha256sums.txt"
