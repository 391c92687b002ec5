//go:build linux

package bpfprog

import (
	"fmt"
	"runtime"
	"sync"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"
	"github.com/kpcap/kpcap/record/internal/kernelbtf"
)

// A kprobe, kretprobe, uprobe or uretprobe is recorded by a program of
// type kprobe attached to its perf event (PERF_EVENT_IOC_SET_BPF): the
// context is the probed task's pt_regs. The program writes the payload the
// kernel's perf path builds (kprobe_perf_func, uprobe_perf_func): the
// trace_entry, the probed address (or the function and the return
// address), then each fetch argument at its field's offset.

// ProbeSpec describes the record of one probe source.
type ProbeSpec struct {
	Kernel bool // kprobe or kretprobe: kernel memory reads
	Return bool // kretprobe or uretprobe
	// Fixed is the payload's length: the end of the format's last field.
	Fixed int
	// Head is the offset of __probe_ip, or of __probe_func followed by
	// __probe_ret_ip on return.
	Head int
	Args []Arg
	// Stack is how many entries of the kernel and of the user call stack
	// the record carries after the payload (0: none; see StackBytes).
	Stack int
	// Filter drops the events it rejects (nil: none); see filteredBody.
	Filter *Filter
}

// An IBT kernel starts its functions with endbr64 (f3 0f 1e fa), or
// endbr32, or the 4-byte nop it seals unused ones with (66 0f 1f 00): a
// kprobe on such a function sits 4 bytes in (the kernel's is_endbr).
const (
	endbr64     = 0xfa1e0ff3
	endbr32Bit  = 0x01000000
	endbrPoison = 0x001f0f66
)

// uprobeTask is where the uretprobe program finds the probed function's
// address: the kernel's uretprobe dispatcher leaves a pointer to its
// uprobe_dispatch_data (whose bp_addr is the function) in
// current->utask->vaddr while the handlers run. It is remembered per
// kernel build (kernelbtf.Remember), as JSON.
type uprobeTask struct {
	UTask, VAddr, BPAddr int
}

// uprobeTaskFact names uprobeTask among the remembered facts.
const uprobeTaskFact = "bpfprog.uprobeTask.v1"

var (
	utaskOnce sync.Once
	utaskVal  uprobeTask
	utaskErr  error
)

func loadUprobeTask() (uprobeTask, error) {
	utaskOnce.Do(func() {
		utaskErr = kernelbtf.Remember(uprobeTaskFact, &utaskVal, utaskVal.derive)
	})
	return utaskVal, utaskErr
}

// derive fills t from the kernel's BTF.
func (t *uprobeTask) derive(spec *btf.Spec) error {
	offs := [3]int{}
	for i, m := range [3][2]string{{"task_struct", "utask"}, {"uprobe_task", "vaddr"}, {"uprobe_dispatch_data", "bp_addr"}} {
		var st *btf.Struct
		if err := spec.TypeByName(m[0], &st); err != nil {
			return fmt.Errorf("kernel BTF: struct %s: %w", m[0], err)
		}
		var err error
		if offs[i], err = memberOffset(st, m[1]); err != nil {
			return err
		}
	}
	*t = uprobeTask{offs[0], offs[1], offs[2]}
	return nil
}

// Probe loads the program of probe source src. It returns the program's
// index for RecursionMisses.
func (s *Set) Probe(src uint32, p ProbeSpec) (*ebpf.Program, int, error) {
	if int(src) >= s.nsrc {
		return nil, 0, fmt.Errorf("bpfprog: source %d of %d", src, s.nsrc)
	}
	if p.Fixed < p.Head+8 || p.Fixed > MaxRaw || p.Head < 8 || (p.Return && p.Fixed < p.Head+16) {
		return nil, 0, fmt.Errorf("bpfprog: probe payload of %d bytes, head at %d", p.Fixed, p.Head)
	}
	regs, err := loadProbeRegs()
	if err != nil {
		return nil, 0, err
	}
	if p.varLen() {
		return s.varProbe(src, p, regs)
	}
	var args asm.Instructions
	onStack := p.Filter != nil // see filteredBody
	for i, a := range p.Args {
		f, err := parseFetch(a.Fetch, p.Kernel, p.Return, regs)
		if err != nil {
			return nil, 0, err
		}
		if a.Off < p.Head || a.Off+a.Size > p.Fixed {
			return nil, 0, fmt.Errorf("bpfprog: argument %s at %d+%d outside the payload", a.Fetch, a.Off, a.Size)
		}
		c, err := f.code(int16(HeaderLen+a.Off), a.Size, fmt.Sprintf("arg%d", i), onStack)
		if err != nil {
			return nil, 0, fmt.Errorf("fetch argument %s: %w", a.Fetch, err)
		}
		args = append(args, c...)
	}
	head, err := p.head(regs, HeaderLen)
	if err != nil {
		return nil, 0, err
	}
	words := (p.Fixed + 7) / 8
	insns := asm.Instructions{asm.Mov.Reg(asm.R6, asm.R1)}
	insns = append(insns, s.gate()...)
	if p.Filter != nil {
		body, err := s.filteredBody(src, p, words, append(head, args...))
		if err != nil {
			return nil, 0, err
		}
		insns = append(insns, body...)
		return s.loadProgram(fmt.Sprintf("kpcap_probe_%d", src), ebpf.Kprobe, insns)
	}
	insns = append(insns, s.reserveZeroed(src, words, p.Stack)...)
	insns = append(insns, head...)
	insns = append(insns, args...)
	if p.Stack > 0 {
		insns = append(insns, stacks(HeaderLen+8*words, p.Stack)...)
	}
	// 0 skips the probe's own perf buffer: the event is kpcap's alone
	// (a PMU probe, or a probe in kpcap's tracefs group) and never enabled.
	insns = append(insns, s.submitAndReturn(HeaderLen+8*words+StackBytes(p.Stack), 0)...)
	return s.loadProgram(fmt.Sprintf("kpcap_probe_%d", src), ebpf.Kprobe, insns)
}

// reserve counts a hit of source src, reserves a ring record of n bytes
// (and the cgroup id, see cgroupTail) into R7 and writes its header; a
// refused reservation counts lost and jumps to "out".
func (s *Set) reserve(src uint32, n int) asm.Instructions {
	count := func(key int64, label string) asm.Instructions {
		return s.bump(asm.StoreImm(asm.RFP, -4, key, asm.Word), label)
	}
	insns := count(int64(2*src), "reserve")
	insns = append(insns,
		asm.LoadMapPtr(asm.R1, s.ring.FD()).WithSymbol("reserve"),
		asm.Mov.Imm(asm.R2, int32(n+s.cgroupTail())),
		asm.Mov.Imm(asm.R3, 0),
		asm.FnRingbufReserve.Call(),
		asm.JNE.Imm(asm.R0, 0, "fill"))
	insns = append(insns, count(int64(2*src+1), "out")...)
	insns = append(insns,
		asm.Ja.Label("out"),
		asm.Mov.Reg(asm.R7, asm.R0).WithSymbol("fill"))
	insns = append(insns, recordHeader(src)...)
	return append(insns, s.storeCgroup(n)...)
}

// recordHeader writes the header of the record in R7 (see HeaderLen).
func recordHeader(src uint32) asm.Instructions {
	return asm.Instructions{
		asm.StoreImm(asm.R7, 0, int64(src), asm.Word),
		asm.FnGetSmpProcessorId.Call(),
		asm.StoreMem(asm.R7, 4, asm.R0, asm.Word),
		asm.FnKtimeGetNs.Call(),
		asm.StoreMem(asm.R7, 8, asm.R0, asm.DWord),
		asm.FnGetCurrentPidTgid.Call(),
		asm.StoreMem(asm.R7, 16, asm.R0, asm.DWord),
	}
}

// reserveZeroed is reserve for a payload of words 8-byte words, zeroed,
// and call stacks of stack entries: ring records are not zeroed and must
// not carry stale kernel bytes in the common fields and the padding the
// program leaves (bpf_get_stack zeroes what it does not fill).
func (s *Set) reserveZeroed(src uint32, words, stack int) asm.Instructions {
	insns := append(s.reserve(src, HeaderLen+8*words+StackBytes(stack)), asm.Mov.Imm(asm.R1, 0))
	for w := range words {
		insns = append(insns, asm.StoreMem(asm.R7, int16(HeaderLen+8*w), asm.R1, asm.DWord))
	}
	return insns
}

// head writes __probe_ip, or __probe_func and __probe_ret_ip, into the
// payload at base of the record in R7 as the kernel does: a kprobe's address (x86 leaves the instruction pointer one
// byte past its int3), a uprobe's probed address (the handlers see the
// instruction pointer set back to it), the return address in the
// instruction pointer on return.
func (p ProbeSpec) head(regs *probeRegs, base int) (asm.Instructions, error) {
	dst := int16(base + p.Head)
	ip := regs.off[regs.ip]
	load := asm.Instructions{asm.LoadMem(asm.R1, asm.R6, int16(ip), asm.DWord)}
	if !p.Return {
		if p.Kernel && runtime.GOARCH == "amd64" {
			load = append(load, asm.Sub.Imm(asm.R1, 1))
		}
		return append(load, asm.StoreMem(asm.R7, dst, asm.R1, asm.DWord)), nil
	}
	insns := append(load, asm.StoreMem(asm.R7, dst+8, asm.R1, asm.DWord))
	if p.Kernel {
		return append(insns, kretFunc(dst)...), nil
	}
	ut, err := loadUprobeTask()
	if err != nil {
		return nil, err
	}
	// current->utask->vaddr->bp_addr, each read checked.
	insns = append(insns, asm.FnGetCurrentTask.Call(), asm.Mov.Reg(asm.R3, asm.R0))
	for i, off := range []int{ut.UTask, ut.VAddr, ut.BPAddr} {
		insns = append(insns, asm.Add.Imm(asm.R3, int32(off)))
		if i == 2 {
			insns = append(insns, asm.Mov.Reg(asm.R1, asm.R7), asm.Add.Imm(asm.R1, int32(dst)))
			insns = append(insns, readMem(false, 8)...)
			break
		}
		insns = append(insns, asm.Mov.Reg(asm.R1, asm.RFP), asm.Add.Imm(asm.R1, -8))
		insns = append(insns, readMem(false, 8)...)
		insns = append(insns,
			asm.JNE.Imm(asm.R0, 0, "headdone"),
			asm.LoadMem(asm.R3, asm.RFP, -8, asm.DWord),
			asm.JEq.Imm(asm.R3, 0, "headdone"))
	}
	return append(insns, asm.Mov.Imm(asm.R0, 0).WithSymbol("headdone")), nil
}

// kretFunc writes a kretprobe's function address at dst: the kprobe's
// address, which bpf_get_func_ip gives less the endbr an IBT kernel starts
// the function with (the kprobe sits after it).
func kretFunc(dst int16) asm.Instructions {
	insns := asm.Instructions{
		asm.Mov.Reg(asm.R1, asm.R6),
		asm.FnGetFuncIp.Call(),
		asm.Mov.Reg(asm.R8, asm.R0),
	}
	if runtime.GOARCH == "amd64" {
		insns = append(insns,
			asm.Mov.Reg(asm.R1, asm.RFP),
			asm.Add.Imm(asm.R1, -8),
			asm.Mov.Reg(asm.R3, asm.R8))
		insns = append(insns, readMem(false, 4)...)
		insns = append(insns,
			asm.JNE.Imm(asm.R0, 0, "func"),
			asm.LoadMem(asm.R1, asm.RFP, -8, asm.Word),
			asm.LoadImm(asm.R2, endbrPoison, asm.DWord),
			asm.JEq.Reg(asm.R1, asm.R2, "endbr"),
			asm.LoadImm(asm.R2, ^endbr32Bit&0xffffffff, asm.DWord),
			asm.And.Reg(asm.R1, asm.R2),
			asm.LoadImm(asm.R2, endbr64, asm.DWord),
			asm.JNE.Reg(asm.R1, asm.R2, "func"),
			asm.Add.Imm(asm.R8, 4).WithSymbol("endbr"))
	}
	return append(insns, asm.StoreMem(asm.R7, dst, asm.R8, asm.DWord).WithSymbol("func"))
}
