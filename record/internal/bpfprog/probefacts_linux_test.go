//go:build linux

package bpfprog

import (
	"reflect"
	"testing"

	"github.com/kpcap/kpcap/record/internal/kernelbtf"
)

// TestRememberedFactsMatchBTF checks that the probe registers, the
// uretprobe's task offsets and the syscall programs' offsets and targets
// read back from the facts file are those the kernel's BTF gives.
func TestRememberedFactsMatchBTF(t *testing.T) {
	spec, err := kernelbtf.Spec()
	if err != nil {
		need(t, "no kernel BTF: "+err.Error())
	}
	t.Setenv(kernelbtf.CacheEnv, t.TempDir())
	want, err := readProbeRegs(spec)
	if err != nil {
		need(t, err.Error())
	}
	var wantTask uprobeTask
	if err := wantTask.derive(spec); err != nil {
		t.Fatal(err)
	}
	var wantSys syscallRegs
	sysErr := wantSys.derive(spec) // x86-64 only
	// The first pass derives and writes the facts, the second reads them.
	for pass := range 2 {
		got, err := rememberProbeRegs()
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("pass %d: probe registers %+v, want %+v", pass, got, want)
		}
		var task uprobeTask
		if err := kernelbtf.Remember(uprobeTaskFact, &task, task.derive); err != nil || task != wantTask {
			t.Fatalf("pass %d: uprobe task %+v (%v), want %+v", pass, task, err, wantTask)
		}
		if sysErr == nil {
			sys, err := loadSyscallRegs()
			if err != nil || *sys != wantSys {
				t.Fatalf("pass %d: syscall registers %+v (%v), want %+v", pass, sys, err, wantSys)
			}
		}
	}
}
