package release

import (
	"archive/tar"
	"archive/zip"
	"bufio"
	"bytes"
	"compress/gzip"
	"debug/elf"
	"debug/macho"
	"debug/pe"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
)

// Verify checks a release directory built by Build for version: the checksums file lists
// exactly the archives and their SHA-256; every daemon archive holds one directory with
// exactly its files, the binary static for its platform and identical to the one in the
// platform directory; the plugin zip is what Grafana installs (see verifyPluginZip). s says
// which platforms the release has (FullScope for a release users get).
func Verify(dir, version string, s Scope) error {
	sums, err := readChecksums(filepath.Join(dir, ChecksumsName))
	if err != nil {
		return err
	}
	want := map[string]bool{PluginZipName(version): true}
	for _, p := range s.Daemons {
		for _, d := range Daemons() {
			want[d.ArchiveName(version, p)] = true
		}
	}
	var errs []error
	if got := slices.Sorted(maps.Keys(sums)); !slices.Equal(got, slices.Sorted(maps.Keys(want))) {
		errs = append(errs, fmt.Errorf("%s lists %v, want %v", ChecksumsName, got, slices.Sorted(maps.Keys(want))))
	}
	for name, sum := range sums {
		got, err := fileSHA256(filepath.Join(dir, name))
		if err != nil {
			errs = append(errs, fmt.Errorf("checksum of %s: %w", name, err))
		} else if got != sum {
			errs = append(errs, fmt.Errorf("%s: SHA-256 %s, %s says %s", name, got, ChecksumsName, sum))
		}
	}
	for _, p := range s.Daemons {
		for _, d := range Daemons() {
			if err := verifyDaemonArchive(dir, version, d, p); err != nil {
				errs = append(errs, err)
			}
		}
		if _, err := os.Stat(filepath.Join(dir, p.dir(), "LICENSE")); err != nil {
			errs = append(errs, fmt.Errorf("platform directory: %w", err))
		}
	}
	if err := verifyPluginZip(filepath.Join(dir, PluginZipName(version)), version, s.Plugins); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return fmt.Errorf("verify release %s: %w", dir, errors.Join(errs...))
	}
	return nil
}

var checksumLine = regexp.MustCompile(`^([0-9a-f]{64})  ([A-Za-z0-9._-]+)$`)

func readChecksums(p string) (map[string]string, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("checksums: %w", err)
	}
	defer func() { _ = f.Close() }()
	sums := map[string]string{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		m := checksumLine.FindStringSubmatch(sc.Text())
		if m == nil {
			return nil, fmt.Errorf("checksums: %s:%d: not \"<sha256>  <file>\": %q", p, n, sc.Text())
		}
		if _, dup := sums[m[2]]; dup {
			return nil, fmt.Errorf("checksums: %s:%d: %s listed twice", p, n, m[2])
		}
		sums[m[2]] = m[1]
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("checksums: %w", err)
	}
	return sums, nil
}

// member is an archive member as read back.
type member struct {
	mode fs.FileMode
	data []byte
}

func readTarGz(p string) (map[string]member, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }()
	gz, err := gzip.NewReader(f)
	if err != nil {
		return nil, err
	}
	tr := tar.NewReader(gz)
	out := map[string]member{}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		if _, dup := out[h.Name]; dup {
			return nil, fmt.Errorf("%s twice", h.Name)
		}
		m := member{mode: h.FileInfo().Mode()}
		if h.Typeflag == tar.TypeReg {
			if m.data, err = io.ReadAll(tr); err != nil {
				return nil, err
			}
		} else if h.Typeflag != tar.TypeDir {
			return nil, fmt.Errorf("%s: type %q, want a file or a directory", h.Name, h.Typeflag)
		}
		out[h.Name] = m
	}
}

func verifyDaemonArchive(dir, version string, d Daemon, p Platform) error {
	name := d.ArchiveName(version, p)
	members, err := readTarGz(filepath.Join(dir, name))
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	top := d.archiveDir(version, p)
	want := map[string]fs.FileMode{top + "/": fs.ModeDir | 0o755, top + "/systemd/": fs.ModeDir | 0o755}
	for _, f := range d.files("", "", p) {
		want[top+"/"+f.Name] = f.Mode
	}
	var errs []error
	if got := slices.Sorted(maps.Keys(members)); !slices.Equal(got, slices.Sorted(maps.Keys(want))) {
		errs = append(errs, fmt.Errorf("holds %v, want %v", got, slices.Sorted(maps.Keys(want))))
	}
	for n, mode := range want {
		if m, ok := members[n]; ok && m.mode != mode {
			errs = append(errs, fmt.Errorf("%s: mode %v, want %v", n, m.mode, mode))
		}
	}
	if bin, ok := members[top+"/"+d.Name]; ok {
		if err := checkExecutable(bin.data, p, true); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", d.Name, err))
		}
		unpacked, err := os.ReadFile(filepath.Join(dir, p.dir(), d.Name))
		if err != nil {
			errs = append(errs, err)
		} else if !bytes.Equal(unpacked, bin.data) {
			errs = append(errs, fmt.Errorf("%s differs from %s", d.Name, filepath.Join(p.dir(), d.Name)))
		}
	}
	if cl, ok := members[top+"/CHANGELOG.md"]; ok {
		if err := checkChangelog(cl.data, version); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s: %w", name, errors.Join(errs...))
	}
	return nil
}

// checkChangelog: the CHANGELOG has a section for the version ("## 0.1.0 / …").
func checkChangelog(b []byte, version string) error {
	if !regexp.MustCompile(`(?m)^## ` + regexp.QuoteMeta(version) + `( |$)`).Match(b) {
		return fmt.Errorf("CHANGELOG.md has no section \"## %s\"", version)
	}
	return nil
}

// checkExecutable: b is an executable for p (ELF, Mach-O or PE of its machine); with static,
// an ELF must not ask for a dynamic loader or libraries (it runs FROM scratch or distroless).
func checkExecutable(b []byte, p Platform, static bool) error {
	r := bytes.NewReader(b)
	switch p.OS {
	case "linux":
		f, err := elf.NewFile(r)
		if err != nil {
			return fmt.Errorf("not an ELF executable: %w", err)
		}
		want := map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64, "arm": elf.EM_ARM}[p.Arch]
		if f.Machine != want {
			return fmt.Errorf("ELF for %v, want %v (%s)", f.Machine, want, p)
		}
		if static {
			for _, prog := range f.Progs {
				if prog.Type == elf.PT_INTERP {
					return fmt.Errorf("dynamically linked (has an ELF interpreter), want static")
				}
			}
			if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
				return fmt.Errorf("needs shared libraries %v, want static", libs)
			}
		}
	case "darwin":
		f, err := macho.NewFile(r)
		if err != nil {
			return fmt.Errorf("not a Mach-O executable: %w", err)
		}
		want := map[string]macho.Cpu{"amd64": macho.CpuAmd64, "arm64": macho.CpuArm64}[p.Arch]
		if f.Cpu != want {
			return fmt.Errorf("Mach-O for %v, want %v (%s)", f.Cpu, want, p)
		}
	case "windows":
		f, err := pe.NewFile(r)
		if err != nil {
			return fmt.Errorf("not a PE executable: %w", err)
		}
		if p.Arch != "amd64" || f.Machine != pe.IMAGE_FILE_MACHINE_AMD64 {
			return fmt.Errorf("PE for machine %#x, want %s", f.Machine, p)
		}
	default:
		return fmt.Errorf("no check for %s", p)
	}
	return nil
}

// pluginJSON is what Grafana's installer and plugin validator read of plugin.json.
type pluginJSON struct {
	ID         string `json:"id"`
	Type       string `json:"type"`
	Backend    bool   `json:"backend"`
	Executable string `json:"executable"`
	Info       struct {
		Version string `json:"version"`
		Logos   struct {
			Small string `json:"small"`
			Large string `json:"large"`
		} `json:"logos"`
	} `json:"info"`
}

// verifyPluginZip checks the zip against what grafana/grafana's installer
// (pkg/plugins/storage/fs.go) and grafana/plugin-validator (passes archive, archivename,
// metadata, modulejs, readme, license, changelog, backendbinary, binarypermissions, logos)
// require: one top folder named after the plugin id (the installer renames the first path
// element to the id; the validator wants them equal), no member outside it (absolute or
// "..": the installer refuses them), no symlinks, no legacy dist/ folder, plugin.json at the
// top with the id, type datasource, the release's version and the backend executable,
// module.js, README.md, LICENSE and a non-empty CHANGELOG.md, the logos, and a backend for
// every platform Grafana runs on with permissions exactly 0755.
func verifyPluginZip(p, version string, plugins []Platform) error {
	zr, err := zip.OpenReader(p)
	if err != nil {
		return fmt.Errorf("plugin zip: %w", err)
	}
	defer func() { _ = zr.Close() }()
	var errs []error
	files := map[string]*zip.File{}
	for _, f := range zr.File {
		name := f.Name
		rel, ok := strings.CutPrefix(name, PluginID+"/")
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("%s is not below %s/", name, PluginID))
			continue
		case strings.Contains(name, `\`) || path.IsAbs(name) || path.Clean(name) != strings.TrimSuffix(name, "/") || slices.Contains(strings.Split(name, "/"), ".."):
			errs = append(errs, fmt.Errorf("%s: not a clean relative path", name))
			continue
		case f.Mode()&fs.ModeSymlink != 0:
			errs = append(errs, fmt.Errorf("%s is a symlink", name))
			continue
		case rel == "dist/" || strings.HasPrefix(rel, "dist/"):
			errs = append(errs, fmt.Errorf("%s: the legacy dist/ layout", name))
			continue
		}
		if !f.Mode().IsDir() {
			files[rel] = f
		}
	}
	read := func(rel string) []byte {
		f, ok := files[rel]
		if !ok {
			errs = append(errs, fmt.Errorf("%s/%s is missing", PluginID, rel))
			return nil
		}
		r, err := f.Open()
		if err != nil {
			errs = append(errs, err)
			return nil
		}
		b, err := io.ReadAll(r)
		if err = errors.Join(err, r.Close()); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", rel, err))
		}
		return b
	}
	var pj pluginJSON
	if b := read("plugin.json"); b != nil {
		if err := json.Unmarshal(b, &pj); err != nil {
			errs = append(errs, fmt.Errorf("plugin.json: %w", err))
		}
		if pj.ID != PluginID || pj.Type != "datasource" || !pj.Backend || pj.Executable != PluginExecutable || pj.Info.Version != version {
			errs = append(errs, fmt.Errorf("plugin.json: id %q type %q backend %v executable %q version %q, want %q datasource true %q %q",
				pj.ID, pj.Type, pj.Backend, pj.Executable, pj.Info.Version, PluginID, PluginExecutable, version))
		}
		for _, logo := range []string{pj.Info.Logos.Small, pj.Info.Logos.Large} {
			if logo == "" {
				errs = append(errs, fmt.Errorf("plugin.json: a logo is missing"))
			} else {
				read(logo)
			}
		}
	}
	for _, rel := range []string{"module.js", "README.md", "LICENSE"} {
		if b := read(rel); b != nil && len(bytes.TrimSpace(b)) == 0 {
			errs = append(errs, fmt.Errorf("%s is empty", rel))
		}
	}
	if b := read("CHANGELOG.md"); b != nil {
		if err := checkChangelog(b, version); err != nil {
			errs = append(errs, err)
		}
	}
	for _, pl := range plugins {
		rel := pluginBackend(pl)
		f, ok := files[rel]
		if ok && f.Mode().Perm() != 0o755 {
			errs = append(errs, fmt.Errorf("%s: permissions %04o, want 0755", rel, f.Mode().Perm()))
		}
		if b := read(rel); b != nil {
			if err := checkExecutable(b, pl, true); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", rel, err))
			}
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("plugin zip %s: %w", filepath.Base(p), errors.Join(errs...))
	}
	return nil
}
