package bpfprog

import "encoding/binary"

// HeaderLen is the size of the header every ring record starts with:
// u32 source, u32 cpu, u64 time (CLOCK_MONOTONIC ns, bpf_ktime_get_ns),
// u64 pid_tgid (tgid << 32 | tid). The event's raw payload follows.
const HeaderLen = 24

// MaxVarPayload is the largest payload of a variable-length record: the
// perf path drops trace records larger than PERF_MAX_TRACE_SIZE (8192
// bytes, its u32 size word included).
const MaxVarPayload = 8192

// Record is one ring record decoded in place: Raw aliases the input.
type Record struct {
	Source   uint32
	CPU      uint32
	Time     uint64
	PID, TID uint32
	Raw      []byte
}

// Decode parses a ring record. It reports false when b is too short for
// the header.
func Decode(b []byte, r *Record) bool {
	if len(b) < HeaderLen {
		return false
	}
	le := binary.NativeEndian
	r.Source = le.Uint32(b)
	r.CPU = le.Uint32(b[4:])
	r.Time = le.Uint64(b[8:])
	pt := le.Uint64(b[16:])
	r.PID, r.TID = uint32(pt>>32), uint32(pt)
	r.Raw = b[HeaderLen:]
	return true
}

// StackBytes is how many bytes the call stacks of a record take after
// its payload words when its program records up to n entries per stack:
// the byte counts bpf_get_stack returned for the kernel and the user
// stack (u32 each, negative on failure), then room for n entries each.
func StackBytes(n int) int {
	if n <= 0 {
		return 0
	}
	return 8 + 16*n
}

// Stacks returns the kernel and user stack entries of a record's stack
// part (what follows its payload words; see StackBytes) of n entries each.
func Stacks(b []byte, n int) (kernel, user []byte) {
	if n <= 0 || len(b) < StackBytes(n) {
		return nil, nil
	}
	ne := binary.NativeEndian
	part := func(i int) []byte {
		got := int32(ne.Uint32(b[4*i:]))
		if got <= 0 || int(got) > 8*n {
			return nil
		}
		start := 8 + 8*n*i
		return b[start : start+int(got)&^7]
	}
	return part(0), part(1)
}

// nativeLittle is whether the machine stores integers least significant
// byte first.
var nativeLittle = binary.NativeEndian.Uint16([]byte{1, 0}) == 1
