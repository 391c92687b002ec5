//go:build linux

package record

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/kpcap/kpcap/format"
	"golang.org/x/sys/unix"
)

// syscallBurst calls getppid n times on one locked OS thread and returns
// that thread's id.
func syscallBurst(n int, tidc chan<- int, start <-chan struct{}, done chan<- struct{}) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	tidc <- unix.Gettid()
	<-start
	for i := 0; i < n; i++ {
		unix.Syscall(unix.SYS_GETPPID, 0, 0, 0)
	}
	close(done)
}

// recordWhile runs a capture with opts, calls work once it is enabled,
// stops the capture and opens the file.
func recordWhile(t testing.TB, opts Options, direct []*source, work func()) (*Result, *format.File) {
	t.Helper()
	if opts.Output == "" {
		opts.Output = filepath.Join(t.TempDir(), "t.pcapng.zst")
	}
	ready := make(chan struct{})
	opts.Started = func(StartInfo) { close(ready) }
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type ret struct {
		res *Result
		err error
	}
	rc := make(chan ret, 1)
	go func() {
		var res *Result
		var err error
		if direct != nil {
			res, err = runDirect(ctx, opts, direct...)
		} else {
			res, err = Run(ctx, opts)
		}
		rc <- ret{res, err}
	}()
	select {
	case <-ready:
	case r := <-rc:
		t.Fatalf("Run ended before it was ready: %v", r.err)
	}
	work()
	cancel()
	r := <-rc
	if r.err != nil {
		t.Fatalf("Run: %v", r.err)
	}
	f, err := format.Open(opts.Output)
	if err != nil {
		t.Fatalf("open trace: %v", err)
	}
	t.Cleanup(func() { f.Close() })
	return r.res, f
}

// countSamples counts samples per source that match keep.
func countSamples(t testing.TB, f *format.File, keep func(*format.Sample) bool) (map[uint32]int, error) {
	t.Helper()
	counts := map[uint32]int{}
	last := uint64(0)
	it := f.Samples()
	for it.Next() {
		s := it.Sample()
		if s.Time < last {
			return counts, fmt.Errorf("samples out of time order: %d after %d", s.Time, last)
		}
		last = s.Time
		if keep == nil || keep(s) {
			counts[s.Source]++
		}
	}
	return counts, it.Err()
}

func TestExactSyscallCount(t *testing.T) {
	requireRoot(t)
	n := 300000
	if s := os.Getenv("KPCAP_EXACT_N"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	tidc := make(chan int, 1)
	start := make(chan struct{})
	done := make(chan struct{})
	go syscallBurst(n, tidc, start, done)
	tid := <-tidc
	// A second thread makes syscalls the filter must exclude.
	otherc := make(chan int, 1)
	otherDone := make(chan struct{})
	go syscallBurst(n/10, otherc, start, otherDone)
	other := <-otherc
	res, f := recordWhile(t, Options{
		Filter: fmt.Sprintf("common_pid == %d", tid),
	}, []*source{tracepointSource(t, "syscalls", "sys_enter_getppid")}, func() {
		close(start)
		<-done
		<-otherDone
	})
	counts, err := countSamples(t, f, func(s *format.Sample) bool { return s.TID == uint32(tid) })
	if err != nil {
		t.Fatal(err)
	}
	got := counts[0]
	all, _ := countSamples(t, f, nil)
	if all[0] != got {
		t.Errorf("the filter let %d samples of other threads (e.g. %d) through", all[0]-got, other)
	}
	t.Logf("samples %d, lost %d, bytes %d (%.1f B/event)", got, res.Lost, res.Bytes, float64(res.Bytes)/float64(max(got, 1)))
	if uint64(got)+res.Lost != uint64(n) {
		t.Fatalf("recorded %d + lost %d != %d syscalls made", got, res.Lost, n)
	}
	if res.Lost != 0 {
		t.Errorf("lost %d samples at default settings", res.Lost)
	}
	if res.Samples != uint64(got) {
		t.Errorf("Result.Samples %d != %d in file", res.Samples, got)
	}
	if len(f.Stats) != 1 || f.Stats[0].Received != uint64(n) {
		t.Errorf("file stats %+v, want Received %d", f.Stats, n)
	}
	if f.Header.Sources[0].Filter == "" || f.Header.Sources[0].Format == "" {
		t.Errorf("source lacks filter or format: %+v", f.Header.Sources[0])
	}
	_ = time.Second
}
