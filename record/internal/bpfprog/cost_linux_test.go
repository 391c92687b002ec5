//go:build linux

package bpfprog

import (
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/link"
	"github.com/kpcap/kpcap/record/internal/bpfring"
	"golang.org/x/sys/unix"
)

// BenchmarkSyscallCost times one getppid call from a locked thread (ns/op)
// untraced, with an empty program on the raw sys_enter tracepoint, and
// with kpcap's syscall program recording it into a ring that kpcap's
// reader drains. The empty program's cost over the untraced call is the
// floor every consumer of the syscall tracepoints pays (the kernel takes
// the slow syscall entry for every task once a probe is on them), perf's
// sample path as much as BPF; kpcap's program costs what it adds on top. With
// -benchtime=Nx and -count, compare the sub-benchmarks' minimums of
// cpu-ns/op: the host's other work only ever adds.
func BenchmarkSyscallCost(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root for BPF")
	}
	nr, ok := SyscallNumber("getppid")
	if !ok {
		b.Skip("no raw syscall programs on " + runtime.GOARCH)
	}
	b.Run("untraced", func(b *testing.B) { getppidLoop(b) })
	b.Run("empty-raw-program", func(b *testing.B) {
		p, err := ebpf.NewProgram(&ebpf.ProgramSpec{
			Type: ebpf.Tracing, AttachType: ebpf.AttachTraceRawTp, AttachTo: "sys_enter",
			Instructions: asm.Instructions{asm.Mov.Imm(asm.R0, 0), asm.Return()},
			License:      programLicense,
		})
		if err != nil {
			b.Fatal(err)
		}
		defer p.Close()
		l, err := link.AttachTracing(link.TracingOptions{Program: p, AttachType: ebpf.AttachTraceRawTp})
		if err != nil {
			b.Fatal(err)
		}
		defer l.Close()
		getppidLoop(b)
	})
	b.Run("kpcap-program", func(b *testing.B) {
		s, err := New(32<<20, 1)
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		if err := s.AddSyscallEntry(nr, 0, 0); err != nil {
			b.Fatal(err)
		}
		if _, err := s.AttachSyscalls(); err != nil {
			b.Fatal(err)
		}
		if err := s.SetEnabled(true); err != nil {
			b.Fatal(err)
		}
		rd, err := bpfring.Open(s.Ring())
		if err != nil {
			b.Fatal(err)
		}
		defer rd.Close()
		done := make(chan struct{})
		drained := make(chan struct{})
		go func() {
			defer close(drained)
			for {
				select {
				case <-done:
					return
				case <-time.After(20 * time.Millisecond):
				}
				for rec, err := rd.Next(); rec != nil && err == nil; rec, err = rd.Next() {
				}
				rd.Release()
			}
		}()
		getppidLoop(b)
		close(done)
		<-drained
		hits, lost, err := s.Counts(0)
		if err != nil {
			b.Fatal(err)
		}
		var h, l uint64
		for cpu := range hits {
			h, l = h+hits[cpu], l+lost[cpu]
		}
		if h < uint64(b.N) || l > 0 {
			b.Fatalf("program saw %d getppid calls (%d lost), want at least %d, none lost", h, l, b.N)
		}
	})
}

// getppidLoop makes b.N getppid calls and reports the calling thread's CPU
// time per call too: wall time also counts waiting for a busy CPU.
func getppidLoop(b *testing.B) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	b.ResetTimer()
	start := threadCPU(b)
	for range b.N {
		unix.RawSyscall(unix.SYS_GETPPID, 0, 0, 0)
	}
	b.ReportMetric(float64(threadCPU(b)-start)/float64(b.N), "cpu-ns/op")
}

func threadCPU(b *testing.B) int64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		b.Fatal(err)
	}
	return ts.Nano()
}
