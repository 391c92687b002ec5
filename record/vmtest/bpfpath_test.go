//go:build linux

package vmtest

import (
	"testing"

	"github.com/kpcap/kpcap/format"
)

// TestBPFPath records syscall tracepoints through the BPF capture path on
// every VM kernel: the file says so per source, nothing is lost, and cat's
// openat calls and the -ENOENT return of the missing file are there.
func TestBPFPath(t *testing.T) {
	forEachKernel(t, "openat", func(t *testing.T, k Kernel, res *Result, j *JobResult) {
		expectLog(t, j, "bpf exit", "0")
		tr := readTrace(t, j.Files["bpf.kpcap"])
		tr.checkNoLoss(t)
		for _, name := range []string{"syscalls:sys_enter_openat", "syscalls:sys_exit_openat"} {
			if _, src := tr.source(t, name); src.Path != format.PathBPF {
				t.Errorf("%s: path %q, want bpf", name, src.Path)
			}
		}
		if n := len(tr.rows("syscalls:sys_enter_openat", "cat")); n < 2 {
			t.Errorf("%d syscalls:sys_enter_openat samples from cat, want at least 2", n)
		}
		enoent := false
		for _, r := range tr.rows("syscalls:sys_exit_openat", "cat") {
			if v, _ := asInt(r.Fields["ret"]); v == -2 {
				enoent = true
			}
		}
		if !enoent {
			t.Errorf("no syscalls:sys_exit_openat sample from cat returning -2")
		}
	})
}
