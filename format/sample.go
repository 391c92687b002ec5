package format

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// MaxSampleLen bounds one encoded sample (EPB packet data). perf records are
// at most 64 KiB; the bound keeps a hostile file from asking for huge buffers.
const MaxSampleLen = 1 << 20

// maxCallchain is the most ips one sample may carry (perf caps at 127 by
// default and at kernel.perf_event_max_stack, at most 65535).
const maxCallchain = 65535

var le = binary.LittleEndian

// AppendSample appends the versioned little-endian encoding of s (without
// Source and Time, which live in the EPB) to dst: u32 cpu, u32 pid, u32 tid,
// u32 flags, u32 raw_len, u32 nr_ips, then nr_ips u64 ips, then raw_len bytes.
// flags is 0 in format 1.0; readers ignore bits they do not know.
func AppendSample(dst []byte, s *Sample) []byte {
	n := SampleHeaderLen + 8*len(s.Callchain) + len(s.Raw)
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
	le.PutUint32(b[12:], 0)
	le.PutUint32(b[16:], uint32(len(s.Raw)))
	le.PutUint32(b[20:], uint32(len(s.Callchain)))
	p := b[SampleHeaderLen:]
	for i, ip := range s.Callchain {
		le.PutUint64(p[8*i:], ip)
	}
	copy(p[8*len(s.Callchain):], s.Raw)
}

// errShortSample and friends are static so that decoding bad data does not allocate.
var (
	errShortSample = errors.New("sample shorter than its 24-byte header")
	errSampleLens  = errors.New("sample lengths exceed its data")
)

// DecodeSample decodes EPB packet data into s (Raw aliases data; Callchain
// reuses s.Callchain's storage). It never panics on hostile bytes. Source and
// Time are left as they are: they come from the EPB. Bytes after the raw
// payload are reserved for later minor versions and ignored.
func DecodeSample(data []byte, s *Sample) error {
	if len(data) < SampleHeaderLen {
		return errShortSample
	}
	rawLen := uint64(le.Uint32(data[16:]))
	nips := uint64(le.Uint32(data[20:]))
	avail := uint64(len(data) - SampleHeaderLen)
	if nips > avail/8 || rawLen > avail-8*nips {
		return errSampleLens
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
	if len(s.Callchain) > maxCallchain {
		return 0, fmt.Errorf("sample has %d callchain entries, more than %d", len(s.Callchain), maxCallchain)
	}
	n := SampleHeaderLen + 8*len(s.Callchain) + len(s.Raw)
	if n > MaxSampleLen {
		return 0, fmt.Errorf("sample of %d bytes exceeds the %d-byte limit", n, MaxSampleLen)
	}
	return n, nil
}
