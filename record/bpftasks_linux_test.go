//go:build linux

package record

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/kpcap/kpcap/format"
)

// TestBPFFollowsLikePerf follows one process tree (--pid) on both paths at
// once: a shell that starts three copies of a threaded getppid workload in
// the background, then one more. Both files must hold the same samples of
// the same tasks, in the same order per task, byte for byte (but
// common_flags and common_preempt_count, which BPF programs do not see),
// and nothing of a getppid loop running beside the tree.
func TestBPFFollowsLikePerf(t *testing.T) {
	requireRoot(t)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	const calls = 3000
	tree := exec.Command("/bin/sh", "-c", fmt.Sprintf("read x; for i in 1 2 3; do %q & done; wait; %q", exe, exe))
	tree.Env = append(os.Environ(), fmt.Sprintf("%s=getppid:%d:3", workloadEnv, calls))
	stdin, err := tree.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := tree.Start(); err != nil {
		t.Fatal(err)
	}
	defer tree.Process.Kill()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	srcs := func() []*source {
		return []*source{
			tracepointSource(t, "syscalls", "sys_enter_getppid"),
			tracepointSource(t, "sched", "sched_process_fork"),
			tracepointSource(t, "sched", "sched_process_exec"),
			tracepointSource(t, "sched", "sched_process_exit"),
		}
	}
	paths := []string{PathPerf, PathBPF}
	outs := make([]string, len(paths))
	results := make([]*Result, len(paths))
	errs := make([]error, len(paths))
	ready := make(chan struct{}, len(paths))
	var wg sync.WaitGroup
	for i, p := range paths {
		outs[i] = filepath.Join(t.TempDir(), p+".pcapng.zst")
		o := Options{PID: tree.Process.Pid, Path: p, Output: outs[i], Started: func(StartInfo) { ready <- struct{}{} }}
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = runDirect(ctx, o, srcs()...)
			if errs[i] != nil {
				ready <- struct{}{}
			}
		}()
	}
	for range paths {
		<-ready
	}
	noise := exec.Command(exe)
	noise.Env = append(os.Environ(), workloadEnv+"=getppid:20000:1")
	if err := noise.Start(); err != nil {
		t.Fatal(err)
	}
	stdin.Write([]byte("go\n"))
	treeErr, noiseErr := tree.Wait(), noise.Wait() // reaped: --pid ends with the process
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("%s path: %v", paths[i], err)
		}
	}
	if treeErr != nil || noiseErr != nil {
		t.Fatalf("workloads: %v, %v", treeErr, noiseErr)
	}
	perTask := make([]map[uint32][]format.Sample, len(paths))
	for i := range paths {
		perTask[i] = samplesByTask(t, outs[i], uint32(noise.Process.Pid))
		if results[i].Lost != 0 {
			t.Errorf("%s path lost %d", paths[i], results[i].Lost)
		}
	}
	getppid := 0
	for tid, ps := range perTask[0] {
		bs := perTask[1][tid]
		if len(ps) != len(bs) {
			t.Errorf("task %d: %d samples on the perf path, %d on the BPF path", tid, len(ps), len(bs))
			continue
		}
		for k := range ps {
			if !sameSample(&ps[k], &bs[k]) {
				t.Fatalf("task %d sample %d: perf {src %d pid %d cpu %d raw %x}, bpf {src %d pid %d cpu %d raw %x}",
					tid, k, ps[k].Source, ps[k].PID, ps[k].CPU, ps[k].Raw, bs[k].Source, bs[k].PID, bs[k].CPU, bs[k].Raw)
			}
			if ps[k].Source == 0 {
				getppid++
			}
		}
	}
	for tid := range perTask[1] {
		if _, ok := perTask[0][tid]; !ok {
			t.Errorf("task %d only on the BPF path (%d samples)", tid, len(perTask[1][tid]))
		}
	}
	if getppid != 4*calls {
		t.Errorf("%d getppid samples on each path, want %d", getppid, 4*calls)
	}
	t.Logf("%d tasks, %d getppid samples, equal on both paths", len(perTask[0]), getppid)
}

// samplesByTask reads a file's samples per thread, in file order, and
// fails on any sample of process other.
func samplesByTask(t *testing.T, path string, other uint32) map[uint32][]format.Sample {
	t.Helper()
	f, err := format.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[uint32][]format.Sample{}
	it := f.Samples()
	for it.Next() {
		s := *it.Sample()
		if s.PID == other {
			t.Fatalf("%s: a sample of process %d, which is not traced", path, other)
		}
		s.Raw = append([]byte(nil), s.Raw...)
		out[s.TID] = append(out[s.TID], s)
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// sameSample compares two paths' samples of one event but their times and
// the common fields BPF programs do not see (flags, preempt count).
func sameSample(p, b *format.Sample) bool {
	if p.Source != b.Source || p.PID != b.PID || p.TID != b.TID || p.CPU != b.CPU || len(p.Raw) != len(b.Raw) {
		return false
	}
	for i := range p.Raw {
		if (i < 2 || i > 3) && p.Raw[i] != b.Raw[i] {
			return false
		}
	}
	return true
}

// TestBPFFollowsCommandLikePerf records a command on each path in turn: a
// shell that runs a threaded getppid workload three times in the
// background, then once more. Each source must count the same on both:
// the execve entry of kpcap's helper process, before the command's exec
// enables perf's events, is not the command's, and neither is anything
// of the getppid loop running beside it.
func TestBPFFollowsCommandLikePerf(t *testing.T) {
	requireRoot(t)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	const calls = 3000
	t.Setenv(workloadEnv, fmt.Sprintf("getppid:%d:3", calls))
	names := [][2]string{
		{"syscalls", "sys_enter_execve"}, {"syscalls", "sys_exit_execve"},
		{"syscalls", "sys_enter_getppid"}, {"sched", "sched_process_exec"},
	}
	counts := map[string][]int{}
	for _, p := range []string{PathPerf, PathBPF} {
		var srcs []*source
		for _, n := range names {
			srcs = append(srcs, tracepointSource(t, n[0], n[1]))
		}
		noise := exec.Command(exe)
		noise.Env = append(os.Environ(), workloadEnv+"=getppid:20000:1")
		if err := noise.Start(); err != nil {
			t.Fatal(err)
		}
		out := filepath.Join(t.TempDir(), p+".pcapng.zst")
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		res, err := runDirect(ctx, Options{Path: p, Output: out, Command: []string{"/bin/sh", "-c", fmt.Sprintf("for i in 1 2 3; do %q & done; wait; %q", exe, exe)}}, srcs...)
		cancel()
		noise.Wait()
		if err != nil {
			t.Fatalf("%s path: %v", p, err)
		}
		if res.Lost != 0 {
			t.Errorf("%s path lost %d", p, res.Lost)
		}
		f, err := format.Open(out)
		if err != nil {
			t.Fatal(err)
		}
		c, err := countSamples(t, f, nil)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		for i := range names {
			counts[p] = append(counts[p], c[uint32(i)])
		}
	}
	t.Logf("per source (%v): perf %v, bpf %v", names, counts[PathPerf], counts[PathBPF])
	if fmt.Sprint(counts[PathPerf]) != fmt.Sprint(counts[PathBPF]) {
		t.Errorf("per source (%v): perf %v, bpf %v", names, counts[PathPerf], counts[PathBPF])
	}
	if counts[PathPerf][2] < 4*calls { // and the shell's own
		t.Errorf("%d getppid samples, want %d and the shell's", counts[PathPerf][2], 4*calls)
	}
}
