package format

import (
	"fmt"
)

// FrameSink, given to NewWriter as its io.Writer, receives each data frame
// with what it holds instead of a byte stream: a flight recorder keeps the
// last frames in memory and copies them into a file when asked (CopyFrame).
// Write receives the header frame and, at Close, the seek index.
type FrameSink interface {
	Write(p []byte) (int, error)
	WriteFrame(f *SinkFrame) error
}

// SinkFrame is one compressed data frame handed to a FrameSink.
type SinkFrame struct {
	Data   []byte    // the data frame: zstd frames and check frame; valid during WriteFrame only
	Info   FrameInfo // Offset and CSize are those it would have in a file
	Meta   bool      // the frame holds metadata (comms, losses, symbols, ...)
	Counts []uint64  // samples per source, for sample frames
	Lost   []Lost    // the loss records the frame holds
}

// CopyFrame appends an already compressed data frame (from a FrameSink of
// another Writer with the same sources) to the file, after the frames
// written so far, and counts its samples and losses for the statistics and
// the set block written by Close.
func (w *Writer) CopyFrame(f *SinkFrame) error {
	if w.closed {
		return errClosed
	}
	if err := w.closeFrame(); err != nil {
		return err
	}
	w.pending.Wait()
	if err := w.asyncErr(); err != nil {
		return err
	}
	if len(f.Counts) > int(w.nsrc) {
		return fmt.Errorf("format: copied frame has %d sources, the file %d", len(f.Counts), w.nsrc)
	}
	// No frame is in flight: the writer goroutine is idle until the next
	// submit, so the offset and entries are safe to update here.
	if _, err := w.out.Write(f.Data); err != nil {
		return fmt.Errorf("format: write frame at offset %d: %w", w.offset, err)
	}
	e := indexEntry{FrameInfo: f.Info}
	e.Offset, e.CSize = w.offset, int64(len(f.Data))
	if f.Meta {
		e.Flags = frameMeta
	}
	w.mu.Lock()
	w.entries = append(w.entries, e)
	w.mu.Unlock()
	w.offset += e.CSize
	w.cbytes.Store(w.offset)
	w.rawSub += e.RawSize
	w.rawDone.Add(e.RawSize)
	w.rawCompressed.Add(e.RawSize)
	for i, n := range f.Counts {
		if n == 0 {
			continue
		}
		c := &w.counts[i]
		c.n += n
		c.first = min(c.first, f.Info.FirstNS)
		c.last = max(c.last, f.Info.LastNS)
	}
	for _, l := range f.Lost {
		w.lostBySrc[l.Source] += l.Count
		w.lostAll += l.Count
	}
	return nil
}
