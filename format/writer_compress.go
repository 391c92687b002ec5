package format

// The compression pipeline behind Writer: closed frames go to compressor
// goroutines, each with its own zstd encoder, and one writer goroutine
// writes them in order.

import (
	"fmt"

	"github.com/klauspost/compress/zstd"
)

// job is one frame on its way through compression and writing.
type job struct {
	raw, out []byte
	entry    indexEntry
	done     chan struct{}
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
