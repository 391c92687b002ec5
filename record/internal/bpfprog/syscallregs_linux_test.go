//go:build linux

package bpfprog

import (
	"os"
	"runtime"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
	"github.com/cilium/ebpf/link"
	"github.com/kpcap/kpcap/record/internal/kernelbtf"
)

// TestSyscallRegsStatusInTask checks what loadSyscallRegs assumes so that
// it need not inflate task_struct: thread_info is the first member of the
// running kernel's task_struct, so thread_info.status's offset in
// thread_info is its offset in the task.
func TestSyscallRegsStatusInTask(t *testing.T) {
	if runtime.GOARCH != "amd64" {
		t.Skip("the raw syscall programs' layout is x86-64's")
	}
	spec, err := kernelbtf.Spec()
	if err != nil {
		need(t, "no kernel BTF: "+err.Error())
	}
	r, err := loadSyscallRegs()
	if err != nil {
		t.Fatal(err)
	}
	var task, ti *btf.Struct
	if err := spec.TypeByName("task_struct", &task); err != nil {
		t.Fatal(err)
	}
	if err := spec.TypeByName("thread_info", &ti); err != nil {
		t.Fatal(err)
	}
	tiOff, err := memberOffset(task, "thread_info")
	if err != nil {
		t.Fatal(err)
	}
	st, err := memberOffset(ti, "status")
	if err != nil {
		t.Fatal(err)
	}
	if tiOff != 0 || r.StatusOff != tiOff+st {
		t.Fatalf("thread_info at %d in task_struct, status at %d in thread_info: loadSyscallRegs says %d", tiOff, st, r.StatusOff)
	}
}

// TestRawTpLoadsByID loads the entry program onto its attach target's BTF
// id, as AttachSyscalls does, and checks that the kernel attached it to
// the raw tracepoint sys_enter, and that no id is refused, not guessed.
func TestRawTpLoadsByID(t *testing.T) {
	if os.Geteuid() != 0 {
		need(t, "needs root for BPF")
	}
	nr, ok := SyscallNumber("getppid")
	if !ok {
		need(t, "no raw syscall programs on "+runtime.GOARCH)
	}
	s, err := New(1<<20, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.AddSyscallEntry(nr, 0, 0); err != nil {
		t.Fatal(err)
	}
	if s.regs, err = loadSyscallRegs(); err != nil {
		t.Fatal(err)
	}
	insns := s.syscallProgram(false, &s.sys[0])
	p, err := loadRawTp("kpcap_sys_enter", insns, s.regs.Enter)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	l, err := link.AttachTracing(link.TracingOptions{Program: p, AttachType: ebpf.AttachTraceRawTp})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	info, err := l.Info()
	if err != nil {
		t.Fatal(err)
	}
	if rt := info.RawTracepoint(); rt == nil || rt.Name != "sys_enter" {
		t.Fatalf("attached to %+v, want raw tracepoint sys_enter", rt)
	}
	if _, err := loadRawTp("kpcap_sys_enter", insns, 0); err == nil {
		t.Fatal("loaded a tp_btf program without an attach target")
	}
}
