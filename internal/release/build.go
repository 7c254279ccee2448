package release

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Options configure Build.
type Options struct {
	Root string // the module root
	// Dir is the release directory (dist): created, or replaced if it holds a release already.
	Dir  string
	Info Info
	// Out receives one line per step.
	Out io.Writer
	// BuildPluginBackend builds the plugin's backend for p into dir as <PluginExecutable>_<os>_<arch>
	// (mage runs the plugin SDK's build, which only works from the module root).
	BuildPluginBackend func(ctx context.Context, p Platform, dir string) error
	// Scope is the platforms to build for; the zero Scope is FullScope.
	Scope Scope
}

func (o Options) scope() Scope {
	if o.Scope.Daemons == nil && o.Scope.Plugins == nil {
		return FullScope()
	}
	return o.Scope
}

// Build builds the release into o.Dir and checks it with Verify:
//
//	kizashi-exporter-<version>.linux-amd64.tar.gz, … .linux-arm64.tar.gz
//	kizashi-webhook-<version>.linux-amd64.tar.gz, … .linux-arm64.tar.gz
//	kizashi-anomaly-datasource-<version>.zip
//	sha256sums.txt
//	linux-amd64/, linux-arm64/   the binaries of the archives and LICENSE (the Docker build context)
func Build(ctx context.Context, o Options) error {
	if o.Out == nil {
		o.Out = io.Discard
	}
	info := o.Info
	if err := checkPluginVersion(o.Root, info.Version); err != nil {
		return err
	}
	if err := prepareDir(o.Dir); err != nil {
		return err
	}
	fmt.Fprintf(o.Out, "release %s (revision %s, branch %s) into %s\n", info.Version, info.Revision, info.Branch, o.Dir)
	var archives []string
	for _, p := range o.scope().Daemons {
		if err := os.MkdirAll(filepath.Join(o.Dir, p.dir()), 0o755); err != nil {
			return fmt.Errorf("release: %w", err)
		}
		if err := copyTo(filepath.Join(o.Root, "LICENSE"), filepath.Join(o.Dir, p.dir(), "LICENSE"), 0o644); err != nil {
			return fmt.Errorf("release: %w", err)
		}
		for _, d := range Daemons() {
			if err := step(o.Out, fmt.Sprintf("building %s for %s", d.Name, p), func() error {
				return goBuild(ctx, o.Root, p, info, filepath.Join(o.Dir, p.dir(), d.Name), d.Package)
			}); err != nil {
				return err
			}
			name := d.ArchiveName(info.Version, p)
			if err := WriteTarGz(filepath.Join(o.Dir, name), d.archiveDir(info.Version, p), d.files(o.Root, o.Dir, p), info.Time); err != nil {
				return err
			}
			archives = append(archives, name)
		}
	}
	zipName, err := buildPlugin(ctx, o)
	if err != nil {
		return err
	}
	archives = append(archives, zipName)
	if err := WriteChecksums(o.Dir, archives); err != nil {
		return err
	}
	if err := step(o.Out, "checking the release", func() error { return Verify(o.Dir, info.Version, o.scope()) }); err != nil {
		return err
	}
	fmt.Fprintf(o.Out, "release %s: %s\n", info.Version, strings.Join(append(archives, ChecksumsName), ", "))
	return nil
}

// step runs f between a line saying what it does and " done (1.2s)".
func step(out io.Writer, what string, f func() error) error {
	start := time.Now()
	fmt.Fprintf(out, "  %s ...", what)
	if err := f(); err != nil {
		fmt.Fprintln(out, " failed")
		return err
	}
	fmt.Fprintf(out, " done (%.1fs)\n", time.Since(start).Seconds())
	return nil
}

// prepareDir creates dir, or empties it when it holds a previous release (its checksums
// file); any other non-empty directory is refused rather than deleted.
func prepareDir(dir string) error {
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return fmt.Errorf("release directory: %w", err)
	case len(entries) == 0:
	default:
		if _, err := os.Stat(filepath.Join(dir, ChecksumsName)); err != nil {
			return fmt.Errorf("release directory %s is not empty and holds no release (%s): not touching it", dir, ChecksumsName)
		}
		if err := os.RemoveAll(dir); err != nil {
			return fmt.Errorf("release directory: %w", err)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("release directory: %w", err)
	}
	return nil
}

// goBuild builds pkg for p into out: static (CGO_ENABLED=0, so modernc.org/sqlite's pure-Go
// SQLite and Go's own resolver), without local paths (-trimpath), stamped with info.
func goBuild(ctx context.Context, root string, p Platform, info Info, out, pkg string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags", info.LDFlags(), "-o", out, pkg)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+p.OS, "GOARCH="+p.Arch)
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s for %s: %w\n%s", pkg, p, err, b)
	}
	return nil
}

// checkPluginVersion: the plugin's version (datasource/package.json, which the frontend build
// writes into plugin.json) is the release's.
func checkPluginVersion(root, version string) error {
	b, err := os.ReadFile(filepath.Join(root, "datasource", "package.json"))
	if err != nil {
		return fmt.Errorf("plugin version: %w", err)
	}
	var pkg struct{ Version string }
	if err := json.Unmarshal(b, &pkg); err != nil {
		return fmt.Errorf("plugin version: datasource/package.json: %w", err)
	}
	if pkg.Version != version {
		return fmt.Errorf("plugin version: datasource/package.json says %q, VERSION says %q: make them agree", pkg.Version, version)
	}
	return nil
}

// buildPlugin builds the frontend (with the plugin's README, the CHANGELOG and the LICENSE:
// see datasource/build.mjs) and the backends into a staging directory and zips it under
// PluginID/.
func buildPlugin(ctx context.Context, o Options) (string, error) {
	staging, err := os.MkdirTemp("", "kizashi-plugin-")
	if err != nil {
		return "", fmt.Errorf("plugin: %w", err)
	}
	defer func() { _ = os.RemoveAll(staging) }()
	if err := step(o.Out, "building the plugin's frontend", func() error {
		return BuildFrontend(ctx, o.Root, staging, io.Discard)
	}); err != nil {
		return "", err
	}
	for _, p := range o.scope().Plugins {
		if err := step(o.Out, "building the plugin's backend for "+p.String(), func() error {
			return o.BuildPluginBackend(ctx, p, staging)
		}); err != nil {
			return "", err
		}
	}
	var files []File
	err = filepath.WalkDir(staging, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if !d.Type().IsRegular() {
			return fmt.Errorf("%s is not a regular file", p)
		}
		rel, err := filepath.Rel(staging, p)
		if err != nil {
			return err
		}
		mode := fs.FileMode(0o644)
		if strings.HasPrefix(d.Name(), PluginExecutable+"_") {
			mode = 0o755 // Grafana's plugin validator wants exactly 0755 on the backends
		}
		files = append(files, File{Name: filepath.ToSlash(rel), Src: p, Mode: mode})
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("plugin: %w", err)
	}
	name := PluginZipName(o.Info.Version)
	if err := WriteZip(filepath.Join(o.Dir, name), PluginID, files, o.Info.Time); err != nil {
		return "", err
	}
	return name, nil
}

// BuildFrontend bundles the data source's frontend (module.js, plugin.json, img/) into outDir
// (empty: datasource/dist), installing its npm packages from the lockfile first if
// node_modules is missing. npm only reports errors.
func BuildFrontend(ctx context.Context, root, outDir string, out io.Writer) error {
	if err := NPMInstall(ctx, root, out); err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, "npm", "run", "--prefix", filepath.Join(root, "datasource"), "--silent", "build")
	cmd.Env = os.Environ()
	if outDir != "" {
		abs, err := filepath.Abs(outDir)
		if err != nil {
			return fmt.Errorf("frontend: %w", err)
		}
		cmd.Env = append(cmd.Env, "KIZASHI_PLUGIN_DIST="+abs)
	}
	if err := runTo(cmd, out); err != nil {
		return fmt.Errorf("frontend: npm run build: %w", err)
	}
	return nil
}

// NPMInstall runs `npm ci` in root/datasource when its node_modules is missing. A lock file
// keeps two builds started at once (two tests, say) from installing over each other.
func NPMInstall(ctx context.Context, root string, out io.Writer) error {
	dir, err := filepath.Abs(filepath.Join(root, "datasource"))
	if err != nil {
		return fmt.Errorf("npm ci: %w", err)
	}
	sum := sha256.Sum256([]byte(dir))
	lock, err := os.OpenFile(filepath.Join(os.TempDir(), "kizashi-npm-"+hex.EncodeToString(sum[:8])+".lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return fmt.Errorf("npm ci: lock: %w", err)
	}
	defer func() { _ = lock.Close() }() // closing releases the lock
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("npm ci: lock: %w", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules")); err == nil {
		return nil
	}
	fmt.Fprintln(out, "installing the frontend's npm packages (npm ci) ...")
	cmd := exec.CommandContext(ctx, "npm", "ci", "--prefix", dir, "--no-audit", "--no-fund", "--loglevel=error")
	if err := runTo(cmd, out); err != nil {
		return fmt.Errorf("npm ci: %w", err)
	}
	return nil
}

// runTo runs cmd, copying its output to out, and returns its error with the output's end.
func runTo(cmd *exec.Cmd, out io.Writer) error {
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = io.MultiWriter(out, &buf), io.MultiWriter(out, &buf)
	if err := cmd.Run(); err != nil {
		b := buf.Bytes()
		if len(b) > 4096 {
			b = b[len(b)-4096:]
		}
		return fmt.Errorf("%w\n%s", err, b)
	}
	return nil
}

// copyTo copies the file src to dst with mode.
func copyTo(src, dst string, mode fs.FileMode) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, b, mode)
}
