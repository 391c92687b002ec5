package format

import "fmt"

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
