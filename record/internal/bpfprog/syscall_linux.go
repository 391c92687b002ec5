//go:build linux

package bpfprog

import (
	"fmt"
	"runtime"
	"slices"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"
	"github.com/cilium/ebpf/link"
	"github.com/kpcap/kpcap/record/internal/kernelbtf"
)

// The syscall tracepoints (syscalls:sys_enter_NAME, sys_exit_NAME) are
// recorded by two programs on the raw sys_enter and sys_exit tracepoints
// (BTF-typed, tp_btf) rather than one classic tracepoint program each: the
// classic path makes the kernel build the perf record before it runs the
// program, which is most of its cost. The programs look the syscall number
// up in a table of the recorded ones and build the record the perf path
// would get: __syscall_nr, then the arguments (enter) or the return value
// (exit), taken from the registers as the kernel's syscall_get_arguments.

// maxSyscall bounds the syscall numbers the programs route (x86-64 has
// about 470, arm64 about 470).
const maxSyscall = 1024

// SyscallRaw is the payload a syscall program copies: the trace_entry,
// __syscall_nr (8 bytes with its padding) and six arguments.
const SyscallRaw = 16 + 6*8

// SyscallExitRaw is the payload the exit program copies: the trace_entry,
// __syscall_nr and ret. A shorter record takes less of the ring and of
// the caches on the traced task's CPU.
const SyscallExitRaw = 16 + 8

// SyscallNumber returns the number of the system call that the tracepoint
// syscalls:sys_enter_NAME or sys_exit_NAME records, when kpcap can record it
// through a raw syscall program on this architecture.
func SyscallNumber(name string) (int, bool) {
	if runtime.GOARCH != "amd64" {
		// arm64 reads its first argument from orig_x0 and marks compat
		// tasks differently: only x86-64's layout is written here.
		return 0, false
	}
	nr, ok := syscallNumbers[name]
	return nr, ok && nr < maxSyscall
}

// syscallRegs is what the syscall programs take from the kernel's BTF:
// where x86-64 keeps what they read, and their tp_btf attach targets.
// It is remembered per kernel build (kernelbtf.Remember), as JSON.
type syscallRegs struct {
	Args      [6]int     // pt_regs offsets of the arguments, in order
	Nr        int        // pt_regs offset of the syscall number (orig_ax)
	StatusOff int        // task_struct offset of thread_info.status (thread_info is first)
	Enter     btf.TypeID // btf_trace_sys_enter
	Exit      btf.TypeID // btf_trace_sys_exit
}

// syscallRegsFact names syscallRegs among the remembered facts; a change
// of what it holds or means takes a new name.
const syscallRegsFact = "bpfprog.syscallRegs.v1"

// tsCompat is x86's TS_COMPAT thread status: a 32-bit syscall, which the
// syscall tracepoints skip (trace_get_syscall_nr returns -1).
const tsCompat = 0x0002

// loadSyscallRegs reads the offsets and attach targets from the kernel's
// BTF, or from what an earlier run remembered of it.
func loadSyscallRegs() (*syscallRegs, error) {
	r := &syscallRegs{}
	if err := kernelbtf.Remember(syscallRegsFact, r, r.derive); err != nil {
		return nil, err
	}
	return r, nil
}

// derive fills r from the kernel's BTF. thread_info is the first member
// of task_struct on x86 (THREAD_INFO_IN_TASK, whose current_thread_info()
// is current itself), so task_struct, whose inflation drags in most of
// the kernel's types, is not looked up.
func (r *syscallRegs) derive(spec *btf.Spec) error {
	var regs, ti *btf.Struct
	if err := spec.TypeByName("pt_regs", &regs); err != nil {
		return fmt.Errorf("kernel BTF: struct pt_regs: %w", err)
	}
	if err := spec.TypeByName("thread_info", &ti); err != nil {
		return fmt.Errorf("kernel BTF: struct thread_info: %w", err)
	}
	var err error
	for i, name := range []string{"di", "si", "dx", "r10", "r8", "r9"} {
		if r.Args[i], err = memberOffset(regs, name); err != nil {
			return err
		}
	}
	if r.Nr, err = memberOffset(regs, "orig_ax"); err != nil {
		return err
	}
	if r.StatusOff, err = memberOffset(ti, "status"); err != nil {
		return err
	}
	if r.Enter, err = rawTpTarget(spec, "sys_enter"); err != nil {
		return err
	}
	r.Exit, err = rawTpTarget(spec, "sys_exit")
	return err
}

// rawTpTarget returns the BTF id of the typedef btf_trace_TP, which a
// tp_btf program of raw tracepoint TP attaches to.
func rawTpTarget(spec *btf.Spec, tp string) (btf.TypeID, error) {
	var td *btf.Typedef
	if err := spec.TypeByName("btf_trace_"+tp, &td); err != nil {
		return 0, fmt.Errorf("kernel BTF: raw tracepoint %s: %w", tp, err)
	}
	return spec.TypeID(td)
}

// memberOffset returns the byte offset of a named member of a struct or
// union, looking into anonymous structs and unions.
func memberOffset(t btf.Type, name string) (int, error) {
	var members []btf.Member
	switch c := btf.UnderlyingType(t).(type) {
	case *btf.Struct:
		members = c.Members
	case *btf.Union:
		members = c.Members
	}
	for _, m := range members {
		if m.Name == name {
			if m.Offset%8 != 0 {
				return 0, fmt.Errorf("kernel BTF: %s is a bitfield", name)
			}
			return int(m.Offset / 8), nil
		}
		if m.Name == "" {
			if off, err := memberOffset(m.Type, name); err == nil {
				return int(m.Offset/8) + off, nil
			}
		}
	}
	return 0, fmt.Errorf("kernel BTF: no member %q", name)
}

// maxInlineRoutes is how many syscalls of one direction the program
// routes by comparing the number with constants; more take a table
// lookup. A raw syscall program runs on every system call of the machine,
// so its first instructions are paid by all of them.
const maxInlineRoutes = 8

// syscallDir is the program of one direction and its routes.
type syscallDir struct {
	routes map[int]uint32 // syscall number -> route: BPF source | arguments<<routeArgsShift
	table  *ebpf.Map      // the routes as a table (number -> route + 1), past maxInlineRoutes
	prog   int            // index in Set.progs once loaded
	lnk    link.Link
}

// A route packs the BPF source of a syscall with the number of arguments
// its entry record carries, so that one register holds both.
const (
	routeArgsShift = 16
	routeSrcMask   = 1<<routeArgsShift - 1
)

// AddSyscall routes syscall nr, on entry or on exit, to source src. An
// entry record carries all six arguments (see AddSyscallEntry).
func (s *Set) AddSyscall(exit bool, nr int, src uint32) error {
	return s.addSyscall(exit, nr, src, 6)
}

// AddSyscallEntry routes the entry of syscall nr to source src, whose
// record carries the first args arguments (the 8-byte fields after
// __syscall_nr in the tracepoint's format): a getppid entry is 16 bytes
// of payload rather than 64, less of the ring for the program to write
// and the recorder to read.
func (s *Set) AddSyscallEntry(nr int, src uint32, args int) error {
	if args < 0 || args > 6 {
		return fmt.Errorf("bpfprog: syscall %d with %d arguments", nr, args)
	}
	return s.addSyscall(false, nr, src, args)
}

func (s *Set) addSyscall(exit bool, nr int, src uint32, args int) error {
	if nr < 0 || nr >= maxSyscall || int(src) >= s.nsrc || src > routeSrcMask {
		return fmt.Errorf("bpfprog: syscall %d for source %d", nr, src)
	}
	d := &s.sys[0]
	if exit {
		d = &s.sys[1]
	}
	if d.lnk != nil {
		return fmt.Errorf("bpfprog: syscall %d added after the program was attached", nr)
	}
	if d.routes == nil {
		d.routes = map[int]uint32{}
	}
	d.routes[nr] = src | uint32(args)<<routeArgsShift
	return nil
}

// routeTable fills d's routing table, created on first use.
func (d *syscallDir) routeTable() error {
	if d.table == nil {
		m, err := ebpf.NewMap(&ebpf.MapSpec{Name: "kpcap_sysnr", Type: ebpf.Array, KeySize: 4, ValueSize: 4, MaxEntries: maxSyscall})
		if err != nil {
			return fmt.Errorf("create BPF syscall table: %w", err)
		}
		d.table = m
	}
	for nr, route := range d.routes {
		if err := d.table.Put(uint32(nr), route+1); err != nil {
			return fmt.Errorf("fill BPF syscall table: %w", err)
		}
	}
	return nil
}

// AttachSyscalls loads and attaches the programs of the directions
// AddSyscall routed syscalls for. It returns their indexes for
// RecursionMisses: entry, exit (-1 when unused).
func (s *Set) AttachSyscalls() ([2]int, error) {
	idx := [2]int{-1, -1}
	for i := range s.sys {
		d := &s.sys[i]
		if len(d.routes) == 0 {
			continue
		}
		if d.lnk != nil {
			idx[i] = d.prog
			continue
		}
		if s.regs == nil {
			r, err := loadSyscallRegs()
			if err != nil {
				return idx, err
			}
			s.regs = r
		}
		if len(d.routes) > maxInlineRoutes {
			if err := d.routeTable(); err != nil {
				return idx, err
			}
		}
		p, err := s.loadSyscallProgram(i == 1, s.syscallProgram(i == 1, d))
		if err != nil {
			return idx, err
		}
		s.progs = append(s.progs, p)
		d.prog = len(s.progs) - 1
		tp := "sys_enter"
		if i == 1 {
			tp = "sys_exit"
		}
		if d.lnk, err = link.AttachTracing(link.TracingOptions{Program: p, AttachType: ebpf.AttachTraceRawTp}); err != nil {
			return idx, fmt.Errorf("attach the BPF program to raw tracepoint %s: %w", tp, err)
		}
		idx[i] = d.prog
	}
	return idx, nil
}

// DetachSyscalls detaches the raw syscall programs, so that their sources
// can take classic tracepoint programs instead.
func (s *Set) DetachSyscalls() {
	for i := range s.sys {
		if d := &s.sys[i]; d.lnk != nil {
			d.lnk.Close()
			d.lnk = nil
		}
	}
}

// route leaves the route (source and arguments) of the syscall number in R8 in R9 and
// jumps to "routed", or jumps to "out" when the number is not recorded:
// comparisons with constants for a few numbers (no memory touched), a
// table lookup for more.
func (d *syscallDir) route() asm.Instructions {
	if d.table == nil {
		nrs := make([]int, 0, len(d.routes))
		for nr := range d.routes {
			nrs = append(nrs, nr)
		}
		slices.Sort(nrs)
		var insns asm.Instructions
		for _, nr := range nrs {
			insns = append(insns,
				asm.Mov.Imm(asm.R9, int32(d.routes[nr])),
				asm.JEq.Imm(asm.R8, int32(nr), "routed"))
		}
		return append(insns, asm.Ja.Label("out"))
	}
	insns := asm.Instructions{
		// Unsigned: a negative number (no syscall) is out of range too.
		asm.JGE.Imm(asm.R8, maxSyscall, "out"),
	}
	insns = append(insns, lookup(d.table, asm.StoreMem(asm.RFP, -4, asm.R8, asm.Word), "out")...)
	return append(insns,
		asm.LoadMem(asm.R9, asm.R0, 0, asm.Word),
		asm.JEq.Imm(asm.R9, 0, "out"),
		asm.Sub.Imm(asm.R9, 1))
}

// syscallProgram generates the instructions of one direction. Registers: R6
// the context (the raw tracepoint's arguments: regs, then id or ret), R7
// the ring record, R8 the syscall number, R9 the route.
func (s *Set) syscallProgram(exit bool, d *syscallDir) asm.Instructions {
	insns := asm.Instructions{asm.Mov.Reg(asm.R6, asm.R1)}
	if exit {
		// sys_exit(regs, ret): the number is regs->orig_ax.
		insns = append(insns,
			asm.LoadMem(asm.R1, asm.R6, 0, asm.DWord),
			asm.LoadMem(asm.R8, asm.R1, int16(s.regs.Nr), asm.DWord))
	} else {
		// sys_enter(regs, id)
		insns = append(insns, asm.LoadMem(asm.R8, asm.R6, 8, asm.DWord))
	}
	insns = append(insns, d.route()...)
	insns = append(insns,
		// 32-bit syscalls of compat tasks are not these events.
		asm.FnGetCurrentTaskBtf.Call().WithSymbol("routed"),
		asm.LoadMem(asm.R1, asm.R0, int16(s.regs.StatusOff), asm.Word),
		asm.And.Imm(asm.R1, tsCompat),
		asm.JNE.Imm(asm.R1, 0, "out"),
	)
	insns = append(insns, s.gate()...)
	// hits++, keyed 2*source.
	insns = append(insns, routeKey(0)...)
	insns = append(insns, s.bump(asm.StoreMem(asm.RFP, -4, asm.R1, asm.Word), "hit")...)
	records, maxLen := s.syscallRecords(exit, d)
	insns = append(insns, records...)
	// lost++, keyed 2*source+1.
	lost := routeKey(1)
	lost[0] = lost[0].WithSymbol("lost")
	insns = append(insns, lost...)
	insns = append(insns, s.bump(asm.StoreMem(asm.RFP, -4, asm.R1, asm.Word), "out")...)
	insns = append(insns, asm.Ja.Label("out"))
	// A raw tracepoint's return value is ignored by the kernel. The
	// wakeup step test takes the longest record: one that crossed a step
	// is never missed, and a shorter one may wake the reader once more.
	submit := s.submitAndReturn(maxLen, 0)
	submit[0] = submit[0].WithSymbol("commit")
	return append(insns, submit...)
}

// syscallRecords starts at "hit": it writes the record of the route in
// R9, one block per record length (an exit's, or an entry's with so many
// arguments), and returns the longest length.
func (s *Set) syscallRecords(exit bool, d *syscallDir) (asm.Instructions, int) {
	if exit {
		recLen := HeaderLen + SyscallExitRaw
		return s.syscallRecord(exit, 0, recLen, "hit"), recLen
	}
	insns := asm.Instructions{asm.Mov.Reg(asm.R1, asm.R9).WithSymbol("hit"), asm.RSh.Imm(asm.R1, routeArgsShift)}
	var blocks asm.Instructions
	maxLen := 0
	for _, args := range d.argCounts() {
		recLen := HeaderLen + 16 + 8*args
		maxLen = max(maxLen, recLen)
		label := fmt.Sprintf("args%d", args)
		insns = append(insns, asm.JEq.Imm(asm.R1, int32(args), label))
		blocks = append(blocks, s.syscallRecord(exit, args, recLen, label)...)
	}
	insns = append(insns, asm.Ja.Label("out"))
	return append(insns, blocks...), maxLen
}

// loadSyscallProgram loads the program of one direction: straight onto
// its attach target's BTF id, or, should the kernel refuse that, through
// cilium/ebpf, which finds the target by name in the decoded BTF and
// says why a load fails.
func (s *Set) loadSyscallProgram(exit bool, insns asm.Instructions) (*ebpf.Program, error) {
	name, tp, target := "kpcap_sys_enter", "sys_enter", s.regs.Enter
	if exit {
		name, tp, target = "kpcap_sys_exit", "sys_exit", s.regs.Exit
	}
	if p, err := loadRawTp(name, insns, target); err == nil {
		return p, nil
	}
	p, err := s.loadWithBTF(&ebpf.ProgramSpec{
		Name:         name,
		Type:         ebpf.Tracing,
		AttachType:   ebpf.AttachTraceRawTp,
		AttachTo:     tp,
		Instructions: insns,
		License:      programLicense,
	})
	if err != nil {
		return nil, fmt.Errorf("load BPF %s program: %w", tp, err)
	}
	return p, nil
}

// routeKey leaves in R1 the counter index of the source in R9's route:
// 2*source+lost.
func routeKey(lost int32) asm.Instructions {
	return asm.Instructions{
		asm.Mov.Reg(asm.R1, asm.R9),
		asm.And.Imm(asm.R1, routeSrcMask),
		asm.LSh.Imm(asm.R1, 1),
		asm.Add.Imm(asm.R1, lost),
	}
}

// argCounts returns the distinct argument counts of d's routes, in order.
func (d *syscallDir) argCounts() []int {
	var counts []int
	for _, route := range d.routes {
		if n := int(route >> routeArgsShift); !slices.Contains(counts, n) {
			counts = append(counts, n)
		}
	}
	slices.Sort(counts)
	return counts
}

// syscallRecord reserves a record of recLen bytes at label, fills it and
// jumps to "commit", or to "lost" when the ring is full: the header, the
// zeroed common fields, __syscall_nr with its padding, then the first
// args arguments (entry) or ret (exit).
func (s *Set) syscallRecord(exit bool, args, recLen int, label string) asm.Instructions {
	insns := asm.Instructions{
		asm.LoadMapPtr(asm.R1, s.ring.FD()).WithSymbol(label),
		asm.Mov.Imm(asm.R2, int32(recLen+s.cgroupTail())),
		asm.Mov.Imm(asm.R3, 0),
		asm.FnRingbufReserve.Call(),
		asm.JEq.Imm(asm.R0, 0, "lost"),
		asm.Mov.Reg(asm.R7, asm.R0),
		asm.Mov.Reg(asm.R1, asm.R9),
		asm.And.Imm(asm.R1, routeSrcMask),
		asm.StoreMem(asm.R7, 0, asm.R1, asm.Word),
		asm.FnGetSmpProcessorId.Call(),
		asm.StoreMem(asm.R7, 4, asm.R0, asm.Word),
		asm.FnKtimeGetNs.Call(),
		asm.StoreMem(asm.R7, 8, asm.R0, asm.DWord),
		asm.FnGetCurrentPidTgid.Call(),
		asm.StoreMem(asm.R7, 16, asm.R0, asm.DWord),
		asm.Mov.Imm(asm.R1, 0),
		asm.StoreMem(asm.R7, HeaderLen, asm.R1, asm.DWord),
		asm.StoreMem(asm.R7, HeaderLen+8, asm.R8, asm.DWord),
	}
	if exit {
		insns = append(insns,
			asm.LoadMem(asm.R1, asm.R6, 8, asm.DWord),
			asm.StoreMem(asm.R7, HeaderLen+16, asm.R1, asm.DWord))
	} else if args > 0 {
		insns = append(insns, asm.LoadMem(asm.R2, asm.R6, 0, asm.DWord))
		for i, off := range s.regs.Args[:args] {
			insns = append(insns,
				asm.LoadMem(asm.R1, asm.R2, int16(off), asm.DWord),
				asm.StoreMem(asm.R7, int16(HeaderLen+16+8*i), asm.R1, asm.DWord))
		}
	}
	insns = append(insns, s.storeCgroup(recLen)...)
	return append(insns, asm.Ja.Label("commit"))
}

// loadWithBTF loads a program typed by the kernel's BTF (a tp_btf
// program, whose target cilium/ebpf looks up there) through the process's
// BTF cache: ebpf.NewProgram decodes the whole kernel BTF anew for each
// program.
func (s *Set) loadWithBTF(spec *ebpf.ProgramSpec) (*ebpf.Program, error) {
	coll, err := ebpf.NewCollectionWithOptions(
		&ebpf.CollectionSpec{Programs: map[string]*ebpf.ProgramSpec{spec.Name: spec}},
		ebpf.CollectionOptions{Cache: kernelbtf.Cache()})
	if err != nil {
		return nil, err
	}
	defer coll.Close()
	return coll.DetachProgram(spec.Name), nil
}
