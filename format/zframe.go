package format

import (
	"errors"
	"fmt"
	"hash/crc32"
)

// zstd frame magics (RFC 8878).
const (
	zstdMagic          = 0xFD2FB528
	skippableMagicMask = 0xFFFFFFF0
	skippableMagicBase = 0x184D2A50
	// indexMagic is the skippable-frame magic of kpcap's seek index. It is
	// not 0x184D2A5E so that zstd's seekable-format tools do not mistake our
	// index for theirs.
	indexMagic = 0x184D2A5B
	// checkMagic is the skippable-frame magic of a data frame's check frame,
	// which ends it: payload u32 CRC-32C (Castagnoli) and u32 length of the
	// zstd frames before it that make up the data frame.
	checkMagic = 0x184D2A5C
	// checkFrameLen is a check frame's size: header and payload.
	checkFrameLen = 16
)

// castagnoli is the CRC-32C table; hash/crc32 computes it with SSE4.2 or
// ARMv8 CRC instructions where the CPU has them.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// appendCheck appends to z, the zstd frames of one data frame, its check
// frame.
func appendCheck(z []byte) []byte {
	var c [checkFrameLen]byte
	le.PutUint32(c[0:], checkMagic)
	le.PutUint32(c[4:], 8)
	le.PutUint32(c[8:], crc32.Checksum(z, castagnoli))
	le.PutUint32(c[12:], uint32(len(z)))
	return append(z, c[:]...)
}

// splitCheck verifies a data frame that ends with a check frame (format
// 1.1) and returns its zstd frames; src without one (format 1.0: a single
// zstd frame with zstd's content checksum) is returned whole.
func splitCheck(src []byte) ([]byte, error) {
	n := len(src) - checkFrameLen
	if n < 0 || le.Uint32(src[n:]) != checkMagic || le.Uint32(src[n+4:]) != 8 {
		return src, nil
	}
	z, c := src[:n], src[n:]
	if l := le.Uint32(c[12:]); int64(l) != int64(n) {
		return nil, fmt.Errorf("%w: the check frame covers %d bytes, the data frame has %d", errChecksum, l, n)
	}
	if got, want := crc32.Checksum(z, castagnoli), le.Uint32(c[8:]); got != want {
		return nil, fmt.Errorf("%w: CRC-32C %08x, its check frame says %08x", errChecksum, got, want)
	}
	return z, nil
}

var errChecksum = errors.New("checksum mismatch")

// zframe is the structure of one zstd frame found by scanning headers
// without decompressing.
type zframe struct {
	size        int64 // compressed bytes, header to checksum
	contentSize int64 // from the frame header, -1 if absent
	skippable   bool
	magic       uint32 // for skippable frames
	checksum    bool   // zstd content checksum present (format 1.0)
	blocks      int    // zstd blocks in the frame
}

var errNotZstd = errors.New("not a zstd frame")

// readAtFunc reads len(p) bytes at off, like io.ReaderAt but returning the
// count read (short at end of file) and no error for short reads.
type readAtFunc func(p []byte, off int64) int

// scanFrame walks the frame starting at off using only its headers, reading
// through ra, so that frame bounds are known without decompressing. It
// returns errNotZstd if no frame magic is at off, and io-style truncation
// errors if the frame runs past end.
func scanFrame(ra readAtFunc, off, end int64) (zframe, error) {
	var h [18]byte
	n := ra(h[:], off)
	if n < 4 {
		return zframe{}, errTruncFrame
	}
	magic := le.Uint32(h[:])
	if magic&skippableMagicMask == skippableMagicBase {
		if n < 8 {
			return zframe{}, errTruncFrame
		}
		sz := 8 + int64(le.Uint32(h[4:]))
		if off+sz > end {
			return zframe{}, errTruncFrame
		}
		return zframe{size: sz, contentSize: -1, skippable: true, magic: magic}, nil
	}
	if magic != zstdMagic {
		return zframe{}, errNotZstd
	}
	hlen, cs, hasCRC, err := frameHeader(h[:n])
	if err != nil {
		return zframe{}, err
	}
	pos, blocks, err := skipBlocks(ra, off+int64(hlen), end)
	if err != nil {
		return zframe{}, err
	}
	if hasCRC {
		pos += 4
	}
	if pos > end {
		return zframe{}, errTruncFrame
	}
	return zframe{size: pos - off, contentSize: cs, checksum: hasCRC, blocks: blocks}, nil
}

// frameHeader decodes the zstd frame header at the start of h (the bytes
// read, magic included): its length, the content size it declares (-1 if
// none) and whether the frame ends with a content checksum.
func frameHeader(h []byte) (hlen int, contentSize int64, hasCRC bool, err error) {
	if len(h) < 5 {
		return 0, 0, false, errTruncFrame
	}
	fhd := h[4]
	if fhd&0x08 != 0 {
		return 0, 0, false, errors.New("zstd frame header: reserved bit set")
	}
	single := fhd&0x20 != 0
	hasCRC = fhd&0x04 != 0
	hlen = 5
	if !single {
		hlen++ // window descriptor
	}
	didLen := [4]int{0, 1, 2, 4}[fhd&3]
	hlen += didLen
	fcsLen := [4]int{0, 2, 4, 8}[fhd>>6]
	if fcsLen == 0 && single {
		fcsLen = 1
	}
	hlen += fcsLen
	if len(h) < hlen {
		return 0, 0, false, errTruncFrame
	}
	contentSize = -1
	if fcsLen > 0 {
		p := h[hlen-fcsLen : hlen]
		var v uint64
		for i := len(p) - 1; i >= 0; i-- {
			v = v<<8 | uint64(p[i])
		}
		if fcsLen == 2 {
			v += 256
		}
		if v > 1<<62 {
			v = 1 << 62
		}
		contentSize = int64(v)
	}
	return hlen, contentSize, hasCRC, nil
}

// skipBlocks walks the zstd blocks from pos by their 3-byte headers up to
// the last one and returns the offset after it and the blocks counted.
func skipBlocks(ra readAtFunc, pos, end int64) (int64, int, error) {
	for blocks := 1; ; blocks++ {
		var bh [3]byte
		if ra(bh[:], pos) < 3 {
			return 0, 0, errTruncFrame
		}
		v := uint32(bh[0]) | uint32(bh[1])<<8 | uint32(bh[2])<<16
		last := v&1 != 0
		btype := (v >> 1) & 3
		bsize := int64(v >> 3)
		switch btype {
		case 1: // RLE: one byte on disk
			bsize = 1
		case 3:
			return 0, 0, fmt.Errorf("zstd block at offset %d: reserved block type", pos)
		}
		if bsize > 128<<10 {
			return 0, 0, fmt.Errorf("zstd block at offset %d: size %d over 128 KiB", pos, bsize)
		}
		pos += 3 + bsize
		if pos > end {
			return 0, 0, errTruncFrame
		}
		if last {
			return pos, blocks, nil
		}
	}
}

var errTruncFrame = errors.New("truncated zstd frame")

// appendSkippable appends a skippable frame with the given magic and payload.
func appendSkippable(dst []byte, magic uint32, payload []byte) []byte {
	var h [8]byte
	le.PutUint32(h[0:], magic)
	le.PutUint32(h[4:], uint32(len(payload)))
	dst = append(dst, h[:]...)
	return append(dst, payload...)
}
