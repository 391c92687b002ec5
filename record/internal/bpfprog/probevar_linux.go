//go:build linux

package bpfprog

import (
	"fmt"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
)

// varLen reports whether the probe's records vary in length: it has string
// arguments.
func (p ProbeSpec) varLen() bool {
	for _, a := range p.Args {
		if a.String != "" {
			return true
		}
	}
	return false
}

// varProbe loads the program of a probe with string arguments: it builds
// the record in the scratch map (see VarTracepoint), its payload as the
// kernel's perf path does (the fixed part zeroed, the head, each argument
// in order, the strings appended to the dynamic area), applies the filter
// there, and copies the bytes it filled into the ring.
func (s *Set) varProbe(src uint32, p ProbeSpec, regs *probeRegs) (*ebpf.Program, int, error) {
	base := VarStackOffset(p.Stack)
	begin, err := s.varBegin(src, p.Stack)
	if err != nil {
		return nil, 0, err
	}
	head, err := p.head(regs, base)
	if err != nil {
		return nil, 0, err
	}
	insns := asm.Instructions{asm.Mov.Reg(asm.R6, asm.R1)}
	insns = append(insns, s.gate()...)
	insns = append(insns, begin...)
	insns = append(insns, asm.Mov.Imm(asm.R1, 0))
	for w := range (p.Fixed + 7) / 8 {
		insns = append(insns, asm.StoreMem(asm.R7, int16(base+8*w), asm.R1, asm.DWord))
	}
	insns = append(insns, head...)
	insns = append(insns, asm.Mov.Imm(asm.R9, int32(p.Fixed)))
	for i, a := range p.Args {
		c, err := p.argCode(i, a, base, regs)
		if err != nil {
			return nil, 0, err
		}
		insns = append(insns, c...)
	}
	if p.Filter != nil {
		insns = append(insns, p.Filter.code(asm.R7, base, "out")...)
	}
	insns = append(insns, bound(asm.R9, p.Fixed, MaxVarPayload, "len")...)
	if p.Stack > 0 {
		insns = append(insns, stacks(HeaderLen, p.Stack)...)
	}
	// 0: see Probe.
	insns = append(insns, s.outputVar(src, base, 0)...)
	return s.loadProgram(fmt.Sprintf("kpcap_probev_%d", src), ebpf.Kprobe, insns)
}

// argCode is the code of argument i of a variable-length probe record
// whose payload is at base of the record in R7.
func (p ProbeSpec) argCode(i int, a Arg, base int, regs *probeRegs) (asm.Instructions, error) {
	if a.Off < p.Head || a.Off+a.Size > p.Fixed {
		return nil, fmt.Errorf("bpfprog: argument %s at %d+%d outside the payload", a.Fetch, a.Off, a.Size)
	}
	if a.String != "" {
		if a.Size != 4 {
			return nil, fmt.Errorf("bpfprog: string argument %s in a field of %d bytes", a.Fetch, a.Size)
		}
		sf, err := parseString(a.Fetch, a.String, p.Kernel, p.Return, regs)
		if err != nil {
			return nil, err
		}
		return sf.code(i, base, a.Off), nil
	}
	f, err := parseFetch(a.Fetch, p.Kernel, p.Return, regs)
	if err != nil {
		return nil, err
	}
	c, err := f.code(int16(base+a.Off), a.Size, fmt.Sprintf("arg%d", i), false)
	if err != nil {
		return nil, fmt.Errorf("fetch argument %s: %w", a.Fetch, err)
	}
	return c, nil
}
