package format

import (
	"errors"
	"fmt"
)

// pcapng block types used by kpcap.
const (
	blockSHB    = 0x0A0D0D0A
	blockIDB    = 0x00000001
	blockISB    = 0x00000005
	blockEPB    = 0x00000006
	blockCustom = 0x00000BAD // copyable custom block
	// blockCustomNoCopy is the "do not copy" custom block; kpcap does not
	// write it but reads it like blockCustom.
	blockCustomNoCopy = 0x40000BAD

	byteOrderMagic = 0x1A2B3C4D
)

// pcapng option codes.
const (
	optEnd      = 0
	optComment  = 1
	optHardware = 2 // SHB
	optOS       = 3 // SHB
	optUserAppl = 4 // SHB

	optIfName     = 2 // IDB
	optIfDesc     = 3
	optIfTsresol  = 9
	optIfFilter   = 11
	optIfOS       = 12
	optIfTsoffset = 14

	optIsbStart = 2 // ISB
	optIsbEnd   = 3
	optIsbRecv  = 4
	optIsbDrop  = 5
)

// Custom block kinds: the u32 that follows the PEN in every kpcap custom
// block. FORMAT.md describes each payload.
const (
	kindVersion    = 1 // binary: u32 major, u32 minor
	kindHost       = 2 // JSON Host
	kindCapture    = 3 // JSON Capture
	kindSources    = 4 // JSON []sourceJSON
	kindSymbols    = 5 // JSON []Symbol
	kindUserFrames = 6 // JSON []UserFrame
	kindComms      = 7 // JSON []Comm
	kindLost       = 8 // JSON []Lost
	kindNotes      = 9 // JSON []string
)

// epbOverhead is the EPB size without packet data and padding.
const epbOverhead = 32

// customOverhead is a kpcap custom block's size without payload and padding:
// type, length, PEN, kind, payload length, trailing length.
const customOverhead = 24

// maxBlockLen bounds any block we accept; our blocks are far smaller.
const maxBlockLen = 64 << 20

func pad4(n int) int { return (n + 3) &^ 3 }

// appendEPB appends an Enhanced Packet Block holding the encoded sample s.
// n must be s's encoded length (sampleLen).
func appendEPB(dst []byte, s *Sample, n int) []byte {
	blen := epbOverhead + pad4(n)
	off := len(dst)
	if cap(dst)-off < blen {
		nd := make([]byte, off, 2*cap(dst)+blen)
		copy(nd, dst)
		dst = nd
	}
	b := dst[off : off+blen]
	le.PutUint32(b[0:], blockEPB)
	le.PutUint32(b[4:], uint32(blen))
	le.PutUint32(b[8:], s.Source)
	le.PutUint32(b[12:], uint32(s.Time>>32))
	le.PutUint32(b[16:], uint32(s.Time))
	le.PutUint32(b[20:], uint32(n))
	le.PutUint32(b[24:], uint32(n))
	putSample(b[28:28+n], s)
	for i := 28 + n; i < blen-4; i++ {
		b[i] = 0
	}
	le.PutUint32(b[blen-4:], uint32(blen))
	return dst[:off+blen]
}

// appendCustom appends a kpcap custom block of the given kind and payload.
func appendCustom(dst []byte, kind uint32, payload []byte) []byte {
	blen := customOverhead + pad4(len(payload))
	var h [20]byte
	le.PutUint32(h[0:], blockCustom)
	le.PutUint32(h[4:], uint32(blen))
	le.PutUint32(h[8:], PEN)
	le.PutUint32(h[12:], kind)
	le.PutUint32(h[16:], uint32(len(payload)))
	dst = append(dst, h[:]...)
	dst = append(dst, payload...)
	for i := len(payload); i < pad4(len(payload)); i++ {
		dst = append(dst, 0)
	}
	var t [4]byte
	le.PutUint32(t[:], uint32(blen))
	return append(dst, t[:]...)
}

// appendOption appends one pcapng option with padding.
func appendOption(dst []byte, code uint16, val []byte) []byte {
	var h [4]byte
	le.PutUint16(h[0:], code)
	le.PutUint16(h[2:], uint16(len(val)))
	dst = append(dst, h[:]...)
	dst = append(dst, val...)
	for i := len(val); i < pad4(len(val)); i++ {
		dst = append(dst, 0)
	}
	return dst
}

// appendSHB appends a Section Header Block. pcapgo writes it when the trace
// has sources; this covers a trace without any.
func appendSHB(dst []byte, hardware, os, appl string) []byte {
	var opts []byte
	for _, o := range []struct {
		code uint16
		v    string
	}{{optHardware, hardware}, {optOS, os}, {optUserAppl, appl}} {
		if o.v != "" {
			opts = appendOption(opts, o.code, []byte(clipOption(o.v)))
		}
	}
	if len(opts) > 0 {
		opts = appendOption(opts, optEnd, nil)
	}
	blen := 28 + len(opts)
	var h [24]byte
	le.PutUint32(h[0:], blockSHB)
	le.PutUint32(h[4:], uint32(blen))
	le.PutUint32(h[8:], byteOrderMagic)
	le.PutUint16(h[12:], 1)
	le.PutUint16(h[14:], 0)
	le.PutUint64(h[16:], ^uint64(0))
	dst = append(dst, h[:]...)
	dst = append(dst, opts...)
	var t [4]byte
	le.PutUint32(t[:], uint32(blen))
	return append(dst, t[:]...)
}

// clipOption shortens s to fit a pcapng option (u16 length).
func clipOption(s string) string {
	const max = 65532
	if len(s) > max {
		return s[:max]
	}
	return s
}

// block is one pcapng block inside a decompressed frame.
type block struct {
	typ  uint32
	body []byte // between the leading length and the trailing length
}

var (
	errBlockTrunc = errors.New("truncated pcapng block")
	errBlockLen   = errors.New("bad pcapng block length")
)

// nextBlock parses the block at buf[off:] and returns it and the offset of
// the block after it. It checks both length fields.
func nextBlock(buf []byte, off int) (block, int, error) {
	if len(buf)-off < 12 {
		return block{}, off, errBlockTrunc
	}
	typ := le.Uint32(buf[off:])
	n := le.Uint32(buf[off+4:])
	if n < 12 || n%4 != 0 || n > maxBlockLen {
		return block{}, off, errBlockLen
	}
	if uint64(len(buf)-off) < uint64(n) {
		return block{}, off, errBlockTrunc
	}
	end := off + int(n)
	if le.Uint32(buf[end-4:]) != n {
		return block{}, off, errBlockLen
	}
	return block{typ: typ, body: buf[off+8 : end-4]}, end, nil
}

// forEachOption calls fn for every option in opts until the end option.
// Malformed options end the walk with an error.
func forEachOption(opts []byte, fn func(code uint16, val []byte)) error {
	for len(opts) > 0 {
		if len(opts) < 4 {
			return errors.New("truncated pcapng option")
		}
		code := le.Uint16(opts)
		n := int(le.Uint16(opts[2:]))
		if code == optEnd {
			return nil
		}
		if len(opts)-4 < n {
			return fmt.Errorf("pcapng option %d of %d bytes overruns its block", code, n)
		}
		fn(code, opts[4:4+n])
		adv := 4 + pad4(n)
		if adv > len(opts) {
			adv = len(opts)
		}
		opts = opts[adv:]
	}
	return nil
}

// customPayload returns the kind and payload of a kpcap custom block body, or
// ok=false if it is another vendor's block.
func customPayload(body []byte) (kind uint32, payload []byte, ok bool, err error) {
	if len(body) < 4 || le.Uint32(body) != PEN {
		return 0, nil, false, nil
	}
	if len(body) < 12 {
		return 0, nil, false, errors.New("kpcap custom block too short")
	}
	kind = le.Uint32(body[4:])
	n := uint64(le.Uint32(body[8:]))
	if n > uint64(len(body)-12) {
		return 0, nil, false, fmt.Errorf("kpcap custom block kind %d: payload length %d exceeds block", kind, n)
	}
	return kind, body[12 : 12+n], true, nil
}

// epbSample fills s from an EPB body.
func epbSample(body []byte, s *Sample) error {
	if len(body) < 20 {
		return errors.New("enhanced packet block too short")
	}
	capLen := uint64(le.Uint32(body[12:]))
	if capLen > uint64(len(body)-20) {
		return errors.New("enhanced packet block: captured length exceeds block")
	}
	s.Source = le.Uint32(body)
	s.Time = uint64(le.Uint32(body[4:]))<<32 | uint64(le.Uint32(body[8:]))
	return DecodeSample(body[20:20+capLen], s)
}
