//go:build linux

package record

import (
	"encoding/binary"

	"github.com/kpcap/kpcap/record/internal/bpfprog"
	"github.com/kpcap/kpcap/record/internal/perf"
)

// bpfChain appends to dst the call chain the perf path's
// PERF_SAMPLE_CALLCHAIN gives (the kernel's get_perf_callchain), made from
// the stacks a BPF program recorded (stack, of maxStack entries each):
// PERF_CONTEXT_KERNEL and the kernel ips when the event came from kernel
// code, PERF_CONTEXT_USER and the user ips when the task has user
// registers, at most maxStack ips in all (the markers aside).
func bpfChain(dst []uint64, stack []byte) []uint64 {
	kernel, user := bpfprog.Stacks(stack, maxStack)
	ips := 0
	add := func(marker uint64, b []byte) {
		if len(b) == 0 {
			return
		}
		dst = append(dst, marker)
		for i := 0; i+8 <= len(b) && ips < maxStack; i += 8 {
			dst = append(dst, binary.NativeEndian.Uint64(b[i:]))
			ips++
		}
	}
	add(perf.ContextKernel, kernel)
	add(perf.ContextUser, user)
	return dst
}

// bpfStackPart returns the stack part of BPF source i's record payload
// raw (nil without call chains).
func (b *bpfCapture) bpfStackPart(i int, raw []byte) []byte {
	if !b.callchain {
		return nil
	}
	off := 8 * b.words[i]
	if off > len(raw) {
		return nil
	}
	return raw[off:]
}
