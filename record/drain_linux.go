//go:build linux

package record

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/kpcap/kpcap/record/internal/perf"
	"golang.org/x/sys/unix"
)

// Tuning of the drain loop.
const (
	// pollTimeout bounds how long a quiet ring waits to be drained. It
	// also sets how much copied data is in flight between the reader and
	// the writer: a shorter wait keeps less fresh memory in use, and page
	// faults are a large share of a busy capture's CPU, for more idle
	// wakeups.
	pollTimeout = 50 * time.Millisecond
	// lagWindow holds back records this much younger than the start of a
	// drain round, so that a record reserved late on one CPU (an interrupt
	// between its timestamp and its reservation) still sorts before
	// younger ones from other CPUs.
	lagWindow = 20 * time.Millisecond
)

// item is what the ring reader hands to the writer: a chunk of one ring's
// records, or a pass marker saying that every ring was read after time
// pass (so records stamped before pass-lagWindow have all been seen).
type item struct {
	q     int
	ch    *chunk
	pass  uint64
	final bool // last item: the events are disabled and every ring drained
}

// loop runs the capture until a stop condition: a reader goroutine copies
// the rings out as soon as they have data, so that a slow disk or a busy
// compressor costs memory (up to a cap) rather than samples; this
// goroutine merges and writes.
func (c *capture) loop(ctx context.Context, child *childProc) {
	o := c.opts
	var stop atomic.Bool
	quit := make(chan struct{})
	defer close(quit)
	go func() {
		var childDone <-chan struct{}
		if child != nil {
			childDone = child.done
		}
		select {
		case <-ctx.Done():
		case <-childDone:
		case <-o.Force:
		case <-quit:
			return
		}
		stop.Store(true)
		c.poller.Wake()
	}()
	if o.Force != nil {
		go func() {
			select {
			case <-o.Force:
				c.aborted.Store(true)
				if o.forceSeen != nil {
					o.forceSeen()
				}
			case <-quit:
			}
		}()
	}
	c.chunkMemory.size(c.rings, c.bpfRingSize(), o.memCap)
	items := make(chan item, 1024)
	readerDone := make(chan error, 1)
	go func() { readerDone <- c.reader(&stop, items, quit) }()
	err := c.writer(items)
	if err != nil {
		c.err = err
		return // quit (deferred) ends the reader
	}
	if rerr := <-readerDone; rerr != nil {
		c.err = rerr
	}
}

// reader copies ring data into chunks until stopped; then it disables the
// events, drains every ring one last time and sends the final item.
func (c *capture) reader(stop *atomic.Bool, out chan<- item, quit <-chan struct{}) error {
	defer close(out)
	o := c.opts
	send := func(it item) bool {
		select {
		case out <- it:
			return true
		case <-quit:
			return false
		case <-o.Force: // the writer no longer reads
			return false
		}
	}
	start := time.Now()
	nextAlive := start.Add(250 * time.Millisecond)
	var hups []int32
	var peek []byte
	lastPass, stuck, force := uint64(0), 0, -1
	for {
		over := c.outOfTime(start, &nextAlive)
		stopping := stop.Load() || c.stopReq.Load() || over
		if stopping {
			if c.forced() {
				return nil
			}
			// Stop the kernel side first so that the final drain has an end.
			for _, fd := range c.fds {
				perf.Disable(fd)
			}
			c.enableBPF(false)
		}
		safe, oldest, throttled, ok := c.drainRings(&force, send, &peek)
		if ok && c.bpf != nil {
			throttled, safe, ok = c.drainBPFPass(stopping, throttled, safe, send)
		}
		if !ok {
			return nil
		}
		if throttled && safe <= lastPass {
			stuck++
		} else {
			stuck = 0
		}
		if stuck >= 3 {
			// Memory is full of records younger than the oldest one left
			// in a ring: read that ring once beyond the memory cap, so
			// that the merge moves on in time order.
			force, stuck = oldest, 0
		}
		lastPass = max(lastPass, safe)
		pass := safe
		if stopping {
			if throttled && !c.forced() {
				// Let the writer free chunks (it merges at pass markers), then
				// read the rest.
				if !send(item{pass: pass}) {
					return nil
				}
				time.Sleep(time.Millisecond)
				continue
			}
			send(item{final: true})
			return nil
		}
		if !send(item{pass: pass}) {
			return nil
		}
		var err error
		if hups, err = c.waitRings(throttled, start, hups); err != nil {
			return err
		}
	}
}

// outOfTime reports whether the recording is over: its duration elapsed, or
// the traced process (checked every 250 ms, at *nextAlive) is gone.
func (c *capture) outOfTime(start time.Time, nextAlive *time.Time) bool {
	o := c.opts
	over := o.Duration > 0 && time.Since(start) >= o.Duration
	if o.PID != 0 && !time.Now().Before(*nextAlive) {
		if unix.Kill(o.PID, 0) == unix.ESRCH {
			over = true
		}
		*nextAlive = time.Now().Add(250 * time.Millisecond)
	}
	return over
}

// drainRings makes one pass over the perf rings. Ring *force may exceed the
// memory cap once (then *force is -1 again). It returns the time up to
// which the writer may merge (now, or older when a ring keeps unread
// records: they must not be overtaken), the ring holding the oldest of
// those, whether the memory cap stopped a ring, and ok false when the writer
// no longer listens.
func (c *capture) drainRings(force *int, send func(item) bool, peek *[]byte) (safe uint64, oldest int, throttled, ok bool) {
	safe, oldest = monotonicNS(), -1
	for qi, ring := range c.rings {
		drained, full, took, ok := c.drainRing(qi, ring, qi == *force, send)
		if !ok {
			return safe, oldest, throttled, false
		}
		if took && qi == *force {
			*force = -1
		}
		throttled = throttled || full
		if !drained {
			if *peek = ring.Peek(*peek); *peek != nil {
				if t, _, ok := perf.RecordTime(*peek); ok && t < safe {
					safe, oldest = t, qi
				}
			}
		}
	}
	return safe, oldest, throttled, true
}

// drainBPFPass reads the BPF ring in a pass of the reader (to its end when
// stopping and no perf ring was throttled); records left there are about
// as young as the last one read, which bounds safe.
func (c *capture) drainBPFPass(stopping, throttled bool, safe uint64, send func(item) bool) (bool, uint64, bool) {
	if stopping && !throttled {
		return throttled, safe, c.finalDrainBPF(send)
	}
	bt, ok := c.drainBPF(send, false)
	if bt {
		throttled, safe = true, min(safe, c.bpf.last)
	}
	return throttled, safe, ok
}

// waitRings waits for the rings to fill (shortly when throttled, never past
// the recording's duration) and stops polling the rings whose events hung
// up; hups is a buffer for their queue numbers.
func (c *capture) waitRings(throttled bool, start time.Time, hups []int32) ([]int32, error) {
	timeout := pollTimeout
	if throttled {
		timeout = time.Millisecond
	}
	if d := c.opts.Duration; d > 0 {
		timeout = max(min(timeout, d-time.Since(start)), 0)
	}
	_, _, hups, err := c.poller.Wait(int(timeout.Milliseconds())+1, hups)
	if err != nil {
		return hups, err
	}
	for _, qi := range hups {
		if int(qi) < len(c.rings) { // not the BPF ring
			c.poller.Remove(c.rings[qi].FD())
		}
	}
	return hups, nil
}

// drainRing copies ring qi's pending records into chunks and sends them to
// the writer, a bounded number of chunks: a ring refilling as fast as it is
// read waits for the next pass. overCap lets its first chunk exceed the
// memory cap. It reports whether the ring is left empty, whether the memory
// cap stopped it (the ring absorbs the rest meanwhile), whether it took a
// chunk, and ok false when the writer no longer listens.
func (c *capture) drainRing(qi int, ring *perf.Ring, overCap bool, send func(item) bool) (drained, full, took, ok bool) {
	for range ring.Size()/smallChunk + 1 {
		if ring.Pending() == 0 {
			return true, false, took, true
		}
		ch := c.getChunk(ring.Pending(), overCap && !took)
		took = true
		if ch == nil {
			return false, true, took, true
		}
		var more bool
		before := cap(ch.data)
		ch.data, more = ring.ReadIntoMax(ch.data[:0], cap(ch.data))
		c.inflight.Add(int64(cap(ch.data) - before)) // a record larger than a small chunk
		if !send(item{q: qi, ch: ch}) {
			return false, false, took, false
		}
		if !more {
			return true, false, took, true
		}
	}
	return false, false, took, true
}
