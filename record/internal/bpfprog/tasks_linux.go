//go:build linux

package bpfprog

import (
	"errors"
	"fmt"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"golang.org/x/sys/unix"
)

// maxTasks bounds the processes (and threads: see ForkProgram) the
// programs follow at once.
const maxTasks = 1 << 16

// SetTasks restricts the programs loaded afterwards to the events of the
// processes tgids and, once ForkProgram's program runs, of the processes
// and threads these start: the --pid or command of a recording. It is a
// superset of what per-task perf events see (a process is followed from
// before its first instruction until ForgetTask), which the recorder cuts
// to the exact per-task window.
func (s *Set) SetTasks(tgids []uint32) error {
	if len(s.progs) > 0 || s.tasks != nil {
		return errors.New("bpfprog: tasks set after a program was loaded")
	}
	m, err := ebpf.NewMap(&ebpf.MapSpec{Name: "kpcap_tasks", Type: ebpf.Hash, KeySize: 4, ValueSize: 1, MaxEntries: maxTasks, Flags: unix.BPF_F_NO_PREALLOC})
	if err != nil {
		return fmt.Errorf("create BPF task map: %w", err)
	}
	for _, id := range tgids {
		if err := m.Put(id, uint8(1)); err != nil {
			m.Close()
			return fmt.Errorf("fill BPF task map: %w", err)
		}
	}
	s.tasks = m
	return nil
}

// Tasks returns the ids the programs follow (processes, and threads
// ForkProgram added).
func (s *Set) Tasks() ([]uint32, error) {
	if s.tasks == nil {
		return nil, nil
	}
	var ids []uint32
	var id uint32
	var v uint8
	it := s.tasks.Iterate()
	for it.Next(&id, &v) {
		ids = append(ids, id)
	}
	return ids, it.Err()
}

// ForgetTask stops following id (a process or thread that is gone: its id
// may be reused).
func (s *Set) ForgetTask(id uint32) error {
	if s.tasks == nil {
		return nil
	}
	if err := s.tasks.Delete(id); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
		return fmt.Errorf("forget task %d: %w", id, err)
	}
	return nil
}

// ForkProgram returns the program for the sched:sched_process_fork
// tracepoint, whose child_pid field is the 4 bytes at childOff, that
// follows the children of followed processes. The tracepoint fires in the
// parent before the child first runs. The child of a thread-creating clone
// is a thread, which the programs' check by process id does not need; its
// id is added all the same (the tracepoint does not tell the two apart)
// and ForgetTask drops it.
func (s *Set) ForkProgram(childOff int) (*ebpf.Program, error) {
	if s.tasks == nil {
		return nil, errors.New("bpfprog: fork program without tasks")
	}
	if childOff < 8 || childOff > MaxRaw-4 {
		return nil, fmt.Errorf("bpfprog: child_pid at %d", childOff)
	}
	insns := asm.Instructions{asm.Mov.Reg(asm.R6, asm.R1)}
	insns = append(insns, s.followed()...)
	insns = append(insns,
		asm.LoadMem(asm.R1, asm.R6, int16(childOff), asm.Word),
		asm.StoreMem(asm.RFP, -8, asm.R1, asm.Word),
		asm.StoreImm(asm.RFP, -12, 1, asm.Byte),
		asm.LoadMapPtr(asm.R1, s.tasks.FD()),
		asm.Mov.Reg(asm.R2, asm.RFP),
		asm.Add.Imm(asm.R2, -8),
		asm.Mov.Reg(asm.R3, asm.RFP),
		asm.Add.Imm(asm.R3, -12),
		asm.Mov.Imm(asm.R4, 0), // BPF_ANY
		asm.FnMapUpdateElem.Call(),
		asm.Mov.Imm(asm.R0, 1).WithSymbol("out"),
		asm.Return(),
	)
	p, _, err := s.loadProgram("kpcap_fork", ebpf.TracePoint, insns)
	return p, err
}

// followed returns to "out" unless the current process is followed. It
// uses R0-R5 and the stack at fp-4.
func (s *Set) followed() asm.Instructions {
	return asm.Instructions{
		asm.FnGetCurrentPidTgid.Call(),
		asm.RSh.Imm(asm.R0, 32),
		asm.StoreMem(asm.RFP, -4, asm.R0, asm.Word),
		asm.LoadMapPtr(asm.R1, s.tasks.FD()),
		asm.Mov.Reg(asm.R2, asm.RFP),
		asm.Add.Imm(asm.R2, -4),
		asm.FnMapLookupElem.Call(),
		asm.JEq.Imm(asm.R0, 0, "out"),
	}
}
