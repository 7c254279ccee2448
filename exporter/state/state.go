// Package state keeps model snapshots in a data directory: one file per query holding every
// series' raw labels and model snapshot, written atomically (temporary file, fsync, rename).
//
// File format: the magic "KZSTATE1", then records, each a uvarint payload length, the payload
// and its CRC-32 (IEEE, little endian); a zero length ends the file. A payload is a uvarint
// label count, then for each label its name and value (uvarint length + bytes), then the
// model snapshot (uvarint length + bytes). A damaged record stops the reading of its file:
// the series before it are restored, the others are retrained.
package state

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"

	"github.com/prometheus/common/model"
)

const magic = "KZSTATE1"

// maxRecord bounds a record's length so that a damaged length cannot allocate gigabytes.
const maxRecord = 1 << 20

// ErrCorrupt is returned (wrapped) when a file is damaged or not a state file.
var ErrCorrupt = errors.New("corrupt state file")

// Path returns the file of a query in dir.
func Path(dir, query string) string { return filepath.Join(dir, query+".state") }

// Writer writes one state file; Commit makes it visible atomically.
type Writer struct {
	path string
	f    *os.File
	w    *bufio.Writer
	buf  []byte
	hdr  []byte
	n    int
}

// Create starts writing the state file of query in dir (created if missing).
func Create(dir, query string) (*Writer, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("create state dir: %w", err)
	}
	path := Path(dir, query)
	f, err := os.CreateTemp(dir, "."+query+".state.tmp*")
	if err != nil {
		return nil, fmt.Errorf("create state file: %w", err)
	}
	w := &Writer{path: path, f: f, w: bufio.NewWriterSize(f, 256<<10)}
	if _, err := w.w.WriteString(magic); err != nil {
		return nil, w.abort(fmt.Errorf("write state file: %w", err))
	}
	return w, nil
}

// Add writes one series.
func (w *Writer) Add(raw model.Metric, snapshot []byte) error {
	b := w.buf[:0]
	b = binary.AppendUvarint(b, uint64(len(raw)))
	for n, v := range raw {
		b = appendString(b, string(n))
		b = appendString(b, string(v))
	}
	b = appendString(b, snapshot)
	w.hdr = binary.AppendUvarint(w.hdr[:0], uint64(len(b)))
	if _, err := w.w.Write(w.hdr); err != nil {
		return fmt.Errorf("write state file: %w", err)
	}
	b = binary.LittleEndian.AppendUint32(b, crc32.ChecksumIEEE(b))
	if _, err := w.w.Write(b); err != nil {
		return fmt.Errorf("write state file: %w", err)
	}
	w.buf = b
	w.n++
	return nil
}

// Count returns the series written so far.
func (w *Writer) Count() int { return w.n }

func appendString[S string | []byte](b []byte, s S) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// Commit ends the file, syncs it and renames it over the previous state of the query.
func (w *Writer) Commit() error {
	if err := w.w.WriteByte(0); err != nil {
		return w.abort(fmt.Errorf("write state file: %w", err))
	}
	if err := w.w.Flush(); err != nil {
		return w.abort(fmt.Errorf("write state file: %w", err))
	}
	if err := w.f.Sync(); err != nil {
		return w.abort(fmt.Errorf("sync state file: %w", err))
	}
	if err := w.f.Close(); err != nil {
		return w.abort(fmt.Errorf("close state file: %w", err))
	}
	if err := os.Rename(w.f.Name(), w.path); err != nil {
		return w.abort(fmt.Errorf("rename state file: %w", err))
	}
	return nil
}

// Abort discards the file being written.
func (w *Writer) Abort() error { return w.abort(nil) }

func (w *Writer) abort(err error) error {
	_ = w.f.Close() // may already be closed; the removal below is what matters
	if rerr := os.Remove(w.f.Name()); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
		return errors.Join(err, fmt.Errorf("remove temporary state file: %w", rerr))
	}
	return err
}

// Read calls fn for every series of the query's state file in dir. A missing file is not an
// error (nothing to restore). It returns how many series were read; a damaged file returns an
// error wrapping ErrCorrupt after the series read before the damage.
func Read(dir, query string, fn func(raw model.Metric, snapshot []byte)) (int, error) {
	f, err := os.Open(Path(dir, query))
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("open state file: %w", err)
	}
	defer f.Close() // read-only: Close has nothing to report
	r := bufio.NewReaderSize(f, 256<<10)
	head := make([]byte, len(magic))
	if _, err := io.ReadFull(r, head); err != nil || string(head) != magic {
		return 0, fmt.Errorf("%s: %w: bad header", f.Name(), ErrCorrupt)
	}
	n := 0
	var buf []byte
	for {
		size, err := binary.ReadUvarint(r)
		if err != nil {
			return n, fmt.Errorf("%s: %w: record %d: %v", f.Name(), ErrCorrupt, n, err)
		}
		if size == 0 {
			return n, nil
		}
		if size > maxRecord {
			return n, fmt.Errorf("%s: %w: record %d: length %d", f.Name(), ErrCorrupt, n, size)
		}
		if cap(buf) < int(size)+4 {
			buf = make([]byte, int(size)+4)
		}
		buf = buf[:size+4]
		if _, err := io.ReadFull(r, buf); err != nil {
			return n, fmt.Errorf("%s: %w: record %d: %v", f.Name(), ErrCorrupt, n, err)
		}
		payload := buf[:size]
		if crc32.ChecksumIEEE(payload) != binary.LittleEndian.Uint32(buf[size:]) {
			return n, fmt.Errorf("%s: %w: record %d: checksum mismatch", f.Name(), ErrCorrupt, n)
		}
		raw, snap, err := decode(payload)
		if err != nil {
			return n, fmt.Errorf("%s: %w: record %d: %v", f.Name(), ErrCorrupt, n, err)
		}
		fn(raw, snap)
		n++
	}
}

func decode(b []byte) (model.Metric, []byte, error) {
	count, k := binary.Uvarint(b)
	if k <= 0 || count > 1000 {
		return nil, nil, errors.New("bad label count")
	}
	b = b[k:]
	next := func() ([]byte, error) {
		l, k := binary.Uvarint(b)
		if k <= 0 || uint64(len(b)-k) < l {
			return nil, errors.New("truncated")
		}
		s := b[k : k+int(l)]
		b = b[k+int(l):]
		return s, nil
	}
	raw := make(model.Metric, count)
	for range count {
		n, err := next()
		if err != nil {
			return nil, nil, err
		}
		v, err := next()
		if err != nil {
			return nil, nil, err
		}
		raw[model.LabelName(n)] = model.LabelValue(v)
	}
	snap, err := next()
	if err != nil {
		return nil, nil, err
	}
	return raw, snap, nil
}
