// Package dataset appends kpcap traces to a Parquet dataset that DuckDB,
// Spark, Trino and BigQuery read the same way: hive-partitioned event files
// (events/kernel=K/host=H/source=S/part-ID.parquet) with one schema per
// source that never depends on the other sources of a trace, plus one table
// each for traces, sources, stacks, comms and loss records, all joined by
// trace_id. format/DATASET.md documents every column.
//
// Exports are idempotent (a trace whose traces row exists is skipped; its id
// hashes the file's size and first and last MiB), incremental (new traces add
// files, old files are never rewritten) and crash-safe per file: every file
// is written under a hidden temporary name (".part-ID.parquet.TOKEN.tmp",
// which no "*.parquet" glob matches; see Init for what removes those of a
// killed export) and renamed into place when complete,
// the trace's traces row last, so a trace is complete once its traces row
// exists.
package dataset

import (
	"cmp"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/kpcap/kpcap/format"
	"github.com/kpcap/kpcap/replay"
	"github.com/kpcap/kpcap/replay/internal/parquetio"
)

// Version is the dataset layout version written to DIR/_kpcap_dataset.json.
// Columns are only ever added within one version; a reader may rely on every
// column DATASET.md lists for it.
const Version = 1

// Table directories under the dataset root.
const (
	TableEvents  = "events"
	TableTraces  = "traces"
	TableSources = "sources"
	TableStacks  = "stacks"
	TableComms   = "comms"
	TableLoss    = "loss"
)

// markerName is the dataset's version file; the leading underscore hides it
// from Spark and Trino.
const markerName = "_kpcap_dataset.json"

// Options tune an export.
type Options struct {
	// Workers decode the trace's frames (default runtime.NumCPU()).
	Workers int
	// Sync flushes every file to disk before it is renamed into place, so
	// that a power loss cannot leave a visible file with missing data (the
	// rename alone already protects against a crash or kill of kpcap).
	Sync bool
	// Events, when set, is incremented by the events written, as they are
	// written (a progress line reads it from another goroutine).
	Events *atomic.Int64
	// ExportedBy names the writer in the traces table, such as "kpcap
	// v1.2" (default "kpcap").
	ExportedBy string
}

// Result is what exporting one trace did.
type Result struct {
	TraceID string `json:"trace_id"`
	File    string `json:"file"`
	Host    string `json:"host"`
	Kernel  string `json:"kernel"`
	// Skipped is true when the dataset already held the trace.
	Skipped bool  `json:"skipped"`
	Events  int64 `json:"events"`
	// Files are the dataset files written, relative to the dataset root.
	Files    []string `json:"files,omitempty"`
	Warnings []string `json:"warnings,omitempty"`
}

// ErrNotDataset is returned when DIR holds a different dataset layout version.
var ErrNotDataset = errors.New("not a kpcap dataset of this version")

// idBytes is how much of each end of a file the trace id hashes.
const idBytes = 1 << 20

// TraceID returns the dataset id of the trace file at path: the first 16
// bytes, in hex, of SHA-256 over the file size and its first and last MiB.
// Copies and renames of a file keep their id; two recordings differ in their
// first MiB (start times, host, sources) and their last (index, statistics).
func TraceID(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", err
	}
	h := sha256.New()
	var sz [8]byte
	binary.LittleEndian.PutUint64(sz[:], uint64(st.Size()))
	h.Write(sz[:])
	if _, err := io.Copy(h, io.NewSectionReader(f, 0, min(st.Size(), idBytes))); err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	if st.Size() > idBytes {
		tail := max(st.Size()-idBytes, idBytes)
		if _, err := io.Copy(h, io.NewSectionReader(f, tail, st.Size()-tail)); err != nil {
			return "", fmt.Errorf("%s: %w", path, err)
		}
	}
	return hex.EncodeToString(h.Sum(nil)[:16]), nil
}

// Init creates the dataset root dir if needed, checks or writes its
// version file, takes this process's export lock there (see Release) and
// removes the temporary files of exports that were killed: a file whose
// export's lock can be taken is abandoned (the kernel drops a lock when its
// process ends). It returns how many it removed.
func Init(dir string) (removed int, err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, err
	}
	p := filepath.Join(dir, markerName)
	b, err := os.ReadFile(p)
	switch {
	case err == nil:
		var m struct {
			Format  string `json:"format"`
			Version int    `json:"version"`
		}
		if err := json.Unmarshal(b, &m); err != nil || m.Format != "kpcap-dataset" {
			return 0, fmt.Errorf("%s: %w (unreadable %s)", dir, ErrNotDataset, markerName)
		}
		if m.Version != Version {
			return 0, fmt.Errorf("%s: %w: it has layout version %d, this kpcap writes %d", dir, ErrNotDataset, m.Version, Version)
		}
	case !errors.Is(err, fs.ErrNotExist):
		return 0, err
	}
	if err := holdLock(dir); err != nil {
		return 0, err
	}
	if errors.Is(err, fs.ErrNotExist) {
		b, _ = json.MarshalIndent(map[string]any{"format": "kpcap-dataset", "version": Version,
			"spec": "https://github.com/kpcap/kpcap/blob/main/format/DATASET.md"}, "", "  ")
		if err := writeAtomic(p, append(b, '\n')); err != nil {
			return 0, err
		}
	}
	return removeStale(dir)
}

// Exists reports whether the dataset holds trace id (its traces row exists).
func Exists(dir, id string) bool {
	_, err := os.Stat(filepath.Join(dir, TableTraces, partName(id)))
	return err == nil
}

func partName(id string) string { return "part-" + id + ".parquet" }

// Export appends the trace at path to the dataset in dir (Init must have
// run). It reads the trace once, in bounded memory.
func Export(dir, path string, o Options) (res Result, err error) {
	res.File = path
	id, err := TraceID(path)
	if err != nil {
		return res, err
	}
	res.TraceID = id
	if err := holdLock(dir); err != nil {
		return res, err
	}
	if Exists(dir, id) {
		res.Skipped = true
		return res, nil
	}
	f, err := format.Open(path)
	if err != nil {
		return res, err
	}
	defer f.Close()
	res.Host, res.Kernel = f.Header.Host.Hostname, f.Header.Host.Kernel
	if o.Workers <= 0 {
		o.Workers = runtime.NumCPU()
	}
	r, err := replay.NewReader(f, replay.Options{Workers: o.Workers, BatchSize: exportBatch})
	if err != nil {
		return res, fmt.Errorf("%s: %w", path, err)
	}
	tx := &commit{dir: dir, sync: o.Sync}
	defer func() {
		if err != nil {
			tx.abort()
		}
	}()
	ex := newTraceExport(dir, id, f, r, tx, o.Events)
	defer func() { ex.r.Close() }()
	ex.exportedBy = cmp.Or(o.ExportedBy, "kpcap")
	ex.workers = o.Workers
	if err := ex.events(); err != nil {
		return res, fmt.Errorf("%s: %w", path, err)
	}
	res.Events = ex.total
	res.Warnings = append(append([]string(nil), f.Warnings...), ex.r.Warnings()...)
	if err := ex.tables(filepath.Base(path), res.Warnings); err != nil {
		return res, fmt.Errorf("%s: %w", path, err)
	}
	if err := tx.finish(); err != nil {
		return res, err
	}
	res.Files = tx.names()
	return res, nil
}

// commit tracks the temporary files of one trace and renames them into
// place, the traces row last.
type commit struct {
	dir   string
	sync  bool
	mu    sync.Mutex
	files []pending
}

type pending struct {
	tmp, final string
}

// create opens a hidden temporary file for the dataset file rel (a path
// relative to the root) and registers it.
func (c *commit) create(rel string) (*os.File, error) {
	final := filepath.Join(c.dir, rel)
	if err := os.MkdirAll(filepath.Dir(final), 0o755); err != nil {
		return nil, err
	}
	tmp := tmpName(final)
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.files = append(c.files, pending{tmp, final})
	c.mu.Unlock()
	return f, nil
}

// finish renames every file into place in the order created (the caller
// creates the traces row last).
func (c *commit) finish() error {
	for i, p := range c.files {
		if err := os.Rename(p.tmp, p.final); err != nil {
			c.files = c.files[i:]
			c.abort()
			return fmt.Errorf("commit %s: %w", p.final, err)
		}
	}
	return nil
}

// abort removes the temporary files not yet renamed.
func (c *commit) abort() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, p := range c.files {
		os.Remove(p.tmp)
	}
	c.files = nil
}

func (c *commit) names() []string {
	out := make([]string, 0, len(c.files))
	for _, p := range c.files {
		if rel, err := filepath.Rel(c.dir, p.final); err == nil {
			out = append(out, filepath.ToSlash(rel))
		}
	}
	return out
}

// writeTable writes one table file of records under rel, fsynced.
func (c *commit) writeTable(rel string, sc *arrow.Schema, recs ...arrow.Record) error {
	f, err := c.create(rel)
	if err != nil {
		return err
	}
	pw, err := parquetio.NewWriter(sc, f, parquetLayout)
	if err != nil {
		f.Close()
		return err
	}
	for _, rec := range recs {
		if err := pw.Write(rec); err != nil {
			pw.Close()
			f.Close()
			return fmt.Errorf("%s: %w", rel, err)
		}
	}
	if err := pw.Close(); err != nil {
		f.Close()
		return fmt.Errorf("%s: %w", rel, err)
	}
	return c.close(f)
}

// close closes f, flushing it to disk first when the commit syncs.
func (c *commit) close(f *os.File) error {
	var err error
	if c.sync {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", f.Name(), err)
	}
	return nil
}

// writeAtomic writes a small file by temporary name and rename.
func writeAtomic(path string, b []byte) error {
	tmp := tmpName(path)
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// exportBatch is the reader's batch size for an export: below two frames'
// rows, so that the reader hands each frame on as decoded instead of
// copying frames together (the export gathers each source's rows into
// row groups of its own anyway).
const exportBatch = 1 << 10
