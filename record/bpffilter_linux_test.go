//go:build linux

package record

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/kpcap/kpcap/format"
	"golang.org/x/sys/unix"
)

// filterThread runs workloads on one OS thread named filterComm and
// pinned to CPU 0, so that filters can name it (common_pid, comm fields)
// and both recordings see the same thread.
type filterThread struct {
	tid  int
	work chan func()
	done chan struct{}
}

// filterComm names the workload thread. The test process's id is in it,
// ended by '_', so that no other process's thread matches a filter on
// comm (filterCommPrefix and filterCommInner too): the same test running
// elsewhere on the machine would add events that only the recording open
// at that instant sees.
var (
	filterComm       = fmt.Sprintf("kp%011d_f", os.Getpid()) // 15 bytes, the most a comm holds
	filterCommPrefix = filterComm[:len(filterComm)-1]        // "kpcapPID_"
	filterCommInner  = filterComm[1 : len(filterComm)-1]     // "pcapPID_"
)

func startFilterThread(t *testing.T) *filterThread {
	ft := &filterThread{work: make(chan func()), done: make(chan struct{})}
	ready := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
		var set unix.CPUSet
		set.Set(0)
		err := unix.SchedSetaffinity(0, &set)
		if err == nil {
			err = unix.Prctl(unix.PR_SET_NAME, uintptr(unsafe.Pointer(&[]byte(filterComm + "\x00")[0])), 0, 0, 0)
		}
		ft.tid = unix.Gettid()
		ready <- err
		for w := range ft.work {
			w()
			ft.done <- struct{}{}
		}
	}()
	if err := <-ready; err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { close(ft.work) })
	return ft
}

// getsidArg is the workload's i-th getsid argument: pids that cannot
// exist (above PID_MAX_LIMIT, or negative), and 0.
func getsidArg(i int) uint64 {
	switch i % 3 {
	case 0:
		return 0x40000000 + uint64(i)
	case 1:
		return uint64(-int64(i))
	}
	return 0
}

// run calls getsid and readlinkat n times each (readlinkat's bufsiz
// i%64) and sleeps 50µs every 100 calls.
func (ft *filterThread) run(n int) {
	ft.work <- func() {
		for i := range n {
			unix.Syscall(unix.SYS_GETSID, uintptr(getsidArg(i)), 0, 0)
			dirfd := unix.AT_FDCWD
			unix.Syscall6(unix.SYS_READLINKAT, uintptr(dirfd), uintptr(unsafe.Pointer(&cwdLink[0])), uintptr(unsafe.Pointer(&linkBuf[0])), uintptr(i%64), 0, 0)
			if i%100 == 99 {
				time.Sleep(50 * time.Microsecond)
			}
		}
	}
	<-ft.done
}

// recordBothPaths records srcs (nil: base's probes) through perf and
// through BPF at the same time, with base's options, while work runs.
func recordBothPaths(t *testing.T, base Options, srcs func() []*source, work func()) (perfF, bpfF *format.File) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	paths := []string{PathPerf, PathBPF}
	started := make(chan struct{}, 2)
	errs := make(chan error, 2)
	outs := make([]string, 2)
	for i, path := range paths {
		outs[i] = filepath.Join(t.TempDir(), path+".pcapng.zst")
		o := base
		o.Output, o.Path, o.Started = outs[i], path, func(StartInfo) { started <- struct{}{} }
		go func() {
			var err error
			if srcs == nil {
				_, err = Run(ctx, o)
			} else {
				_, err = runDirect(ctx, o, srcs()...)
			}
			errs <- err
		}()
	}
	for range paths {
		select {
		case <-started:
		case err := <-errs:
			t.Fatalf("a recording ended before it started: %v", err)
		}
	}
	work()
	// The workload's thread parks when its work is done: let both
	// recordings see it switch out.
	time.Sleep(50 * time.Millisecond)
	cancel()
	for range paths {
		if err := <-errs; err != nil {
			t.Fatalf("record: %v", err)
		}
	}
	files := make([]*format.File, 2)
	for i, out := range outs {
		f, err := format.Open(out)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		files[i] = f
	}
	return files[0], files[1]
}

// fileSamples returns every sample of f in time order.
func fileSamples(t *testing.T, f *format.File) []format.Sample {
	var out []format.Sample
	it := f.Samples()
	for it.Next() {
		s := *it.Sample()
		s.Raw = bytes.Clone(s.Raw)
		out = append(out, s)
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	slices.SortStableFunc(out, func(a, b format.Sample) int { return cmp.Compare(a.Time, b.Time) })
	return out
}

// TestBPFFilterMatchesPerf records tracepoints through perf (the kernel
// applies the filter) and through BPF (the filter compiled into the
// programs) at the same time, with the same filter, and compares every
// sample field by field: the same events, in the same order, with the
// same values. Each filter pins the events to the workload thread (by
// common_pid or by its name), so the two recordings' different start and
// stop times do not matter.
func TestBPFFilterMatchesPerf(t *testing.T) {
	requireRoot(t)
	ft := startFilterThread(t)
	switchID := tracepointSource(t, "sched", "sched_switch").attr.Config
	sys := func(names ...string) func() []*source {
		return func() []*source {
			var out []*source
			for _, n := range names {
				g, e, _ := strings.Cut(n, ":")
				out = append(out, tracepointSource(t, g, e))
			}
			return out
		}
	}
	const n = 3000
	wantGetsid, wantBufsiz := 0, 0
	for i := range n {
		if v := getsidArg(i); v > 0x40000100 && v&2 == 0 || v == 0 {
			wantGetsid++
		}
		if b := i % 64; b > 20 && b < 32 { // 040 is octal
			wantBufsiz++
		}
	}
	for _, tc := range []struct {
		name, filter string
		srcs         func() []*source
		want         int // samples, or -1: only more than none
	}{
		{"unsigned and &", fmt.Sprintf("common_pid == %d && (pid > 0x40000100 && !(pid & 2) || pid == 0)", ft.tid),
			sys("syscalls:sys_enter_getsid"), wantGetsid},
		{"signed", fmt.Sprintf("(ret < -0x15 || ret > 0x10 || ret == -3) && common_pid == %d && __syscall_nr > 0", ft.tid),
			sys("syscalls:sys_exit_getsid", "syscalls:sys_exit_readlinkat"), -1},
		{"not and CPU", fmt.Sprintf("common_pid == %d && !(bufsiz <= 20 || bufsiz >= 040) && CPU == 0", ft.tid),
			sys("syscalls:sys_enter_readlinkat"), wantBufsiz},
		{"strings", `prev_comm == "` + filterComm + `" || next_comm ~ "` + filterCommPrefix + `*"`,
			sys("sched:sched_switch"), -1},
		{"comm", `(COMM ~ "*` + filterCommInner + `*" || comm == "nosuch") && common_pid != 1`,
			sys("sched:sched_switch", "syscalls:sys_enter_getsid"), -1},
		// The kernel compares "*end" before the array's last byte, not
		// at the string's end: only a name of 15 bytes can match.
		{"end glob", fmt.Sprintf(`prev_comm ~ "*%s" && next_comm ~ "!*sh"`, filterComm[8:]),
			sys("sched:sched_switch"), -1},
		{"comm end glob", `COMM ~ "*` + filterComm[10:] + `"`, sys("syscalls:sys_enter_getsid"), n},
		{"string glob and type", fmt.Sprintf(`prev_comm ~ "*%s*" && prev_pid == %d && next_comm != "%s" && common_type == %d && prev_prio >= 0`, filterCommInner, ft.tid, filterComm, switchID),
			sys("sched:sched_switch"), -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			perfF, bpfF := recordBothPaths(t, Options{Filter: tc.filter}, tc.srcs, func() { ft.run(n) })
			for i, s := range bpfF.Header.Sources {
				if s.Path != format.PathBPF || s.Filter != tc.filter {
					t.Errorf("source %d %s: path %q filter %q in the file, want bpf and the filter", i, s.Name, s.Path, s.Filter)
				}
			}
			perfS, bpfS := fileSamples(t, perfF), fileSamples(t, bpfF)
			if len(perfS) != len(bpfS) || len(bpfS) == 0 || tc.want >= 0 && len(bpfS) != tc.want {
				t.Fatalf("samples: perf %d, bpf %d, want %d (-1: any, not none)", len(perfS), len(bpfS), tc.want)
			}
			compareFiltered(t, perfS, bpfS, bpfF)
		})
	}
}

// compareFiltered checks that two recordings of the same events hold the
// same samples, field by field (common_flags and common_preempt_count
// aside: BPF programs do not see them; and the common_type of a probe
// the BPF path opens through its PMU, whose format says ID 0, where the
// perf path on several CPUs records the shared tracefs probe's ID).
// An exiting thread's last switch out (the comm filters match it when it
// switches to the workload thread) is the one sample whose ids differ:
// the kernel has already released them, so perf writes -1, while the BPF
// program reads them from the task; sameIDs accepts that.
func compareFiltered(t *testing.T, perfS, bpfS []format.Sample, bpfF *format.File) {
	fields := map[uint32][]fieldSpan{}
	for i, s := range bpfF.Header.Sources {
		fields[uint32(i)] = formatFields(t, s.Format)
	}
	for i := range bpfS {
		p, b := &perfS[i], &bpfS[i]
		if p.Source != b.Source || p.CPU != b.CPU || !sameIDs(p, b) || len(p.Raw) != len(b.Raw) || !slices.Equal(p.Callchain, b.Callchain) {
			t.Fatalf("sample %d: perf {src %d pid %d tid %d cpu %d raw %d chain %x} bpf {src %d pid %d tid %d cpu %d raw %d chain %x}",
				i, p.Source, p.PID, p.TID, p.CPU, len(p.Raw), p.Callchain, b.Source, b.PID, b.TID, b.CPU, len(b.Raw), b.Callchain)
		}
		for _, fl := range fields[b.Source] {
			if fl.name == "common_flags" || fl.name == "common_preempt_count" {
				continue
			}
			if fl.name == "common_type" && strings.Contains(bpfF.Header.Sources[b.Source].Format, "\nID: 0\n") {
				continue
			}
			if pv, bv := p.Raw[fl.off:fl.off+fl.size], b.Raw[fl.off:fl.off+fl.size]; !bytes.Equal(pv, bv) {
				t.Fatalf("sample %d (%s) field %s: perf %x, bpf %x", i, bpfF.Header.Sources[b.Source].Name, fl.name, pv, bv)
			}
		}
	}
	t.Logf("%d samples equal field by field", len(bpfS))
}

// releasedID is the pid or tid perf writes for a task whose ids the kernel
// has released (perf_event_pid_type: -1 once !pid_alive).
const releasedID = ^uint32(0)

// sameIDs tells whether a perf sample's pid and tid are the BPF sample's,
// or perf's releasedID where BPF has the real ones: the tid that
// common_pid holds on both paths, a pid other than 0.
func sameIDs(p, b *format.Sample) bool {
	tidOK := p.TID == b.TID || p.TID == releasedID && len(b.Raw) >= 8 && b.TID == binary.NativeEndian.Uint32(b.Raw[4:])
	pidOK := p.PID == b.PID || p.PID == releasedID && b.PID != releasedID && b.PID != 0
	return tidOK && pidOK
}

// TestBPFFilterFallback checks that a filter the programs do not express
// keeps its source on the perf path under --path auto, saying why, and
// is refused under --path bpf.
func TestBPFFilterFallback(t *testing.T) {
	requireRoot(t)
	for _, filter := range []string{
		`prev_comm ~ "*a*b"`,       // a full glob
		`next_prio == -0x`,         // no digits
		`common_preempt_count > 0`, // hidden from BPF programs
		`prev_comm == 5`,           // the kernel's error, in its words
	} {
		src := tracepointSource(t, "sched", "sched_switch")
		if err := applyFilter(filter, []*source{src}); err != nil {
			t.Fatal(err)
		}
		var notes []string
		o := &Options{Path: PathAuto, Filter: filter}
		if err := choosePaths(o, []*source{src}, func(m string) { notes = append(notes, m) }); err != nil {
			t.Fatal(err)
		}
		if src.desc.Path == PathBPF || len(notes) != 1 || !strings.Contains(notes[0], "filter") {
			t.Errorf("%s: path %q, notes %q; want perf and a note on the filter", filter, src.desc.Path, notes)
		}
		o.Path = PathBPF
		var ue *UsageError
		if err := choosePaths(o, []*source{src}, nil); !errors.As(err, &ue) {
			t.Errorf("%s: --path bpf gave %v, want a usage error", filter, err)
		}
	}
}

// TestBPFFilterKeepsTaskScope checks that a filter the programs can take
// leaves a source recorded by cgroup on the BPF path, whose programs check
// the cgroup before the filter (TestBPFCgroupProbesLikePerf records one).
func TestBPFFilterKeepsTaskScope(t *testing.T) {
	requireRoot(t)
	for _, o := range []*Options{
		{Cgroups: []string{"/"}},
	} {
		o.Filter = `prev_pid > 0`
		src := tracepointSource(t, "sched", "sched_switch")
		if err := applyFilter(o.Filter, []*source{src}); err != nil {
			t.Fatal(err)
		}
		if _, why := bpfFilter(o, src); why != "" {
			t.Fatalf("the filter itself has no BPF translation: %s", why)
		}
		o.Path = PathAuto
		if err := choosePaths(o, []*source{src}, nil); err != nil {
			t.Fatal(err)
		}
		if src.desc.Path != PathBPF {
			t.Errorf("pid %d, command %q, cgroups %q: a filtered source stayed on the perf path", o.PID, o.Command, o.Cgroups)
		}
	}
}

// TestBPFProbeFilterMatchesPerf records kpcap-stepper's uprobes through
// perf and then through BPF with the same filter and compares the
// workload's samples field by field: a filter on fetch arguments (the
// tracefs probe with arguments), on a uretprobe's signed $retval, and on
// __probe_ip with common fields, on a probe without arguments too (the BPF
// path opens it through the PMU, the perf path shares a tracefs probe).
// The probes without the filter's fields are recorded whole.
func TestBPFProbeFilterMatchesPerf(t *testing.T) {
	requireRoot(t)
	if _, err := os.Stat("/sys/bus/event_source/devices/uprobe/type"); err != nil {
		need(t, "needs the uprobe PMU")
	}
	bin := buildStepper(t)
	const n = 1000
	count := func(keep func(i int) bool) int {
		c := 0
		for i := range n {
			if keep(i) {
				c++
			}
		}
		return c
	}
	for _, tc := range []struct {
		name, filter string
		want         int
	}{
		// step_args: n and id are i, nextid 7, val (packed at offset 28) 99.
		{"fetch arguments", "(n >= 100 && n < 0x200 || id & 4) && nextid == 7 && __probe_ip > 0x1000 && val == 99",
			3*n + count(func(i int) bool { return i >= 100 && i < 0x200 || i&4 != 0 })},
		// step_rargs: rv is 2i-7, an s32.
		{"signed retval", "rv < 0x10 || rv >= 01000",
			3*n + count(func(i int) bool { return 2*i-7 < 16 || 2*i-7 >= 512 })},
		// step (a PMU probe on the BPF path) and step_args reject all.
		{"PMU probe", "common_pid == 1 || __probe_ip == 0", 2 * n},
		// step_args: lo is i's low byte.
		{"probe address", "__probe_ip > 0x1000 && lo < 0x80 && CPU < 0x1000 && common_pid != 1",
			3*n + count(func(i int) bool { return i&0xff < 0x80 })},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := Options{Probes: stepperProbes(bin), Filter: tc.filter}
			perfS, perfRes, _ := recordStepper(t, bin, n, PathPerf, o)
			bpfS, bpfRes, bpfF := recordStepper(t, bin, n, PathBPF, o)
			compareProbeSamples(t, perfS, bpfS, tc.want, perfRes, bpfRes, bpfF)
		})
	}
}
