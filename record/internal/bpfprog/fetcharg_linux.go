//go:build linux

package bpfprog

import (
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync"

	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"
	"github.com/kpcap/kpcap/record/probedef"
)

// ErrFetch says a fetch argument has no BPF translation: its source stays
// on the perf path.
var ErrFetch = errors.New("no BPF translation")

// Arg is one fetch argument a probe program writes into its record: the
// canonical fetch expression (probedef.FetchArg.Fetch) and the field the
// event's format gives it.
type Arg struct {
	Fetch     string
	Off, Size int
	// String is the type of a string argument ("string" or "ustring", a
	// __data_loc field of 4 bytes; see CheckString), "" for a value.
	String string
}

// fetch is a compiled fetch argument: a base value (a register of the
// probed context, or a constant), then dereferences, innermost first. The
// last dereference reads the field's size; the others a pointer.
type fetch struct {
	reg    int // pt_regs offset of the base register; -1 for imm
	imm    int64
	derefs []deref
}

type deref struct {
	off  int64
	user bool // read user memory (a uprobe, or +uOFFS in a kprobe)
	// either: a kprobe's +OFFS, which reads user memory below the
	// kernel's half of the address space and kernel memory above it, as
	// the kernel's probe_mem_read does where the two do not overlap
	// (x86-64, arm64: ARCH_HAS_NON_OVERLAPPING_ADDRESS_SPACE).
	either bool
}

// CheckArg reports whether fetch expression expr of a kernel (kprobe) or
// user (uprobe) probe, on entry or on return, has a BPF translation, with
// an error wrapping ErrFetch that names what does not.
func CheckArg(expr string, kernel, ret bool) error {
	regs, err := loadProbeRegs()
	if err != nil {
		return err
	}
	_, err = parseFetch(expr, kernel, ret, regs)
	return err
}

// parseFetch translates a canonical fetch expression: %REG, $argN, $retval,
// $stack, $stackN, \IMM and +|-[u]OFFS(FETCHARG) over them. Strings ($comm,
// \"..."), memory at fixed addresses (@...) and BTF names are left out.
func parseFetch(expr string, kernel, ret bool, regs *probeRegs) (fetch, error) {
	arch := probedef.HostArch
	bad := func(why string) (fetch, error) {
		return fetch{}, fmt.Errorf("fetch argument %s: %s: %w", expr, why, ErrFetch)
	}
	reg := func(name string) (fetch, error) {
		off, ok := regs.off[name]
		if !ok {
			return bad("register " + name + " not in this kernel's pt_regs")
		}
		return fetch{reg: off}, nil
	}
	switch {
	case expr == "":
		return bad("empty")
	case expr[0] == '%':
		return reg(expr[1:])
	case expr == "$retval":
		if !ret {
			return bad("$retval outside a return probe")
		}
		return reg(arch.RetReg)
	case expr == "$stack":
		return reg(regs.sp)
	case strings.HasPrefix(expr, "$stack"):
		n, err := strconv.ParseUint(expr[len("$stack"):], 10, 16)
		if err != nil {
			return bad("bad stack slot")
		}
		f, err := reg(regs.sp)
		f.derefs = []deref{{off: 8 * int64(n), user: !kernel}}
		return f, err
	case strings.HasPrefix(expr, "$arg"):
		n, err := strconv.Atoi(expr[len("$arg"):])
		if err != nil || n < 1 || n > len(arch.ArgRegs) {
			return bad("only arguments passed in registers are read")
		}
		if !kernel || ret {
			return bad("$argN only on a kernel function's entry")
		}
		return reg(arch.ArgRegs[n-1])
	case expr[0] == '\\':
		v, err := strconv.ParseInt(expr[1:], 0, 64)
		if err != nil {
			u, uerr := strconv.ParseUint(expr[1:], 0, 64)
			if uerr != nil {
				return bad("not a number")
			}
			v = int64(u)
		}
		return fetch{reg: -1, imm: v}, nil
	case expr[0] == '+' || expr[0] == '-':
		return parseDeref(expr, kernel, ret, regs)
	}
	return bad("only registers, $argN, $retval, $stack and dereferences of them")
}

// parseDeref translates +|-[u]OFFS(FETCHARG): like the kernel, the inner
// argument runs from the first '(' to the last ')'.
func parseDeref(expr string, kernel, ret bool, regs *probeRegs) (fetch, error) {
	open, end := strings.IndexByte(expr, '('), strings.LastIndexByte(expr, ')')
	if open < 0 || end != len(expr)-1 {
		return fetch{}, fmt.Errorf("fetch argument %s: bad dereference: %w", expr, ErrFetch)
	}
	offs := expr[1:open]
	user := !kernel
	if strings.HasPrefix(offs, "u") {
		offs, user = offs[1:], true
	}
	off, err := strconv.ParseInt(offs, 0, 64)
	if err != nil {
		return fetch{}, fmt.Errorf("fetch argument %s: bad offset: %w", expr, ErrFetch)
	}
	if expr[0] == '-' {
		off = -off
	}
	f, err := parseFetch(expr[open+1:end], kernel, ret, regs)
	if err != nil {
		return f, err
	}
	f.derefs = append(f.derefs, deref{off: off, user: user, either: kernel && !user})
	return f, nil
}

// probeRegs are the pt_regs offsets of the registers fetch arguments name
// (probedef's names for the host architecture), from the kernel's BTF.
type probeRegs struct {
	off map[string]int
	ip  string // the instruction pointer's name
	sp  string // the stack pointer's name
}

var (
	regsOnce sync.Once
	regsVal  *probeRegs
	regsErr  error
)

// loadProbeRegs reads the register offsets once per process.
func loadProbeRegs() (*probeRegs, error) {
	regsOnce.Do(func() { regsVal, regsErr = rememberProbeRegs() })
	return regsVal, regsErr
}

func readProbeRegs(spec *btf.Spec) (*probeRegs, error) {
	var pt *btf.Struct
	if err := spec.TypeByName("pt_regs", &pt); err != nil {
		return nil, fmt.Errorf("kernel BTF: struct pt_regs: %w", err)
	}
	r := &probeRegs{off: map[string]int{}}
	switch runtime.GOARCH {
	case "amd64":
		r.ip, r.sp = "ip", "sp"
		for _, name := range probedef.ArchFor("amd64").Names() {
			if off, err := memberOffset(pt, name); err == nil {
				r.off[name] = off
			}
		}
	case "arm64":
		// x0..x30 are regs[31] of user_pt_regs; lr is x30.
		r.ip, r.sp = "pc", "sp"
		base, err := memberOffset(pt, "regs")
		if err != nil {
			return nil, err
		}
		for i := 0; i <= 30; i++ {
			r.off["x"+strconv.Itoa(i)] = base + 8*i
		}
		r.off["lr"] = base + 8*30
		for _, name := range []string{"sp", "pc", "pstate"} {
			if off, err := memberOffset(pt, name); err == nil {
				r.off[name] = off
			}
		}
	default:
		return nil, fmt.Errorf("probe registers of %s are not known", runtime.GOARCH)
	}
	if _, ok := r.off[r.ip]; !ok {
		return nil, fmt.Errorf("kernel BTF: no %s in struct pt_regs", r.ip)
	}
	if _, ok := r.off[r.sp]; !ok {
		return nil, fmt.Errorf("kernel BTF: no %s in struct pt_regs", r.sp)
	}
	return r, nil
}

// asmSize is the load or store size of n bytes.
func asmSize(n int) (asm.Size, bool) {
	switch n {
	case 1:
		return asm.Byte, true
	case 2:
		return asm.Half, true
	case 4:
		return asm.Word, true
	case 8:
		return asm.DWord, true
	}
	return 0, false
}

// readMem calls bpf_probe_read_user or _kernel(dst, size, src), R0 the
// result; dst and src are set up by the caller in R1 and R3.
func readMem(user bool, size int) asm.Instructions {
	fn := asm.FnProbeReadKernel
	if user {
		fn = asm.FnProbeReadUser
	}
	return asm.Instructions{asm.Mov.Imm(asm.R2, int32(size)), fn.Call()}
}

// readDeref reads size bytes at the address in R3 into the buffer at R1
// for dereference d, R0 the result; tag names its labels. An either
// dereference reads user memory at a non-negative address (the kernel's
// TASK_SIZE is below 2^63 on x86-64 and arm64; what lies between is no
// address for either read).
func readDeref(d deref, size int, tag string) asm.Instructions {
	if !d.either {
		return readMem(d.user, size)
	}
	kernel, done := tag+"_kernel", tag+"_read"
	return asm.Instructions{
		asm.Mov.Imm(asm.R2, int32(size)),
		asm.JSLT.Imm(asm.R3, 0, kernel),
		asm.FnProbeReadUser.Call(),
		asm.Ja.Label(done),
		asm.FnProbeReadKernel.Call().WithSymbol(kernel),
		asm.Mov.Reg(asm.R0, asm.R0).WithSymbol(done),
	}
}

// code writes fetch f into the record (R7) at byte dst, size bytes, with
// the probed context in R6. A dereference that faults leaves the field
// zero, as the kernel's perf path does (it clears the arguments first).
// label names the end of this argument's code. onStack says the record is
// on the program's stack, where the verifier takes only aligned accesses:
// a field its format packs off its size's alignment is then written a
// byte at a time, a dereference through the bounce slot at fp-16.
func (f fetch) code(dst int16, size int, label string, onStack bool) (asm.Instructions, error) {
	sz, ok := asmSize(size)
	if !ok {
		return nil, fmt.Errorf("field of %d bytes: %w", size, ErrFetch)
	}
	var insns asm.Instructions
	if f.reg >= 0 {
		insns = append(insns, asm.LoadMem(asm.R8, asm.R6, int16(f.reg), asm.DWord))
	} else {
		insns = append(insns, asm.LoadImm(asm.R8, f.imm, asm.DWord))
	}
	bytewise := onStack && int(dst)%size != 0
	if len(f.derefs) == 0 {
		if bytewise {
			return append(insns, storeBytes(dst, size, label)...), nil
		}
		return append(insns, asm.StoreMem(asm.R7, dst, asm.R8, sz), asm.Mov.Imm(asm.R0, 0).WithSymbol(label)), nil
	}
	for i, d := range f.derefs {
		last := i == len(f.derefs)-1
		insns = append(insns, asm.Mov.Reg(asm.R3, asm.R8))
		if d.off != 0 {
			insns = append(insns, asm.LoadImm(asm.R1, d.off, asm.DWord), asm.Add.Reg(asm.R3, asm.R1))
		}
		if last && bytewise {
			// The helper zeroes the slot when the read faults.
			insns = append(insns, asm.Mov.Reg(asm.R1, asm.RFP), asm.Add.Imm(asm.R1, -16))
			insns = append(insns, readDeref(d, size, fmt.Sprintf("%s_d%d", label, i))...)
			insns = append(insns, asm.LoadMem(asm.R8, asm.RFP, -16, sz))
			return append(insns, storeBytes(dst, size, label)...), nil
		}
		if last {
			insns = append(insns, asm.Mov.Reg(asm.R1, asm.R7), asm.Add.Imm(asm.R1, int32(dst)))
			insns = append(insns, readDeref(d, size, fmt.Sprintf("%s_d%d", label, i))...)
			break
		}
		insns = append(insns, asm.Mov.Reg(asm.R1, asm.RFP), asm.Add.Imm(asm.R1, -8))
		insns = append(insns, readDeref(d, 8, fmt.Sprintf("%s_d%d", label, i))...)
		insns = append(insns,
			asm.JNE.Imm(asm.R0, 0, label),
			asm.LoadMem(asm.R8, asm.RFP, -8, asm.DWord))
	}
	return append(insns, asm.Mov.Imm(asm.R0, 0).WithSymbol(label)), nil
}

// storeBytes writes the size low bytes of R8 into the record (R7) at dst
// one at a time, in the machine's order, and ends the argument's code at
// label.
func storeBytes(dst int16, size int, label string) asm.Instructions {
	var insns asm.Instructions
	for k := range size {
		at := dst + int16(k)
		if !nativeLittle {
			at = dst + int16(size-1-k)
		}
		insns = append(insns, asm.StoreMem(asm.R7, at, asm.R8, asm.Byte), asm.RSh.Imm(asm.R8, 8))
	}
	return append(insns, asm.Mov.Imm(asm.R0, 0).WithSymbol(label))
}
