//go:build linux

package bpfprog

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
)

// Recording by cgroup (--cgroup) on the BPF path, with the meaning of
// perf's cgroup events: an event counts when the current task's cgroup is
// one of the targets or a descendant (perf_cgroup_match:
// cgroup_is_descendant of the task's perf_event cgroup, which on the
// unified hierarchy, where that controller is implicit, is its own
// cgroup), which bpf_current_task_under_cgroup tests the same way. Each
// record then ends with the task's cgroup id (bpf_get_current_cgroup_id,
// the id PERF_SAMPLE_CGROUP reports there), after everything else, so no
// other field moves and records without cgroups stay as they are.

// CgroupIDLen is the size of the cgroup id that ends every record of a
// set restricted to cgroups (see SetCgroups).
const CgroupIDLen = 8

// SetCgroups restricts the programs loaded afterwards to the events of
// tasks in the cgroup v2 directories open as fds or below them, and ends
// each of their records with the task's cgroup id (CgroupIDLen bytes; see
// SplitCgroup). The fds may be closed once it returns.
func (s *Set) SetCgroups(fds []int) error {
	if len(s.progs) > 0 || s.cgroups != nil {
		return errors.New("bpfprog: cgroups set after a program was loaded")
	}
	if len(fds) == 0 {
		return errors.New("bpfprog: no cgroups")
	}
	m, err := ebpf.NewMap(&ebpf.MapSpec{Name: "kpcap_cgroups", Type: ebpf.CGroupArray, KeySize: 4, ValueSize: 4, MaxEntries: uint32(len(fds))})
	if err != nil {
		return fmt.Errorf("create BPF cgroup map: %w", err)
	}
	for i, fd := range fds {
		if err := m.Put(uint32(i), uint32(fd)); err != nil {
			m.Close()
			return fmt.Errorf("fill BPF cgroup map: %w", err)
		}
	}
	s.cgroups, s.ncgroups = m, len(fds)
	return nil
}

// SplitCgroup takes the cgroup id off the end of a record of a set
// restricted to cgroups. It reports false when the record is too short.
func SplitCgroup(rec []byte) (rest []byte, id uint64, ok bool) {
	n := len(rec) - CgroupIDLen
	if n < HeaderLen {
		return rec, 0, false
	}
	return rec[:n], binary.NativeEndian.Uint64(rec[n:]), true
}

// cgroupTail is how many bytes the cgroup id adds to each record: 0 for
// a set not restricted to cgroups.
func (s *Set) cgroupTail() int {
	if s.cgroups == nil {
		return 0
	}
	return CgroupIDLen
}

// inCgroups returns to "out" unless the current task is in one of the
// cgroups or below; nothing without cgroups. It uses R0-R5.
func (s *Set) inCgroups() asm.Instructions {
	if s.cgroups == nil {
		return nil
	}
	var insns asm.Instructions
	for i := range s.ncgroups {
		insns = append(insns,
			asm.LoadMapPtr(asm.R1, s.cgroups.FD()),
			asm.Mov.Imm(asm.R2, int32(i)),
			asm.FnCurrentTaskUnderCgroup.Call(),
			asm.JEq.Imm(asm.R0, 1, "in_cgroups"))
	}
	return append(insns,
		asm.Ja.Label("out"),
		asm.Mov.Imm(asm.R0, 0).WithSymbol("in_cgroups"))
}

// storeCgroup writes the current task's cgroup id at offset off of the
// record in R7, where the record would end without it; nothing without
// cgroups. It uses R0-R5.
func (s *Set) storeCgroup(off int) asm.Instructions {
	if s.cgroups == nil {
		return nil
	}
	return asm.Instructions{
		asm.FnGetCurrentCgroupId.Call(),
		asm.StoreMem(asm.R7, int16(off), asm.R0, asm.DWord),
	}
}

// storeVarCgroup writes the current task's cgroup id after the payload
// (at base, R9 bytes, bounded) of the variable-length record in R7 and
// counts it in R9; nothing without cgroups. It uses R0-R5.
func (s *Set) storeVarCgroup(base int) asm.Instructions {
	if s.cgroups == nil {
		return nil
	}
	return asm.Instructions{
		asm.FnGetCurrentCgroupId.Call(),
		asm.Mov.Reg(asm.R1, asm.R7),
		asm.Add.Imm(asm.R1, int32(base)),
		asm.Add.Reg(asm.R1, asm.R9),
		asm.StoreMem(asm.R1, 0, asm.R0, asm.DWord),
		asm.Add.Imm(asm.R9, CgroupIDLen),
	}
}
