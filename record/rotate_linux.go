//go:build linux

package record

import (
	"cmp"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"os"
	"time"

	"github.com/kpcap/kpcap/format"
)

// taskComm is a task's thread group and command name, as last seen.
type taskComm struct {
	pid  uint32
	comm string
}

// rotation is the state of a recording written as a set of files.
type rotation struct {
	id        string
	seq       int
	fileStart uint64    // capture-clock start of the current file's span
	fileWall  time.Time // when the current file was started
	files     []FileStats
	recvBase  []uint64 // per source: samples in the closed files
	dropBase  []uint64 // per source: loss put in the closed files' statistics
	// bytes of the closed files, deleted ones included (MaxSize counts
	// every byte written)
	closedBytes int64
	closedRaw   int64
}

func newSetID() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// rotates reports whether the recording is written as a set from the start.
func (o *Options) rotates() bool { return o.RotateSize > 0 || o.RotateEvery > 0 }

func (c *capture) newRotation(start uint64) *rotation {
	return &rotation{
		id:        newSetID(),
		seq:       1,
		fileStart: start,
		fileWall:  time.Now(),
		recvBase:  make([]uint64, len(c.sources)),
		dropBase:  make([]uint64, len(c.sources)),
	}
}

func (r *rotation) info(start uint64) *format.SetInfo {
	return &format.SetInfo{ID: r.id, Seq: r.seq, Mode: "rotate", StartNS: start}
}

// header is the header of every file the capture writes.
func (c *capture) header(set *format.SetInfo) *format.Header {
	o := c.opts
	h := &format.Header{
		Application: "kpcap " + cmp.Or(c.opts.Version, defaultVersion),
		Host:        hostInfo(),
		Capture: format.Capture{
			Args:       o.Args,
			Clock:      "monotonic",
			BufferSize: bufferSize(o.BufferSize, len(c.cpus)),
			CallGraph:  o.CallGraph,
			Targets:    c.targets(),
		},
		Notes: o.Notes,
		Set:   set,
	}
	for _, s := range c.sources {
		h.Sources = append(h.Sources, s.desc)
	}
	return h
}

// openFile creates path and writes its header frame.
func (c *capture) openFile(path string, set *format.SetInfo) error {
	o := c.opts
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("create output: %w", err)
	}
	h := c.header(set)
	var wo format.WriterOptions
	if limit := o.fileSizeHint(); limit > 0 {
		// Small files get small frames: the size check flushes what is
		// pending near the limit, and a frame is what a file may hold
		// beyond its last check.
		wo.FrameBytes = int(min(max(2*limit, 64<<10), format.DefaultFrameBytes))
	}
	if c.w != nil {
		wo.RatioHint = c.w.Ratio() // the previous file's
	}
	w, err := format.NewWriter(f, h, &wo)
	if err != nil {
		f.Close()
		return writeError(path, err)
	}
	c.file, c.out, c.w, c.path = f, w, w, path
	c.limits.header, c.limits.exactAt = w.CompressedBytes(), 0
	return nil
}

// closeFile finishes the current file, whose span ends at end: symbols
// for its stacks, statistics for its span, seek index. final is the last
// file: its statistics hold the loss settled by account that earlier files
// did not.
func (c *capture) closeFile(end uint64, final bool) (FileStats, error) {
	var errs []error
	// What closing adds (metadata, statistics, index) is measured from
	// here: the size limits reserve it for the next file.
	before := int64(-1)
	if c.w != nil && c.w.Flush() == nil {
		before = c.w.CompressedBytes()
	}
	if c.cg != nil {
		if err := c.cg.flush(c.out); err != nil {
			errs = append(errs, err)
		}
	}
	if c.syms != nil {
		if err := c.syms.flushUser(c.out); err != nil {
			errs = append(errs, err)
		}
		if syms := c.syms.kernelSymbols(); len(syms) > 0 {
			if err := c.out.AddSymbols(syms); err != nil {
				errs = append(errs, err)
			}
		}
	}
	r := c.rot
	start := c.startNS
	if r != nil {
		start = r.fileStart
	}
	stats := make([]format.Stats, len(c.sources))
	for i := range c.sources {
		st := format.Stats{Source: uint32(i), Received: c.received(i), Dropped: c.drop[i], StartNS: start, EndNS: end}
		if r != nil {
			st.Received -= r.recvBase[i]
			if !final {
				// Loss is settled per source only at the end: until then
				// a file holds what the kernel attributed.
				st.Dropped = c.w.LostBySource(uint32(i))
			} else {
				st.Dropped -= min(st.Dropped, r.dropBase[i])
			}
			r.recvBase[i] += st.Received
			r.dropBase[i] += st.Dropped
		}
		stats[i] = st
	}
	fs := FileStats{Path: c.path, StartNS: start, EndNS: end}
	if c.w != nil {
		c.w.SetEnd(end)
		fs.Samples, fs.Lost = c.w.SamplesWritten(), c.w.LostWritten()
	}
	if err := c.out.Close(stats); err != nil {
		errs = append(errs, err)
	}
	fs.Bytes = c.out.CompressedBytes()
	if before >= 0 {
		c.limits.sawTail(fs.Bytes - before)
	}
	if c.file != nil {
		if err := c.file.Sync(); err != nil {
			errs = append(errs, err)
		}
		if err := c.file.Close(); err != nil {
			errs = append(errs, err)
		}
		c.file = nil
	}
	if r != nil {
		fs.Seq = r.seq
		r.files = append(r.files, fs)
		r.closedBytes += fs.Bytes
		r.closedRaw += c.out.RawBytes()
	}
	if len(errs) > 0 {
		return fs, fmt.Errorf("finalize %s: %w", c.path, errors.Join(errs...))
	}
	return fs, nil
}

// spanEnd returns where the current file's span ends if it is closed now,
// every record up to time at written: just after at, or after the newest
// record written when a late one (older than it) came last; spans are
// [start, end). ok is false while a record not yet written has that time
// too (the merge writes equal times one after the other): it belongs in
// the same file, whose span must hold it.
func (c *capture) spanEnd(at uint64) (end uint64, ok bool) {
	newest := max(at, c.emittedNS, c.lastNS)
	if newest == math.MaxUint64 {
		return newest, true
	}
	next, pending := c.merge.nextTime()
	return newest + 1, !pending || next > newest
}

// rotate closes the current file once every record up to time at (capture
// clock) is written, and starts the next one of the set where its span
// ends.
func (c *capture) rotate(at uint64) error {
	o := c.opts
	if c.w == nil || c.snap != nil {
		return nil // a test sink; the flight recorder has no file
	}
	if c.rot == nil {
		// A plain recording asked to rotate (SIGHUP): its file becomes the
		// set's first.
		first := format.SetFileName(o.Output, 1)
		if err := os.Rename(o.Output, first); err != nil {
			c.notice(fmt.Sprintf("cannot rotate: %v", err))
			return nil
		}
		c.rot = c.newRotation(c.startNS)
		c.path = first
		c.w.JoinSet(*c.rot.info(c.startNS))
		if c.syms != nil {
			c.syms.cacheKallsyms = true
		}
	}
	r := c.rot
	end, _ := c.spanEnd(at)
	at = max(end, r.fileStart)
	if _, err := c.closeFile(at, false); err != nil {
		return err
	}
	r.seq++
	c.prune()
	path := format.SetFileName(o.Output, r.seq)
	if err := c.openFile(path, r.info(at)); err != nil {
		return err
	}
	r.fileStart, r.fileWall = at, time.Now()
	// The new file names every task known now and carries the user frames
	// resolved so far: it reads on its own.
	for tid, tc := range c.comms {
		if err := c.out.AddComm(format.Comm{PID: tc.pid, TID: tid, Time: at, Comm: tc.comm}); err != nil {
			return writeError(path, err)
		}
	}
	if u := c.syms.allUser(); len(u) > 0 {
		if err := c.out.AddUserFrames(u); err != nil {
			return writeError(path, err)
		}
	}
	return nil
}

// prune deletes the oldest closed files of the set beyond Keep files or
// KeepSize bytes, counting the file about to be started (up to RotateSize,
// or what it starts with when files rotate by time).
func (c *capture) prune() {
	o, r := c.opts, c.rot
	if o.Keep <= 0 && o.KeepSize <= 0 {
		return
	}
	var kept []int
	var bytes int64
	for i, f := range r.files {
		if !f.Deleted {
			kept = append(kept, i)
			bytes += f.Bytes
		}
	}
	for len(kept) > 0 {
		over := o.Keep > 0 && len(kept)+1 > o.Keep
		if o.KeepSize > 0 && bytes+max(o.RotateSize, c.startReserve()) > o.KeepSize {
			over = true
		}
		if !over {
			break
		}
		f := &r.files[kept[0]]
		if err := os.Remove(f.Path); err != nil && !os.IsNotExist(err) {
			c.notice(fmt.Sprintf("cannot delete %s: %v", f.Path, err))
		}
		f.Deleted = true
		bytes -= f.Bytes
		kept = kept[1:]
	}
}

// checkRotate is the writer's check at each pass marker: age, a rotation
// request, size.
func (c *capture) checkRotate(at uint64) error {
	o := c.opts
	if o.Rotate != nil {
		select {
		case <-o.Rotate:
			return c.rotate(at)
		default:
		}
	}
	if o.RotateEvery > 0 && c.rot != nil && time.Since(c.rot.fileWall) >= o.RotateEvery {
		return c.rotate(at)
	}
	if o.sizeLimited() {
		return c.checkSize(at)
	}
	return nil
}

// files returns every file of a rotated recording, the current one last.
func (c *capture) files() []FileStats {
	if c.rot == nil {
		return nil
	}
	return append([]FileStats(nil), c.rot.files...)
}
