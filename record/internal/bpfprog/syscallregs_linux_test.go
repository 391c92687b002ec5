//go:build linux

package bpfprog

import (
	"runtime"
	"testing"

	"github.com/cilium/ebpf/btf"
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
	if tiOff != 0 || r.statusOff != tiOff+st {
		t.Fatalf("thread_info at %d in task_struct, status at %d in thread_info: loadSyscallRegs says %d", tiOff, st, r.statusOff)
	}
}
