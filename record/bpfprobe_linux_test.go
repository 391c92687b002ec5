//go:build linux

package record

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/kpcap/kpcap/format"
	"github.com/kpcap/kpcap/record/probedef"
)

// stepperC calls kpcap_step n times with a pointer to a linked pair of
// globals: built without PIE, every address the probes read is the same
// in every run.
const stepperC = `
#include <stdlib.h>
struct item { int id; long val; struct item *next; };
struct item second = {7, 1234567, 0};
struct item first = {5, 99, &second};
__attribute__((noinline)) int kpcap_step(long n, struct item *it) {
	__asm__ volatile("" ::: "memory");
	return (int)(n * 3) - it->id - it->next->id;
}
int main(int argc, char **argv) {
	int n = atoi(argv[1]);
	long s = 0;
	for (int i = 0; i < n; i++) { first.id = i; s += kpcap_step(i, &first); }
	return s == 42;
}
`

// buildStepper compiles stepperC, with extra gcc flags.
func buildStepper(t *testing.T, flags ...string) string {
	t.Helper()
	return buildTarget(t, "stepper", stepperC, flags...)
}

// buildTarget compiles the C program text into a binary called name,
// with extra gcc flags.
func buildTarget(t *testing.T, name, text string, flags ...string) string {
	t.Helper()
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		need(t, "needs gcc to build the uprobe target")
	}
	dir := t.TempDir()
	src, bin := filepath.Join(dir, name+".c"), filepath.Join(dir, name)
	if err := os.WriteFile(src, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	args := append([]string{"-O1", "-no-pie", "-fno-pie", "-o", bin, src}, flags...)
	if out, err := exec.Command(gcc, args...).CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v\n%s", err, out)
	}
	return bin
}

// stepperProbes are uprobes on kpcap_step: through the PMU (no fetch
// arguments) and through tracefs with register, dereference, nested
// dereference, stack, constant and return value arguments.
func stepperProbes(bin string) []string {
	r := probedef.HostArch.ArgRegs
	args := "n=%" + r[0] + " id=+0(%" + r[1] + "):s32 val=+8(%" + r[1] + "):u64 nextid=+0(+16(%" + r[1] + ")):u32 k=\\42:u16 lo=%" + r[0] + ":u8"
	if runtime.GOARCH == "amd64" {
		args += " ret_addr=$stack0" // the return address into main
	}
	return []string{
		"p:test/step " + bin + ":kpcap_step",
		"r:test/step_ret " + bin + ":kpcap_step",
		"p:test/step_args " + bin + ":kpcap_step " + args,
		"r:test/step_rargs " + bin + ":kpcap_step rv=$retval:s32 sp=%" + probedef.HostArch.RetReg + ":x16",
	}
}

// TestBPFProbesMatchPerf records uprobes and uretprobes of one workload on
// the perf path and again on the BPF path and compares the workload's
// samples field by field.
func TestBPFProbesMatchPerf(t *testing.T) {
	requireRoot(t)
	if _, err := os.Stat("/sys/bus/event_source/devices/uprobe/type"); err != nil {
		need(t, "needs the uprobe PMU")
	}
	bin := buildStepper(t)
	const n = 3000
	o := Options{Probes: stepperProbes(bin)}
	perfS, perfRes, _ := recordStepper(t, bin, n, PathPerf, o)
	bpfS, bpfRes, bpfF := recordStepper(t, bin, n, PathBPF, o)
	compareProbeSamples(t, perfS, bpfS, 4*n, perfRes, bpfRes, bpfF)
}

// recordStepper records with o on path while the stepper at bin makes n
// steps, and returns the stepper's own samples, the result and the file.
func recordStepper(t *testing.T, bin string, n int, path string, o Options) ([]format.Sample, *Result, *format.File) {
	t.Helper()
	var pid int
	o.Path = path
	res, f := recordWhile(t, o, nil, func() {
		cmd := exec.Command(bin, itoa(n))
		if err := cmd.Run(); err != nil {
			var ee *exec.ExitError
			if !errors.As(err, &ee) {
				t.Fatal(err)
			}
		}
		pid = cmd.Process.Pid
	})
	var out []format.Sample
	for _, s := range readAll(t, f) {
		if s.PID == uint32(pid) {
			out = append(out, s)
		}
	}
	return out, res, f
}

// formatID returns the ID line of a format text (0 if none).
func formatID(text string) uint16 {
	for _, line := range strings.Split(text, "\n") {
		if v, ok := strings.CutPrefix(line, "ID: "); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(v))
			return uint16(n)
		}
	}
	return 0
}

// compareProbeSamples checks that the BPF path's samples of a workload
// equal the perf path's, want of each, field by field: all but
// common_flags and common_preempt_count (hidden from BPF programs),
// common_pid (each run its own task) and common_type (checked against
// the BPF file's format ID instead: each run creates its probes anew).
func compareProbeSamples(t *testing.T, perfS, bpfS []format.Sample, want int, perfRes, bpfRes *Result, bpfF *format.File) {
	t.Helper()
	for i, s := range bpfF.Header.Sources {
		if s.Path != format.PathBPF {
			t.Errorf("source %d %s: path %q in the file, want bpf", i, s.Name, s.Path)
		}
	}
	if len(perfS) != want || len(bpfS) != want {
		t.Fatalf("workload samples: perf %d, bpf %d, want %d each (lost: perf %d, bpf %d)", len(perfS), len(bpfS), want, perfRes.Lost, bpfRes.Lost)
	}
	if perfRes.Lost != 0 || bpfRes.Lost != 0 {
		t.Errorf("lost: perf %d, bpf %d", perfRes.Lost, bpfRes.Lost)
	}
	srcs := bpfF.Header.Sources
	// Probes on one address fire in an order of the kernel's choosing:
	// compare each source's samples in their order.
	bySource := func(s []format.Sample) []format.Sample {
		out := slices.Clone(s)
		slices.SortStableFunc(out, func(a, b format.Sample) int { return cmp.Compare(a.Source, b.Source) })
		return out
	}
	perfS, bpfS = bySource(perfS), bySource(bpfS)
	for i := range bpfS {
		p, b := &perfS[i], &bpfS[i]
		if p.Source != b.Source || p.Period != b.Period || len(p.Raw) != len(b.Raw) {
			t.Fatalf("sample %d: perf {src %d period %d raw %d} bpf {src %d period %d raw %d}", i, p.Source, p.Period, len(p.Raw), b.Source, b.Period, len(b.Raw))
		}
		src := srcs[b.Source]
		for _, fl := range formatFields(t, src.Format) {
			switch {
			case fl.name == "common_flags", fl.name == "common_preempt_count":
				continue
			case fl.name == "common_type":
				// Each run creates its tracefs probes anew, and their ids
				// follow whatever events others created meanwhile: each
				// sample has its own file's id (0: a PMU probe's own type).
				if id := formatID(src.Format); id != 0 && binary.NativeEndian.Uint16(b.Raw) != id {
					t.Fatalf("sample %d (%s): common_type %d, format ID %d", i, src.Name, binary.NativeEndian.Uint16(b.Raw), id)
				}
				continue
			case fl.name == "common_pid":
				if pid, bid := binary.NativeEndian.Uint32(p.Raw[fl.off:]), binary.NativeEndian.Uint32(b.Raw[fl.off:]); pid != p.TID || bid != b.TID {
					t.Fatalf("sample %d: common_pid perf %d (tid %d), bpf %d (tid %d)", i, pid, p.TID, bid, b.TID)
				}
				continue
			}
			pv, bv := p.Raw[fl.off:fl.off+fl.size], b.Raw[fl.off:fl.off+fl.size]
			if !bytes.Equal(pv, bv) {
				t.Fatalf("sample %d (%s) field %s: perf %x, bpf %x", i, src.Name, fl.name, pv, bv)
			}
		}
	}
	t.Logf("%d samples equal field by field; bytes: perf %d, bpf %d", len(bpfS), perfRes.Bytes, bpfRes.Bytes)
}

// TestBPFProbeRefusals checks the probes the BPF path cannot express: a
// array fetch argument is a usage error naming it under --path bpf, and
// stays on the perf path with a notice under auto, beside a probe that
// takes the BPF path.
func TestBPFProbeRefusals(t *testing.T) {
	requireRoot(t)
	if _, err := os.Stat("/sys/bus/event_source/devices/uprobe/type"); err != nil {
		need(t, "needs the uprobe PMU")
	}
	bin := buildStepper(t)
	str := "p:test/step_arr " + bin + ":kpcap_step s=+0(%" + probedef.HostArch.ArgRegs[1] + "):u8[4]"
	_, err := Run(t.Context(), Options{Path: PathBPF, Probes: []string{str}, Output: filepath.Join(t.TempDir(), "t.pcapng.zst")})
	var ue *UsageError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "test:step_arr") || !strings.Contains(err.Error(), "s=+0(") {
		t.Fatalf("--path bpf with an array fetch argument: %v, want a usage error naming the argument", err)
	}
	var notices []string
	res, f := recordWhile(t, Options{Path: PathAuto, Probes: []string{str, stepperProbes(bin)[0]}, Notice: func(m string) { notices = append(notices, m) }}, nil, func() {})
	if p0, p1 := f.Header.Sources[0].Path, f.Header.Sources[1].Path; p0 == format.PathBPF || p1 != format.PathBPF {
		t.Errorf("auto: paths %q and %q, want perf then bpf", p0, p1)
	}
	if !strings.Contains(strings.Join(notices, "\n"), "test:step_arr") || !strings.Contains(strings.Join(res.Notices, "\n"), "test:step_arr") {
		t.Errorf("auto: notices %q, result's %q: want both to name the string probe", notices, res.Notices)
	}
}
