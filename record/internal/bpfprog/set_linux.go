//go:build linux

package bpfprog

import (
	"errors"
	"fmt"
	"math/bits"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
)

// MaxRaw is the largest fixed payload a tracepoint program copies: the
// verifier lets a tracepoint program read its context up to
// PERF_MAX_TRACE_SIZE (2048) bytes.
const MaxRaw = 2048

// Ring buffer flags of bpf_ringbuf_submit and bpf_ringbuf_query (uapi bpf.h).
const (
	rbNoWakeup    = 1
	rbForceWakeup = 2
	rbAvailData   = 0
)

// programLicense is the license the generated programs declare to the
// kernel: tp_btf programs and bpf_get_current_task_btf need a
// GPL-compatible one. The programs are kpcap's own code, generated at run
// time; dual licensing them as cilium's and the kernel selftests' BPF
// programs are keeps them usable with every helper.
const programLicense = "Dual BSD/GPL"

// Set is the maps one recording's programs share and the programs loaded
// into them.
type Set struct {
	ring, ctl, counts *ebpf.Map
	cpus              *ebpf.Map // one byte per CPU, 1 where events are recorded; nil: every CPU
	tasks             *ebpf.Map // process ids followed (SetTasks); nil: every task
	cgroups           *ebpf.Map // cgroups recorded (SetCgroups); nil: every cgroup
	ncgroups          int       // entries in cgroups
	ncpus             int       // bytes in cpus' value
	progs             []*ebpf.Program
	nsrc              int
	scratch           *ebpf.Map // per-CPU record of the variable-length programs
	scratchSize       int       // bytes in scratch's value
	watermark         int
	sys               [2]syscallDir // raw syscall programs: enter, exit
	regs              *syscallRegs  // loaded with the first syscall program
}

// New creates the maps for nsrc sources: a ring buffer of ringBytes (a
// power of two, a multiple of the page size), the gate (closed) and the
// per-CPU counters.
func New(ringBytes, nsrc int) (*Set, error) {
	if nsrc <= 0 {
		return nil, errors.New("bpfprog: no sources")
	}
	s := &Set{nsrc: nsrc, watermark: ringBytes / 4}
	var err error
	s.ring, err = ebpf.NewMap(&ebpf.MapSpec{Name: "kpcap_ring", Type: ebpf.RingBuf, MaxEntries: uint32(ringBytes)})
	if err != nil {
		return nil, fmt.Errorf("create BPF ring buffer of %d bytes: %w", ringBytes, err)
	}
	s.ctl, err = ebpf.NewMap(&ebpf.MapSpec{Name: "kpcap_gate", Type: ebpf.Array, KeySize: 4, ValueSize: 4, MaxEntries: 1})
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("create BPF gate map: %w", err)
	}
	s.counts, err = ebpf.NewMap(&ebpf.MapSpec{Name: "kpcap_counts", Type: ebpf.PerCPUArray, KeySize: 4, ValueSize: 8, MaxEntries: uint32(2 * nsrc)})
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("create BPF counter map: %w", err)
	}
	return s, nil
}

// Ring returns the ring buffer map the programs write into.
func (s *Set) Ring() *ebpf.Map { return s.ring }

// SetEnabled opens or closes the gate: a program that finds it closed
// returns at once, counting nothing.
func (s *Set) SetEnabled(on bool) error {
	v := uint32(0)
	if on {
		v = 1
	}
	if err := s.ctl.Put(uint32(0), v); err != nil {
		return fmt.Errorf("set BPF gate: %w", err)
	}
	return nil
}

// Counts returns, per possible CPU, how many events source src's program
// saw with the gate open (hits) and how many of them the ring refused (lost).
func (s *Set) Counts(src int) (hits, lost []uint64, err error) {
	if err := s.counts.Lookup(uint32(2*src), &hits); err != nil {
		return nil, nil, fmt.Errorf("read BPF counters: %w", err)
	}
	if err := s.counts.Lookup(uint32(2*src+1), &lost); err != nil {
		return nil, nil, fmt.Errorf("read BPF counters: %w", err)
	}
	return hits, lost, nil
}

// RecursionMisses returns how often the kernel skipped the programs
// because another BPF program was running on the CPU (Linux 5.12+; 0
// before): those events were neither recorded nor counted in hits.
func (s *Set) RecursionMisses(i int) (uint64, error) {
	st, err := s.progs[i].Stats()
	if err != nil {
		return 0, err
	}
	return st.RecursionMisses, nil
}

// Close releases the programs and maps (the kernel detaches a program
// when its last attachment closes).
func (s *Set) Close() {
	for i := range s.sys {
		if d := &s.sys[i]; d.lnk != nil {
			d.lnk.Close()
		}
	}
	for _, p := range s.progs {
		p.Close()
	}
	s.progs = nil
	for _, m := range []*ebpf.Map{s.ring, s.ctl, s.counts, s.cpus, s.tasks, s.cgroups, s.scratch, s.sys[0].table, s.sys[1].table} {
		if m != nil {
			m.Close()
		}
	}
}

// Tracepoint loads the program of source src, a classic tracepoint whose
// payload has rawLen fixed bytes (no __data_loc field). It returns the
// program's index for RecursionMisses. A filter f (nil: none) drops the
// events it rejects before they are counted, as the kernel's filter on a
// perf event drops them before the perf path sees them. With stack > 0
// the record carries the event's kernel and user call stacks of up to
// stack entries each after the payload (see StackBytes).
//
// The kernel hands a tracepoint program the event's record with its first
// 8 bytes (common_type, common_flags, common_preempt_count, common_pid)
// replaced by a pt_regs pointer, so the program copies bytes 8 to rawLen
// and leaves the common fields to user space.
func (s *Set) Tracepoint(src uint32, rawLen int, f *Filter, stack int) (*ebpf.Program, int, error) {
	if int(src) >= s.nsrc {
		return nil, 0, fmt.Errorf("bpfprog: source %d of %d", src, s.nsrc)
	}
	if rawLen < 8 || rawLen > MaxRaw {
		return nil, 0, fmt.Errorf("bpfprog: payload of %d bytes (want 8 to %d)", rawLen, MaxRaw)
	}
	words := (rawLen + 7) / 8
	recLen := HeaderLen + 8*words + StackBytes(stack)
	insns := asm.Instructions{
		asm.Mov.Reg(asm.R6, asm.R1),
	}
	insns = append(insns, s.gate()...)
	if f != nil {
		insns = append(insns, f.code(asm.R6, 0, "out")...)
	}
	insns = append(insns, s.reserveZeroed(src, words, stack)...)
	// The payload after the common fields, as direct context loads that
	// stay within the event's fields: the kernel refuses to attach a
	// program that reads past the last one.
	for off := 8; off < rawLen; {
		size, n := asm.DWord, 8
		for off%n != 0 || off+n > rawLen {
			n /= 2
		}
		switch n {
		case 4:
			size = asm.Word
		case 2:
			size = asm.Half
		case 1:
			size = asm.Byte
		}
		insns = append(insns,
			asm.LoadMem(asm.R1, asm.R6, int16(off), size),
			asm.StoreMem(asm.R7, int16(HeaderLen+off), asm.R1, size))
		off += n
	}
	if stack > 0 {
		insns = append(insns, stacks(HeaderLen+8*words, stack)...)
	}
	// 1 lets the kernel go on to the tracepoint's perf events: with 0 it
	// skips them, and every other recording of this tracepoint on the
	// machine (another kpcap, perf) misses the hit uncounted.
	insns = append(insns, s.submitAndReturn(recLen, 1)...)
	return s.loadProgram(fmt.Sprintf("kpcap_tp_%d", src), ebpf.TracePoint, insns)
}

// loadProgram loads a generated program of the given type and keeps it
// with the set's others. It returns the program and its index for
// RecursionMisses.
func (s *Set) loadProgram(name string, typ ebpf.ProgramType, insns asm.Instructions) (*ebpf.Program, int, error) {
	p, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Name:         name,
		Type:         typ,
		Instructions: insns,
		License:      programLicense,
	})
	if err != nil {
		return nil, 0, fmt.Errorf("load BPF program %s: %w", name, err)
	}
	s.progs = append(s.progs, p)
	return p, len(s.progs) - 1, nil
}

// lookup looks up, in map m, the 4-byte key that the instruction key
// stores at fp-4, leaving the value's address in R0, or jumps to miss
// when there is none.
func lookup(m *ebpf.Map, key asm.Instruction, miss string) asm.Instructions {
	return asm.Instructions{
		key,
		asm.LoadMapPtr(asm.R1, m.FD()),
		asm.Mov.Reg(asm.R2, asm.RFP),
		asm.Add.Imm(asm.R2, -4),
		asm.FnMapLookupElem.Call(),
		asm.JEq.Imm(asm.R0, 0, miss),
	}
}

// bump adds one to the per-CPU counter whose index the instruction key
// stores at fp-4; a failed lookup jumps to miss. The add is atomic: a
// preemptible tracepoint can run a program twice at once on one CPU.
func (s *Set) bump(key asm.Instruction, miss string) asm.Instructions {
	return append(lookup(s.counts, key, miss),
		asm.Mov.Imm(asm.R1, 1),
		asm.StoreXAdd(asm.R0, asm.R1, asm.DWord))
}

// SetCPUs restricts the programs loaded afterwards to events on the given
// CPUs (the --cpus of a recording); without it they record on every CPU.
func (s *Set) SetCPUs(cpus []int) error {
	if len(s.progs) > 0 || s.cpus != nil {
		return errors.New("bpfprog: CPUs set after a program was loaded")
	}
	n := 0
	for _, c := range cpus {
		if c < 0 || c >= 1<<16 {
			return fmt.Errorf("bpfprog: CPU %d", c)
		}
		n = max(n, c+1)
	}
	if n == 0 {
		return errors.New("bpfprog: no CPUs")
	}
	val := make([]byte, n)
	for _, c := range cpus {
		val[c] = 1
	}
	m, err := ebpf.NewMap(&ebpf.MapSpec{Name: "kpcap_cpus", Type: ebpf.Array, KeySize: 4, ValueSize: uint32(n), MaxEntries: 1})
	if err != nil {
		return fmt.Errorf("create BPF CPU map: %w", err)
	}
	if err := m.Put(uint32(0), val); err != nil {
		m.Close()
		return fmt.Errorf("fill BPF CPU map: %w", err)
	}
	s.cpus, s.ncpus = m, n
	return nil
}

// gate returns to "out" when the gate is closed, when the event is on
// a CPU the recording leaves out, or when its process is not followed. The gate and the CPU bytes are read
// straight from their maps' values (loads from constant addresses) rather
// than through lookups.
func (s *Set) gate() asm.Instructions {
	insns := asm.Instructions{
		asm.LoadMapValue(asm.R1, s.ctl.FD(), 0),
		asm.LoadMem(asm.R1, asm.R1, 0, asm.Word),
		asm.JEq.Imm(asm.R1, 0, "out"),
	}
	if s.cpus != nil {
		insns = append(insns,
			asm.FnGetSmpProcessorId.Call(),
			asm.JGE.Imm(asm.R0, int32(s.ncpus), "out"),
			asm.LoadMapValue(asm.R1, s.cpus.FD(), 0),
			asm.Add.Reg(asm.R1, asm.R0),
			asm.LoadMem(asm.R1, asm.R1, 0, asm.Byte),
			asm.JEq.Imm(asm.R1, 0, "out"))
	}
	if s.tasks != nil {
		insns = append(insns, s.followed()...)
	}
	return append(insns, s.inCgroups()...)
}

// submitAndReturn ends a program: it submits the record of recLen bytes
// (and the cgroup id, see cgroupTail) reserved in R7 and returns ret. The
// label "out" is where a failed reservation jumps.
//
// The reader is woken only past the watermark (a quarter of the ring, as
// the perf rings' watermark does: a wakeup per event would cost the traced
// tasks more than the event itself), and there only by the records that
// cross a multiple of wakeStep: each forced wakeup raises an interrupt on
// the event's CPU, and a reader slow to run would otherwise take one per
// event until it drains the ring. A crossing missed while other CPUs
// reserve at the same time is made up at the next step, and the
// recorder's poll timeout bounds the wait.
func (s *Set) submitAndReturn(recLen int, ret int32) asm.Instructions {
	insns := s.wakeFlags(recLen, true, "submit")
	return append(insns,
		asm.Mov.Reg(asm.R1, asm.R7).WithSymbol("submit"),
		asm.FnRingbufSubmit.Call(),
		asm.Mov.Imm(asm.R0, ret).WithSymbol("out"),
		asm.Return())
}

// wakeFlags leaves in R2 the wakeup flag of a record of recLen bytes (see
// submitAndReturn) and goes on at label done, which the caller puts on
// the next instruction. inRing says whether the record is in the ring's
// data already (reserved) or is about to be (bpf_ringbuf_output).
func (s *Set) wakeFlags(recLen int, inRing bool, done string) asm.Instructions {
	total := int32((recLen + s.cgroupTail() + ringHeader + 7) &^ 7)
	var add asm.Instructions
	if !inRing {
		add = asm.Instructions{asm.Add.Imm(asm.R0, total)}
	}
	return s.wakeTest(add, asm.Sub.Imm(asm.R1, total), done)
}

// wakeTest is wakeFlags' code given how to add the record's ring bytes to
// the data available (add, nothing for a record in the ring already) and
// how to take them off the copy in R1 (sub).
func (s *Set) wakeTest(add asm.Instructions, sub asm.Instruction, done string) asm.Instructions {
	shift := int32(bits.Len(uint(s.wakeStep())) - 1)
	insns := asm.Instructions{
		asm.LoadMapPtr(asm.R1, s.ring.FD()),
		asm.Mov.Imm(asm.R2, rbAvailData),
		asm.FnRingbufQuery.Call(),
	}
	insns = append(insns, add...)
	return append(insns,
		asm.Mov.Imm(asm.R2, rbNoWakeup),
		asm.JLT.Imm(asm.R0, int32(s.watermark), done),
		// A step crossed: (avail-total)>>shift != avail>>shift.
		asm.Mov.Reg(asm.R1, asm.R0),
		sub,
		asm.RSh.Imm(asm.R1, shift),
		asm.RSh.Imm(asm.R0, shift),
		asm.JEq.Reg(asm.R0, asm.R1, done),
		asm.Mov.Imm(asm.R2, rbForceWakeup))
}

// ringHeader is the kernel's header before each ring record.
const ringHeader = 8

// wakeStep is how many bytes past the watermark the programs let go by
// between two forced wakeups: an eighth of the watermark, a power of two.
func (s *Set) wakeStep() int { return max(s.watermark/8, 8) }
