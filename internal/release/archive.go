package release

import (
	"archive/tar"
	"archive/zip"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// File is a member of an archive.
type File struct {
	Name string      // slash-separated path below the archive's top directory
	Src  string      // the file on disk
	Mode fs.FileMode // permission bits: 0o755 for programs, 0o644 otherwise
}

// WriteTarGz writes a gzipped tar archive to path holding top/ and the files below it, with
// the same mtime, owner root and sorted names, so that the same inputs give the same bytes.
func WriteTarGz(path, top string, files []File, mtime time.Time) error {
	return create(path, func(f io.Writer) error {
		gz := gzip.NewWriter(f)
		tw := tar.NewWriter(gz)
		hdr := func(name string, mode int64, typ byte, size int64) *tar.Header {
			return &tar.Header{Name: name, Mode: mode, Typeflag: typ, Size: size, ModTime: mtime, Uname: "root", Gname: "root", Format: tar.FormatPAX}
		}
		for _, d := range dirs(top, files) {
			if err := tw.WriteHeader(hdr(d+"/", 0o755, tar.TypeDir, 0)); err != nil {
				return err
			}
		}
		for _, m := range sorted(files) {
			b, err := os.ReadFile(m.Src)
			if err != nil {
				return err
			}
			if err := tw.WriteHeader(hdr(top+"/"+m.Name, int64(m.Mode.Perm()), tar.TypeReg, int64(len(b)))); err != nil {
				return err
			}
			if _, err := tw.Write(b); err != nil {
				return err
			}
		}
		return errors.Join(tw.Close(), gz.Close())
	})
}

// WriteZip writes a zip archive to path holding top/ and the files below it (mtime, sorted
// names and Unix permissions as WriteTarGz).
func WriteZip(path, top string, files []File, mtime time.Time) error {
	return create(path, func(f io.Writer) error {
		zw := zip.NewWriter(f)
		for _, d := range dirs(top, files) {
			h := &zip.FileHeader{Name: d + "/", Modified: mtime}
			h.SetMode(fs.ModeDir | 0o755)
			if _, err := zw.CreateHeader(h); err != nil {
				return err
			}
		}
		for _, m := range sorted(files) {
			h := &zip.FileHeader{Name: top + "/" + m.Name, Method: zip.Deflate, Modified: mtime}
			h.SetMode(m.Mode.Perm())
			w, err := zw.CreateHeader(h)
			if err != nil {
				return err
			}
			if err := copyFile(w, m.Src); err != nil {
				return err
			}
		}
		return zw.Close()
	})
}

// create writes the file path with write, closing it, and wraps any error with the path.
func create(path string, write func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := errors.Join(write(f), f.Close()); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

func copyFile(w io.Writer, src string) error {
	r, err := os.Open(src)
	if err != nil {
		return err
	}
	_, err = io.Copy(w, r)
	return errors.Join(err, r.Close())
}

// dirs returns top and every directory of the files below it, parents first.
func dirs(top string, files []File) []string {
	set := map[string]bool{top: true}
	for _, f := range files {
		for d := path.Dir(f.Name); d != "."; d = path.Dir(d) {
			set[top+"/"+d] = true
		}
	}
	out := make([]string, 0, len(set))
	for d := range set {
		out = append(out, d)
	}
	slices.Sort(out)
	return out
}

func sorted(files []File) []File {
	out := slices.Clone(files)
	slices.SortFunc(out, func(a, b File) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// WriteChecksums writes dir/sha256sums.txt with the SHA-256 of the named files of dir, one
// "<hex>  <name>" line each (what `sha256sum -c` reads), sorted by name.
func WriteChecksums(dir string, names []string) error {
	var b strings.Builder
	for _, n := range slices.Sorted(slices.Values(names)) {
		sum, err := fileSHA256(filepath.Join(dir, n))
		if err != nil {
			return fmt.Errorf("checksums: %w", err)
		}
		fmt.Fprintf(&b, "%s  %s\n", sum, n)
	}
	if err := os.WriteFile(filepath.Join(dir, ChecksumsName), []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("checksums: %w", err)
	}
	return nil
}

func fileSHA256(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	_, err = io.Copy(h, f)
	if err = errors.Join(err, f.Close()); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
