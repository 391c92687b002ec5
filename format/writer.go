package format

import (
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/klauspost/compress/zstd"
)

// Frame size limits. Readers refuse frames that decompress to more than
// MaxFrameRaw bytes; the writer keeps its frames well below that.
//
// DefaultFrameBytes is the unit readers index, skip and decode in parallel;
// compression works on zstdPiece-sized pieces of it whatever its size.
// Smaller frames are no cheaper for the recorder, and replay coalesces small
// frames by copying.
const (
	DefaultFrameBytes = 4 << 20
	DefaultFrameAge   = time.Second
	maxFrameBytes     = 32 << 20
	MaxFrameRaw       = 64 << 20

	// inFlightBytes is how many raw bytes of frames may wait for the
	// compressors and the output (at least workers+2 frames): buffering
	// for a slow disk. Buffers are allocated as frames are actually in
	// flight, so a fast disk never touches most of it.
	inFlightBytes = 16 << 20
	maxJobs       = 64

	// metaChunkBytes bounds the JSON payload of one metadata custom block.
	metaChunkBytes = 1 << 20
	// maxMetaEntry bounds one JSON-encoded metadata entry (a note, a symbol).
	maxMetaEntry = 8 << 20
	// maxQueued is how many comm or loss records wait before a frame closes.
	maxQueued = 1 << 16
)

// WriterOptions tunes a Writer. Zero values pick defaults.
type WriterOptions struct {
	Level      int           // zstd level (klauspost: 1 fastest .. 4 best); default 1
	FrameBytes int           // close a frame at this many raw bytes; default 4 MiB (at most 32 MiB)
	FrameAge   time.Duration // close a frame at least this often; default 1s (checked on writes and by Tick)
	// RatioHint is the compressed/raw ratio EstimatedBytes assumes until a
	// sample frame is written (e.g. the previous file's); default 0.1.
	RatioHint float64

	// version is the format version written; zero: {MajorVersion,
	// MinorVersion}. Tests write others to check what readers make of them.
	version [2]uint32
}

// Writer writes a trace file. Not safe for concurrent use.
//
// WriteSample appends to an in-memory frame; full frames are compressed with
// zstd.Encoder.EncodeAll by background goroutines and written in order, so
// the caller's loop never waits for compression unless every frame buffer is
// in flight (then it blocks: back-pressure instead of unbounded memory).
// The writer assumes it writes from offset 0 of the file.
type Writer struct {
	out        io.Writer
	nsrc       uint32
	frameBytes int
	frameAge   time.Duration

	// current sample frame
	buf          []byte
	frameSamples uint64
	frameFirst   uint64
	frameLast    uint64
	frameStart   time.Time // when the pending data got its first content; zero if none

	// pending metadata
	meta  []byte // encoded metadata blocks for the next metadata frame
	comms []Comm
	lost  []Lost
	notes []string
	tcgs  []TaskCgroup

	counts    []srcCount
	lostBySrc map[uint32]uint64
	lostAll   uint64   // every AddLost count, attributed or not
	set       *SetInfo // the header's set membership, completed at Close
	setEnd    uint64   // SetEnd's time; 0: the last sample's

	// idleEncs holds the encoders not compressing a frame, the most
	// recently used last: taking that one keeps to one encoder's memory
	// (history and match table, several MiB) and its warm cache lines
	// unless frames really are compressed in parallel.
	encMu    sync.Mutex
	idleEncs []*zstd.Encoder
	rawSub   int64 // raw bytes of submitted frames

	work, order, free chan *job
	// spares holds written sample-frame buffers, most recently used last:
	// reusing the newest keeps the working set to the frames actually in
	// flight (cache-warm, already faulted in) instead of cycling through
	// every job's buffer.
	spareMu sync.Mutex
	spares  [][]byte
	wg      sync.WaitGroup // background goroutines
	pending sync.WaitGroup // frames submitted but not yet written

	mu      sync.Mutex
	werr    error        // first write error of the background writer
	entries []indexEntry // written frames; owned by the writer goroutine until it exits
	offset  int64        // next frame's offset; owned by the writer goroutine
	cbytes  atomic.Int64
	rawDone atomic.Int64 // raw bytes of the frames written
	// raw and compressed bytes of the sample frames written, for the
	// compression ratio EstimatedBytes applies to what is still in memory
	sampleRaw, sampleC atomic.Int64
	// raw bytes of the frames compressed (written or not), and the
	// compressed bytes of those not written yet: EstimatedBytes counts
	// these at their size, only frames still waiting for a compressor at
	// the ratio
	rawCompressed, unwritten atomic.Int64
	ratioHint                float64
	version                  [2]uint32 // the format version written
	closed                   bool

	// discard replaces every frame by an empty one: benchmarks use it to
	// measure the caller's cost without compression.
	discard bool

	// sink receives the frames when out is a FrameSink; frameCounts are
	// the per-source counts at the last sample frame, for its deltas.
	sink        FrameSink
	frameCounts []uint64
}

// zstdEmptyFrame is a valid zstd frame with no content.
var zstdEmptyFrame = []byte{0x28, 0xb5, 0x2f, 0xfd, 0x20, 0x00, 0x01, 0x00, 0x00}

// srcCount is what the writer counts per source for its ISBs; first is
// meaningful once n > 0.
type srcCount struct {
	n           uint64
	first, last uint64
}

// NewWriter writes the first frame's SHB, IDBs and header custom blocks to w.
// It writes that frame before returning, so that even a capture killed at once
// leaves a readable file.
func NewWriter(w io.Writer, h *Header, opts *WriterOptions) (*Writer, error) {
	if h == nil {
		return nil, errors.New("format: NewWriter: nil header")
	}
	var o WriterOptions
	if opts != nil {
		o = *opts
	}
	if err := o.setDefaults(); err != nil {
		return nil, err
	}
	if uint64(len(h.Sources)) > 1<<20 {
		return nil, fmt.Errorf("format: %d event sources is too many", len(h.Sources))
	}
	workers := runtime.GOMAXPROCS(0)
	if workers > 4 {
		workers = 4
	}
	encs, err := newEncoders(workers, o.Level)
	if err != nil {
		return nil, err
	}
	wr := &Writer{
		out:        w,
		nsrc:       uint32(len(h.Sources)),
		frameBytes: o.FrameBytes,
		frameAge:   o.FrameAge,
		counts:     make([]srcCount, len(h.Sources)),
		lostBySrc:  map[uint32]uint64{},
		idleEncs:   encs,
		buf:        make([]byte, 0, o.FrameBytes),
		ratioHint:  o.RatioHint,
		version:    o.version,
	}
	if fs, ok := w.(FrameSink); ok {
		wr.sink = fs
		wr.frameCounts = make([]uint64, len(h.Sources))
	}
	if wr.ratioHint <= 0 || wr.ratioHint > 2 {
		wr.ratioHint = 0.1
	}
	for i := range wr.counts {
		wr.counts[i].first = ^uint64(0) // until the source's first sample
	}
	if err := wr.writeHeader(h); err != nil {
		return nil, err
	}
	wr.start(workers)
	return wr, nil
}

// setDefaults fills the options left zero and clamps the frame size.
func (o *WriterOptions) setDefaults() error {
	if o.Level == 0 {
		o.Level = 1
	}
	if o.version == [2]uint32{} {
		o.version = [2]uint32{MajorVersion, MinorVersion}
	}
	if o.Level < 1 || o.Level > 4 {
		return fmt.Errorf("format: zstd level %d out of range 1-4", o.Level)
	}
	if o.FrameBytes <= 0 {
		o.FrameBytes = DefaultFrameBytes
	}
	if o.FrameBytes < 4096 {
		o.FrameBytes = 4096
	}
	if o.FrameBytes > maxFrameBytes {
		o.FrameBytes = maxFrameBytes
	}
	if o.FrameAge <= 0 {
		o.FrameAge = DefaultFrameAge
	}
	return nil
}

// writeHeader writes the header frame, the first of the file.
func (wr *Writer) writeHeader(h *Header) error {
	first, err := wr.headerFrame(h)
	if err != nil {
		return err
	}
	out := appendCheck(encodePieces(wr.idleEncs[len(wr.idleEncs)-1], first, nil))
	if _, err := wr.out.Write(out); err != nil {
		return fmt.Errorf("format: write header frame: %w", err)
	}
	wr.entries = append(wr.entries, indexEntry{
		FrameInfo: FrameInfo{Offset: 0, CSize: int64(len(out)), RawSize: int64(len(first))},
		Flags:     frameMeta,
	})
	wr.offset = int64(len(out))
	wr.cbytes.Store(wr.offset)
	wr.rawSub = int64(len(first))
	wr.rawDone.Store(wr.rawSub)
	wr.rawCompressed.Store(wr.rawSub)
	return nil
}

var errClosed = errors.New("format: writer is closed")

// WriteSample appends one sample (s.Source must index h.Sources).
func (w *Writer) WriteSample(s *Sample) error {
	if w.closed {
		return errClosed
	}
	if s.Source >= w.nsrc {
		return fmt.Errorf("format: sample source %d out of range (%d sources)", s.Source, w.nsrc)
	}
	if len(s.Raw) > MaxSampleLen || len(s.Callchain) > MaxCallchain {
		_, err := sampleLen(s)
		return fmt.Errorf("format: %w", err)
	}
	n := SampleHeaderLen + 8*len(s.Callchain) + len(s.Raw) + periodLen(s)
	if n > MaxSampleLen {
		_, err := sampleLen(s)
		return fmt.Errorf("format: %w", err)
	}
	blen := epbOverhead + pad4(n)
	off := len(w.buf)
	if w.frameSamples == 0 || off+blen > w.frameBytes || w.frameSamples&1023 == 0 {
		// A new frame, a full one, or time to check the frame's age.
		if err := w.frameCheck(blen, s.Time); err != nil {
			return err
		}
		off = len(w.buf)
	} else if s.Time < w.frameFirst {
		w.frameFirst = s.Time
	} else if s.Time > w.frameLast {
		w.frameLast = s.Time
	}
	w.frameSamples++
	c := &w.counts[s.Source]
	if s.Time < c.first {
		c.first = s.Time
	}
	if s.Time > c.last {
		c.last = s.Time
	}
	c.n++
	if cap(w.buf)-off < blen {
		w.grow(blen)
	}
	w.buf = w.buf[:off+blen]
	putEPB(w.buf[off:off+blen], s, n)
	return nil
}

// frameCheck is WriteSample's path for the first sample of a frame and
// for every 1024th: it closes the current frame when the sample (blen
// bytes, at time t) would overflow it or when it is older than FrameAge,
// and then updates the frame's time range for the sample.
func (w *Writer) frameCheck(blen int, t uint64) error {
	if w.frameSamples > 0 && (len(w.buf)+blen > w.frameBytes || time.Since(w.frameStart) >= w.frameAge) {
		if err := w.closeFrame(); err != nil {
			return err
		}
	}
	if w.frameStart.IsZero() {
		w.frameStart = time.Now()
	}
	switch {
	case w.frameSamples == 0:
		w.frameFirst, w.frameLast = t, t
	case t < w.frameFirst:
		w.frameFirst = t
	case t > w.frameLast:
		w.frameLast = t
	}
	return nil
}

// grow makes room for n more bytes in the frame buffer: only a sample
// larger than a frame needs it (closeFrame gives each frame a full-size
// buffer).
func (w *Writer) grow(n int) {
	nb := make([]byte, len(w.buf), max(2*cap(w.buf)+n, w.frameBytes))
	copy(nb, w.buf)
	w.buf = nb
}

// closeFrame submits the current sample frame and then the pending metadata
// as a frame of its own, so that readers find metadata without decoding
// sample frames.
func (w *Writer) closeFrame() error {
	if err := w.asyncErr(); err != nil {
		return err
	}
	if w.frameSamples > 0 {
		e := indexEntry{FrameInfo: FrameInfo{Samples: w.frameSamples, FirstNS: w.frameFirst, LastNS: w.frameLast}}
		if w.sink != nil {
			e.counts = make([]uint64, len(w.counts))
			for i := range w.counts {
				e.counts[i] = w.counts[i].n - w.frameCounts[i]
				w.frameCounts[i] = w.counts[i].n
			}
		}
		w.submit(&w.buf, e)
		w.frameSamples = 0
		if cap(w.buf) < w.frameBytes {
			// A recycled buffer that never held a full frame: size it once
			// rather than growing it sample by sample.
			w.buf = make([]byte, 0, w.frameBytes)
		}
	}
	var lost []Lost
	if w.sink != nil && len(w.lost) > 0 {
		lost = append(lost, w.lost...)
	}
	if err := w.encodeQueued(); err != nil {
		return err
	}
	if len(w.meta) > 0 {
		w.submit(&w.meta, indexEntry{Flags: frameMeta, lost: lost})
	}
	w.frameStart = time.Time{}
	return nil
}

// encodeQueued turns queued comm, loss and note records into custom blocks.
func (w *Writer) encodeQueued() error {
	if err := appendJSONBlocks(w, kindComms, w.comms); err != nil {
		return err
	}
	if err := appendJSONBlocks(w, kindLost, w.lost); err != nil {
		return err
	}
	if err := appendJSONBlocks(w, kindNotes, w.notes); err != nil {
		return err
	}
	if err := appendJSONBlocks(w, kindTaskCgroups, w.tcgs); err != nil {
		return err
	}
	w.comms, w.lost, w.notes, w.tcgs = w.comms[:0], w.lost[:0], w.notes[:0], w.tcgs[:0]
	return nil
}

// Tick closes the current frame if it is older than FrameAge; the recorder
// calls it from its loop so that a quiet capture still closes frames.
func (w *Writer) Tick(now time.Time) error {
	if w.closed {
		return errClosed
	}
	if !w.frameStart.IsZero() && now.Sub(w.frameStart) >= w.frameAge {
		return w.closeFrame()
	}
	return w.asyncErr()
}

// Flush closes the current frame now and waits until every frame is written
// to the underlying writer.
func (w *Writer) Flush() error {
	if w.closed {
		return errClosed
	}
	if err := w.closeFrame(); err != nil {
		return err
	}
	return w.WaitWritten()
}

// WaitWritten waits until every frame closed so far is compressed and
// written, leaving the current one open: after it, EstimatedBytes
// estimates only the current frame and the metadata still queued.
func (w *Writer) WaitWritten() error {
	w.pending.Wait()
	return w.asyncErr()
}

// Backlog is the raw bytes of the frames closed but not compressed yet,
// which EstimatedBytes prices at Ratio: on a host short of CPU it grows to
// megabytes.
func (w *Writer) Backlog() int64 {
	return max(w.rawSub-w.rawCompressed.Load(), 0)
}

// Close writes per-source ISBs from stats, closes the last frame and writes the
// seek index. It does not close the underlying io.Writer.
//
// Sources missing from stats get the writer's own counts: samples written,
// first and last time, and the sum of AddLost counts as dropped.
func (w *Writer) Close(stats []Stats) error {
	if w.closed {
		return errClosed
	}
	err := w.closeFrame()
	w.closed = true
	if err == nil && w.set != nil {
		err = w.appendSetEnd()
	}
	if err == nil && w.nsrc > 0 {
		w.appendISBs(stats)
	}
	if err == nil && len(w.meta) > 0 {
		w.submit(&w.meta, indexEntry{Flags: frameMeta})
	}
	close(w.work)
	close(w.order)
	w.wg.Wait()
	for _, enc := range w.idleEncs {
		enc.Close()
	}
	if err != nil {
		return err
	}
	if err := w.asyncErr(); err != nil {
		return err
	}
	idx := appendIndex(nil, w.entries)
	if _, err := w.out.Write(idx); err != nil {
		return fmt.Errorf("format: write seek index: %w", err)
	}
	w.cbytes.Add(int64(len(idx)))
	return nil
}

// SamplesWritten is the number of samples written so far.
func (w *Writer) SamplesWritten() uint64 {
	var n uint64
	for _, c := range w.counts {
		n += c.n
	}
	return n
}

// LostWritten is the sum of the AddLost counts so far.
func (w *Writer) LostWritten() uint64 { return w.lostAll }

// EstimatedBytes estimates the file's size if it were closed now: the
// bytes written, the frames compressed but not written yet, and the raw
// bytes still in memory (queued metadata included) or being compressed
// at the compression ratio seen so far. Rotation by size uses it, since
// CompressedBytes lags by the frames in flight.
func (w *Writer) EstimatedBytes() int64 {
	c := w.cbytes.Load() + w.unwritten.Load()
	pending := w.rawSub + int64(len(w.buf)) + int64(len(w.meta)) - w.rawCompressed.Load()
	// Comm, loss and task records wait as structs until their frame
	// closes (up to maxQueued each): count them at about their JSON size.
	pending += 64 * int64(len(w.comms)+len(w.lost)+len(w.tcgs))
	for _, n := range w.notes {
		pending += int64(len(n))
	}
	if pending <= 0 {
		return c
	}
	return c + int64(float64(pending)*w.Ratio()) + 16
}

// Ratio is the compressed/raw ratio of the sample frames written so far,
// or the RatioHint before the first.
func (w *Writer) Ratio() float64 {
	if r := w.sampleRaw.Load(); r > 0 {
		return float64(w.sampleC.Load()) / float64(r)
	}
	return w.ratioHint
}

// CompressedBytes reports the bytes written to the underlying writer so far.
func (w *Writer) CompressedBytes() int64 { return w.cbytes.Load() }

// RawBytes reports the uncompressed pcapng bytes produced so far, including
// the frame still being filled.
func (w *Writer) RawBytes() int64 { return w.rawSub + int64(len(w.buf)) }

// LostBySource is the sum of the AddLost counts attributed to source src.
func (w *Writer) LostBySource(src uint32) uint64 { return w.lostBySrc[src] }
