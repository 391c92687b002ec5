//go:build linux

package vmtest

import (
	"encoding/binary"
	"fmt"
	"os"
	"path"
	"strings"
	"testing"

	"github.com/kpcap/kpcap/format"
)

// TestKprobeOpenat: `kpcap record` with a kprobe (string fetcharg) and a
// kretprobe ($retval) on do_sys_openat2, following a command, returns every
// path opened and every return value, and loses nothing. tracefs is not
// mounted beforehand.
func TestKprobeOpenat(t *testing.T) {
	forEachKernel(t, "openat", func(t *testing.T, k Kernel, res *Result, j *JobResult) {
		expectLog(t, j, "tracefs before kpcap", "not mounted")
		expectLog(t, j, "kpcap exit", "0")
		expectLog(t, j, "kprobe_events after", "[]")
		tr := readTrace(t, j.Files["openat.kpcap"])
		if got := tr.File.Header.Host.Kernel; got != res.Release {
			t.Errorf("header kernel %q, VM runs %q", got, res.Release)
		}
		if got := tr.File.Header.Host.CPUs; got != 2 {
			t.Errorf("header says %d CPUs, the VM has 2", got)
		}
		_, open := tr.source(t, "kprobes:open")
		_, ret := tr.source(t, "kprobes:openret")
		if open.Kind != format.KindKprobe || ret.Kind != format.KindKretprobe {
			t.Errorf("kinds: open %v, openret %v", open.Kind, ret.Kind)
		}
		if open.Target != "do_sys_openat2" || ret.Target != "do_sys_openat2" {
			t.Errorf("targets: %q, %q", open.Target, ret.Target)
		}
		tr.checkNoLoss(t)

		rets, unpaired := tr.pairReturns("kprobes:open", "kprobes:openret", "ret")
		for _, fn := range unpaired {
			if strings.HasPrefix(fn, "/tmp/kpo-") {
				t.Errorf("open of %s has no return sample", fn)
			}
		}
		seen := 0
		for fn := range rets {
			if strings.HasPrefix(fn, "/tmp/kpo-") {
				seen++
			}
		}
		if seen != 80 {
			t.Errorf("%d distinct /tmp/kpo-* paths traced, want 80", seen)
		}
		for i := 1; i <= 40; i++ {
			for _, c := range []struct {
				path    string
				missing bool
			}{{fmt.Sprintf("/tmp/kpo-exist-%d", i), false}, {fmt.Sprintf("/tmp/kpo-missing-%d", i), true}} {
				vals := rets[c.path]
				switch {
				case len(vals) != 1:
					t.Errorf("%s: %d open/return pairs %v, want 1", c.path, len(vals), vals)
				case c.missing && vals[0] != -2:
					t.Errorf("%s: ret %d, want -2 (ENOENT)", c.path, vals[0])
				case !c.missing && vals[0] < 0:
					t.Errorf("%s: ret %d, want an fd", c.path, vals[0])
				}
			}
		}
		// Every sample comes from the traced command (sh) and its children (cat;
		// busybox re-executes itself as /proc/self/exe, hence "exe").
		for _, r := range tr.Rows {
			if !contains([]string{"cat", "sh", "seq", "exe", "kpcap"}, r.Comm) {
				t.Errorf("sample of %s (pid %d) outside the traced command: %s %v", r.Comm, r.PID, r.Probe, r.Fields)
				break
			}
		}
	})
}

// TestDefaultEvents: without -e or -p, kpcap records its default tracepoints
// plus the do_sys_openat2 kprobe pair on kernels that have kprobes.
func TestDefaultEvents(t *testing.T) {
	forEachKernel(t, "openat", func(t *testing.T, k Kernel, res *Result, j *JobResult) {
		expectLog(t, j, "defaults exit", "0")
		expectLog(t, j, "kprobe_events after-defaults", "[]")
		tr := readTrace(t, j.Files["defaults.kpcap"])
		tr.checkNoLoss(t)
		for _, name := range []string{"sched:sched_process_exec", "sched:sched_process_exit",
			"syscalls:sys_enter_openat", "syscalls:sys_exit_openat", "kprobes:openat2", "kprobes:openat2_ret"} {
			tr.source(t, name)
		}
		rets, _ := tr.pairReturns("kprobes:openat2", "kprobes:openat2_ret", "ret")
		if v := rets["/tmp/kpo-default-missing"]; len(v) != 1 || v[0] != -2 {
			t.Errorf("kprobes:openat2 of /tmp/kpo-default-missing returns %v, want [-2]", v)
		}
		if v := rets["/tmp/kpo-exist-1"]; len(v) != 1 || v[0] < 0 {
			t.Errorf("kprobes:openat2 of /tmp/kpo-exist-1 returns %v, want an fd", v)
		}
		// The syscall tracepoints hold a filename pointer, not the string:
		// check cat's calls and its -ENOENT return.
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

// TestKprobeFeatures: a definition without fetchargs on both CPUs, $comm,
// $arg1, :x64, nested dereferences, :symbol, kernel stacks symbolized from the
// file alone, SIGINT, and an in-kernel filter on a fetched string.
func TestKprobeFeatures(t *testing.T) {
	forEachKernel(t, "features", func(t *testing.T, k Kernel, res *Result, j *JobResult) {
		expectLog(t, j, "tracefs before kpcap", "not mounted")
		expectLog(t, j, "features exit", "0")
		expectLog(t, j, "kprobe_events after", "[]")
		expectLog(t, j, "filter exit", "0")
		expectLog(t, j, "kprobe_events after-filter", "[]")
		// Probes with fetchargs go through tracefs, and so does the one
		// without, opened on both CPUs: once, whatever the CPU count.
		during := logLine(t, j, "kprobe_events during")
		if !strings.Contains(during, "do_sys_openat2") || !strings.Contains(during, "__x64_sys_openat") {
			t.Errorf("kprobe_events during the capture lacks the tracefs probes: %s", during)
		}
		if n := strings.Count(during, " vfs_read;"); n != 1 {
			t.Errorf("vfs_read (no fetchargs, both CPUs) is %d probes in kprobe_events, want 1: %s", n, during)
		}

		tr := readTrace(t, j.Files["features.kpcap"])
		tr.checkNoLoss(t)
		// kpcap stores the kernel's own format: the same fields as the
		// tracefs baseline job's identical definition.
		if base := res.Jobs["tracefs_baseline"]; base != nil {
			want, err := os.ReadFile(base.Files["open.format"])
			_, src := tr.source(t, "kprobes:open")
			if err != nil {
				t.Errorf("baseline open.format: %v", err)
			} else if got, w := formatFields(src.Format), formatFields(string(want)); got != w || !strings.Contains(w, "filename;") {
				t.Errorf("stored format fields of kprobes:open:\n%s\ntracefs says:\n%s", got, w)
			}
		}
		_, vr := tr.source(t, "kprobes:vfs_read")
		if vr.Kind != format.KindKprobe || vr.Target != "vfs_read" {
			t.Errorf("vfs_read source: kind %v target %q", vr.Kind, vr.Target)
		}
		if n := len(tr.rows("kprobes:vfs_read", "cat")); n == 0 {
			t.Errorf("no vfs_read samples from cat")
		}
		checkFeatureOpens(t, tr)
		tr.checkStacks(t, "kprobes:open", 6, "do_sys_openat2", "__x64_sys_openat", "do_syscall_64")
		checkFeatureFilter(t, readTrace(t, j.Files["filter.kpcap"]))
	})
}

// checkFeatureOpens checks the fetched values of cat's six opens in the
// features job: kprobes:open's $arg1, :x64 and $comm, kprobes:openret's
// $retval, and kprobes:sysopen's nested dereference and :symbol.
func checkFeatureOpens(t *testing.T, tr *trace) {
	t.Helper()
	opens := map[string]traceRow{}
	for _, r := range tr.rows("kprobes:open", "cat") {
		fn, _ := r.Fields["filename"].(string)
		opens[fn] = r
	}
	syss := map[string]traceRow{}
	for _, r := range tr.rows("kprobes:sysopen", "cat") {
		p, _ := r.Fields["path"].(string)
		syss[p] = r
	}
	rets, _ := tr.pairReturns("kprobes:open", "kprobes:openret", "ret")
	for _, name := range []string{"exist-1", "missing-1", "exist-2", "missing-2", "exist-3", "missing-3"} {
		p := "/tmp/kpf-" + name
		o, ok := opens[p]
		if !ok {
			t.Errorf("%s: no kprobes:open sample", p)
			continue
		}
		if v, _ := asInt(o.Fields["dfd"]); v != -100 {
			t.Errorf("%s: dfd=$arg1:s32 = %v, want -100 (AT_FDCWD)", p, o.Fields["dfd"])
		}
		if v, _ := asInt(o.Fields["flags"]); v != 0x8000 {
			t.Errorf("%s: flags=+0(%%dx):x64 = %v, want 0x8000 (O_RDONLY|O_LARGEFILE)", p, o.Fields["flags"])
		}
		if v, _ := o.Fields["comm"].(string); v != "cat" {
			t.Errorf("%s: comm=$comm = %q", p, o.Fields["comm"])
		}
		if v := rets[p]; len(v) != 1 || (strings.HasPrefix(name, "missing") != (v[0] == -2)) {
			t.Errorf("%s: return values %v", p, v)
		}
		s, ok := syss[p]
		if !ok {
			t.Errorf("%s: no kprobes:sysopen sample (nested dereference +0(+104(%%di)):string)", p)
			continue
		}
		checkSysopen(t, tr, p, s)
	}
}

// checkSysopen checks kprobes:sysopen's sample s of the open of p: the
// path's first bytes through a nested dereference, and the return address
// on the stack resolved to the syscall dispatcher.
func checkSysopen(t *testing.T, tr *trace, p string, s traceRow) {
	t.Helper()
	head := binary.LittleEndian.Uint64([]byte("/tmp/kpf"))
	if v, _ := asInt(s.Fields["head"]); uint64(v) != head {
		t.Errorf("%s: head=+0(+104(%%di)):u64 = %#x, want %#x", p, v, head)
	}
	caller, ok := asInt(s.Fields["caller"])
	name, _, found := tr.File.KernelSymbol(uint64(caller))
	if !ok || !found || (name != "do_syscall_64" && name != "x64_sys_call") {
		t.Errorf("%s: caller=+0(%%sp):symbol = %v resolves to %q (found %v), want the syscall dispatcher", p, s.Fields["caller"], name, found)
	}
}

// checkFeatureFilter checks the features job's filtered recording: the
// filter stored with its source, and exactly the /tmp/kp* opens kept.
func checkFeatureFilter(t *testing.T, ft *trace) {
	t.Helper()
	ft.checkNoLoss(t)
	_, fsrc := ft.source(t, "kprobes:fopen")
	if fsrc.Filter != `filename ~ "/tmp/kp*"` {
		t.Errorf("fopen source filter %q", fsrc.Filter)
	}
	got := map[string]bool{}
	for _, r := range ft.rows("kprobes:fopen", "") {
		fn, _ := r.Fields["filename"].(string)
		if ok, _ := path.Match("/tmp/kp*", fn); !ok {
			t.Errorf("filter let %q through", fn)
		}
		got[fn] = true
	}
	for _, p := range []string{"/tmp/kpfilt-1", "/tmp/kpfilt-2", "/tmp/kpfilt-missing"} {
		if !got[p] {
			t.Errorf("filter dropped %s (got %v)", p, got)
		}
	}
}

// TestKprobeCleanup: kprobe_events is empty after SIGINT and after an error,
// a SIGKILLed capture's file stays readable, and the next run sweeps the
// probes a killed one left behind.
func TestKprobeCleanup(t *testing.T) {
	forEachKernel(t, "cleanup", func(t *testing.T, k Kernel, res *Result, j *JobResult) {
		if during := logLine(t, j, "kprobe_events during-sigint"); !strings.Contains(during, "do_sys_openat2") {
			t.Errorf("probes not in kprobe_events while recording: %s", during)
		}
		expectLog(t, j, "sigint exit", "0")
		expectLog(t, j, "kprobe_events after-sigint", "[]")
		tr := readTrace(t, j.Files["sigint.kpcap"])
		rets, _ := tr.pairReturns("kprobes:open", "kprobes:openret", "ret")
		if v := rets["/nonexistent-sigint"]; len(v) != 1 || v[0] != -2 {
			t.Errorf("SIGINT capture: /nonexistent-sigint returns %v, want [-2]", v)
		}

		if code := logLine(t, j, "error exit"); code == "0" {
			t.Errorf("kpcap exited 0 with an invalid probe")
		}
		stderr, _ := os.ReadFile(j.Files["error.stderr"])
		if !strings.Contains(string(stderr), "kprobes:bad") && !strings.Contains(string(stderr), "no_such_function_kpcap_vmtest") {
			t.Errorf("error message does not name the bad probe: %q", stderr)
		}
		if strings.Contains(string(stderr), "goroutine ") || strings.Contains(string(stderr), "panic:") {
			t.Errorf("Go panic on a bad probe: %s", stderr)
		}
		expectLog(t, j, "kprobe_events after-error", "[]")

		if left := logLine(t, j, "kprobe_events after-sigkill"); !strings.Contains(left, "do_sys_openat2") {
			t.Logf("no probe left after SIGKILL (fine, but unexpected for tracefs probes): %s", left)
		}
		kt := readTraceLenient(t, j.Files["sigkill.kpcap"])
		found := false
		for _, r := range kt.Rows {
			if r.Fields["filename"] == "/nonexistent-sigkill" {
				found = true
			}
		}
		if !found {
			t.Errorf("SIGKILLed capture lacks the open of /nonexistent-sigkill made 4 s before the kill (%d rows)", len(kt.Rows))
		}
		expectLog(t, j, "sweep exit", "0")
		expectLog(t, j, "kprobe_events after-sweep", "[]")
	})
}

// readTraceLenient reads a file that may lack its tail (a killed capture):
// warnings are logged, not errors.
func readTraceLenient(t *testing.T, path string) *trace {
	t.Helper()
	if path == "" {
		t.Fatal("trace file was not returned by the VM")
	}
	f, err := format.Open(path)
	if err != nil {
		t.Fatalf("format.Open(%s) of a SIGKILLed capture: %v", path, err)
	}
	t.Logf("SIGKILLed capture: %d frames, indexed %v, warnings %v", len(f.Frames), f.Indexed, f.Warnings)
	f.Close()
	return readTraceWith(t, path, false)
}

// formatFields returns the field lines of a tracefs format file, the part
// that must not depend on the probe's group, name or id.
func formatFields(format string) string {
	var b strings.Builder
	for _, l := range strings.Split(format, "\n") {
		if l = strings.TrimSpace(l); strings.HasPrefix(l, "field:") {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}
