package format

import (
	"fmt"
	"io"
	"sync"

	"github.com/klauspost/compress/zstd"
)

var (
	decoderOnce sync.Once
	decoder     *zstd.Decoder
	decoderErr  error
)

// frameDecoder returns the shared zstd decoder; DecodeAll is safe for
// concurrent use and bounded to MaxFrameRaw output per call.
func frameDecoder() (*zstd.Decoder, error) {
	decoderOnce.Do(func() {
		decoder, decoderErr = zstd.NewReader(nil,
			zstd.WithDecoderConcurrency(0),
			zstd.WithDecoderMaxMemory(MaxFrameRaw),
			zstd.WithDecoderMaxWindow(MaxFrameRaw))
	})
	return decoder, decoderErr
}

// srcPool recycles compressed-frame buffers between ReadFrame calls.
var srcPool = sync.Pool{New: func() any { return new([]byte) }}

// decodeFrame reads and decompresses the frame at off of csize bytes.
func (f *File) decodeFrame(off, csize int64, dst []byte) ([]byte, error) {
	if csize <= 0 || csize > maxFrameCompressed {
		return nil, fmt.Errorf("frame at offset %d: compressed size %d out of range", off, csize)
	}
	bp := srcPool.Get().(*[]byte)
	defer srcPool.Put(bp)
	if int64(cap(*bp)) < csize {
		*bp = make([]byte, csize)
	}
	src := (*bp)[:csize]
	if n, err := f.ra.ReadAt(src, off); int64(n) != csize {
		if err == nil {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("frame at offset %d: %w", off, err)
	}
	src, err := splitCheck(src)
	if err != nil {
		return nil, fmt.Errorf("frame at offset %d is corrupt (%w)", off, err)
	}
	dec, err := frameDecoder()
	if err != nil {
		return nil, err
	}
	out, err := dec.DecodeAll(src, dst[:0])
	if err != nil {
		return nil, fmt.Errorf("frame at offset %d is corrupt (%w)", off, err)
	}
	return out, nil
}

// ReadFrame returns frame i decompressed, reusing dst. Safe for concurrent use.
func (f *File) ReadFrame(i int, dst []byte) ([]byte, error) {
	if i < 0 || i >= len(f.Frames) {
		return nil, fmt.Errorf("frame %d out of range (%d frames)", i, len(f.Frames))
	}
	fi := f.Frames[i]
	src := f
	if f.parts != nil {
		src = f.parts[fi.Part]
	}
	out, err := src.decodeFrame(fi.Offset, fi.CSize, dst)
	if err != nil {
		if f.parts != nil {
			return nil, fmt.Errorf("%s: sample frame %d: %w", src.path, i, err)
		}
		return nil, fmt.Errorf("sample frame %d: %w", i, err)
	}
	if f.parts != nil && f.remap[fi.Part] != nil {
		renumber(out, f.remap[fi.Part])
	}
	if fi.RawSize != 0 && int64(len(out)) != fi.RawSize {
		return nil, fmt.Errorf("frame %d at offset %d: %d bytes decompressed, index says %d", i, fi.Offset, len(out), fi.RawSize)
	}
	return out, nil
}
