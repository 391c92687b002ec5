//go:build linux

package record

import (
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/kpcap/kpcap/format"
	"github.com/kpcap/kpcap/record/internal/perf"
)

// execTargets makes symlinks to /bin/true of different name lengths in
// dir, so the exec'ed file names (and the padding after them) differ.
func execTargets(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	for _, name := range []string{"a", "bb", "ccc", "dddd", "eeeee", "ffffff", "ggggggg", strings.Repeat("h", 200)} {
		p := filepath.Join(dir, name)
		if err := os.Symlink("/bin/true", p); err != nil {
			t.Fatal(err)
		}
		out = append(out, p)
	}
	return out
}

// recordExecs records srcs with o while the test runs each target once,
// one after the other, and returns the targets' pids with the file.
func recordExecs(t *testing.T, o Options, targets []string, srcs func() []*source) ([]uint32, *Result, *format.File) {
	t.Helper()
	var pids []uint32
	res, f := recordWhile(t, o, srcs(), func() {
		for _, bin := range targets {
			cmd := exec.Command(bin)
			if err := cmd.Run(); err != nil {
				t.Errorf("run %s: %v", bin, err)
			}
			pids = append(pids, uint32(cmd.Process.Pid))
		}
	})
	return pids, res, f
}

// varSample is one sample of the exec workload: which target it belongs
// to and its fields, each as bytes, pid fields as the target they name.
type varSample struct {
	target int
	source string
	fields []string
}

// workloadSamples returns the samples of the exec workload (those naming
// one of pids in a pid field), ordered by target then source, with every
// field decoded: a __data_loc field as the bytes it points to, a pid as
// "self" (the sample's task) or the target it names, any other field as
// its bytes, then the call chain if any. common_flags and common_preempt_count are left out (hidden
// from BPF programs).
func workloadSamples(t *testing.T, f *format.File, pids []uint32) []varSample {
	t.Helper()
	var out []varSample
	srcs := f.Header.Sources
	for _, s := range readAll(t, f) {
		v := varSample{target: -1, source: srcs[s.Source].Name, fields: []string{fmt.Sprintf("raw=%d bytes", len(s.Raw))}}
		for _, fl := range formatFields(t, srcs[s.Source].Format) {
			if fl.name == "common_flags" || fl.name == "common_preempt_count" {
				continue
			}
			if fl.off+fl.size > len(s.Raw) {
				t.Fatalf("%s sample of %d bytes: field %s at %d+%d", v.source, len(s.Raw), fl.name, fl.off, fl.size)
			}
			b := s.Raw[fl.off : fl.off+fl.size]
			val := fmt.Sprintf("%s=%x", fl.name, b)
			switch {
			case strings.Contains(srcs[s.Source].Format, "__data_loc char[] "+fl.name+";"):
				loc := binary.NativeEndian.Uint32(b)
				start, n := int(loc&0xffff), int(loc>>16)
				if start+n > len(s.Raw) {
					t.Fatalf("%s sample: %s points at %d+%d past %d bytes", v.source, fl.name, start, n, len(s.Raw))
				}
				val = fmt.Sprintf("%s=%q", fl.name, s.Raw[start:start+n])
			case strings.HasSuffix(fl.name, "pid") && fl.size == 4:
				pid := binary.NativeEndian.Uint32(b)
				if k := slices.Index(pids, pid); k >= 0 {
					v.target = k
					val = fmt.Sprintf("%s=target%d", fl.name, k)
				} else if pid == s.TID {
					val = fl.name + "=self"
				}
			}
			v.fields = append(v.fields, val)
		}
		if len(s.Callchain) > 0 {
			v.fields = append(v.fields, fmt.Sprintf("chain=%x", s.Callchain))
		}
		if v.target >= 0 {
			out = append(out, v)
		}
	}
	slices.SortStableFunc(out, func(a, b varSample) int {
		if a.target != b.target {
			return a.target - b.target
		}
		return strings.Compare(a.source, b.source)
	})
	return out
}

// TestBPFDataLocMatchesPerf records tracepoints with __data_loc fields
// (sched_process_exec's file name; sched_process_fork's comms, strings
// since Linux 6.12) while the test execs targets of file names of 1 to
// 200 bytes, on the perf path and again on the BPF path, and compares
// every sample of the targets field by field, strings as the bytes their
// locations point to, and the raw lengths.
func TestBPFDataLocMatchesPerf(t *testing.T) {
	requireRoot(t)
	srcs := func() []*source {
		return []*source{tracepointSource(t, "sched", "sched_process_exec"), tracepointSource(t, "sched", "sched_process_fork")}
	}
	if len(srcs()[0].layout.locs) == 0 {
		t.Fatal("sched_process_exec has no __data_loc field")
	}
	targets := execTargets(t, t.TempDir())
	perfPids, perfRes, perfF := recordExecs(t, Options{Path: PathPerf}, targets, srcs)
	bpfPids, bpfRes, bpfF := recordExecs(t, Options{Path: PathBPF}, targets, srcs)
	for i, s := range bpfF.Header.Sources {
		if s.Path != format.PathBPF {
			t.Errorf("source %d %s: path %q, want bpf", i, s.Name, s.Path)
		}
	}
	if perfRes.Lost != 0 || bpfRes.Lost != 0 {
		t.Errorf("lost: perf %d, bpf %d", perfRes.Lost, bpfRes.Lost)
	}
	perfS, bpfS := workloadSamples(t, perfF, perfPids), workloadSamples(t, bpfF, bpfPids)
	if want := 2 * len(targets); len(perfS) != want || len(bpfS) != want {
		t.Fatalf("workload samples: perf %d, bpf %d, want %d each", len(perfS), len(bpfS), want)
	}
	for i := range perfS {
		p, b := perfS[i], bpfS[i]
		if p.target != b.target || p.source != b.source || !slices.Equal(p.fields, b.fields) {
			t.Fatalf("sample %d:\nperf target %d %s %q\nbpf  target %d %s %q", i, p.target, p.source, p.fields, b.target, b.source, b.fields)
		}
	}
	t.Logf("%d samples equal field by field; e.g. %s %q", len(bpfS), bpfS[len(bpfS)-1].source, bpfS[len(bpfS)-1].fields)
}

// TestBPFDataLocFilter records sched_process_exec on the BPF path with a
// filter on a fixed field that keeps the odd pids, and checks that
// exactly the targets of odd pids have a sample, with their file names.
func TestBPFDataLocFilter(t *testing.T) {
	requireRoot(t)
	srcs := func() []*source { return []*source{tracepointSource(t, "sched", "sched_process_exec")} }
	targets := execTargets(t, t.TempDir())
	pids, res, f := recordExecs(t, Options{Path: PathBPF, Filter: "pid & 1"}, targets, srcs)
	if p := f.Header.Sources[0].Path; p != format.PathBPF || res.Lost != 0 {
		t.Fatalf("path %q, lost %d; want bpf, none", p, res.Lost)
	}
	got := map[int]string{}
	for _, s := range workloadSamples(t, f, pids) {
		got[s.target] = s.fields[3] // filename, after raw, common_type and common_pid
	}
	odd := 0
	for k, pid := range pids {
		want := ""
		if pid%2 == 1 {
			want = fmt.Sprintf("filename=%q", targets[k]+"\x00")
			odd++
		}
		if got[k] != want {
			t.Errorf("target %d (pid %d): %q, want %q", k, pid, got[k], want)
		}
	}
	t.Logf("%d of %d targets had odd pids", odd, len(pids))
}

// TestBPFDataLocStringFilter records sched_process_exec through perf (the
// kernel's filter) and through BPF at the same time with filters on the
// __data_loc file name (whole strings, "pre*", "*end", != and !, also on
// the 200-byte name) while the test execs its targets, and checks both
// keep exactly the targets the filter names; "*mid*" stays with perf.
func TestBPFDataLocStringFilter(t *testing.T) {
	requireRoot(t)
	dir := t.TempDir()
	targets := execTargets(t, dir)
	srcs := func() []*source { return []*source{tracepointSource(t, "sched", "sched_process_exec")} }
	for _, tc := range []struct {
		filter string
		want   []int // targets kept
	}{
		{fmt.Sprintf(`filename == "%s/ccc" || filename ~ "%s/b*" || filename ~ "*eee" || filename ~ "*hhhh" || filename == "%s/ff"`, dir, dir, dir), []int{1, 2, 4, 7}},
		{fmt.Sprintf(`filename ~ "%s/*" && filename != "%s/dddd" && !(filename ~ "*g") && filename ~ "!*a"`, dir, dir), []int{1, 2, 4, 5, 7}},
	} {
		var pids []uint32
		perfF, bpfF := recordBothPaths(t, Options{Filter: tc.filter}, srcs, func() {
			for _, bin := range targets {
				cmd := exec.Command(bin)
				if err := cmd.Run(); err != nil {
					t.Errorf("run %s: %v", bin, err)
				}
				pids = append(pids, uint32(cmd.Process.Pid))
			}
		})
		if p := bpfF.Header.Sources[0].Path; p != format.PathBPF {
			t.Fatalf("%s: path %q, want bpf", tc.filter, p)
		}
		for _, f := range []*format.File{perfF, bpfF} {
			var kept []int
			for _, s := range workloadSamples(t, f, pids) {
				kept = append(kept, s.target)
			}
			if !slices.Equal(kept, tc.want) {
				t.Errorf("%s on path %q: targets %v kept, want %v", tc.filter, f.Header.Sources[0].Path, kept, tc.want)
			}
		}
	}
	src := srcs()
	const middle = `filename ~ "*tmp*"`
	if err := applyFilter(middle, src); err != nil {
		t.Fatal(err)
	}
	if why := bpfReason(&Options{Path: PathBPF, Filter: middle}, src[0]); why == "" {
		t.Errorf("filter %s: on the BPF path, want perf", middle)
	}
}

// TestBPFDataLocCallchains records sched_process_exec with -g through
// perf and through BPF at the same time while the test execs its targets,
// and compares the targets' samples, call chains included (the same
// events on both paths), each of which must have a kernel part.
func TestBPFDataLocCallchains(t *testing.T) {
	requireRoot(t)
	targets := execTargets(t, t.TempDir())
	var pids []uint32
	srcs := func() []*source { return []*source{tracepointSource(t, "sched", "sched_process_exec")} }
	perfF, bpfF := recordBothPaths(t, Options{CallGraph: true}, srcs, func() {
		for _, bin := range targets {
			cmd := exec.Command(bin)
			if err := cmd.Run(); err != nil {
				t.Errorf("run %s: %v", bin, err)
			}
			pids = append(pids, uint32(cmd.Process.Pid))
		}
	})
	perfS, bpfS := workloadSamples(t, perfF, pids), workloadSamples(t, bpfF, pids)
	if len(perfS) != len(targets) || len(bpfS) != len(targets) {
		t.Fatalf("workload samples: perf %d, bpf %d, want %d each", len(perfS), len(bpfS), len(targets))
	}
	for i := range perfS {
		p, b := perfS[i], bpfS[i]
		if !slices.Equal(p.fields, b.fields) {
			t.Fatalf("sample %d:\nperf %q\nbpf  %q", i, p.fields, b.fields)
		}
		if chain := b.fields[len(b.fields)-1]; !strings.HasPrefix(chain, fmt.Sprintf("chain=[%x", perf.ContextKernel)) {
			t.Errorf("sample %d: %s, want a kernel part", i, chain)
		}
	}
	t.Logf("%d samples with call chains equal; e.g. %s", len(bpfS), bpfS[0].fields[len(bpfS[0].fields)-1])
}
