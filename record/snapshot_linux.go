//go:build linux

package record

import (
	"fmt"
	"os"
	"time"

	"github.com/kpcap/kpcap/format"
)

// frameRing is the flight recorder's memory: the newest compressed frames
// of the recording, within the window (a duration of sample time, or a
// number of bytes). It is the format writer's FrameSink; only the capture's
// writer goroutine touches it (through the writer's output goroutine, which
// Flush waits for).
type frameRing struct {
	window time.Duration
	size   int64
	frames []ringFrame
	bytes  int64
	lastNS uint64 // newest sample time seen
	peak   int64  // most bytes held at once
}

type ringFrame struct {
	format.SinkFrame
	at uint64 // sample time the frame belongs to: its last sample, or the last before it
}

// Write takes the header frame and the seek index: a snapshot has its own.
func (r *frameRing) Write(p []byte) (int, error) { return len(p), nil }

// WriteFrame keeps a copy of the frame and forgets the oldest frames
// beyond the window.
func (r *frameRing) WriteFrame(f *format.SinkFrame) error {
	if f.Info.Samples > 0 {
		r.lastNS = max(r.lastNS, f.Info.LastNS)
	}
	k := ringFrame{SinkFrame: *f, at: r.lastNS}
	k.Data = append([]byte(nil), f.Data...)
	r.frames = append(r.frames, k)
	r.bytes += int64(len(k.Data))
	r.peak = max(r.peak, r.bytes)
	r.evict()
	return nil
}

// evict drops the oldest frames beyond the window; the newest frame stays.
func (r *frameRing) evict() {
	n := 0
	for n < len(r.frames)-1 {
		f := &r.frames[n]
		old := r.window > 0 && f.at+uint64(r.window) < r.lastNS
		big := r.size > 0 && r.bytes > r.size
		if !old && !big {
			break
		}
		r.bytes -= int64(len(f.Data))
		n++
	}
	if n > 0 {
		clear(r.frames[:n])
		r.frames = append(r.frames[:0], r.frames[n:]...)
	}
}

// snapshotState is the flight recorder's bookkeeping.
type snapshotState struct {
	ring    *frameRing
	id      string
	seq     int
	files   []FileStats
	last    time.Time // when the last snapshot was written
	pending string    // a trigger waiting for its --after delay
	due     time.Time
	skipped int // requests refused by the cooldown or the cap
	// exited keeps the comm of tasks that exited recently: a snapshot's
	// window may hold their samples.
	exited map[uint32]exitedComm
}

type exitedComm struct {
	taskComm
	at uint64
}

func (o *Options) snapshots() bool { return o.SnapshotWindow > 0 || o.SnapshotSize > 0 }

// newFlightRecorder makes the capture's writer write into memory.
func (c *capture) newFlightRecorder() error {
	o := c.opts
	ring := &frameRing{window: o.SnapshotWindow, size: o.SnapshotSize}
	c.snap = &snapshotState{ring: ring, id: newSetID(), exited: map[uint32]exitedComm{}}
	wo := &format.WriterOptions{}
	if o.SnapshotWindow > 0 {
		// A frame is the unit the window is cut in.
		wo.FrameAge = min(max(o.SnapshotWindow/10, 100*time.Millisecond), time.Second)
	}
	if o.SnapshotSize > 0 {
		wo.FrameBytes = int(min(max(o.SnapshotSize*2, 64<<10), format.DefaultFrameBytes))
	}
	w, err := format.NewWriter(ring, c.header(nil), wo)
	if err != nil {
		return fmt.Errorf("flight recorder: %w", err)
	}
	c.out, c.w, c.path = w, w, "(memory)"
	return nil
}

// requestSnapshot asks for a snapshot, now or after the --after delay.
func (c *capture) requestSnapshot(why string, delay time.Duration) {
	s := c.snap
	if s == nil {
		return
	}
	o := c.opts
	now := time.Now()
	switch {
	case s.pending != "":
		return // one is on its way; it will hold this moment too
	case o.MaxSnapshots > 0 && len(s.files) >= o.MaxSnapshots:
		s.skipped++
		return
	case o.Cooldown > 0 && !s.last.IsZero() && now.Sub(s.last) < o.Cooldown:
		s.skipped++
		return
	}
	s.pending, s.due = why, now.Add(delay)
}

// checkSnapshot writes a snapshot that is due. Called at pass markers.
func (c *capture) checkSnapshot() error {
	s, o := c.snap, c.opts
	if s == nil {
		return nil
	}
	if o.Snapshot != nil {
		select {
		case why := <-o.Snapshot:
			c.requestSnapshot(why, 0)
		default:
		}
	}
	if s.pending == "" || time.Now().Before(s.due) {
		return nil
	}
	why := s.pending
	s.pending = ""
	return c.writeSnapshot(why)
}

// writeSnapshot copies the ring into a new file of the set.
func (c *capture) writeSnapshot(why string) error {
	s, o := c.snap, c.opts
	if err := c.w.Flush(); err != nil {
		return fmt.Errorf("flight recorder: %w", err)
	}
	frames := s.ring.frames
	start, end := c.snapshotSpan()
	s.seq++
	path := format.SetFileName(o.Output, s.seq)
	fh, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	defer fh.Close()
	set := &format.SetInfo{ID: s.id, Seq: s.seq, Mode: "snapshot", StartNS: start, Trigger: why}
	w, err := format.NewWriter(fh, c.header(set), nil)
	if err != nil {
		return fmt.Errorf("snapshot %s: %w", path, err)
	}
	fail := func(err error) error { return fmt.Errorf("snapshot %s: %w", path, err) }
	if err := c.snapshotMeta(w, start); err != nil {
		return fail(err)
	}
	for i := range frames {
		if err := w.CopyFrame(&frames[i].SinkFrame); err != nil {
			return fail(err)
		}
	}
	w.SetEnd(end)
	if err := w.Close(nil); err != nil {
		return fail(err)
	}
	if err := fh.Sync(); err != nil {
		return fail(err)
	}
	if err := fh.Close(); err != nil {
		return fail(err)
	}
	fs := FileStats{Path: path, Seq: s.seq, Samples: w.SamplesWritten(), Lost: w.LostWritten(), Bytes: w.CompressedBytes(), StartNS: start, EndNS: end, Trigger: why}
	s.files = append(s.files, fs)
	s.last = time.Now()
	c.notice(fmt.Sprintf("snapshot %d (%s): %s, %d events over %s, %d lost", s.seq, why, path, fs.Samples,
		time.Duration(end-start).Round(time.Millisecond), fs.Lost))
	return nil
}

// snapshotSpan returns the span [start, end) of the flight recorder's
// window: its frames' samples, or the recording so far when it holds none.
func (c *capture) snapshotSpan() (start, end uint64) {
	for _, f := range c.snap.ring.frames {
		if f.Info.Samples > 0 {
			if start == 0 {
				start = f.Info.FirstNS
			}
			start = min(start, f.Info.FirstNS)
			end = max(end, f.Info.LastNS)
		}
	}
	if start == 0 {
		start = c.startNS
		end = max(c.lastNS, start)
	}
	return start, end + 1 // the newest sample is in the span
}

// snapshotMeta writes a snapshot's tasks (every task known, and those
// that exited within the window from start) and symbols.
func (c *capture) snapshotMeta(w *format.Writer, start uint64) error {
	for tid, tc := range c.comms {
		if err := w.AddComm(format.Comm{PID: tc.pid, TID: tid, Time: start, Comm: tc.comm}); err != nil {
			return err
		}
	}
	for tid, ec := range c.snap.exited {
		if _, ok := c.comms[tid]; !ok && ec.at >= start {
			if err := w.AddComm(format.Comm{PID: ec.pid, TID: tid, Time: start, Comm: ec.comm}); err != nil {
				return err
			}
		}
	}
	if c.syms == nil {
		return nil
	}
	if u := c.syms.allUser(); len(u) > 0 {
		if err := w.AddUserFrames(u); err != nil {
			return err
		}
	}
	if k := c.syms.kernelSymbols(); len(k) > 0 {
		return w.AddSymbols(k)
	}
	return nil
}

// taskExited remembers an exited task's comm for the snapshots.
func (c *capture) taskExited(tid uint32, tc taskComm, at uint64) {
	s := c.snap
	if s == nil {
		return
	}
	s.exited[tid] = exitedComm{tc, at}
	if len(s.exited) > 4096 {
		// Forget the ones older than the ring's oldest frame.
		var oldest uint64
		if len(s.ring.frames) > 0 {
			oldest = s.ring.frames[0].at
		}
		for k, e := range s.exited {
			if e.at < oldest {
				delete(s.exited, k)
			}
		}
	}
}
