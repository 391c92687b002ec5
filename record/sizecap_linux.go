//go:build linux

package record

import (
	"fmt"
	"math"
	"os"
)

// sizeCheckEvery is the most samples that pass between two checks of the
// file's size against the limits; near a limit the checks come sooner.
const sizeCheckEvery = 4096

// minCheck is the fewest samples between two checks near a limit.
const minCheck = 16

// sizeWatch is the state of the size limits (RotateSize, MaxSize, the disk
// cap of Keep files or KeepSize).
type sizeWatch struct {
	// tail is what closing a file adds (pending metadata, statistics,
	// seek index), as measured when the last one closed: the limits keep
	// room for it.
	tail int64
	// exactAt is SamplesWritten when the file was last flushed to measure it.
	exactAt uint64
	// header is the size of the current file's header frame.
	header int64
	// full: MaxSize is reached; samples that still arrive while the
	// recording stops are not written, and account counts them lost.
	full bool
}

// defaultTail is the room kept for closing the first file.
const defaultTail = 8 << 10

// sawTail records what closing a file added.
func (s *sizeWatch) sawTail(n int64) { s.tail = max(n, 0) }

// reserve is the room kept for closing the current file: the last file's
// closing, with a margin for a file of more frames or comms.
func (s *sizeWatch) reserve() int64 {
	if s.tail == 0 {
		return defaultTail
	}
	// At least 4 KiB: metadata that piles up in one file (comms of a
	// burst of new tasks) may pass the last file's.
	return max(s.tail+s.tail/4+512, 4<<10)
}

// sizeLimited reports whether the file size must be watched.
func (o *Options) sizeLimited() bool { return o.RotateSize > 0 || o.MaxSize > 0 || o.KeepSize > 0 }

// fileSizeHint is the most a file of the recording is expected to hold
// (0: no limit): RotateSize, half of KeepSize, MaxSize.
func (o *Options) fileSizeHint() int64 {
	var n int64
	for _, v := range []int64{o.RotateSize, o.KeepSize / 2, o.MaxSize} {
		if v > 0 && (n == 0 || v < n) {
			n = v
		}
	}
	return n
}

// startReserve is the room a new file of the set needs before its first
// size check: its header frame, the comm of every known task and the
// resolved user frames it repeats (compressed, roughly), and a check
// interval's samples.
func (c *capture) startReserve() int64 {
	n := c.limits.header + 64*int64(len(c.comms)) + 4096
	if c.syms != nil {
		n += 32 * int64(len(c.syms.user))
	}
	return n + int64(c.perSample(c.out.EstimatedBytes())*sizeCheckEvery)
}

// keptBytes is the size of the closed files of the set still on disk.
func (r *rotation) keptBytes() int64 {
	var n int64
	for _, f := range r.files {
		if !f.Deleted {
			n += f.Bytes
		}
	}
	return n
}

// sizeLimit is the size the current file may reach, its closing included,
// and whether reaching it stops the recording (MaxSize) rather than
// starting the next file. A cap on the disk (Keep files of RotateSize, or
// KeepSize) gives the current file what the kept files leave: a file that
// passed its size shortens the next one, so that overshoots do not add up.
func (c *capture) sizeLimit() (limit int64, stops bool) {
	o, r := c.opts, c.rot
	limit = math.MaxInt64
	if o.RotateSize > 0 && c.snap == nil {
		limit = o.RotateSize
	}
	if r != nil {
		kept := r.keptBytes()
		if o.Keep > 0 && o.RotateSize > 0 {
			limit = min(limit, int64(o.Keep)*o.RotateSize-kept)
		}
		if o.KeepSize > 0 {
			limit = min(limit, o.KeepSize-kept)
		}
	}
	if o.MaxSize > 0 {
		m := o.MaxSize
		if r != nil {
			m -= r.closedBytes // deleted files count: MaxSize is what is written
		}
		if m <= limit {
			return m, true
		}
	}
	return limit, false
}

// pruneToCap deletes the oldest closed files of the set while the current
// file (est bytes, growing by up to grow before the next check) needs
// their room under KeepSize: with a rotation by time, no file size is
// known in advance.
func (c *capture) pruneToCap(est, grow int64) {
	o, r := c.opts, c.rot
	if o.KeepSize <= 0 || r == nil {
		return
	}
	kept := r.keptBytes()
	for i := range r.files {
		if kept+est+grow+c.limits.reserve() <= o.KeepSize {
			return
		}
		f := &r.files[i]
		if f.Deleted {
			continue
		}
		if err := os.Remove(f.Path); err != nil && !os.IsNotExist(err) {
			c.notice(fmt.Sprintf("cannot delete %s: %v", f.Path, err))
		}
		f.Deleted = true
		kept -= f.Bytes
	}
}

// perSample is the compressed bytes a sample takes, over the whole
// recording so far: a new file's header and comms, spread over its first
// few samples, would make it look large and delete or rotate too soon.
func (c *capture) perSample(est int64) float64 {
	if c.w == nil {
		return 4
	}
	// The current file's header frame is not the samples' doing.
	bytes, n := est-c.limits.header, c.w.SamplesWritten()
	if r := c.rot; r != nil {
		bytes += r.closedBytes
		for _, f := range r.files {
			n += f.Samples
		}
	}
	if n < 1024 {
		return max(c.w.Ratio()*40, 1)
	}
	return max(float64(bytes)/float64(n), 1)
}

// maxRoom is what MaxSize leaves once the current file (est bytes) is closed.
func (c *capture) maxRoom(est int64) int64 {
	n := c.opts.MaxSize - est - c.limits.reserve()
	if c.rot != nil {
		n -= c.rot.closedBytes
	}
	return n
}

// backlogRisk is how many times worse than the ratio seen so far the
// frames waiting for a compressor are assumed to compress.
const backlogRisk = 4

// settledEstimate is the current file's estimated size for a size check.
// The frames waiting for a compressor are priced at the ratio of the
// frames written so far; on a host short of CPU megabytes of them queue,
// and a stretch of events that compresses worse than the file so far
// then passes the limit by far (a 160 KiB cap passed by 70 KiB). When the
// backlog, compressing backlogRisk times worse, could fill the room left
// before the limits (the disk cap before pruning), the check waits for
// it: only the current frame stays an estimate.
func (c *capture) settledEstimate() (int64, error) {
	est := c.out.EstimatedBytes()
	if c.w == nil {
		return est, nil
	}
	back := int64(float64(c.w.Backlog()) * c.w.Ratio() * backlogRisk)
	if back == 0 {
		return est, nil
	}
	limit, _ := c.sizeLimit()
	if limit == math.MaxInt64 || est+back+c.limits.reserve() <= limit {
		return est, nil
	}
	if err := c.w.WaitWritten(); err != nil {
		return 0, writeError(c.path, err)
	}
	return c.out.EstimatedBytes(), nil
}

// drainMargin is how early --max-size asks to stop so that what is still
// queued for the writer fits: the records a full memory queue holds
// (memCap), at the bytes a sample takes, up to a sixteenth of the limit.
func (c *capture) drainMargin(per float64) int64 {
	queued := float64(c.memCap) / 64 // raw records of ~64 bytes
	return min(c.opts.MaxSize/16, int64(queued*per))
}

// checkSize rotates or stops the recording when the current file (or the
// whole recording) is about to pass its size limit, and sets when the
// next check comes: after about a third of the samples that fit in the
// room left, so that a file passes its limit by a few samples at most. at is
// the time of the last record written.
func (c *capture) checkSize(at uint64) error {
	c.sizeCheck = sizeCheckEvery
	if c.limits.full {
		return nil
	}
	est, err := c.settledEstimate()
	if err != nil {
		return err
	}
	per := c.perSample(est)
	step := int64(per*sizeCheckEvery) + 4096 // a full interval's growth, with slack
	c.pruneToCap(est, 2*step)
	limit, stops := c.sizeLimit()
	if limit == math.MaxInt64 {
		return nil
	}
	room := limit - est - c.limits.reserve()
	stopNear := func() bool {
		return c.opts.MaxSize > 0 && !c.stopReq.Load() && c.maxRoom(est) < max(4*step, c.drainMargin(per))
	}
	if (room < 2*step || stopNear()) && c.w != nil && c.w.SamplesWritten() >= c.limits.exactAt+minCheck {
		// Near a limit the estimate is not good enough (before a file's
		// first frame is compressed it rests on a guessed ratio): compress
		// what is pending and look at the bytes.
		if err := c.w.Flush(); err != nil {
			return writeError(c.path, err)
		}
		c.limits.exactAt = c.w.SamplesWritten()
		est = c.w.CompressedBytes()
		per = c.perSample(est)
		step = int64(per*sizeCheckEvery) + 4096
		room = limit - est - c.limits.reserve()
	}
	if stopNear() {
		// Stop a few intervals early: the rings' last records still come.
		c.stopReq.Store(true)
		c.notice(fmt.Sprintf("stopping: the size limit %s is reached", sizeText(uint64(c.opts.MaxSize))))
		if c.poller != nil {
			c.poller.Wake()
		}
	}
	if room < int64(per*2*minCheck)+256 {
		if stops {
			c.limits.full = true
			c.notice(fmt.Sprintf("size limit %s: the file is full; events until the recording has stopped are counted lost", sizeText(uint64(c.opts.MaxSize))))
			return nil
		}
		if _, ok := c.spanEnd(at); !ok {
			c.sizeCheck = 1 // after the next sample: this one's time is not over
			return nil
		}
		if err := c.rotate(at); err != nil {
			return err
		}
		c.sizeCheck = minCheck // measure the new file soon
		return nil
	}
	// A third of the room: frames closed early (by age, on a loaded host)
	// compress worse than the recording's average.
	c.sizeCheck = int(min(max(float64(room)/(3*per), minCheck), sizeCheckEvery))
	return nil
}
