package format

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"

	"github.com/klauspost/compress/zstd"
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

var (
	decoderOnce sync.Once
	decoder     *zstd.Decoder
	decoderErr  error
)

// frameDecoder returns the shared zstd decoder; DecodeAll is safe for
// concurrent use and bounded to MaxFrameRaw output per call.
func frameDecoder() (*zstd.Decoder, error) {
	decoderOnce.Do(func() {
		decoder, decoderErr = zstd.NewReader(nil,
			zstd.WithDecoderConcurrency(0),
			zstd.WithDecoderMaxMemory(MaxFrameRaw),
			zstd.WithDecoderMaxWindow(MaxFrameRaw))
	})
	return decoder, decoderErr
}

// srcPool recycles compressed-frame buffers between ReadFrame calls.
var srcPool = sync.Pool{New: func() any { return new([]byte) }}

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

// decodeFrame reads and decompresses the frame at off of csize bytes.
func (f *File) decodeFrame(off, csize int64, dst []byte) ([]byte, error) {
	if csize <= 0 || csize > maxFrameCompressed {
		return nil, fmt.Errorf("frame at offset %d: compressed size %d out of range", off, csize)
	}
	bp := srcPool.Get().(*[]byte)
	defer srcPool.Put(bp)
	if int64(cap(*bp)) < csize {
		*bp = make([]byte, csize)
	}
	src := (*bp)[:csize]
	if n, err := f.ra.ReadAt(src, off); int64(n) != csize {
		if err == nil {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("frame at offset %d: %w", off, err)
	}
	src, err := splitCheck(src)
	if err != nil {
		return nil, fmt.Errorf("frame at offset %d is corrupt (%w)", off, err)
	}
	dec, err := frameDecoder()
	if err != nil {
		return nil, err
	}
	out, err := dec.DecodeAll(src, dst[:0])
	if err != nil {
		return nil, fmt.Errorf("frame at offset %d is corrupt (%w)", off, err)
	}
	return out, nil
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

// readHeaderFrame checks the first frame's version block, then reads it.
func (f *File) readHeaderFrame(buf []byte) error {
	major, minor, err := findVersion(buf)
	if err != nil {
		return err
	}
	if major != MajorVersion {
		return fmt.Errorf("%w %d.%d: this kpcap reads version %d.x; use a kpcap release that matches the recorder", ErrVersion, major, minor, MajorVersion)
	}
	f.Header.FormatVersion = [2]int{int(major), int(minor)}
	return f.readMeta(buf, 0)
}

// findVersion looks for the SHB and the version block in the header frame.
func findVersion(buf []byte) (major, minor uint32, err error) {
	off := 0
	for i := 0; off < len(buf); i++ {
		b, next, err := nextBlock(buf, off)
		if err != nil {
			return 0, 0, fmt.Errorf("%w: header frame: %v", ErrNotTrace, err)
		}
		off = next
		if i == 0 {
			if b.typ != blockSHB {
				return 0, 0, fmt.Errorf("%w: does not start with a pcapng section header", ErrNotTrace)
			}
			if len(b.body) < 16 {
				return 0, 0, fmt.Errorf("%w: section header too short", ErrNotTrace)
			}
			if m := le.Uint32(b.body); m != byteOrderMagic {
				return 0, 0, fmt.Errorf("%w: pcapng section is not little-endian (byte-order magic %#x)", ErrNotTrace, m)
			}
			continue
		}
		if b.typ != blockCustom && b.typ != blockCustomNoCopy {
			continue
		}
		kind, p, ok, err := customPayload(b.body)
		if err != nil || !ok || kind != kindVersion {
			continue
		}
		if len(p) < 8 {
			return 0, 0, fmt.Errorf("%w: version block too short", ErrNotTrace)
		}
		return le.Uint32(p), le.Uint32(p[4:]), nil
	}
	return 0, 0, fmt.Errorf("%w: pcapng file without a kpcap version block (written by another tool?)", ErrNotTrace)
}

// readMeta reads every non-EPB block of a decompressed frame.
func (f *File) readMeta(buf []byte, frameOff int64) error {
	off := 0
	for off < len(buf) {
		b, next, err := nextBlock(buf, off)
		if err != nil {
			return fmt.Errorf("block at raw offset %d: %w", off, err)
		}
		off = next
		switch b.typ {
		case blockEPB:
		case blockSHB:
			if f.sawSHB {
				f.warn("frame at offset %d: another pcapng section header ignored", frameOff)
				continue
			}
			f.sawSHB = true
			f.readSHB(b.body)
		case blockIDB:
			f.readIDB(b.body)
		case blockISB:
			f.readISB(b.body)
		case blockCustom, blockCustomNoCopy:
			kind, p, ok, err := customPayload(b.body)
			if err != nil {
				f.warn("frame at offset %d: %v", frameOff, err)
				continue
			}
			if ok {
				if err := f.readCustom(kind, p); err != nil {
					f.warn("frame at offset %d: custom block kind %d: %v", frameOff, kind, err)
				}
			}
		}
	}
	return nil
}

func (f *File) readSHB(body []byte) {
	if len(body) < 16 {
		return
	}
	err := forEachOption(body[16:], func(code uint16, val []byte) {
		switch code {
		case optUserAppl:
			f.Header.Application = string(val)
		case optOS:
			if f.Header.Host.Kernel == "" {
				// Overwritten by the host block; kept for traces missing it.
				s := string(val)
				if k, ok := strings.CutPrefix(s, "Linux "); ok {
					f.Header.Host.OS, f.Header.Host.Kernel = "linux", k
				} else {
					f.Header.Host.Kernel = s
				}
			}
		case optHardware:
			if f.Header.Host.Machine == "" {
				f.Header.Host.Machine = string(val)
			}
		}
	})
	if err != nil {
		f.warn("section header options: %v", err)
	}
}

func (f *File) readIDB(body []byte) {
	if len(body) < 8 {
		f.warn("interface description block too short")
		return
	}
	if len(f.idbs) == MaxSources {
		f.warn("more than %d interfaces (event sources); the rest and their samples are ignored", MaxSources)
		f.idbs = append(f.idbs, Source{}) // the marker: warned once
		return
	}
	if len(f.idbs) > MaxSources {
		return
	}
	var s Source
	tsresol := -1
	err := forEachOption(body[8:], func(code uint16, val []byte) {
		switch code {
		case optIfName:
			s.Name = string(val)
		case optIfDesc:
			s.Definition = string(val)
		case optIfFilter:
			if len(val) > 0 && val[0] == 0 {
				s.Filter = string(val[1:])
			}
		case optIfTsresol:
			if len(val) > 0 {
				tsresol = int(val[0])
			}
		}
	})
	if err != nil {
		f.warn("interface %d options: %v", len(f.idbs), err)
	}
	if lt := le.Uint16(body); lt != LinkType {
		f.warn("interface %d has link type %d, not %d", len(f.idbs), lt, LinkType)
	}
	if tsresol != 9 {
		f.warn("interface %d timestamp resolution %d is not nanoseconds; times may be misread", len(f.idbs), tsresol)
	}
	f.idbs = append(f.idbs, s)
}

func (f *File) readISB(body []byte) {
	if len(body) < 12 {
		f.warn("interface statistics block too short")
		return
	}
	id := le.Uint32(body)
	st := Stats{Source: id}
	err := forEachOption(body[12:], func(code uint16, val []byte) {
		if len(val) < 8 {
			return
		}
		switch code {
		case optIsbRecv:
			st.Received = le.Uint64(val)
		case optIsbDrop:
			st.Dropped = le.Uint64(val)
		case optIsbStart:
			st.StartNS = uint64(le.Uint32(val))<<32 | uint64(le.Uint32(val[4:]))
		case optIsbEnd:
			st.EndNS = uint64(le.Uint32(val))<<32 | uint64(le.Uint32(val[4:]))
		}
	})
	if err != nil {
		f.warn("interface statistics %d: %v", id, err)
	}
	f.isbs[id] = st
}

// readCustom decodes one kpcap custom block payload.
func (f *File) readCustom(kind uint32, p []byte) error {
	if kind == kindVersion {
		return nil
	}
	if len(p) > maxMetaPayload {
		return fmt.Errorf("payload of %d bytes exceeds %d; ignored", len(p), maxMetaPayload)
	}
	if f.metaBytes+int64(len(p)) > maxMetaTotal {
		return fmt.Errorf("metadata exceeds %d MiB; ignored", maxMetaTotal>>20)
	}
	f.metaBytes += int64(len(p))
	var err error
	switch kind {
	case kindHost:
		var h Host
		if err = json.Unmarshal(p, &h); err == nil {
			f.Header.Host = h
		}
	case kindCapture:
		var c Capture
		if err = json.Unmarshal(p, &c); err == nil {
			f.Header.Capture = c
		}
	case kindSources:
		var s []sourceJSON
		if err = json.Unmarshal(p, &s); err == nil {
			f.gotSrcs = append(f.gotSrcs, s[:min(len(s), MaxSources-min(len(f.gotSrcs), MaxSources))]...)
		}
	case kindSymbols:
		err = appendJSON(f, &f.Symbols, p, "kernel symbols")
	case kindUserFrames:
		err = appendJSON(f, &f.UserFrames, p, "user frames")
	case kindComms:
		err = appendJSONMax(f, &f.Comms, p, MaxComms, "comm records")
	case kindLost:
		err = appendJSON(f, &f.Lost, p, "loss records")
	case kindNotes:
		err = appendJSON(f, &f.Header.Notes, p, "notes")
	case kindSet:
		// The header's block, then the final one: later keys win.
		if f.Header.Set == nil {
			f.Header.Set = &SetInfo{}
		}
		err = json.Unmarshal(p, f.Header.Set)
	case kindCgroups:
		err = appendJSON(f, &f.Cgroups, p, "cgroups")
	case kindTaskCgroups:
		err = appendJSON(f, &f.TaskCgroups, p, "task cgroup records")
	default:
		// Later minor versions may add kinds; they are optional by rule.
	}
	if err != nil {
		return fmt.Errorf("bad payload: %v", err)
	}
	return nil
}

// appendJSON decodes a JSON array element by element, so that the number
// of entries kept from a file stays bounded whatever the payload holds.
func appendJSON[T any](f *File, dst *[]T, p []byte, what string) error {
	return appendJSONMax(f, dst, p, maxMetaEntries, what)
}

// appendJSONMax is appendJSON keeping at most limit entries in dst.
func appendJSONMax[T any](f *File, dst *[]T, p []byte, limit int, what string) error {
	if len(*dst) >= limit {
		return f.overLimit(limit, what)
	}
	dec := json.NewDecoder(bytes.NewReader(p))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('[') {
		return errors.New("payload is not a JSON array")
	}
	for dec.More() {
		if f.metaEntries >= maxMetaEntries {
			return f.overLimit(maxMetaEntries, "metadata entries")
		}
		if len(*dst) >= limit {
			return f.overLimit(limit, what)
		}
		var v T
		if err := dec.Decode(&v); err != nil {
			return err
		}
		*dst = append(*dst, v)
		f.metaEntries++
	}
	if _, err := dec.Token(); err != nil {
		return err
	}
	return nil
}

// openScan reads a file without a usable index: it walks the zstd frames
// from the start, keeps every frame that decodes, and warns about the rest.
func (f *File) openScan() error {
	var (
		buf     []byte
		pos     int64
		counts  = map[uint32]*Stats{}
		grouped bool // format 1.1: data frames end with a check frame
		seen    frameSeen
	)
	for frameNo := 0; pos < f.Size; frameNo++ {
		zf, err := scanFrame(f.readAt, pos, f.Size)
		if err == nil && !zf.skippable {
			if frameNo == 0 {
				// Format 1.0 frames carry zstd's content checksum; 1.1
				// data frames are zstd frames without it, ended by a
				// check frame.
				grouped = !zf.checksum
			}
			if grouped {
				var size int64
				size, err = f.dataFrameAt(pos, zf.size)
				zf = zframe{size: size, contentSize: -1}
				if err != nil && err != errTruncFrame {
					if frameNo == 0 {
						return fmt.Errorf("%w: bad first frame: %v", ErrNotTrace, err)
					}
					f.warn("data frame at offset %d: %v; skipped %d bytes", pos, err, size)
					pos += size
					continue
				}
			}
		}
		if err == errTruncFrame {
			if frameNo == 0 {
				return fmt.Errorf("%w: the first frame is incomplete (file of %d bytes)", ErrNotTrace, f.Size)
			}
			f.warn("file truncated: the last %d bytes (an incomplete frame at offset %d) were ignored", f.Size-pos, pos)
			break
		}
		if err != nil {
			if frameNo == 0 {
				return fmt.Errorf("%w: bad zstd frame at offset 0: %v", ErrNotTrace, err)
			}
			next := f.findMagic(pos + 1)
			f.warn("unreadable data at offset %d (%v): skipped %d bytes", pos, err, next-pos)
			pos = next
			continue
		}
		if zf.skippable {
			pos += zf.size
			continue
		}
		if zf.contentSize > MaxFrameRaw {
			f.warn("frame at offset %d claims %d decompressed bytes, over the %d limit: skipped", pos, zf.contentSize, MaxFrameRaw)
			pos += zf.size
			continue
		}
		buf, err = f.decodeFrame(pos, zf.size, buf)
		if err != nil {
			if frameNo == 0 {
				return fmt.Errorf("%w: cannot read the header frame: %v", ErrNotTrace, err)
			}
			f.warn("%v; skipped", err)
			pos += zf.size
			continue
		}
		if frameNo == 0 {
			if err := f.readHeaderFrame(buf); err != nil {
				return err
			}
		} else if seen.repeat(buf, pos, zf.size) {
			pos += zf.size
			continue
		}
		info := FrameInfo{Offset: pos, CSize: zf.size, RawSize: int64(len(buf))}
		meta, err := scanSamples(buf, &info, counts)
		if err != nil {
			f.warn("frame at offset %d: %v; its samples were skipped", pos, err)
			pos += zf.size
			continue
		}
		f.RawBytes += info.RawSize
		if meta && frameNo != 0 {
			if err := f.readMeta(buf, pos); err != nil {
				f.warn("metadata frame at offset %d: %v", pos, err)
			}
		}
		if info.Samples > 0 {
			f.Frames = append(f.Frames, info)
		} else {
			f.MetaFrames++
		}
		pos += zf.size
	}
	seen.report(f)
	// Samples decide the stats of sources without an ISB (see finish).
	f.scanCounts = counts
	return nil
}

// errNoCheck reports zstd frames that no check frame ends.
var errNoCheck = errors.New("zstd frames without their check frame")

// dataFrameAt returns the size of the format 1.1 data frame at pos, whose
// first zstd frame is first bytes: the zstd frames up to and including the
// check frame that ends it. errTruncFrame means the file ends inside it.
func (f *File) dataFrameAt(pos, first int64) (int64, error) {
	size := first
	for {
		zf, err := scanFrame(f.readAt, pos+size, f.Size)
		switch {
		case err == errTruncFrame:
			return size, err
		case err != nil:
			return size, errNoCheck
		case zf.skippable && zf.magic == checkMagic && zf.size == checkFrameLen:
			return size + checkFrameLen, nil
		case zf.skippable:
			return size, errNoCheck
		}
		size += zf.size
		if size > maxFrameCompressed {
			return size, fmt.Errorf("no check frame within %d bytes", maxFrameCompressed)
		}
	}
}

// scanSamples walks a frame's blocks, filling info and per-source counts of
// its EPBs. It reports whether the frame holds other blocks.
func scanSamples(buf []byte, info *FrameInfo, counts map[uint32]*Stats) (meta bool, err error) {
	local := map[uint32]*Stats{}
	var s Sample
	for off := 0; off < len(buf); {
		b, next, err := nextBlock(buf, off)
		if err != nil {
			return false, fmt.Errorf("block at raw offset %d: %w", off, err)
		}
		off = next
		if b.typ != blockEPB {
			meta = true
			continue
		}
		if err := epbSample(b.body, &s); err != nil {
			return false, fmt.Errorf("sample at raw offset %d: %w", off, err)
		}
		if info.Samples == 0 || s.Time < info.FirstNS {
			info.FirstNS = s.Time
		}
		if s.Time > info.LastNS {
			info.LastNS = s.Time
		}
		info.Samples++
		c := local[s.Source]
		if c == nil {
			if len(local) >= 1<<20 {
				return false, errors.New("too many interface ids")
			}
			c = &Stats{Source: s.Source, StartNS: s.Time}
			local[s.Source] = c
		}
		c.Received++
		c.StartNS = min(c.StartNS, s.Time)
		c.EndNS = max(c.EndNS, s.Time)
	}
	for id, c := range local {
		g := counts[id]
		if g == nil {
			counts[id] = c
			continue
		}
		g.Received += c.Received
		g.StartNS = min(g.StartNS, c.StartNS)
		g.EndNS = max(g.EndNS, c.EndNS)
	}
	return meta, nil
}

// findMagic returns the offset of the next zstd frame or check frame magic
// at or after off, or the file size.
func (f *File) findMagic(off int64) int64 {
	var m, c [4]byte
	le.PutUint32(m[:], zstdMagic)
	le.PutUint32(c[:], checkMagic)
	buf := make([]byte, 64<<10)
	for off < f.Size {
		n := f.readAt(buf, off)
		if n < 4 {
			break
		}
		// The first zstd frame or check frame (which leads a data frame).
		i, j := bytes.Index(buf[:n], m[:]), bytes.Index(buf[:n], c[:])
		if i < 0 || (j >= 0 && j < i) {
			i = j
		}
		if i >= 0 {
			return off + int64(i)
		}
		off += int64(n - 3)
	}
	return f.Size
}

// finish assembles sources and stats once all metadata is read.
func (f *File) finish() {
	srcs := make([]Source, min(len(f.idbs), MaxSources)) // past it, a marker
	copy(srcs, f.idbs)
	switch {
	case len(f.gotSrcs) == len(srcs):
		for i, g := range f.gotSrcs {
			srcs[i] = Source{Name: g.Name, Kind: kindByName(g.Kind), Definition: g.Definition,
				Filter: g.Filter, Target: g.Target, Format: g.Format, Created: g.Created, Fields: g.Fields, Path: g.Path}
		}
	case len(srcs) > 0:
		f.warn("event source details missing (%d described for %d interfaces); using interface names only", len(f.gotSrcs), len(srcs))
	}
	f.Header.Sources = srcs
	f.nsrc = len(srcs)

	slices.SortStableFunc(f.Symbols, func(a, b Symbol) int { return cmp.Compare(a.Addr, b.Addr) })

	lostBy := map[uint32]uint64{}
	for _, l := range f.Lost {
		lostBy[l.Source] += l.Count
	}
	missing := false
	f.Stats = make([]Stats, len(srcs))
	for i := range f.Stats {
		if st, ok := f.isbs[uint32(i)]; ok {
			f.Stats[i] = st
		} else {
			missing = true
		}
	}
	if missing && f.scanCounts == nil && len(srcs) > 0 {
		// Indexed file without ISBs (not written by kpcap's Close): count.
		f.scanCounts = map[uint32]*Stats{}
		var buf []byte
		for i := range f.Frames {
			var err error
			buf, err = f.ReadFrame(i, buf)
			if err == nil {
				_, err = scanSamples(buf, &FrameInfo{}, f.scanCounts)
			}
			if err != nil {
				f.warn("counting samples: %v", err)
			}
		}
	}
	f.StatsRecomputed = missing
	if missing {
		f.warn("interface statistics missing; counts recomputed from the samples and loss records")
		for i := range f.Stats {
			if _, ok := f.isbs[uint32(i)]; ok {
				continue
			}
			st := Stats{Source: uint32(i), Dropped: lostBy[uint32(i)]}
			if c := f.scanCounts[uint32(i)]; c != nil {
				st.Received, st.StartNS, st.EndNS = c.Received, c.StartNS, c.EndNS
			}
			f.Stats[i] = st
		}
	}
	for id := range f.scanCounts {
		if int(id) >= len(srcs) {
			f.warn("samples reference interface %d but the trace has %d sources", id, len(srcs))
			break
		}
	}
	if n := f.warns.Dropped(); n > 0 {
		f.Warnings = append(f.Warnings, warn.DroppedLine(n))
	}
	f.isbs, f.gotSrcs, f.idbs, f.scanCounts = nil, nil, nil, nil
}

func kindByName(s string) SourceKind {
	for k := KindTracepoint; k <= KindUretprobe; k++ {
		if k.String() == s {
			return k
		}
	}
	return 0
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

// ReadFrame returns frame i decompressed, reusing dst. Safe for concurrent use.
func (f *File) ReadFrame(i int, dst []byte) ([]byte, error) {
	if i < 0 || i >= len(f.Frames) {
		return nil, fmt.Errorf("frame %d out of range (%d frames)", i, len(f.Frames))
	}
	fi := f.Frames[i]
	src := f
	if f.parts != nil {
		src = f.parts[fi.Part]
	}
	out, err := src.decodeFrame(fi.Offset, fi.CSize, dst)
	if err != nil {
		if f.parts != nil {
			return nil, fmt.Errorf("%s: sample frame %d: %w", src.path, i, err)
		}
		return nil, fmt.Errorf("sample frame %d: %w", i, err)
	}
	if f.parts != nil && f.remap[fi.Part] != nil {
		renumber(out, f.remap[fi.Part])
	}
	if fi.RawSize != 0 && int64(len(out)) != fi.RawSize {
		return nil, fmt.Errorf("frame %d at offset %d: %d bytes decompressed, index says %d", i, fi.Offset, len(out), fi.RawSize)
	}
	return out, nil
}

// ForEachSample calls fn for every EPB of a decompressed frame, in file order.
// The Sample and its Raw are only valid during the call. An error from fn
// stops the walk and is returned.
func ForEachSample(frame []byte, fn func(*Sample) error) error {
	var s Sample
	for off := 0; off < len(frame); {
		b, next, err := nextBlock(frame, off)
		if err != nil {
			return fmt.Errorf("%s at raw offset %d: %w", blockNameAt(frame, off), off, err)
		}
		start := off
		off = next
		if b.typ != blockEPB {
			continue
		}
		if err := epbSample(b.body, &s); err != nil {
			return fmt.Errorf("enhanced packet block (sample) at raw offset %d: %w", start, err)
		}
		if err := fn(&s); err != nil {
			return err
		}
	}
	return nil
}

// Samples returns an iterator over every sample of the file in file order.
func (f *File) Samples() *SampleIter { return &SampleIter{f: f, nsrc: uint32(f.nsrc)} }

// SampleIter iterates over samples: for it.Next() { s := it.Sample() }; it.Err().
// The Sample, its Raw and Callchain are reused: valid until the next call to Next.
//
// While the caller walks one frame, the next one is decompressed by a
// goroutine (which ends after that one frame, so an abandoned iterator
// leaks nothing).
type SampleIter struct {
	f       *File
	nsrc    uint32
	frame   int // next frame to load
	buf     []byte
	spare   []byte
	pending chan frameResult // the next frame, being decompressed
	off     int
	s       Sample
	err     error
}

type frameResult struct {
	buf []byte
	err error
}

// Next advances to the next sample; it returns false at the end or on error.
func (it *SampleIter) Next() bool {
	for {
		if it.off < len(it.buf) {
			b, next, err := nextBlock(it.buf, it.off)
			if err != nil {
				it.fail(err)
				return false
			}
			it.off = next
			if b.typ != blockEPB {
				continue
			}
			if err := epbSample(b.body, &it.s); err != nil {
				it.fail(err)
				return false
			}
			if it.s.Source >= it.nsrc {
				it.fail(fmt.Errorf("sample of interface %d but the trace has %d sources", it.s.Source, it.nsrc))
				return false
			}
			return true
		}
		if it.err != nil || it.f == nil || it.frame >= len(it.f.Frames) {
			return false
		}
		var r frameResult
		if it.pending != nil {
			r = <-it.pending
			it.pending = nil
		} else {
			r.buf, r.err = it.f.ReadFrame(it.frame, it.spare)
		}
		it.frame++
		if r.err != nil {
			it.err = r.err
			it.buf = it.buf[:0]
			return false
		}
		it.spare, it.buf, it.off = it.buf, r.buf, 0
		if it.frame < len(it.f.Frames) {
			ch := make(chan frameResult, 1)
			f, i, dst := it.f, it.frame, it.spare
			it.spare = nil
			go func() {
				b, err := f.ReadFrame(i, dst)
				ch <- frameResult{b, err}
			}()
			it.pending = ch
		}
	}
}

func (it *SampleIter) fail(err error) {
	fi := it.f.Frames[it.frame-1]
	it.err = fmt.Errorf("frame %d at offset %d, raw offset %d: %w", it.frame-1, fi.Offset, it.off, err)
	it.buf = it.buf[:0]
	it.off = 0
}

// Sample returns the current sample.
func (it *SampleIter) Sample() *Sample { return &it.s }

// Err returns the error that stopped the iteration, nil at a clean end.
func (it *SampleIter) Err() error { return it.err }

// Frame returns the index of the frame holding the current sample.
func (it *SampleIter) Frame() int { return it.frame - 1 }
