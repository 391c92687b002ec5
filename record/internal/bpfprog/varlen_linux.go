//go:build linux

package bpfprog

import (
	"fmt"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
)

// A source whose records vary in length (a tracepoint with __data_loc
// fields, a probe with string arguments) cannot reserve its ring record:
// a reservation's size is a constant, and reserving the largest record
// would fill the ring with padding. Its program builds the record in a
// per-CPU scratch map value instead and copies the bytes it filled into
// the ring (bpf_ringbuf_output). The scratch value is the program's alone
// while it runs: the kernel runs no other tracing program on the CPU
// before it returns (bpf_prog_active), and counts those it skips.
//
// A variable-length record is the header, then the call stacks with -g
// (see StackBytes), then the payload as the perf path's raw sample has
// it: the fixed part and the dynamic area its location words point into.

// Loc is a location word of a tracepoint's fixed part: __data_loc (the
// dynamic data's offset from the record's start in its low 16 bits, its
// length in the high 16) or, Rel, __rel_loc (the offset counts from the
// end of the word).
type Loc struct {
	Off int
	Rel bool
}

// VarStackOffset is where the payload of a variable-length record starts
// after the header when the record carries call stacks of stack entries.
func VarStackOffset(stack int) int { return HeaderLen + StackBytes(stack) }

// VarTracepoint loads the program of source src, a classic tracepoint
// whose fixed part ends at fixed and holds the location words locs. It
// returns the program's index for RecursionMisses. Filter and stack are
// as for Tracepoint.
//
// The kernel's trace record is the program's context: the program copies
// it from byte 8 (the common fields are the pt_regs pointer there, see
// Tracepoint) to the end of the furthest dynamic area.
func (s *Set) VarTracepoint(src uint32, fixed int, locs []Loc, f *Filter, stack int) (*ebpf.Program, int, error) {
	if int(src) >= s.nsrc {
		return nil, 0, fmt.Errorf("bpfprog: source %d of %d", src, s.nsrc)
	}
	if fixed < 8 || fixed > MaxRaw || len(locs) == 0 {
		return nil, 0, fmt.Errorf("bpfprog: variable payload of %d fixed bytes and %d locations", fixed, len(locs))
	}
	for _, l := range locs {
		if l.Off < 8 || l.Off+4 > fixed {
			return nil, 0, fmt.Errorf("bpfprog: location word at %d outside the fixed part of %d bytes", l.Off, fixed)
		}
	}
	begin, err := s.varBegin(src, stack)
	if err != nil {
		return nil, 0, err
	}
	base := VarStackOffset(stack)
	insns := asm.Instructions{asm.Mov.Reg(asm.R6, asm.R1)}
	insns = append(insns, s.gate()...)
	insns = append(insns, begin...)
	insns = append(insns, dataEnd(fixed, locs)...)
	insns = append(insns,
		asm.Mov.Imm(asm.R1, 0), // the common fields
		asm.StoreMem(asm.R7, int16(base), asm.R1, asm.DWord),
		asm.Mov.Reg(asm.R1, asm.R7),
		asm.Add.Imm(asm.R1, int32(base+8)),
		asm.Mov.Reg(asm.R2, asm.R9),
		asm.Sub.Imm(asm.R2, 8),
		asm.Mov.Reg(asm.R3, asm.R6),
		asm.Add.Imm(asm.R3, 8),
		asm.FnProbeReadKernel.Call())
	if f != nil {
		// On the copy: a string field's bytes are at a variable offset,
		// which the verifier takes in a map value, not in the context.
		insns = append(insns, f.code(asm.R7, base, "out")...)
	}
	if stack > 0 {
		insns = append(insns, stacks(HeaderLen, stack)...)
	}
	// 1: see Tracepoint.
	insns = append(insns, s.outputVar(src, base, 1)...)
	return s.loadProgram(fmt.Sprintf("kpcap_tpv_%d", src), ebpf.TracePoint, insns)
}

// varBegin returns the start of a variable-length program once the gate
// and any filter passed: R7 gets the CPU's scratch record (created with
// the first such program, large enough for call stacks of stack entries)
// and the header of source src's record. R6 must hold the context. The
// value has room for a string read of strRead bytes at the payload's end.
func (s *Set) varBegin(src uint32, stack int) (asm.Instructions, error) {
	size := VarStackOffset(stack) + MaxVarPayload + strRead + s.cgroupTail()
	if s.scratch == nil {
		m, err := ebpf.NewMap(&ebpf.MapSpec{Name: "kpcap_scratch", Type: ebpf.PerCPUArray, KeySize: 4, ValueSize: uint32(size), MaxEntries: 1})
		if err != nil {
			return nil, fmt.Errorf("create BPF scratch map of %d bytes: %w", size, err)
		}
		s.scratch, s.scratchSize = m, size
	}
	if size > s.scratchSize {
		return nil, fmt.Errorf("bpfprog: a record of %d bytes in a scratch map of %d", size, s.scratchSize)
	}
	insns := lookup(s.scratch, asm.StoreImm(asm.RFP, -4, 0, asm.Word), "out")
	insns = append(insns, asm.Mov.Reg(asm.R7, asm.R0))
	return append(insns, recordHeader(src)...), nil
}

// dataEnd leaves in R9 the end of a tracepoint record (context in R6):
// the end of its fixed part or of its furthest dynamic area, bounded to
// [fixed, MaxVarPayload] so the verifier sees the copy stay in the
// scratch value.
func dataEnd(fixed int, locs []Loc) asm.Instructions {
	insns := asm.Instructions{asm.Mov.Imm(asm.R9, int32(fixed))}
	for i, l := range locs {
		next := fmt.Sprintf("loc%d", i)
		insns = append(insns,
			asm.LoadMem(asm.R1, asm.R6, int16(l.Off), asm.Word),
			asm.Mov.Reg(asm.R2, asm.R1),
			asm.And.Imm(asm.R2, 0xffff),
			asm.RSh.Imm(asm.R1, 16))
		if l.Rel {
			insns = append(insns, asm.Add.Imm(asm.R2, int32(l.Off+4)))
		}
		insns = append(insns,
			asm.Add.Reg(asm.R2, asm.R1),
			asm.JLE.Reg(asm.R2, asm.R9, next),
			asm.Mov.Reg(asm.R9, asm.R2),
			asm.Mov.Imm(asm.R0, 0).WithSymbol(next))
	}
	return append(insns, bound(asm.R9, fixed, MaxVarPayload, "end")...)
}

// bound clamps register r to [lo, hi] in a way the verifier follows; its
// labels start with name.
func bound(r asm.Register, lo, hi int, name string) asm.Instructions {
	return asm.Instructions{
		asm.JLE.Imm(r, int32(hi), name+"_hi"),
		asm.Mov.Imm(r, int32(hi)),
		asm.JGE.Imm(r, int32(lo), name+"_lo").WithSymbol(name + "_hi"),
		asm.Mov.Imm(r, int32(lo)),
		asm.Mov.Imm(asm.R0, 0).WithSymbol(name + "_lo"),
	}
}

// outputVar ends a variable-length program: it counts the hit of source
// src and copies the scratch record in R7, its payload (at base) of R9
// bytes, into the ring, counting it lost when the ring refuses it, and
// returns ret. The label "out" is where the program's other exits jump.
func (s *Set) outputVar(src uint32, base int, ret int32) asm.Instructions {
	count := func(key int64, label string) asm.Instructions {
		return s.bump(asm.StoreImm(asm.RFP, -4, key, asm.Word), label)
	}
	insns := s.storeVarCgroup(base)
	// R8: the record's length; R9: its bytes in the ring with the
	// kernel's header, 8-aligned.
	insns = append(insns,
		asm.Mov.Reg(asm.R8, asm.R9),
		asm.Add.Imm(asm.R8, int32(base)),
		asm.Add.Imm(asm.R9, int32(base+ringHeader+7)),
		asm.And.Imm(asm.R9, ^7),
	)
	insns = append(insns, count(int64(2*src), "wake")...)
	wake := s.wakeTest(asm.Instructions{asm.Add.Reg(asm.R0, asm.R9)}, asm.Sub.Reg(asm.R1, asm.R9), "output")
	wake[0] = wake[0].WithSymbol("wake")
	insns = append(insns, wake...)
	insns = append(insns,
		asm.Mov.Reg(asm.R4, asm.R2).WithSymbol("output"),
		asm.LoadMapPtr(asm.R1, s.ring.FD()),
		asm.Mov.Reg(asm.R2, asm.R7),
		asm.Mov.Reg(asm.R3, asm.R8),
		asm.FnRingbufOutput.Call(),
		asm.JEq.Imm(asm.R0, 0, "out"))
	insns = append(insns, count(int64(2*src+1), "out")...)
	return append(insns,
		asm.Mov.Imm(asm.R0, ret).WithSymbol("out"),
		asm.Return())
}
