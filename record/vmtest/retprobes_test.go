//go:build linux

package vmtest

import (
	"bufio"
	"encoding/binary"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/kpcap/kpcap/format"
)

// TestRetprobeOnce: a kretprobe without fetch arguments recorded on both
// CPUs is one kprobe in the kernel, and records each return of
// do_sys_openat2 once (as many as cat's openat calls, on each CPU) with the
// openat syscall's address as __probe_ret_ip, never a return trampoline
// (what every kretprobe after the first on a function records). On one CPU
// it goes through the kprobe PMU, with the same results there.
func TestRetprobeOnce(t *testing.T) {
	forEachKernel(t, "retprobes", func(t *testing.T, k Kernel, res *Result, j *JobResult) {
		expectLog(t, j, "retprobes exit", "0")
		expectLog(t, j, "kprobe_events after", "[]")
		expectLog(t, j, "kprobes on do_sys_openat2 while recording", "1")
		syms := readSymRanges(t, j.Files["kallsyms.txt"])
		checkReturns(t, j.Files["retprobes.kpcap"], syms, 0, 1)

		expectLog(t, j, "onecpu exit", "0")
		expectLog(t, j, "kprobe_events onecpu-during", "[]")
		expectLog(t, j, "onecpu kprobes on do_sys_openat2 while recording", "1")
		checkReturns(t, j.Files["onecpu.kpcap"], syms, 0)
	})
}

// checkReturns checks cat's samples of kprobes:openret in the trace at
// path: on each of cpus as many as its syscalls:sys_enter_openat samples
// and at least 10, each returning into an openat syscall function.
func checkReturns(t *testing.T, path string, syms symRanges, cpus ...uint32) {
	t.Helper()
	tr := readTrace(t, path)
	tr.checkNoLoss(t)
	byName := commSamples(t, tr.File, "cat")
	_, src := tr.source(t, "kprobes:openret")
	rets, opens := byName["kprobes:openret"], byName["syscalls:sys_enter_openat"]
	perCPU := map[uint32][2]int{}
	for i, list := range [][]format.Sample{rets, opens} {
		for _, s := range list {
			n := perCPU[s.CPU]
			n[i]++
			perCPU[s.CPU] = n
		}
	}
	for _, cpu := range cpus {
		if n := perCPU[cpu]; n[0] != n[1] || n[1] < 10 {
			t.Errorf("%s: CPU %d: cat's returns of do_sys_openat2 %d, its openat calls %d, want equal and at least 10 (10 files opened there)", filepath.Base(path), cpu, n[0], n[1])
		}
	}
	off := fieldOffset(t, src.Format, "__probe_ret_ip")
	tramp, elsewhere := 0, 0
	for _, s := range rets {
		ip := binary.NativeEndian.Uint64(s.Raw[off:])
		switch name := syms.lookup(ip); {
		case strings.Contains(name, "trampoline"):
			tramp++
		case !strings.Contains(name, "sys_open"):
			elsewhere++
			t.Logf("return to %#x (%q)", ip, name)
		}
	}
	if tramp != 0 || elsewhere != 0 {
		t.Errorf("%s: of cat's %d returns, %d record a return trampoline and %d another place as __probe_ret_ip, want every one in an openat syscall function", filepath.Base(path), len(rets), tramp, elsewhere)
	}
	t.Logf("%s: cat's %d returns, %d at a trampoline; per CPU [returns, openat calls]: %v", filepath.Base(path), len(rets), tramp, perCPU)
}

// symRange is one kernel function: its address and the next symbol's.
type symRange struct {
	start, end uint64
	name       string
}

type symRanges []symRange

// readSymRanges reads `sort /proc/kallsyms | grep -A1 PATTERN`: each
// matching symbol ends where the line after it starts.
func readSymRanges(t *testing.T, path string) symRanges {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("kallsyms excerpt: %v", err)
	}
	defer f.Close()
	type sym struct {
		addr uint64
		name string
	}
	var lines []sym
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fl := strings.Fields(sc.Text())
		if len(fl) < 3 {
			lines = append(lines, sym{}) // grep's "--" between groups
			continue
		}
		a, err := strconv.ParseUint(fl[0], 16, 64)
		if err != nil {
			t.Fatalf("kallsyms excerpt: %q", sc.Text())
		}
		lines = append(lines, sym{a, fl[2]})
	}
	var out symRanges
	for i := 0; i+1 < len(lines); i++ {
		if lines[i].name != "" && lines[i+1].name != "" && lines[i+1].addr > lines[i].addr {
			out = append(out, symRange{lines[i].addr, lines[i+1].addr, lines[i].name})
		}
	}
	if len(out) == 0 {
		t.Fatal("kallsyms excerpt has no symbols (kernel addresses hidden?)")
	}
	return out
}

// lookup names the function holding ip, "" when none of rs does.
func (rs symRanges) lookup(ip uint64) string {
	for _, r := range rs {
		if ip >= r.start && ip < r.end {
			return r.name
		}
	}
	return ""
}

// fieldOffset returns the offset of field name in format text.
func fieldOffset(t *testing.T, text, name string) int {
	t.Helper()
	for _, line := range strings.Split(text, "\n") {
		decl, rest, ok := strings.Cut(strings.TrimSpace(line), ";")
		if !ok || !strings.HasSuffix(decl, " "+name) {
			continue
		}
		for _, part := range strings.Split(rest, ";") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(part), "offset:"); ok {
				off, err := strconv.Atoi(v)
				if err == nil {
					return off
				}
			}
		}
	}
	t.Fatalf("format has no field %s:\n%s", name, text)
	return 0
}
