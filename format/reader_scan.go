package format

import (
	"bytes"
	"errors"
	"fmt"
)

// openScan reads a file without a usable index: it walks the zstd frames
// from the start, keeps every frame that decodes, and warns about the rest.
func (f *File) openScan() error {
	st := scanState{counts: map[uint32]*Stats{}}
	for pos, frameNo := int64(0), 0; pos < f.Size; frameNo++ {
		n, decode, err := f.nextScanFrame(&st, pos, frameNo)
		if err != nil {
			return err
		}
		if decode {
			if err := f.readScanFrame(&st, pos, n, frameNo); err != nil {
				return err
			}
		}
		pos += n
	}
	st.seen.report(f)
	// Samples decide the stats of sources without an ISB (see finish).
	f.scanCounts = st.counts
	return nil
}

// scanState is what openScan carries from one frame to the next.
type scanState struct {
	buf     []byte
	counts  map[uint32]*Stats
	grouped bool // format 1.1: data frames end with a check frame
	seen    frameSeen
}

// nextScanFrame finds the frame at pos and says how many bytes the scan
// moves past and whether they are a frame to decode. Damage past the first
// frame is warned about and skipped (a truncated tail to the end of the
// file); damage in the first frame means the file is not a trace.
func (f *File) nextScanFrame(st *scanState, pos int64, frameNo int) (n int64, decode bool, err error) {
	zf, err := scanFrame(f.readAt, pos, f.Size)
	if err == nil && !zf.skippable {
		if frameNo == 0 {
			// Format 1.0 frames carry zstd's content checksum; 1.1
			// data frames are zstd frames without it, ended by a
			// check frame.
			st.grouped = !zf.checksum
		}
		if st.grouped {
			var size int64
			size, err = f.dataFrameAt(pos, zf.size)
			zf = zframe{size: size, contentSize: -1}
			if err != nil && err != errTruncFrame {
				if frameNo == 0 {
					return 0, false, fmt.Errorf("%w: bad first frame: %v", ErrNotTrace, err)
				}
				f.warn("data frame at offset %d: %v; skipped %d bytes", pos, err, size)
				return size, false, nil
			}
		}
	}
	switch {
	case err == errTruncFrame:
		if frameNo == 0 {
			return 0, false, fmt.Errorf("%w: the first frame is incomplete (file of %d bytes)", ErrNotTrace, f.Size)
		}
		f.warn("file truncated: the last %d bytes (an incomplete frame at offset %d) were ignored", f.Size-pos, pos)
		return f.Size - pos, false, nil
	case err != nil:
		if frameNo == 0 {
			return 0, false, fmt.Errorf("%w: bad zstd frame at offset 0: %v", ErrNotTrace, err)
		}
		next := f.findMagic(pos + 1)
		f.warn("unreadable data at offset %d (%v): skipped %d bytes", pos, err, next-pos)
		return next - pos, false, nil
	case zf.skippable:
		return zf.size, false, nil
	case zf.contentSize > MaxFrameRaw:
		f.warn("frame at offset %d claims %d decompressed bytes, over the %d limit: skipped", pos, zf.contentSize, MaxFrameRaw)
		return zf.size, false, nil
	}
	return zf.size, true, nil
}

// readScanFrame decodes the frame of size bytes at pos and takes its
// samples and metadata; the first frame must be the header frame. A frame
// that repeats an earlier one or does not decode is skipped with a warning.
func (f *File) readScanFrame(st *scanState, pos, size int64, frameNo int) error {
	var err error
	st.buf, err = f.decodeFrame(pos, size, st.buf)
	if err != nil {
		if frameNo == 0 {
			return fmt.Errorf("%w: cannot read the header frame: %v", ErrNotTrace, err)
		}
		f.warn("%v; skipped", err)
		return nil
	}
	if frameNo == 0 {
		if err := f.readHeaderFrame(st.buf); err != nil {
			return err
		}
	} else if st.seen.repeat(st.buf, pos, size) {
		return nil
	}
	info := FrameInfo{Offset: pos, CSize: size, RawSize: int64(len(st.buf))}
	meta, err := scanSamples(st.buf, &info, st.counts)
	if err != nil {
		f.warn("frame at offset %d: %v; its samples were skipped", pos, err)
		return nil
	}
	f.RawBytes += info.RawSize
	if meta && frameNo != 0 {
		if err := f.readMeta(st.buf, pos); err != nil {
			f.warn("metadata frame at offset %d: %v", pos, err)
		}
	}
	if info.Samples > 0 {
		f.Frames = append(f.Frames, info)
	} else {
		f.MetaFrames++
	}
	return nil
}

// errNoCheck reports zstd frames that no check frame ends.
var errNoCheck = errors.New("zstd frames without their check frame")

// dataFrameAt returns the size of the format 1.1 data frame at pos, whose
// first zstd frame is first bytes: the zstd frames up to and including the
// check frame that ends it. errTruncFrame means the file ends inside it.
func (f *File) dataFrameAt(pos, first int64) (int64, error) {
	size := first
	for {
		zf, err := scanFrame(f.readAt, pos+size, f.Size)
		switch {
		case err == errTruncFrame:
			return size, err
		case err != nil:
			return size, errNoCheck
		case zf.skippable && zf.magic == checkMagic && zf.size == checkFrameLen:
			return size + checkFrameLen, nil
		case zf.skippable:
			return size, errNoCheck
		}
		size += zf.size
		if size > maxFrameCompressed {
			return size, fmt.Errorf("no check frame within %d bytes", maxFrameCompressed)
		}
	}
}

// scanSamples walks a frame's blocks, filling info and per-source counts of
// its EPBs. It reports whether the frame holds other blocks.
func scanSamples(buf []byte, info *FrameInfo, counts map[uint32]*Stats) (meta bool, err error) {
	local := map[uint32]*Stats{}
	var s Sample
	for off := 0; off < len(buf); {
		b, next, err := nextBlock(buf, off)
		if err != nil {
			return false, fmt.Errorf("block at raw offset %d: %w", off, err)
		}
		off = next
		if b.typ != blockEPB {
			meta = true
			continue
		}
		if err := epbSample(b.body, &s); err != nil {
			return false, fmt.Errorf("sample at raw offset %d: %w", off, err)
		}
		if info.Samples == 0 || s.Time < info.FirstNS {
			info.FirstNS = s.Time
		}
		if s.Time > info.LastNS {
			info.LastNS = s.Time
		}
		info.Samples++
		c := local[s.Source]
		if c == nil {
			if len(local) >= 1<<20 {
				return false, errors.New("too many interface ids")
			}
			c = &Stats{Source: s.Source, StartNS: s.Time}
			local[s.Source] = c
		}
		c.Received++
		c.StartNS = min(c.StartNS, s.Time)
		c.EndNS = max(c.EndNS, s.Time)
	}
	for id, c := range local {
		g := counts[id]
		if g == nil {
			counts[id] = c
			continue
		}
		g.Received += c.Received
		g.StartNS = min(g.StartNS, c.StartNS)
		g.EndNS = max(g.EndNS, c.EndNS)
	}
	return meta, nil
}

// findMagic returns the offset of the next zstd frame or check frame magic
// at or after off, or the file size.
func (f *File) findMagic(off int64) int64 {
	var m, c [4]byte
	le.PutUint32(m[:], zstdMagic)
	le.PutUint32(c[:], checkMagic)
	buf := make([]byte, 64<<10)
	for off < f.Size {
		n := f.readAt(buf, off)
		if n < 4 {
			break
		}
		// The first zstd frame or check frame (which leads a data frame).
		i, j := bytes.Index(buf[:n], m[:]), bytes.Index(buf[:n], c[:])
		if i < 0 || (j >= 0 && j < i) {
			i = j
		}
		if i >= 0 {
			return off + int64(i)
		}
		off += int64(n - 3)
	}
	return f.Size
}
