//go:build linux

package record

import (
	"bytes"
	"encoding/binary"
	"errors"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"unsafe"

	"github.com/kpcap/kpcap/format"
	"golang.org/x/sys/unix"
)

// cwdLink and linkBuf are the readlinkat arguments of the workload: one
// buffer each for every run, so the pointers the tracepoint records are
// the same on both paths.
var (
	cwdLink = []byte("/proc/self/cwd\x00")
	linkBuf = make([]byte, 4096)
)

// pinnedWorkload calls getsid(0) n times and readlinkat m times on one OS
// thread pinned to CPU 0, and returns the thread id. These syscalls are
// rare elsewhere, so that a busy machine (other tests, benchmarks of
// getppid and openat) does not flood the system-wide recordings.
func pinnedWorkload(t testing.TB, n, m int) func() int {
	return func() int {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		var set unix.CPUSet
		set.Set(0)
		if err := unix.SchedSetaffinity(0, &set); err != nil {
			t.Errorf("pin to CPU 0: %v", err)
		}
		for range n {
			unix.Syscall(unix.SYS_GETSID, 0, 0, 0)
		}
		for range m {
			dirfd := unix.AT_FDCWD
			unix.Syscall6(unix.SYS_READLINKAT, uintptr(dirfd), uintptr(unsafe.Pointer(&cwdLink[0])), uintptr(unsafe.Pointer(&linkBuf[0])), uintptr(len(linkBuf)), 0, 0)
		}
		return unix.Gettid()
	}
}

// fieldSpan is one field's bytes in a raw payload.
type fieldSpan struct {
	name      string
	off, size int
}

// formatFields lists the fields of a tracefs format text, common ones
// included.
func formatFields(t testing.TB, text string) []fieldSpan {
	var out []fieldSpan
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "field:") {
			continue
		}
		var f fieldSpan
		for _, part := range strings.Split(line, ";") {
			k, v, _ := strings.Cut(strings.TrimSpace(part), ":")
			switch k {
			case "field":
				f.name = v[strings.LastIndexAny(v, " *")+1:]
			case "offset":
				f.off, _ = strconv.Atoi(v)
			case "size":
				f.size, _ = strconv.Atoi(v)
			}
		}
		out = append(out, f)
	}
	if len(out) == 0 {
		t.Fatalf("no fields in format %q", text)
	}
	return out
}

// threadSamples returns the samples of thread tid in file order.
func threadSamples(t testing.TB, f *format.File, tid uint32) []format.Sample {
	var out []format.Sample
	it := f.Samples()
	for it.Next() {
		s := it.Sample()
		if s.TID == tid {
			c := *s
			c.Raw = bytes.Clone(s.Raw)
			out = append(out, c)
		}
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestBPFPathMatchesPerf records one workload on the perf path and again
// on the BPF path and compares the thread's samples field by field: same
// count (every call, nothing lost, no duplicate), same sources, CPU,
// common_pid equal to the thread, and the same value in every field of the format but
// common_flags and common_preempt_count, which the kernel hides from BPF
// programs. Times differ by run, so only their order is checked.
func TestBPFPathMatchesPerf(t *testing.T) {
	requireRoot(t)
	const n, m = 20000, 2000
	srcs := func() []*source {
		return []*source{
			tracepointSource(t, "syscalls", "sys_enter_getsid"),
			tracepointSource(t, "syscalls", "sys_exit_getsid"),
			tracepointSource(t, "syscalls", "sys_enter_readlinkat"),
			tracepointSource(t, "syscalls", "sys_exit_readlinkat"),
		}
	}
	run := func(path string, classic bool) ([]format.Sample, *Result, *format.File) {
		var tid int
		work := pinnedWorkload(t, n, m)
		var notices []string
		notice := func(m string) { notices = append(notices, m) }
		res, f := recordWhile(t, Options{Path: path, Notice: notice, classicSyscalls: classic}, srcs(), func() {
			done := make(chan int)
			go func() { done <- work() }()
			tid = <-done
		})
		for _, m := range notices {
			// On x86-64 the syscall events take the raw syscall programs.
			if runtime.GOARCH == "amd64" && strings.Contains(m, "unavailable") {
				t.Errorf("%s path: %s", path, m)
			}
		}
		return threadSamples(t, f, uint32(tid)), res, f
	}
	perfS, perfRes, _ := run(PathPerf, false)
	for _, raw := range []bool{true, false} {
		name := "raw syscall programs"
		if !raw {
			name = "classic tracepoint programs"
		}
		t.Run(name, func(t *testing.T) {
			bpfS, bpfRes, bpfF := run(PathBPF, !raw)
			compareSamples(t, perfS, bpfS, perfRes, bpfRes, bpfF)
		})
	}
}

// compareSamples checks that the BPF path's samples of the workload
// thread equal the perf path's field by field.
func compareSamples(t *testing.T, perfS, bpfS []format.Sample, perfRes, bpfRes *Result, bpfF *format.File) {
	const n, m = 20000, 2000
	for i, s := range bpfF.Header.Sources {
		if s.Path != format.PathBPF {
			t.Errorf("source %d %s: path %q in the file, want bpf", i, s.Name, s.Path)
		}
	}
	want := 2*n + 2*m
	if len(perfS) != want || len(bpfS) != want {
		t.Fatalf("thread samples: perf %d, bpf %d, want %d each (lost: perf %d, bpf %d)", len(perfS), len(bpfS), want, perfRes.Lost, bpfRes.Lost)
	}
	if perfRes.Lost != 0 || bpfRes.Lost != 0 {
		t.Errorf("lost: perf %d, bpf %d", perfRes.Lost, bpfRes.Lost)
	}
	fields := map[uint32][]fieldSpan{}
	for i, s := range bpfF.Header.Sources {
		fields[uint32(i)] = formatFields(t, s.Format)
	}
	var last uint64
	for i := range bpfS {
		p, b := &perfS[i], &bpfS[i]
		if b.Time < last {
			t.Fatalf("bpf sample %d out of time order", i)
		}
		last = b.Time
		if p.Source != b.Source || p.CPU != b.CPU || p.Period != b.Period || len(p.Raw) != len(b.Raw) {
			t.Fatalf("sample %d: perf {src %d pid %d tid %d cpu %d period %d raw %d} bpf {src %d pid %d tid %d cpu %d period %d raw %d}",
				i, p.Source, p.PID, p.TID, p.CPU, p.Period, len(p.Raw), b.Source, b.PID, b.TID, b.CPU, b.Period, len(b.Raw))
		}
		for _, fl := range fields[b.Source] {
			switch fl.name {
			case "common_flags", "common_preempt_count":
				continue
			case "common_pid": // each run has its own thread
				if pid, bid := binary.NativeEndian.Uint32(p.Raw[fl.off:]), binary.NativeEndian.Uint32(b.Raw[fl.off:]); pid != p.TID || bid != b.TID {
					t.Fatalf("sample %d: common_pid perf %d (tid %d), bpf %d (tid %d)", i, pid, p.TID, bid, b.TID)
				}
				continue
			}
			pv, bv := p.Raw[fl.off:fl.off+fl.size], b.Raw[fl.off:fl.off+fl.size]
			if !bytes.Equal(pv, bv) {
				t.Fatalf("sample %d (%s) field %s: perf %x, bpf %x", i, bpfF.Header.Sources[b.Source].Name, fl.name, pv, bv)
			}
		}
	}
	t.Logf("%d samples equal field by field; bytes: perf %d, bpf %d", len(bpfS), perfRes.Bytes, bpfRes.Bytes)
}

// TestBPFPathCountsLoss overflows a tiny BPF ring and checks that every
// call is either recorded or counted lost, per source, exactly.
func TestBPFPathCountsLoss(t *testing.T) {
	requireRoot(t)
	const n = 200000
	var tid int
	work := pinnedWorkload(t, n, 0)
	res, f := recordWhile(t, Options{Path: PathBPF, BufferSize: 4096}, []*source{tracepointSource(t, "syscalls", "sys_enter_getsid")}, func() {
		done := make(chan int)
		go func() { done <- work() }()
		tid = <-done
	})
	got := len(threadSamples(t, f, uint32(tid)))
	all, err := countSamples(t, f, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("recorded %d of the thread's %d calls (%d of any task), lost %d", got, n, all[0], res.Lost)
	// System-wide, other tasks' calls count too, so the thread's calls are
	// bounded: recorded + lost covers every one of them.
	if got > n || uint64(all[0])+res.Lost < n {
		t.Fatalf("recorded %d (%d of the thread) + lost %d for %d calls", all[0], got, res.Lost, n)
	}
	if res.Lost == 0 {
		need(t, "the BPF ring did not overflow: loss accounting not exercised")
	}
	if f.LostTotal() != res.Lost {
		t.Errorf("the file's loss records sum to %d, the result says %d", f.LostTotal(), res.Lost)
	}
	if got+int(res.Lost) < n {
		t.Errorf("thread: %d recorded + %d lost < %d calls", got, res.Lost, n)
	}
}

// TestChoosePaths checks the path choice: bpf refuses a source it cannot
// express, auto leaves it on perf and says why, perf changes nothing.
func TestChoosePaths(t *testing.T) {
	mk := func() []*source {
		tp := &source{desc: format.Source{Name: "a:b", Kind: format.KindTracepoint}, layout: &eventLayout{fields: map[string]bool{"x": true}, fixed: 16}}
		big := &source{desc: format.Source{Name: "a:big", Kind: format.KindTracepoint}, layout: &eventLayout{fields: map[string]bool{"s": true}, fixed: 4096}}
		kp := &source{desc: format.Source{Name: "kprobes:k", Kind: format.KindKprobe}}
		dl := &source{desc: format.Source{Name: "a:dyn", Kind: format.KindTracepoint}, layout: &eventLayout{fields: map[string]bool{"s": true}, fixed: 12, locs: []dynLoc{{off: 8}}}}
		return []*source{tp, big, kp, dl}
	}
	s := mk()
	if err := choosePaths(&Options{}, s, nil); err != nil || s[0].desc.Path != "" {
		t.Fatalf("perf: %v, path %q", err, s[0].desc.Path)
	}
	var notes []string
	s = mk()
	if err := choosePaths(&Options{Path: PathAuto}, s, func(m string) { notes = append(notes, m) }); err != nil {
		t.Fatal(err)
	}
	if s[0].desc.Path != PathBPF || s[1].desc.Path != "" || s[2].desc.Path != "" || s[3].desc.Path != PathBPF {
		t.Errorf("auto: paths %q %q %q %q", s[0].desc.Path, s[1].desc.Path, s[2].desc.Path, s[3].desc.Path)
	}
	if len(notes) != 1 || !strings.Contains(notes[0], "a:big") || !strings.Contains(notes[0], "kprobes:k") || strings.Contains(notes[0], "a:dyn") {
		t.Errorf("auto notice %q", notes)
	}
	err := choosePaths(&Options{Path: PathBPF}, mk(), nil)
	var ue *UsageError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "a:big") {
		t.Errorf("bpf with a source of 4096 fixed bytes: %v", err)
	}
	if err := choosePaths(&Options{Path: "ebpf"}, mk(), nil); !errors.As(err, &ue) {
		t.Errorf("bad path: %v", err)
	}
	s = mk()[:1]
	if err := choosePaths(&Options{Path: PathBPF, PID: 1}, s, nil); err != nil || s[0].desc.Path != PathBPF {
		t.Errorf("bpf with --pid: %v, path %q", err, s[0].desc.Path)
	}
	s = mk()[:1]
	if err := choosePaths(&Options{Path: PathBPF, Cgroups: []string{"/"}}, s, nil); err != nil || s[0].desc.Path != PathBPF {
		t.Errorf("bpf with --cgroup: %v, path %q", err, s[0].desc.Path)
	}
	if err := choosePaths(&Options{Path: PathBPF, CallGraph: true}, mk()[:1], nil); err != nil {
		t.Errorf("bpf with -g: %v", err)
	}
}

// TestBPFPathKeepsToCPUs records a thread pinned to CPU 0 on the BPF path
// with --cpus 0 (every call) and --cpus 1 (none: the programs drop the
// events of the CPUs left out).
func TestBPFPathKeepsToCPUs(t *testing.T) {
	requireRoot(t)
	if cpus, err := onlineCPUs(); err != nil || len(cpus) < 2 || cpus[0] != 0 || cpus[1] != 1 {
		need(t, "needs CPUs 0 and 1 online")
	}
	const n = 2000
	for _, cpu := range []int{0, 1} {
		var tid int
		work := pinnedWorkload(t, n, 0)
		res, f := recordWhile(t, Options{Path: PathBPF, CPUs: []int{cpu}}, []*source{tracepointSource(t, "syscalls", "sys_enter_getsid")}, func() {
			done := make(chan int)
			go func() { done <- work() }()
			tid = <-done
		})
		if p := f.Header.Sources[0].Path; p != format.PathBPF {
			t.Fatalf("--cpus %d: source on path %q, want bpf", cpu, p)
		}
		want := 0
		if cpu == 0 {
			want = n
		}
		samples := threadSamples(t, f, uint32(tid))
		if len(samples) != want || res.Lost != 0 {
			t.Errorf("--cpus %d: %d samples of the thread pinned to CPU 0 (%d lost), want %d", cpu, len(samples), res.Lost, want)
		}
		all, err := countSamples(t, f, nil)
		if err != nil {
			t.Fatal(err)
		}
		if cpu == 1 && all[0] > 0 {
			it := f.Samples()
			for it.Next() {
				if s := it.Sample(); s.CPU != 1 {
					t.Fatalf("--cpus 1: a sample on CPU %d", s.CPU)
				}
			}
		}
	}
}
