package replay

import (
	"fmt"

	"github.com/kpcap/kpcap/format"
)

// start launches the frame decoders. Results come back through r.order in
// frame order, a group of frames at a time; its capacity bounds the groups
// in flight (memory).
func (r *Reader) start() {
	r.started = true
	w := r.opts.Workers
	r.order = make(chan chan *chunk, 2*w)
	jobs := make(chan job)
	r.wg.Add(1 + w)
	go func() {
		defer r.wg.Done()
		defer close(r.order)
		defer close(jobs)
		for seq, frames := range r.groupFrames(r.frames) {
			ch := make(chan *chunk, 1)
			select {
			case r.order <- ch:
			case <-r.done:
				return
			}
			select {
			case jobs <- job{seq: seq, frames: frames, out: ch}:
			case <-r.done:
				return
			}
		}
	}()
	maxRaw := r.maxFrameRaw()
	for i := 0; i < w; i++ {
		go func() {
			defer r.wg.Done()
			var buf []byte
			g := groupSamples{sorted: true}
			for j := range jobs {
				if buf == nil {
					buf = make([]byte, 0, maxRaw) // on the first job: some workers get none
					g.buf = buf
				}
				send := func(c *chunk) {
					c.seq = j.seq
					select {
					case j.out <- c:
					case <-r.done:
						c.release()
					}
				}
				if r.wide {
					r.decodeGroup(j.frames, &g, send)
				} else {
					buf = r.decodeFrame(j.frames[0], buf, send)
				}
				close(j.out)
			}
		}()
	}
}

// job is a run of frames that decode together (see groupFrames): seq is
// its place in the order, out where its chunks go.
type job struct {
	seq    int
	frames []int
	out    chan *chunk
}

// decodeFrame decodes one frame into chunks sorted by time and hands each to
// send as it is done: one, or for a wide schema several of at most
// Options.BatchSize rows (see wideBatch). send blocks while the reader is
// behind, so a frame of many wide chunks holds a few at a time, not all.
func (r *Reader) decodeFrame(fi int, buf []byte, send func(*chunk)) []byte {
	info := r.f.Frames[fi]
	capacity := int(info.Samples)
	if capacity > 1<<20 || capacity <= 0 {
		capacity = 4096
	}
	if r.wide {
		capacity = min(capacity, r.opts.BatchSize)
	}
	c := newChunk(len(r.cols), len(r.decs), capacity)
	r.ahead.Add(1)
	data, err := r.f.ReadFrame(fi, buf)
	r.bytesRead.Add(info.CSize)
	if err != nil {
		c.err = fmt.Errorf("frame %d: %w", fi, err)
		send(c)
		return buf
	}
	finish := func(c *chunk) {
		r.noteVarUse(c)
		c.finishRange()
		if !c.sorted {
			c = r.sortChunk(c)
		}
		send(c)
	}
	d := newDecoder(r, c)
	if err := format.ForEachSample(data, func(s *format.Sample) error {
		if r.wide && c.n == r.opts.BatchSize {
			finish(c)
			c = newChunk(len(r.cols), len(r.decs), capacity)
			r.ahead.Add(1)
			d = newDecoder(r, c)
		}
		d.add(s)
		return nil
	}); err != nil {
		c.err = fmt.Errorf("frame %d: %w", fi, err)
	}
	finish(c)
	return data
}
