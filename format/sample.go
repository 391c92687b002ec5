package format

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// MaxSampleLen bounds one encoded sample (EPB packet data). perf records are
// at most 64 KiB; the bound keeps a hostile file from asking for huge buffers.
const MaxSampleLen = 1 << 20

// MaxCallchain is the most ips one sample may carry. The kernel stores 127
// by default (kernel.perf_event_max_stack) and a perf record, whose size is
// a u16, holds at most 8189 u64s: every real callchain fits.
const MaxCallchain = 8192

var le = binary.LittleEndian

// SampleFlagPeriod is the sample flag bit saying that a u64 period follows
// the raw payload (format 1.2).
const SampleFlagPeriod = 1 << 0

// periodLen is the size of the optional period after the raw payload.
func periodLen(s *Sample) int {
	if s.HasPeriod {
		return 8
	}
	return 0
}

// AppendSample appends the versioned little-endian encoding of s (without
// Source and Time, which live in the EPB) to dst: u32 cpu, u32 pid, u32 tid,
// u32 flags, u32 raw_len, u32 nr_ips, then nr_ips u64 ips, then raw_len
// bytes, then (flag SampleFlagPeriod) the u64 period. Readers ignore flag
// bits they do not know.
func AppendSample(dst []byte, s *Sample) []byte {
	n := SampleHeaderLen + 8*len(s.Callchain) + len(s.Raw) + periodLen(s)
	off := len(dst)
	if cap(dst)-off < n {
		nd := make([]byte, off, 2*cap(dst)+n)
		copy(nd, dst)
		dst = nd
	}
	dst = dst[:off+n]
	putSample(dst[off:], s)
	return dst
}

// putSample encodes s into b, which must be exactly its encoded length.
func putSample(b []byte, s *Sample) {
	_ = b[SampleHeaderLen-1]
	le.PutUint32(b[0:], s.CPU)
	le.PutUint32(b[4:], s.PID)
	le.PutUint32(b[8:], s.TID)
	var flags uint32
	if s.HasPeriod {
		flags |= SampleFlagPeriod
	}
	le.PutUint32(b[12:], flags)
	le.PutUint32(b[16:], uint32(len(s.Raw)))
	le.PutUint32(b[20:], uint32(len(s.Callchain)))
	p := b[SampleHeaderLen:]
	for i, ip := range s.Callchain {
		le.PutUint64(p[8*i:], ip)
	}
	copy(p[8*len(s.Callchain):], s.Raw)
	if s.HasPeriod {
		le.PutUint64(p[8*len(s.Callchain)+len(s.Raw):], s.Period)
	}
}

// errShortSample and friends are static so that decoding bad data does not allocate.
var (
	errShortSample = errors.New("sample shorter than its 24-byte header")
	errSampleLens  = errors.New("sample lengths exceed its data")
	errDeepChain   = fmt.Errorf("sample callchain deeper than %d entries", MaxCallchain)
)

// DecodeSample decodes EPB packet data into s (Raw aliases data; Callchain
// reuses s.Callchain's storage). It never panics on hostile bytes. Source and
// Time are left as they are: they come from the EPB. Bytes after the raw
// payload (and the period) are reserved for later minor versions and ignored.
func DecodeSample(data []byte, s *Sample) error {
	if len(data) < SampleHeaderLen {
		return errShortSample
	}
	flags := le.Uint32(data[12:])
	rawLen := uint64(le.Uint32(data[16:]))
	nips := uint64(le.Uint32(data[20:]))
	avail := uint64(len(data) - SampleHeaderLen)
	if nips > avail/8 || rawLen > avail-8*nips {
		return errSampleLens
	}
	if nips > MaxCallchain {
		return errDeepChain
	}
	s.Period, s.HasPeriod = 1, false
	if flags&SampleFlagPeriod != 0 {
		end := 8*nips + rawLen
		if avail-end < 8 {
			return errSampleLens
		}
		s.Period, s.HasPeriod = le.Uint64(data[SampleHeaderLen+end:]), true
	}
	s.CPU = le.Uint32(data[0:])
	s.PID = le.Uint32(data[4:])
	s.TID = le.Uint32(data[8:])
	p := data[SampleHeaderLen:]
	cc := s.Callchain[:0]
	if n := int(nips); n > 0 {
		if cap(cc) < n {
			cc = make([]uint64, 0, n)
		}
		cc = cc[:n]
		for i := range cc {
			cc[i] = le.Uint64(p[8*i:])
		}
	}
	s.Callchain = cc
	s.Raw = p[8*nips : 8*nips+rawLen : 8*nips+rawLen]
	return nil
}

// sampleLen returns the encoded length of s or an error if it is too big.
func sampleLen(s *Sample) (int, error) {
	if len(s.Callchain) > MaxCallchain {
		return 0, fmt.Errorf("sample has %d callchain entries, more than %d", len(s.Callchain), MaxCallchain)
	}
	n := SampleHeaderLen + 8*len(s.Callchain) + len(s.Raw) + periodLen(s)
	if n > MaxSampleLen {
		return 0, fmt.Errorf("sample of %d bytes exceeds the %d-byte limit", n, MaxSampleLen)
	}
	return n, nil
}
