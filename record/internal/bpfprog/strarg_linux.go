//go:build linux

package bpfprog

import (
	"fmt"
	"strings"

	"github.com/cilium/ebpf/asm"
)

// A probe's string argument (type string or ustring) is a __data_loc
// field: the kernel appends the string, its NUL included, to the record's
// dynamic area and stores its length and offset in the field
// (store_trace_args, fetch_store_string). A string it cannot read gets
// length 0 at the offset the next one would have.

// maxString is the kernel's MAX_STRING_SIZE: the longest string a probe
// records, its NUL included.
const maxString = 4096

// strRead is the most a program reads of one string: one more than
// maxString, so that a user string longer than that is told apart from one
// that just fits (see strFetch.code).
const strRead = maxString + 1

// strKind is where a string argument's bytes come from.
type strKind int

const (
	strMem  strKind = iota // memory at an address the fetch computes
	strComm                // the task's name ($comm)
	strImm                 // a string immediate (\"text")
)

// strFetch is a compiled string argument.
type strFetch struct {
	kind strKind
	text string // strImm's
	ptr  fetch  // the string's address, but the last offset
	off  int64  // added to ptr's value
	// user: the string is user memory; either: a kprobe's :string, whose
	// address says which (below the kernel's half, user memory, as the
	// kernel reads it where address spaces do not overlap).
	user, either bool
	// uprobe: an overlong string records nothing, as a uprobe's does
	// (its fetch_store_strlen returns 0 past MAX_STRING_SIZE); a kprobe
	// records a user string one byte longer than MAX_STRING_SIZE then
	// (strnlen_user_nofault's count), a kernel one cut to it.
	uprobe bool
}

// CheckString reports whether fetch expression expr, of a kernel (kprobe)
// or user (uprobe) probe, on entry or on return, with type typ ("string"
// or "ustring"), has a BPF translation, with an error wrapping ErrFetch
// that names what does not.
func CheckString(expr, typ string, kernel, ret bool) error {
	regs, err := loadProbeRegs()
	if err != nil {
		return err
	}
	_, err = parseString(expr, typ, kernel, ret, regs)
	return err
}

// parseString translates a string argument: $comm, a string immediate,
// or a dereference whose last offset locates the string (the kernel turns
// that dereference into the string's store).
func parseString(expr, typ string, kernel, ret bool, regs *probeRegs) (strFetch, error) {
	if typ != "string" && typ != "ustring" {
		return strFetch{}, fmt.Errorf("fetch argument %s: type %s: %w", expr, typ, ErrFetch)
	}
	if expr == "$comm" || expr == "$COMM" {
		return strFetch{kind: strComm, uprobe: !kernel}, nil
	}
	if text, ok := strings.CutPrefix(expr, `\"`); ok && strings.HasSuffix(text, `"`) && len(text) <= maxImmString {
		return strFetch{kind: strImm, text: text[:len(text)-1], uprobe: !kernel}, nil
	}
	if expr == "" || expr[0] != '+' && expr[0] != '-' {
		return strFetch{}, fmt.Errorf("fetch argument %s: only strings at a dereference, $comm and immediates: %w", expr, ErrFetch)
	}
	f, err := parseFetch(expr, kernel, ret, regs)
	if err != nil {
		return strFetch{}, err
	}
	last := f.derefs[len(f.derefs)-1]
	f.derefs = f.derefs[:len(f.derefs)-1]
	s := strFetch{kind: strMem, ptr: f, off: last.off, user: last.user || typ == "ustring", uprobe: !kernel}
	s.either = kernel && !s.user
	return s, nil
}

// code appends string argument number i to the dynamic area of the record
// in R7 (payload at base) and writes its location word at base+field. R9
// holds the dynamic area's end (payload offset) and moves past the string;
// R6 is the probed context.
func (s strFetch) code(i, base, field int) asm.Instructions {
	fail, done := fmt.Sprintf("str%d_fail", i), fmt.Sprintf("str%d_done", i)
	if s.kind == strImm {
		return s.immCode(i, base, field)
	}
	var insns asm.Instructions
	switch s.kind {
	case strComm:
		insns = asm.Instructions{
			asm.Mov.Reg(asm.R1, asm.RFP),
			asm.Add.Imm(asm.R1, commSlot),
			asm.Mov.Imm(asm.R2, taskCommLen),
			asm.FnGetCurrentComm.Call(),
			asm.Mov.Reg(asm.R3, asm.RFP),
			asm.Add.Imm(asm.R3, commSlot),
		}
	default:
		insns = s.address(fail)
	}
	insns = append(insns, bound(asm.R9, 0, MaxVarPayload, fmt.Sprintf("str%d", i))...)
	insns = append(insns,
		asm.Mov.Reg(asm.R1, asm.R7),
		asm.Add.Imm(asm.R1, int32(base)),
		asm.Add.Reg(asm.R1, asm.R9),
		asm.Mov.Imm(asm.R2, strRead))
	kernelRead, userRead := asm.Instructions{asm.FnProbeReadKernelStr.Call()}, asm.Instructions{asm.FnProbeReadUserStr.Call()}
	switch {
	case s.kind == strComm:
		insns[len(insns)-1] = asm.Mov.Imm(asm.R2, taskCommLen)
		insns = append(insns, kernelRead...)
	case s.either:
		// A negative address is the kernel's half on x86-64 and arm64.
		kernel := fmt.Sprintf("str%d_kernel", i)
		insns = append(insns,
			asm.JSLT.Imm(asm.R3, 0, kernel),
			asm.FnProbeReadUserStr.Call(),
			asm.Ja.Label(fmt.Sprintf("str%d_read", i)),
			asm.Mov.Imm(asm.R2, maxString).WithSymbol(kernel),
			asm.FnProbeReadKernelStr.Call(),
			asm.Mov.Imm(asm.R1, 0).WithSymbol(fmt.Sprintf("str%d_read", i)))
	case s.user:
		insns = append(insns, userRead...)
	default:
		insns[len(insns)-1] = asm.Mov.Imm(asm.R2, maxString)
		insns = append(insns, kernelRead...)
	}
	insns = append(insns, asm.JSLE.Imm(asm.R0, 0, fail))
	if s.uprobe {
		insns = append(insns, asm.JGT.Imm(asm.R0, maxString, fail))
	}
	return append(insns,
		asm.Mov.Reg(asm.R1, asm.R0),
		asm.LSh.Imm(asm.R1, 16),
		asm.Or.Reg(asm.R1, asm.R9),
		asm.StoreMem(asm.R7, int16(base+field), asm.R1, asm.Word),
		asm.Add.Reg(asm.R9, asm.R0),
		asm.Ja.Label(done),
		asm.StoreMem(asm.R7, int16(base+field), asm.R9, asm.Word).WithSymbol(fail),
		asm.Mov.Imm(asm.R0, 0).WithSymbol(done))
}

// address leaves the string's address in R3: the base value, each
// pointer on the way read into fp-8 (a fault jumps to fail), then the
// last offset.
func (s strFetch) address(fail string) asm.Instructions {
	var insns asm.Instructions
	if s.ptr.reg >= 0 {
		insns = append(insns, asm.LoadMem(asm.R8, asm.R6, int16(s.ptr.reg), asm.DWord))
	} else {
		insns = append(insns, asm.LoadImm(asm.R8, s.ptr.imm, asm.DWord))
	}
	for i, d := range s.ptr.derefs {
		insns = append(insns, asm.Mov.Reg(asm.R3, asm.R8))
		if d.off != 0 {
			insns = append(insns, asm.LoadImm(asm.R1, d.off, asm.DWord), asm.Add.Reg(asm.R3, asm.R1))
		}
		insns = append(insns, asm.Mov.Reg(asm.R1, asm.RFP), asm.Add.Imm(asm.R1, -8))
		insns = append(insns, readDeref(d, 8, fmt.Sprintf("%s_d%d", fail, i))...)
		insns = append(insns,
			asm.JNE.Imm(asm.R0, 0, fail),
			asm.LoadMem(asm.R8, asm.RFP, -8, asm.DWord))
	}
	insns = append(insns, asm.Mov.Reg(asm.R3, asm.R8))
	if s.off != 0 {
		insns = append(insns, asm.LoadImm(asm.R1, s.off, asm.DWord), asm.Add.Reg(asm.R3, asm.R1))
	}
	return insns
}

// maxImmString is the longest string immediate a program writes: the
// kernel takes an argument of at most MAX_ARGSTR_LEN (63) bytes.
const maxImmString = 64

// immCode is code for a string immediate: a kprobe records the text, a
// uprobe nothing (the kernel reads its copy of the text, kernel memory,
// as user memory, and fails).
func (s strFetch) immCode(i, base, field int) asm.Instructions {
	if s.uprobe {
		return asm.Instructions{asm.StoreMem(asm.R7, int16(base+field), asm.R9, asm.Word)}
	}
	n := len(s.text) + 1
	insns := bound(asm.R9, 0, MaxVarPayload, fmt.Sprintf("str%d", i))
	insns = append(insns,
		asm.Mov.Reg(asm.R1, asm.R7),
		asm.Add.Imm(asm.R1, int32(base)),
		asm.Add.Reg(asm.R1, asm.R9))
	for k := range n {
		c := byte(0)
		if k < len(s.text) {
			c = s.text[k]
		}
		insns = append(insns, asm.StoreImm(asm.R1, int16(k), int64(c), asm.Byte))
	}
	return append(insns,
		asm.Mov.Reg(asm.R1, asm.R9),
		asm.Or.Imm(asm.R1, int32(n<<16)),
		asm.StoreMem(asm.R7, int16(base+field), asm.R1, asm.Word),
		asm.Add.Imm(asm.R9, int32(n)))
}
