//go:build linux

package record

import (
	"runtime"
	"testing"
	"time"

	"github.com/kpcap/kpcap/format"
	"golang.org/x/sys/unix"
)

// TestLossAccounting overflows a tiny ring on purpose: every syscall must
// be either recorded or counted lost, never both and never dropped silently.
func TestLossAccounting(t *testing.T) {
	requireRoot(t)
	const n = 200000
	c := recordCounted(t, captureSpec{
		workload: "getppid:200000:2",
		opts:     Options{BufferSize: 16 << 10},
		srcs:     []*source{tracepointSource(t, "syscalls", "sys_enter_getppid")},
	})
	res, f, counts := c.res, c.file, c.counts
	t.Logf("recorded %d, lost %d (%d loss records)", counts[0], res.Lost, len(f.Lost))
	if uint64(counts[0])+res.Lost != n {
		t.Errorf("recorded %d + lost %d != %d syscalls", counts[0], res.Lost, n)
	}
	// Loss records are the kernel's ring reports, which also count lost
	// task records (COMM/FORK/EXIT): at least the lost samples. The
	// statistics block holds the exact sample loss.
	if c.lost < res.Lost || f.Stats[0].Dropped != res.Lost || f.Stats[0].Received != uint64(counts[0]) {
		t.Errorf("file: lost records sum %d, stats %+v; result lost %d", c.lost, f.Stats, res.Lost)
	}
}

// TestCPUSelection records one CPU only: a thread pinned elsewhere is not seen.
func TestCPUSelection(t *testing.T) {
	requireRoot(t)
	if runtime.NumCPU() < 2 {
		need(t, "needs 2 CPUs")
	}
	for _, cpu := range []int{0, 1} {
		tidc := make(chan int, 1)
		start := make(chan struct{})
		done := make(chan struct{})
		go func() {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			var set unix.CPUSet
			set.Set(1)
			if err := unix.SchedSetaffinity(0, &set); err != nil {
				t.Error(err)
			}
			tidc <- unix.Gettid()
			<-start
			for i := 0; i < 1000; i++ {
				unix.Getppid()
			}
			close(done)
		}()
		tid := <-tidc
		_, f := recordWhile(t, Options{CPUs: []int{cpu}, Filter: "common_pid == " + itoa(tid)},
			[]*source{tracepointSource(t, "syscalls", "sys_enter_getppid")}, func() {
				close(start)
				<-done
			})
		counts, err := countSamples(t, f, nil)
		if err != nil {
			t.Fatal(err)
		}
		want := 0
		if cpu == 1 {
			want = 1000
		}
		if counts[0] != want {
			t.Errorf("--cpu %d with the thread on CPU 1: %d samples, want %d", cpu, counts[0], want)
		}
	}
}

// slowSink delays the writer like a slow disk.
type slowSink struct {
	sink
	n int
}

func (s *slowSink) WriteSample(smp *format.Sample) error {
	if s.n++; s.n%2000 == 0 {
		time.Sleep(2 * time.Millisecond)
	}
	return s.sink.WriteSample(smp)
}

// TestSlowWriter: with the writer slower than the kernel and the copied
// data capped, the rings overflow, and the accounting still holds exactly.
func TestSlowWriter(t *testing.T) {
	requireRoot(t)
	const n = 200000
	c := recordCounted(t, captureSpec{
		workload: "getppid:200000:2",
		opts:     Options{BufferSize: 64 << 10, memCap: 256 << 10},
		srcs:     []*source{tracepointSource(t, "syscalls", "sys_enter_getppid")},
		wrap:     func(w sink) sink { return &slowSink{sink: w} },
	})
	res := c.res
	t.Logf("recorded %d, lost %d", res.Samples, res.Lost)
	if res.Samples+res.Lost != n {
		t.Errorf("recorded %d + lost %d != %d", res.Samples, res.Lost, n)
	}
	if uint64(c.counts[0]) != res.Samples {
		t.Errorf("file holds %d samples, result says %d", c.counts[0], res.Samples)
	}
}
