//go:build linux

package record

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kpcap/kpcap/format"
	"golang.org/x/sys/unix"
)

// TestBPFCgroupLikePerf records a cgroup (--cgroup) on both paths at once
// while workloads start inside it, inside a child of it and outside: the
// raw syscall program (getppid), a variable-length tracepoint
// (sched_process_exec, which each workload fires in its cgroup: it is
// cloned into it) and a fixed one (sched_process_exit). Both files must
// hold the same samples of the same tasks, byte for byte (but the common
// fields BPF programs do not see), nothing of the outside workload, and
// the same cgroup for every sample: the one its task ran in.
func TestBPFCgroupLikePerf(t *testing.T) {
	mount := cgroupMountForTest(t)
	parent := testCgroup(t, mount, fmt.Sprintf("kpcap-test-bpfcg-%d", os.Getpid()))
	child := testCgroup(t, parent, "c")
	const nParent, nChild = 3000, 2000
	paths := []string{PathPerf, PathBPF}
	outs := make([]string, len(paths))
	results := make([]*Result, len(paths))
	errs := make([]error, len(paths))
	ready := make(chan struct{}, len(paths))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	for i, p := range paths {
		outs[i] = filepath.Join(t.TempDir(), p+".pcapng.zst")
		o := Options{Cgroups: []string{parent}, Path: p, Output: outs[i], Started: func(StartInfo) { ready <- struct{}{} }}
		srcs := []*source{
			tracepointSource(t, "syscalls", "sys_enter_getppid"),
			tracepointSource(t, "sched", "sched_process_exec"),
			tracepointSource(t, "sched", "sched_process_exit"),
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = runDirect(ctx, o, srcs...)
			if errs[i] != nil {
				ready <- struct{}{}
			}
		}()
	}
	for range paths {
		<-ready
	}
	inParent := startWorkloadIn(t, parent, nParent, 2)
	inChild := startWorkloadIn(t, child, nChild, 1)
	outside := startWorkloadIn(t, "", nParent, 1)
	for _, p := range []*workloadProc{inParent, inChild, outside} {
		p.run(t)
	}
	for _, p := range []*workloadProc{inParent, inChild, outside} {
		p.wait(t)
	}
	cancel()
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("%s path: %v", paths[i], err)
		}
		if results[i].Lost != 0 {
			t.Errorf("%s path lost %d", paths[i], results[i].Lost)
		}
	}
	want := map[uint32]string{
		inParent.pid(): strings.TrimPrefix(parent, mount),
		inChild.pid():  strings.TrimPrefix(child, mount),
	}
	var perTask [2]map[uint32][]cgroupSample
	for i := range paths {
		perTask[i] = cgroupSamplesByTask(t, outs[i], outside.pid())
	}
	perSource := compareCgroupSamples(t, perTask[0], perTask[1], want)
	if perSource[0] != nParent+nChild || perSource[1] != 2 || perSource[2] < 2 {
		t.Errorf("samples per source on each path (getppid, exec, exit): %v, want %d, 2 and at least 2", perSource, nParent+nChild)
	}
	t.Logf("%d tasks, samples per source %v, equal on both paths with their cgroups", len(perTask[0]), perSource)
}

// cgroupSample is a sample with the cgroup path its file gives it.
type cgroupSample struct {
	format.Sample
	cgroup string
}

// cgroupSamplesByTask is samplesByTask with each sample's cgroup.
func cgroupSamplesByTask(t *testing.T, path string, other uint32) map[uint32][]cgroupSample {
	t.Helper()
	f, err := format.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[uint32][]cgroupSample{}
	for tid, ss := range samplesByTask(t, path, other) {
		for _, s := range ss {
			cg, ok := f.CgroupOf(s.TID, s.Time)
			if !ok {
				cg = "(none)"
			}
			out[tid] = append(out[tid], cgroupSample{s, cg})
		}
	}
	return out
}

// compareCgroupSamples fails unless the perf and BPF paths' samples are
// the same per task, each in the cgroup want gives its process, and
// returns how many samples of each source each holds.
func compareCgroupSamples(t *testing.T, perf, bpf map[uint32][]cgroupSample, want map[uint32]string) [3]int {
	t.Helper()
	var perSource [3]int
	for tid, ps := range perf {
		bs := bpf[tid]
		if len(ps) != len(bs) {
			t.Errorf("task %d: %d samples on the perf path, %d on the BPF path", tid, len(ps), len(bs))
			continue
		}
		for k := range ps {
			p, b := &ps[k], &bs[k]
			if !sameSample(&p.Sample, &b.Sample) {
				t.Fatalf("task %d sample %d: perf {src %d pid %d cpu %d raw %x}, bpf {src %d pid %d cpu %d raw %x}",
					tid, k, p.Source, p.PID, p.CPU, p.Raw, b.Source, b.PID, b.CPU, b.Raw)
			}
			if p.cgroup != b.cgroup || p.cgroup != want[p.PID] {
				t.Fatalf("task %d sample %d (source %d): cgroup %q on the perf path, %q on the BPF path, want %q", tid, k, p.Source, p.cgroup, b.cgroup, want[p.PID])
			}
			if p.Source < 3 {
				perSource[p.Source]++
			}
		}
	}
	for tid := range bpf {
		if _, ok := perf[tid]; !ok {
			t.Errorf("task %d only on the BPF path (%d samples)", tid, len(bpf[tid]))
		}
	}
	return perSource
}

// TestBPFCgroupProbesLikePerf records kpcap-stepper's uprobes by cgroup on
// each path in turn, with a filter on one probe's fetch arguments (its
// program builds the record on its stack) and none on the others (they
// reserve it in the ring), while one stepper runs in a child of the
// cgroup and another outside: both files hold the inside stepper's
// samples alone, equal field by field, each in the child cgroup.
func TestBPFCgroupProbesLikePerf(t *testing.T) {
	mount := cgroupMountForTest(t)
	if _, err := os.Stat("/sys/bus/event_source/devices/uprobe/type"); err != nil {
		need(t, "needs the uprobe PMU")
	}
	parent := testCgroup(t, mount, fmt.Sprintf("kpcap-test-bpfcgp-%d", os.Getpid()))
	child := testCgroup(t, parent, "c")
	bin := buildStepper(t)
	const n = 1000
	o := Options{Probes: stepperProbes(bin), Filter: "n >= 100 && n < 0x200", Cgroups: []string{parent}}
	var samples [2][]format.Sample
	var results [2]*Result
	var bpfF *format.File
	for i, path := range []string{PathPerf, PathBPF} {
		o.Path = path
		var inside, outside *exec.Cmd
		res, f := recordWhile(t, o, nil, func() {
			inside, outside = stepperIn(t, bin, child, n), stepperIn(t, bin, "", n)
			for _, cmd := range []*exec.Cmd{inside, outside} {
				if err := cmd.Wait(); err != nil && cmd.ProcessState == nil {
					t.Fatal(err)
				}
			}
		})
		byPID := map[uint32]int{}
		for _, s := range readAll(t, f) {
			byPID[s.PID]++
			if s.PID != uint32(inside.Process.Pid) {
				continue
			}
			if cg, _ := f.CgroupOf(s.TID, s.Time); cg != strings.TrimPrefix(child, mount) {
				t.Fatalf("%s path: a sample of source %d in cgroup %q, want %q", path, s.Source, cg, strings.TrimPrefix(child, mount))
			}
			samples[i] = append(samples[i], s)
		}
		if len(byPID) != 1 {
			t.Errorf("%s path: samples by process %v, want the inside stepper's (%d) alone", path, byPID, inside.Process.Pid)
		}
		results[i], bpfF = res, f
	}
	compareProbeSamples(t, samples[0], samples[1], 3*n+0x200-100, results[0], results[1], bpfF)
}

// stepperIn starts the stepper at bin making n steps inside cgroup dir
// ("" for the test's own).
func stepperIn(t *testing.T, bin, dir string, n int) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(bin, itoa(n))
	if dir != "" {
		fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer unix.Close(fd)
		cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: fd}
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start the stepper in %q: %v", dir, err)
	}
	return cmd
}
