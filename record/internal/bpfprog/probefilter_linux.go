//go:build linux

package bpfprog

import (
	"fmt"

	"github.com/cilium/ebpf/asm"
)

// MaxFilteredProbe is the largest record a filtered probe program builds
// on its stack: 512 bytes, less the 16 the fetch code (fp-8, fp-16) and
// the counters (fp-4) use and the 16 of a COMM comparison (see commSlot).
const MaxFilteredProbe = 512 + commSlot

// filteredBody is the body of a probe program with a filter. The fields a
// probe's filter compares are its fetch arguments, which exist only once
// fetched: the program builds the record on its stack (fill: the head and
// argument code, writing through R7), applies the filter there, and only
// then counts the hit and copies the record into the ring
// (bpf_ringbuf_output), so a rejected event is neither counted nor lost,
// as on the perf path.
func (s *Set) filteredBody(src uint32, p ProbeSpec, words int, fill asm.Instructions) (asm.Instructions, error) {
	recLen := HeaderLen + 8*words
	full := recLen + s.cgroupTail()
	if p.Stack > 0 || full > MaxFilteredProbe {
		return nil, fmt.Errorf("bpfprog: a filtered probe's record of %d bytes (call stacks %v) does not fit the program's stack", full, p.Stack > 0)
	}
	insns := asm.Instructions{
		asm.Mov.Reg(asm.R7, asm.RFP),
		asm.Add.Imm(asm.R7, int32(commSlot-full)),
		asm.Mov.Imm(asm.R1, 0),
	}
	for w := range recLen / 8 {
		insns = append(insns, asm.StoreMem(asm.R7, int16(8*w), asm.R1, asm.DWord))
	}
	insns = append(insns, recordHeader(src)...)
	insns = append(insns, fill...)
	insns = append(insns, p.Filter.code(asm.R7, HeaderLen, "out")...)
	insns = append(insns, s.storeCgroup(recLen)...)
	count := func(key int64, label string) asm.Instructions {
		return s.bump(asm.StoreImm(asm.RFP, -4, key, asm.Word), label)
	}
	insns = append(insns, count(int64(2*src), "wake")...)
	wake := s.wakeFlags(recLen, false, "output")
	wake[0] = wake[0].WithSymbol("wake")
	insns = append(insns, wake...)
	insns = append(insns,
		asm.Mov.Reg(asm.R4, asm.R2).WithSymbol("output"),
		asm.LoadMapPtr(asm.R1, s.ring.FD()),
		asm.Mov.Reg(asm.R2, asm.R7),
		asm.Mov.Imm(asm.R3, int32(full)),
		asm.FnRingbufOutput.Call(),
		asm.JEq.Imm(asm.R0, 0, "out"))
	insns = append(insns, count(int64(2*src+1), "out")...)
	return append(insns,
		asm.Mov.Imm(asm.R0, 0).WithSymbol("out"),
		asm.Return()), nil
}
