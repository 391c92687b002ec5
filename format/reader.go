package format

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/kpcap/kpcap/format/warn"
)

// Reader limits for untrusted files.
const (
	// maxFrameCompressed bounds a compressed frame (zstd never expands
	// incompressible data by more than a small fraction).
	maxFrameCompressed = MaxFrameRaw + MaxFrameRaw/64 + 1<<16
	// maxMetaTotal bounds the metadata payload bytes read from one file,
	// maxMetaPayload one custom block's (kpcap writes about 1 MiB, and
	// at most one 8 MiB entry), and maxMetaEntries the entries kept
	// (symbols, user frames, comms, losses, notes) so that tiny hostile
	// JSON entries cannot multiply memory.
	maxMetaTotal   = 512 << 20
	maxMetaPayload = 16 << 20
	maxMetaEntries = 8 << 20

	// MaxSources bounds the event sources (interfaces) of a file: a kernel
	// has a few thousand tracepoints (2323 on a 6.18 host), so a recording
	// of all of them and its probes stays far below.
	MaxSources = 16384

	// MaxComms bounds the comm records kept: the recorder writes one per
	// thread it meets, exec and rename, so 1 Mi covers a million threads
	// (pid_max is at most 4 Mi, and few traces see a tenth of that).
	MaxComms = 1 << 20
)

// File is an open trace: its metadata, read eagerly, and its frames, decoded on demand.
type File struct {
	Header     Header
	Stats      []Stats     // one per source (from ISBs; recomputed from samples if missing)
	Lost       []Lost      //
	Comms      []Comm      //
	Symbols    []Symbol    // sorted by Addr
	UserFrames []UserFrame //
	// Cgroups and TaskCgroups say which cgroup each thread was in (format
	// 1.1 files recorded with --cgroup; empty otherwise): see CgroupOf.
	Cgroups     []Cgroup
	TaskCgroups []TaskCgroup
	Frames      []FrameInfo // sample frames in file order
	Indexed     bool        // the seek index was present and valid
	Warnings    []string    // what could not be read (truncated tail, corrupt frame, ...)
	Size        int64       // file bytes

	// StatsRecomputed is set when some source had no ISB (a recorder killed
	// before Close): its counts come from the samples and loss records.
	StatsRecomputed bool

	// MetaFrames counts the frames holding only metadata (header, ISBs, ...).
	MetaFrames int
	// RawBytes is the decompressed size of all frames read or indexed.
	RawBytes int64

	// Parts lists the files of a trace opened with OpenSet, in time
	// order, and Gaps what they do not cover; nil for Open.
	Parts []Part
	Gaps  []Gap

	ra     io.ReaderAt
	closer io.Closer
	look   lookups
	cgOnce sync.Once
	cg     cgroupLookup
	path   string

	// a set opened with OpenSet: the files, and per file the renumbering
	// of its sources (nil: the same numbers)
	parts []*File
	remap [][]uint32

	// open-time state
	nsrc        int
	idbs        []Source
	isbs        map[uint32]Stats
	gotSrcs     []sourceJSON
	metaBytes   int64
	metaEntries int
	warns       warn.Groups // the scan's warnings by kind
	warnLine    []int       // per kind, its line in Warnings
	overLimits  map[string]bool
	scanCounts  map[uint32]*Stats
	sawSHB      bool
}

// ErrNotTrace is wrapped by errors for files that are not kpcap traces.
var ErrNotTrace = errors.New("not a kpcap trace")

// ErrVersion is wrapped by the error for traces of an unsupported major version.
var ErrVersion = errors.New("unsupported kpcap trace format version")

// Open opens and indexes a trace file. A truncated or partly corrupt file opens
// with Warnings; an unreadable one (not kpcap, unknown major version) is an error.
func Open(path string) (*File, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	st, err := fh.Stat()
	if err != nil {
		fh.Close()
		return nil, err
	}
	if st.IsDir() {
		fh.Close()
		return nil, fmt.Errorf("open %s: is a directory", path)
	}
	if !st.Mode().IsRegular() {
		// A pipe reads as 0 bytes and cannot seek; the reader needs offsets.
		fh.Close()
		return nil, fmt.Errorf("open %s: not a regular file (a pipe or device): save the trace to a file first", path)
	}
	f, err := NewFile(fh, st.Size())
	if err != nil {
		fh.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	f.closer = fh
	f.path = path
	return f, nil
}

// NewFile is Open on any io.ReaderAt of the given size.
func NewFile(r io.ReaderAt, size int64) (*File, error) {
	if size < 0 {
		return nil, errors.New("negative file size")
	}
	f := &File{ra: r, Size: size, isbs: map[uint32]Stats{}}
	ra := f.readAt
	var magic [4]byte
	if ra(magic[:], 0) < 4 {
		return nil, fmt.Errorf("%w: file of %d bytes is too short", ErrNotTrace, size)
	}
	switch m := le.Uint32(magic[:]); {
	case m == zstdMagic:
	case m == blockSHB:
		return nil, fmt.Errorf("%w: this is an uncompressed pcapng file; kpcap traces are zstd-compressed pcapng", ErrNotTrace)
	default:
		return nil, fmt.Errorf("%w: no zstd frame at the start of the file", ErrNotTrace)
	}
	if _, err := frameDecoder(); err != nil {
		return nil, fmt.Errorf("zstd decoder: %w", err)
	}
	entries, _, err := readIndex(ra, size)
	if err == nil {
		if err := f.openIndexed(entries); err != nil {
			return nil, err
		}
	} else {
		if err != errNoIndex {
			f.warn("seek index unusable (%v); scanned the file instead", err)
		} else {
			f.warn("no seek index (the capture did not finish cleanly?); scanned the file")
		}
		if err := f.openScan(); err != nil {
			return nil, err
		}
	}
	f.finish()
	return f, nil
}

// readAt reads into p at off and returns the bytes read (short at EOF or on error).
func (f *File) readAt(p []byte, off int64) int {
	if off < 0 || off >= f.Size {
		return 0
	}
	if int64(len(p)) > f.Size-off {
		p = p[:f.Size-off]
	}
	n, _ := f.ra.ReadAt(p, off)
	return n
}

// warn adds a warning of the scan to Warnings: alike ones (one kind of
// damage in many frames) share their kind's line, its first example with a
// count of the others, and at most warn.MaxKinds lines plus every first
// warning of its own kind are kept.
func (f *File) warn(format string, a ...any) {
	i, ok := f.warns.Add(format, a...)
	if !ok {
		return
	}
	if i == len(f.warnLine) {
		f.warnLine = append(f.warnLine, len(f.Warnings))
		f.Warnings = append(f.Warnings, "")
	}
	f.Warnings[f.warnLine[i]] = f.warns.Line(i)
}

// openIndexed reads the header frame and the metadata frames listed in the index.
func (f *File) openIndexed(entries []indexEntry) error {
	f.Indexed = true
	var buf []byte
	for i, e := range entries {
		f.RawBytes += e.RawSize
		if i == 0 || e.Flags&frameMeta != 0 {
			var err error
			buf, err = f.decodeFrame(e.Offset, e.CSize, buf)
			if err == nil && e.RawSize != int64(len(buf)) {
				err = fmt.Errorf("frame at offset %d: %d bytes decompressed, index says %d", e.Offset, len(buf), e.RawSize)
			}
			if i == 0 {
				if err != nil {
					return fmt.Errorf("%w: cannot read the header frame: %v", ErrNotTrace, err)
				}
				if err := f.readHeaderFrame(buf); err != nil {
					return err
				}
			} else if err != nil {
				f.warn("metadata %v; skipped", err)
			} else if err := f.readMeta(buf, e.Offset); err != nil {
				f.warn("metadata frame at offset %d: %v", e.Offset, err)
			}
			if e.Samples == 0 {
				f.MetaFrames++
			}
		}
		if e.Samples > 0 {
			f.Frames = append(f.Frames, e.FrameInfo)
		}
	}
	return nil
}

// Close releases the file.
func (f *File) Close() error {
	if f.parts != nil {
		var errs []error
		for _, p := range f.parts {
			errs = append(errs, p.Close())
		}
		f.parts = nil
		return errors.Join(errs...)
	}
	if f.closer != nil {
		c := f.closer
		f.closer = nil
		return c.Close()
	}
	return nil
}
