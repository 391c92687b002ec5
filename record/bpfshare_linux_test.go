//go:build linux

package record

import (
	"context"
	"path/filepath"
	"testing"
)

// TestBPFPathHidesNoEvents records sys_enter_getppid through perf while a
// second recording holds a classic BPF tracepoint program on the same
// tracepoint. The kernel hands a tracepoint's hit to its perf events (and
// their counters) only when the tracepoint's programs return non-zero: a
// program returning 0 made every other recording of that tracepoint on
// the machine (another kpcap, perf) miss hits silently, neither written
// nor counted lost. The perf recording must see every call.
func TestBPFPathHidesNoEvents(t *testing.T) {
	requireRoot(t)
	bpfSrc := tracepointSource(t, "syscalls", "sys_enter_getppid")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	started := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		_, err := runDirect(ctx, Options{
			Output:  filepath.Join(t.TempDir(), "bpf.pcapng.zst"),
			Path:    PathBPF,
			Started: func(StartInfo) { close(started) },
			// the classic program, as for any non-syscall tracepoint
			classicSyscalls: true,
		}, bpfSrc)
		done <- err
	}()
	select {
	case <-started:
	case err := <-done:
		t.Fatalf("BPF-path recording ended before it started: %v", err)
	}
	const n = 100_000
	c := recordCounted(t, captureSpec{
		workload: "getppid:100000:2",
		srcs:     []*source{tracepointSource(t, "syscalls", "sys_enter_getppid")},
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("BPF-path recording: %v", err)
	}
	if got := uint64(c.counts[0]) + c.lost; got != n {
		t.Errorf("perf path beside a BPF program: samples %d + lost %d = %d, want %d calls", c.counts[0], c.lost, got, n)
	}
}
