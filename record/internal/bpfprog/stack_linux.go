//go:build linux

package bpfprog

import "github.com/cilium/ebpf/asm"

// bpfUserStack is bpf_get_stack's BPF_F_USER_STACK flag (uapi bpf.h).
const bpfUserStack = 1 << 8

// stacks writes the event's kernel and user call stacks, up to n entries
// each, into the record in R7 at off (laid out as StackBytes says), from
// the context in R6: a tracepoint's hands bpf_get_stack the registers the
// kernel saved for the perf path's own call chain, a probe's are the
// probed task's, so both unwind as the perf path does.
func stacks(off, n int) asm.Instructions {
	var insns asm.Instructions
	for i, flags := range []int32{0, bpfUserStack} {
		insns = append(insns,
			asm.Mov.Reg(asm.R1, asm.R6),
			asm.Mov.Reg(asm.R2, asm.R7),
			asm.Add.Imm(asm.R2, int32(off+8+8*n*i)),
			asm.Mov.Imm(asm.R3, int32(8*n)),
			asm.Mov.Imm(asm.R4, flags),
			asm.FnGetStack.Call(),
			asm.StoreMem(asm.R7, int16(off+4*i), asm.R0, asm.Word))
	}
	return insns
}
