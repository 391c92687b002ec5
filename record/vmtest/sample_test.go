//go:build linux

package vmtest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// maxSampleSize bounds each committed sample trace.
const maxSampleSize = 1 << 20

// TestSampleTraces records the realistic sample job on each kernel and checks
// the result; with -update it rewrites testdata/kernels/openat-KERNEL.pcapng.zst.
// Without -update it checks that the committed files still decode (not that
// they are byte-equal: timestamps and pids differ on every run).
func TestSampleTraces(t *testing.T) {
	root, err := ModuleRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, "testdata", "kernels")
	forEachKernel(t, "sample", func(t *testing.T, k Kernel, res *Result, j *JobResult) {
		expectLog(t, j, "kpcap exit", "0") // after SIGINT
		expectLog(t, j, "kprobe_events after", "[]")
		fresh := j.Files["openat.pcapng.zst"]
		t.Run("fresh", func(t *testing.T) { checkSample(t, fresh, res.Release) })
		committed := filepath.Join(dir, "openat-"+k.Name+".pcapng.zst")
		if *update {
			if t.Failed() {
				t.Fatalf("not updating %s from a failed run", committed)
			}
			b, err := os.ReadFile(fresh)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(committed, b, 0o644); err != nil {
				t.Fatal(err)
			}
			t.Logf("wrote %s (%d bytes)", committed, len(b))
		}
		t.Run("committed", func(t *testing.T) {
			if _, err := os.Stat(committed); err != nil {
				t.Fatalf("%v: regenerate with go test ./record/vmtest/ -run TestSampleTraces -update", err)
			}
			checkSample(t, committed, strings.TrimPrefix(k.Package, "linux-image-"))
		})
	})
}

// checkSample checks a sample trace: size, sources, no loss, the workload's
// processes and opens, symbolized stacks.
func checkSample(t *testing.T, path, release string) {
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() >= maxSampleSize {
		t.Errorf("%s is %d bytes, want < %d", path, fi.Size(), maxSampleSize)
	}
	tr := readTrace(t, path)
	if got := tr.File.Header.Host.Kernel; got != release {
		t.Errorf("recorded on kernel %q, want %q", got, release)
	}
	tr.checkNoLoss(t)
	tr.source(t, "sched:sched_process_exec")
	tr.source(t, "sched:sched_process_exit")
	// Defined by BTF names, translated by kpcap; the file keeps both and the C types.
	_, open := tr.source(t, "kprobes:openat2")
	if open.Definition != "p:kprobes/openat2 do_sys_openat2 filename:string" || !strings.Contains(open.Created, "filename=+0($arg2):string") {
		t.Errorf("kprobes:openat2 defined as %q, created as %q: want the BTF name and kpcap's translation", open.Definition, open.Created)
	}
	if len(open.Fields) != 1 || open.Fields[0].Name != "filename" || !strings.Contains(open.Fields[0].CType, "char") {
		t.Errorf("kprobes:openat2 field types %+v, want filename's C type", open.Fields)
	}
	_, ret := tr.source(t, "kprobes:openat2_ret")
	if len(ret.Fields) != 1 || ret.Fields[0].Name != "ret" || !strings.Contains(ret.Fields[0].CType, "int") {
		t.Errorf("kprobes:openat2_ret field types %+v, want ret typed from the prototype (long int or int)", ret.Fields)
	}
	// busybox runs some applets without exec (ls, find) and others by
	// re-executing /proc/self/exe: check the commands through comms.
	comms := map[string]bool{}
	for _, r := range tr.Rows {
		comms[r.Comm] = true
	}
	for _, c := range []string{"ls", "cat", "find", "sh"} {
		if !comms[c] {
			t.Errorf("no samples of %s (comms: %v)", c, comms)
		}
	}
	if n := len(tr.rows("sched:sched_process_exec", "")); n < 5 {
		t.Errorf("%d process execs, want at least 5", n)
	}
	if n := len(tr.rows("sched:sched_process_exit", "")); n < 10 {
		t.Errorf("%d process exits, want at least 10", n)
	}
	rets, _ := tr.pairReturns("kprobes:openat2", "kprobes:openat2_ret", "ret")
	// The workload opens /tmp/sample-start first and /tmp/sample-end last.
	for _, p := range []string{"/tmp/sample-start", "/tmp/sample-end"} {
		if v := rets[p]; len(v) != 1 || v[0] != -2 {
			t.Errorf("sentinel %s: returns %v, want [-2] (capture started late or ended early?)", p, v)
		}
	}
	for p, want := range map[string]int64{"/etc/passwd": 0, "/tmp/sample-2": 0, "/tmp/missing-1": -2, "/tmp/missing-3": -2} {
		v := rets[p]
		if len(v) == 0 || (want < 0 && v[0] != want) || (want >= 0 && v[0] < 0) {
			t.Errorf("open of %s returned %v, want %d", p, v, want)
		}
	}
	if len(rets) < 20 {
		t.Errorf("only %d distinct paths opened", len(rets))
	}
	tr.checkStacks(t, "kprobes:openat2", 20, "do_sys_openat2", "__x64_sys_openat", "do_syscall_64")
	t.Logf("%s: %d bytes, %d samples, %d distinct paths, %d execs", filepath.Base(path), fi.Size(), len(tr.Samples), len(rets), len(tr.rows("sched:sched_process_exec", "")))
}
