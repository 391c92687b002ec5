package format

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
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

// job is one frame on its way through compression and writing.
type job struct {
	raw, out []byte
	entry    indexEntry
	done     chan struct{}
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

// newEncoders makes one zstd encoder per compressor, each allocating its
// history and match table on first use.
func newEncoders(n, level int) ([]*zstd.Encoder, error) {
	// At the fastest level, literals are stored without Huffman coding:
	// sample frames are nearly all matches (the ratio barely changes), and
	// entropy coding the literals is a large share of the encoder's CPU.
	// Readers see ordinary zstd frames either way.
	encs := make([]*zstd.Encoder, n)
	for i := range encs {
		enc, err := zstd.NewWriter(nil,
			// The window first: WithEncoderLevel(SpeedFastest) otherwise
			// picks 64 KiB blocks, and each piece then takes two blocks
			// and a copy into the history buffer (more CPU, larger output).
			zstd.WithWindowSize(zstdPiece), // pieces are independent frames
			zstd.WithEncoderLevel(zstd.EncoderLevel(level)),
			// Integrity comes from the check frame ending each data
			// frame: a CRC-32C of the compressed bytes costs a thirtieth
			// of zstd's xxhash64 of the raw ones, writing and reading.
			zstd.WithEncoderCRC(false),
			zstd.WithEncoderConcurrency(1),
			zstd.WithNoEntropyCompression(level == 1))
		if err != nil {
			return nil, fmt.Errorf("format: zstd encoder: %w", err)
		}
		encs[i] = enc
	}
	return encs, nil
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

// start starts the compressors and the writer of frames.
func (wr *Writer) start(workers int) {
	// Frames in flight: enough to keep every compressor busy, and
	// inFlightBytes of buffering for a slow disk.
	njobs := min(max(workers+2, inFlightBytes/wr.frameBytes), maxJobs)
	wr.work = make(chan *job, njobs)
	wr.order = make(chan *job, njobs)
	wr.free = make(chan *job, njobs)
	for i := 0; i < njobs; i++ {
		wr.free <- &job{done: make(chan struct{}, 1)}
	}
	for i := 0; i < workers; i++ {
		wr.wg.Add(1)
		go wr.compressLoop()
	}
	wr.wg.Add(1)
	go wr.writeLoop()
}

// zstdPiece is the most raw bytes in one zstd frame: one zstd block. A data
// frame's raw bytes are compressed as consecutive zstd frames of at most
// this size, each on its own: the encoder then neither copies its input
// into a history buffer nor keeps a window beyond one block, which is
// cheaper and compresses as well (matches are mostly a few events back).
const zstdPiece = 128 << 10

// encodePieces appends raw, compressed as zstd frames of up to zstdPiece
// bytes, to dst.
func encodePieces(enc *zstd.Encoder, raw, dst []byte) []byte {
	for len(raw) > zstdPiece {
		dst = enc.EncodeAll(raw[:zstdPiece], dst)
		raw = raw[zstdPiece:]
	}
	return enc.EncodeAll(raw, dst)
}

// headerFrame renders the first frame: SHB, IDBs and the header custom blocks.
func (w *Writer) headerFrame(h *Header) ([]byte, error) {
	appl := h.Application
	if appl == "" {
		appl = "kpcap"
	}
	osName := h.Host.OS
	if osName == "linux" {
		osName = "Linux"
	}
	shbOS := strings.TrimSpace(osName + " " + h.Host.Kernel)
	frame := appendSHB(nil, h.Host.Machine, shbOS, appl)
	var tsoff uint64
	if h.Host.WallOffsetNS > 0 {
		// Wireshark then shows wall-clock times (to the second's precision
		// of if_tsoffset); kpcap readers use EPB times as they are.
		tsoff = uint64(h.Host.WallOffsetNS / 1e9)
	}
	for i := range h.Sources {
		frame = appendIDB(frame, &h.Sources[i], tsoff)
	}
	var v [8]byte
	le.PutUint32(v[0:], w.version[0])
	le.PutUint32(v[4:], w.version[1])
	frame = appendCustom(frame, kindVersion, v[:])
	host, err := json.Marshal(&h.Host)
	if err != nil {
		return nil, fmt.Errorf("format: encode host: %w", err)
	}
	frame = appendCustom(frame, kindHost, host)
	capt, err := json.Marshal(&h.Capture)
	if err != nil {
		return nil, fmt.Errorf("format: encode capture options: %w", err)
	}
	frame = appendCustom(frame, kindCapture, capt)
	if h.Set != nil {
		set := *h.Set
		set.EndNS, set.Samples, set.Lost, set.Final = 0, 0, 0, false
		w.set = &set
		b, err := json.Marshal(&set)
		if err != nil {
			return nil, fmt.Errorf("format: encode set: %w", err)
		}
		frame = appendCustom(frame, kindSet, b)
	}
	srcs := make([]sourceJSON, len(h.Sources))
	for i, s := range h.Sources {
		srcs[i] = sourceJSON{Name: s.Name, Kind: s.Kind.String(), Definition: s.Definition,
			Filter: s.Filter, Target: s.Target, Format: s.Format, Created: s.Created, Fields: s.Fields, Path: s.Path}
	}
	w.meta = frame
	if err := appendJSONBlocks(w, kindSources, srcs); err != nil {
		return nil, err
	}
	if err := appendJSONBlocks(w, kindNotes, h.Notes); err != nil {
		return nil, err
	}
	frame, w.meta = w.meta, nil
	if len(frame) > MaxFrameRaw {
		return nil, fmt.Errorf("format: header of %d bytes is too large", len(frame))
	}
	return frame, nil
}

// sourceJSON is the kindSources payload entry.
type sourceJSON struct {
	Name       string      `json:"name"`
	Kind       string      `json:"kind"`
	Definition string      `json:"definition"`
	Filter     string      `json:"filter,omitempty"`
	Target     string      `json:"target,omitempty"`
	Format     string      `json:"format,omitempty"`
	Created    string      `json:"created,omitempty"`
	Fields     []FieldType `json:"fields,omitempty"`
	Path       string      `json:"path,omitempty"`
}

// appendJSONBlocks appends items to w.meta as JSON arrays of the given kind,
// split so that no block's payload much exceeds metaChunkBytes.
func appendJSONBlocks[T any](w *Writer, kind uint32, items []T) error {
	if len(items) == 0 {
		return nil
	}
	buf := []byte{'['}
	emit := func() {
		buf = append(buf, ']')
		w.meta = appendCustom(w.meta, kind, buf)
		buf = buf[:1]
	}
	for i := range items {
		b, err := json.Marshal(&items[i])
		if err != nil {
			return fmt.Errorf("format: encode metadata: %w", err)
		}
		if len(b) > maxMetaEntry {
			return fmt.Errorf("format: metadata entry of %d bytes exceeds %d", len(b), maxMetaEntry)
		}
		if len(buf) > 1 && len(buf)+len(b) > metaChunkBytes {
			emit()
		}
		if len(buf) > 1 {
			buf = append(buf, ',')
		}
		buf = append(buf, b...)
	}
	if len(buf) > 1 {
		emit()
	}
	return nil
}

func (w *Writer) compressLoop() {
	defer w.wg.Done()
	for j := range w.work {
		if w.discard {
			// Still a well-formed 1.1 data frame, so that a scan stays in step.
			j.out = appendCheck(append(j.out[:0], zstdEmptyFrame...))
			w.unwritten.Add(int64(len(j.out)))
			w.rawCompressed.Add(int64(len(j.raw)))
			j.done <- struct{}{}
			continue
		}
		enc := w.takeEnc()
		j.out = encodePieces(enc, j.raw, j.out[:0])
		w.putEnc(enc)
		j.out = appendCheck(j.out)
		// Counted first as compressed, then no longer as raw: an estimate
		// in between counts the frame twice rather than not at all.
		w.unwritten.Add(int64(len(j.out)))
		w.rawCompressed.Add(int64(len(j.raw)))
		j.done <- struct{}{}
	}
}

// takeEnc returns the most recently used idle encoder. There is one per
// compressor goroutine, so one is always idle.
func (w *Writer) takeEnc() *zstd.Encoder {
	w.encMu.Lock()
	defer w.encMu.Unlock()
	n := len(w.idleEncs) - 1
	enc := w.idleEncs[n]
	w.idleEncs[n] = nil
	w.idleEncs = w.idleEncs[:n]
	return enc
}

func (w *Writer) putEnc(enc *zstd.Encoder) {
	w.encMu.Lock()
	w.idleEncs = append(w.idleEncs, enc)
	w.encMu.Unlock()
}

func (w *Writer) writeLoop() {
	defer w.wg.Done()
	for j := range w.order {
		<-j.done
		w.mu.Lock()
		failed := w.werr != nil
		w.mu.Unlock()
		if !failed {
			var err error
			if w.sink != nil {
				e := j.entry
				err = w.sink.WriteFrame(&SinkFrame{Data: j.out, Info: e.FrameInfo, Meta: e.Flags&frameMeta != 0, Counts: e.counts, Lost: e.lost})
			} else {
				_, err = w.out.Write(j.out)
			}
			if err != nil {
				w.mu.Lock()
				w.werr = fmt.Errorf("format: write frame at offset %d: %w", w.offset, err)
				w.mu.Unlock()
			} else {
				j.entry.Offset = w.offset
				j.entry.CSize = int64(len(j.out))
				w.offset += int64(len(j.out))
				w.rawDone.Add(j.entry.RawSize)
				if j.entry.Samples > 0 {
					w.sampleRaw.Add(j.entry.RawSize)
					w.sampleC.Add(int64(len(j.out)))
				}
				w.cbytes.Store(w.offset)
				w.unwritten.Add(-int64(len(j.out)))
				w.mu.Lock()
				w.entries = append(w.entries, j.entry)
				w.mu.Unlock()
			}
		}
		w.pending.Done()
		w.putSpare(j.raw)
		j.raw = nil
		w.free <- j
	}
}

func (w *Writer) asyncErr() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.werr
}

// putSpare keeps a written frame buffer for reuse if it is frame-sized.
// Smaller ones (metadata frames) are left to the GC: they are few and small.
func (w *Writer) putSpare(b []byte) {
	if cap(b) < w.frameBytes {
		return
	}
	w.spareMu.Lock()
	if len(w.spares) < cap(w.free) {
		w.spares = append(w.spares, b[:0])
	}
	w.spareMu.Unlock()
}

// takeSpare returns the most recently written frame buffer, or nil.
func (w *Writer) takeSpare() []byte {
	w.spareMu.Lock()
	defer w.spareMu.Unlock()
	n := len(w.spares)
	if n == 0 {
		return nil
	}
	b := w.spares[n-1]
	w.spares[n-1] = nil
	w.spares = w.spares[:n-1]
	return b
}

// submit hands a raw frame to the compressors. The sample buffer is
// replaced by a recycled frame buffer (or nil: closeFrame sizes it); the
// metadata buffer starts afresh, as it is small.
func (w *Writer) submit(raw *[]byte, e indexEntry) {
	j := <-w.free
	j.raw, *raw = *raw, nil
	if raw == &w.buf {
		*raw = w.takeSpare()
	}
	e.RawSize = int64(len(j.raw))
	j.entry = e
	w.rawSub += e.RawSize
	w.pending.Add(1)
	w.work <- j
	w.order <- j
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

// metaAdded notes new pending metadata and closes the frame when enough piled up.
func (w *Writer) metaAdded() error {
	if w.frameStart.IsZero() {
		w.frameStart = time.Now()
	}
	if len(w.meta) >= w.frameBytes || len(w.comms)+len(w.lost)+len(w.notes)+len(w.tcgs) >= maxQueued {
		return w.closeFrame()
	}
	return nil
}

// AddComm queues a pid→comm record; it goes into the current frame's metadata.
func (w *Writer) AddComm(c Comm) error {
	if w.closed {
		return errClosed
	}
	w.comms = append(w.comms, c)
	return w.metaAdded()
}

// AddLost queues a loss record. Close adds the lost counts of sources without
// caller-provided Stats to their ISBs.
func (w *Writer) AddLost(l Lost) error {
	if w.closed {
		return errClosed
	}
	w.lost = append(w.lost, l)
	w.lostBySrc[l.Source] += l.Count
	w.lostAll += l.Count
	return w.metaAdded()
}

// AddSymbols adds kernel symbols (any order; readers sort them).
func (w *Writer) AddSymbols(s []Symbol) error {
	if w.closed {
		return errClosed
	}
	if err := appendJSONBlocks(w, kindSymbols, s); err != nil {
		return err
	}
	return w.metaAdded()
}

// AddUserFrames adds resolved user-space addresses.
func (w *Writer) AddUserFrames(u []UserFrame) error {
	if w.closed {
		return errClosed
	}
	if err := appendJSONBlocks(w, kindUserFrames, u); err != nil {
		return err
	}
	return w.metaAdded()
}

// AddCgroups adds cgroup id → path records (any order; a later record of
// an id replaces an earlier one).
func (w *Writer) AddCgroups(c []Cgroup) error {
	if w.closed {
		return errClosed
	}
	if err := appendJSONBlocks(w, kindCgroups, c); err != nil {
		return err
	}
	return w.metaAdded()
}

// AddTaskCgroup queues a record that a thread is in a cgroup from a time on.
func (w *Writer) AddTaskCgroup(t TaskCgroup) error {
	if w.closed {
		return errClosed
	}
	w.tcgs = append(w.tcgs, t)
	return w.metaAdded()
}

// AddNote adds a free-text note shown by `kpcap info`.
func (w *Writer) AddNote(note string) error {
	if w.closed {
		return errClosed
	}
	w.notes = append(w.notes, note)
	return w.metaAdded()
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

// SetEnd sets the end of the file's span, stored at Close in the set block
// (a file of a set covers up to the time the next one starts). Without it,
// the span ends at the last sample.
func (w *Writer) SetEnd(endNS uint64) { w.setEnd = endNS }

// appendSetEnd appends the set block again, completed with the span's end,
// the samples written and every sample reported lost in the file.
func (w *Writer) appendSetEnd() error {
	s := w.set
	s.Final = true
	s.Lost = w.lostAll
	s.Samples = 0
	s.EndNS = w.setEnd
	for _, c := range w.counts {
		s.Samples += c.n
		if w.setEnd == 0 && c.n > 0 {
			s.EndNS = max(s.EndNS, c.last)
		}
	}
	b, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("format: encode set: %w", err)
	}
	w.meta = appendCustom(w.meta, kindSet, b)
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

func (w *Writer) appendISBs(stats []Stats) {
	final := make([]Stats, w.nsrc)
	have := make([]bool, w.nsrc)
	for _, s := range stats {
		if s.Source < w.nsrc {
			final[s.Source] = s
			have[s.Source] = true
		}
	}
	for i := range final {
		c := w.counts[i]
		st := &final[i]
		st.Source = uint32(i)
		if !have[i] {
			st.Received = c.n
			st.Dropped = w.lostBySrc[uint32(i)]
		}
		if st.StartNS == 0 && st.EndNS == 0 && c.n > 0 {
			st.StartNS, st.EndNS = c.first, c.last
		}
		w.meta = appendISB(w.meta, st)
	}
}

// CompressedBytes reports the bytes written to the underlying writer so far.
func (w *Writer) CompressedBytes() int64 { return w.cbytes.Load() }

// RawBytes reports the uncompressed pcapng bytes produced so far, including
// the frame still being filled.
func (w *Writer) RawBytes() int64 { return w.rawSub + int64(len(w.buf)) }

// JoinSet makes a file written without a set the first of one: the set
// block is written at Close only (a recording that starts rotating on
// request, its file renamed to the set's first name). It does nothing when
// the header already placed the file in a set.
func (w *Writer) JoinSet(s SetInfo) {
	if w.set == nil {
		w.set = &s
	}
}

// LostBySource is the sum of the AddLost counts attributed to source src.
func (w *Writer) LostBySource(src uint32) uint64 { return w.lostBySrc[src] }
