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
	kindVersion    = 1  // binary: u32 major, u32 minor
	kindHost       = 2  // JSON Host
	kindCapture    = 3  // JSON Capture
	kindSources    = 4  // JSON []sourceJSON
	kindSymbols    = 5  // JSON []Symbol
	kindUserFrames = 6  // JSON []UserFrame
	kindComms      = 7  // JSON []Comm
	kindLost       = 8  // JSON []Lost
	kindNotes      = 9  // JSON []string
	kindSet        = 10 // JSON SetInfo
	// 11 is left to other metadata; cgroups take 12 and 13.
	kindCgroups     = 12 // JSON []Cgroup
	kindTaskCgroups = 13 // JSON []TaskCgroup
)

// epbOverhead is the EPB size without packet data and padding.
const epbOverhead = 32

// customOverhead is a kpcap custom block's size without payload and padding:
// type, length, PEN, kind, payload length, trailing length.
const customOverhead = 24

// maxBlockLen bounds any block we accept; our blocks are far smaller.
const maxBlockLen = 64 << 20

func pad4(n int) int { return (n + 3) &^ 3 }

// epbHeaderLen is the EPB header plus the encoded sample's fixed header:
// what putEPB writes before the callchain.
const epbHeaderLen = epbOverhead - 4 + SampleHeaderLen

// putEPB encodes an Enhanced Packet Block holding the sample s into b, which
// must be exactly epbOverhead+pad4(n) bytes long; n is s's encoded length
// (sampleLen). It is the writer's per-sample work, hence the paired stores.
func putEPB(b []byte, s *Sample, n int) {
	blen := len(b)
	_ = b[epbHeaderLen-1]
	// The up to 3 padding bytes lie in the 4 before the trailing length:
	// zero those first, the sample then overwrites what is not padding
	// (with an empty sample, the header does).
	le.PutUint32(b[blen-8:], 0)
	le.PutUint64(b[0:], blockEPB|uint64(blen)<<32)
	le.PutUint64(b[8:], uint64(s.Source)|s.Time>>32<<32)
	le.PutUint64(b[16:], s.Time&0xffffffff|uint64(n)<<32)
	le.PutUint64(b[24:], uint64(n)|uint64(s.CPU)<<32) // original length, then the sample: u32 cpu
	le.PutUint64(b[32:], uint64(s.PID)|uint64(s.TID)<<32)
	var flags uint64
	if s.HasPeriod {
		flags = SampleFlagPeriod
	}
	le.PutUint64(b[40:], flags|uint64(len(s.Raw))<<32) // flags, raw_len
	le.PutUint32(b[48:], uint32(len(s.Callchain)))
	p := b[epbHeaderLen : blen-4]
	for i, ip := range s.Callchain {
		le.PutUint64(p[8*i:], ip)
	}
	copy(p[8*len(s.Callchain):], s.Raw)
	if s.HasPeriod {
		le.PutUint64(p[8*len(s.Callchain)+len(s.Raw):], s.Period)
	}
	le.PutUint32(b[blen-4:], uint32(blen))
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

// appendStringOption appends a string option, unless s is empty (pcapng
// writers omit empty values).
func appendStringOption(dst []byte, code uint16, s string) []byte {
	if s == "" {
		return dst
	}
	s = clipOption(s)
	var h [4]byte
	le.PutUint16(h[0:], code)
	le.PutUint16(h[2:], uint16(len(s)))
	dst = append(dst, h[:]...)
	dst = append(dst, s...)
	for i := len(s); i < pad4(len(s)); i++ {
		dst = append(dst, 0)
	}
	return dst
}

// appendU64Option appends an option holding a u64.
func appendU64Option(dst []byte, code uint16, v uint64) []byte {
	var b [8]byte
	le.PutUint64(b[:], v)
	return appendOption(dst, code, b[:])
}

// appendTimeOption appends an option holding a pcapng timestamp: the high
// and low u32 halves of v.
func appendTimeOption(dst []byte, code uint16, v uint64) []byte {
	var b [8]byte
	le.PutUint32(b[0:], uint32(v>>32))
	le.PutUint32(b[4:], uint32(v))
	return appendOption(dst, code, b[:])
}

// beginBlock appends a block's type and a length placeholder; endBlock
// closes it once the body is appended.
func beginBlock(dst []byte, typ uint32) ([]byte, int) {
	var h [8]byte
	le.PutUint32(h[0:], typ)
	return append(dst, h[:]...), len(dst)
}

// endBlock appends the end-of-options option if the body since optStart
// has options, then the trailing length, and fills in the leading length.
func endBlock(dst []byte, start, optStart int) []byte {
	if len(dst) > optStart {
		dst = appendOption(dst, optEnd, nil)
	}
	blen := len(dst) + 4 - start
	var t [4]byte
	le.PutUint32(t[:], uint32(blen))
	dst = append(dst, t[:]...)
	le.PutUint32(dst[start+4:], uint32(blen))
	return dst
}

// appendSHB appends a Section Header Block: little-endian, version 1.0,
// section length unknown, options shb_userappl, shb_hardware and shb_os
// (the order gopacket's pcapgo writes them in; empty ones are left out).
func appendSHB(dst []byte, hardware, os, appl string) []byte {
	dst, start := beginBlock(dst, blockSHB)
	var h [16]byte
	le.PutUint32(h[0:], byteOrderMagic)
	le.PutUint16(h[4:], 1)
	le.PutUint16(h[6:], 0)
	le.PutUint64(h[8:], ^uint64(0))
	dst = append(dst, h[:]...)
	opts := len(dst)
	dst = appendStringOption(dst, optUserAppl, appl)
	dst = appendStringOption(dst, optHardware, hardware)
	dst = appendStringOption(dst, optOS, os)
	return endBlock(dst, start, opts)
}

// appendIDB appends the Interface Description Block of one event source:
// link type LinkType, no snap length, options if_name, if_description,
// if_filter (a 0 byte, then the filter), if_tsoffset (seconds, if not 0)
// and if_tsresol 9 (nanoseconds).
func appendIDB(dst []byte, s *Source, tsoffset uint64) []byte {
	dst, start := beginBlock(dst, blockIDB)
	var h [8]byte
	le.PutUint16(h[0:], LinkType)
	// h[2:4] reserved, h[4:8] snaplen 0: no limit
	dst = append(dst, h[:]...)
	opts := len(dst)
	dst = appendStringOption(dst, optIfName, s.Name)
	dst = appendStringOption(dst, optIfDesc, s.Definition)
	if s.Filter != "" {
		// The first byte says how the filter is expressed: 0 = libpcap
		// filter string, the closest pcapng has to an ftrace filter.
		f := s.Filter[:min(len(s.Filter), 65531)]
		var oh [5]byte
		le.PutUint16(oh[0:], optIfFilter)
		le.PutUint16(oh[2:], uint16(1+len(f)))
		dst = append(dst, oh[:]...)
		dst = append(dst, f...)
		for i := 1 + len(f); i < pad4(1+len(f)); i++ {
			dst = append(dst, 0)
		}
	}
	if tsoffset != 0 {
		dst = appendU64Option(dst, optIfTsoffset, tsoffset)
	}
	dst = appendOption(dst, optIfTsresol, []byte{9})
	return endBlock(dst, start, opts)
}

// appendISB appends the Interface Statistics Block of one source: the end
// time as the block's timestamp and options isb_starttime and isb_endtime
// (when known), isb_ifdrop and isb_ifrecv.
func appendISB(dst []byte, st *Stats) []byte {
	dst, start := beginBlock(dst, blockISB)
	var ts uint64
	if st.StartNS != 0 || st.EndNS != 0 {
		ts = st.EndNS
	}
	var h [12]byte
	le.PutUint32(h[0:], st.Source)
	le.PutUint32(h[4:], uint32(ts>>32))
	le.PutUint32(h[8:], uint32(ts))
	dst = append(dst, h[:]...)
	opts := len(dst)
	if st.StartNS != 0 || st.EndNS != 0 {
		dst = appendTimeOption(dst, optIsbStart, st.StartNS)
		dst = appendTimeOption(dst, optIsbEnd, st.EndNS)
	}
	dst = appendU64Option(dst, optIsbDrop, st.Dropped)
	dst = appendU64Option(dst, optIsbRecv, st.Received)
	return endBlock(dst, start, opts)
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
