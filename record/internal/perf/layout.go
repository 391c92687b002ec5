package perf

import "encoding/binary"

// Record types kpcap reads (uapi perf_event_type).
const (
	RecordMmap        = 1
	RecordLost        = 2
	RecordComm        = 3
	RecordExit        = 4
	RecordFork        = 7
	RecordSample      = 9
	RecordLostSamples = 13
	RecordCgroup      = 19 // PERF_RECORD_CGROUP, Linux 5.7+
)

// MiscCommExec marks a COMM record caused by exec.
const MiscCommExec = 1 << 13

// Callchain context markers: any ip >= ContextMax is a marker.
const (
	ContextKernel = ^uint64(128) + 1 // (u64)-128
	ContextUser   = ^uint64(512) + 1 // (u64)-512
	ContextMax    = ^uint64(4095) + 1
)

// HeaderLen is the size of struct perf_event_header.
const HeaderLen = 8

// sampleIDLen is the sample_id trailer of non-sample records for
// TID|TIME|CPU|IDENTIFIER: {pid, tid}, time, {cpu, res}, identifier.
const sampleIDLen = 32

// sampleTimeLen is what RecordTime needs of a SAMPLE: identifier, {pid,
// tid}, time, {cpu, res} after the header.
const sampleTimeLen = HeaderLen + 32

// sampleFixedLen is identifier, {pid, tid}, time, {cpu, res}, period after
// the header.
const sampleFixedLen = HeaderLen + 40

var ne = binary.NativeEndian

// RecordHeader returns the type, misc and size of the record at b[0:8].
func RecordHeader(b []byte) (typ uint32, misc uint16, size uint16) {
	return ne.Uint32(b), ne.Uint16(b[4:]), ne.Uint16(b[6:])
}

// RecordTime returns the time and identifier of a record of kpcap's layout.
// ok is false when the record is too short to hold them.
func RecordTime(rec []byte) (time, id uint64, ok bool) {
	typ := ne.Uint32(rec)
	if typ == RecordSample {
		if len(rec) < sampleTimeLen {
			return 0, 0, false
		}
		return ne.Uint64(rec[24:]), ne.Uint64(rec[8:]), true
	}
	if len(rec) < HeaderLen+sampleIDLen {
		return 0, 0, false
	}
	n := len(rec)
	return ne.Uint64(rec[n-24:]), ne.Uint64(rec[n-8:]), true
}

// TrailerCPU returns the CPU in a non-sample record's sample_id trailer.
func TrailerCPU(rec []byte) uint32 { return ne.Uint32(rec[len(rec)-16:]) }

// Sample is a SAMPLE record parsed in place: Raw and the callchain bytes
// alias the record.
type Sample struct {
	ID       uint64
	PID, TID uint32
	Time     uint64
	CPU      uint32
	Period   uint64 // events the sample stands for (1, or a tracepoint's __perf_count)
	chain    []byte // nr u64 ips, native endian
	Raw      []byte
	tail     []byte // what follows the raw payload (PERF_SAMPLE_CGROUP)
}

// Cgroup returns the sample's cgroup id, present when the event was opened
// with Attr.SampleCgroup.
func (s *Sample) Cgroup() (uint64, bool) {
	if len(s.tail) < 8 {
		return 0, false
	}
	return ne.Uint64(s.tail), true
}

// ChainLen returns the number of callchain entries.
func (s *Sample) ChainLen() int { return len(s.chain) / 8 }

// AppendChain appends the callchain ips to dst.
func (s *Sample) AppendChain(dst []uint64) []uint64 {
	for i := 0; i+8 <= len(s.chain); i += 8 {
		dst = append(dst, ne.Uint64(s.chain[i:]))
	}
	return dst
}

// ParseSample decodes a SAMPLE record laid out for SampleType (plus
// CALLCHAIN when callchain is set). It reports false for a malformed record.
func ParseSample(rec []byte, callchain bool, s *Sample) bool {
	if len(rec) < sampleFixedLen {
		return false
	}
	s.ID = ne.Uint64(rec[8:])
	s.PID = ne.Uint32(rec[16:])
	s.TID = ne.Uint32(rec[20:])
	s.Time = ne.Uint64(rec[24:])
	s.CPU = ne.Uint32(rec[32:])
	s.Period = ne.Uint64(rec[40:])
	p := rec[sampleFixedLen:]
	s.chain = nil
	if callchain {
		if len(p) < 8 {
			return false
		}
		nr := ne.Uint64(p)
		if nr > uint64(len(p)-8)/8 {
			return false
		}
		s.chain = p[8 : 8+nr*8]
		p = p[8+nr*8:]
	}
	if len(p) < 4 {
		return false
	}
	n := ne.Uint32(p)
	if uint64(n) > uint64(len(p)-4) {
		return false
	}
	s.Raw = p[4 : 4+n]
	s.tail = p[4+n:]
	return true
}

// Cgroup decodes a CGROUP record: a cgroup's id and its path relative to
// the cgroup2 mount, announced when the cgroup is created.
func Cgroup(rec []byte) (id uint64, path []byte, ok bool) {
	if len(rec) < HeaderLen+8+sampleIDLen {
		return 0, nil, false
	}
	path = rec[16 : len(rec)-sampleIDLen]
	for i, c := range path {
		if c == 0 {
			path = path[:i]
			break
		}
	}
	return ne.Uint64(rec[8:]), path, true
}

// Comm decodes a COMM record: pid, tid, name, exec.
func Comm(rec []byte) (pid, tid uint32, comm []byte, ok bool) {
	if len(rec) < HeaderLen+8+sampleIDLen {
		return 0, 0, nil, false
	}
	pid, tid = ne.Uint32(rec[8:]), ne.Uint32(rec[12:])
	name := rec[16 : len(rec)-sampleIDLen]
	for i, c := range name {
		if c == 0 {
			name = name[:i]
			break
		}
	}
	return pid, tid, name, true
}

// Task decodes a FORK or EXIT record.
func Task(rec []byte) (pid, ppid, tid, ptid uint32, ok bool) {
	if len(rec) < HeaderLen+24+sampleIDLen {
		return 0, 0, 0, 0, false
	}
	return ne.Uint32(rec[8:]), ne.Uint32(rec[12:]), ne.Uint32(rec[16:]), ne.Uint32(rec[20:]), true
}

// Lost decodes a LOST record's count (the id is the ring owner's, so the
// loss belongs to the ring) or a LOST_SAMPLES record's count.
func Lost(rec []byte) (count uint64, ok bool) {
	switch ne.Uint32(rec) {
	case RecordLost:
		if len(rec) < HeaderLen+16+sampleIDLen {
			return 0, false
		}
		return ne.Uint64(rec[16:]), true
	case RecordLostSamples:
		if len(rec) < HeaderLen+8+sampleIDLen {
			return 0, false
		}
		return ne.Uint64(rec[8:]), true
	}
	return 0, false
}

// Mmap decodes an MMAP record: an executable mapping of path at
// [addr, addr+length) from file offset pgoff in process pid.
func Mmap(rec []byte) (pid uint32, addr, length, pgoff uint64, path []byte, ok bool) {
	if len(rec) < HeaderLen+32+sampleIDLen {
		return 0, 0, 0, 0, nil, false
	}
	pid = ne.Uint32(rec[8:])
	addr, length, pgoff = ne.Uint64(rec[16:]), ne.Uint64(rec[24:]), ne.Uint64(rec[32:])
	path = rec[40 : len(rec)-sampleIDLen]
	for i, c := range path {
		if c == 0 {
			path = path[:i]
			break
		}
	}
	return pid, addr, length, pgoff, path, true
}
