//go:build linux

package bpfprog

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/kpcap/kpcap/record/internal/bpfring"
	"github.com/kpcap/kpcap/record/internal/perf"
	"golang.org/x/sys/unix"
)

// BenchmarkVarTracepointCost times one UDP send to a loopback socket
// (ns/op and the thread's cpu-ns/op), which hits net:net_dev_queue (24
// fixed bytes, the device name behind a __data_loc) once: untraced; with
// the fixed-length program copying the 24 bytes alone (the floor); with
// the variable-length program (scratch record, bpf_ringbuf_output of its
// length); and with the alternative it was chosen over, which reserves
// the largest record in the ring and copies straight into it.
func BenchmarkVarTracepointCost(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root for BPF")
	}
	id, err := os.ReadFile("/sys/kernel/tracing/events/net/net_dev_queue/id")
	if err != nil {
		b.Skip("no net:net_dev_queue: " + err.Error())
	}
	tp, _ := strconv.ParseUint(strings.TrimSpace(string(id)), 10, 64)
	locs := []Loc{{Off: 20}}
	b.Run("untraced", func(b *testing.B) { sendLoop(b) })
	progs := map[string]func(*Set) (*ebpf.Program, error){
		"fixed-program": func(s *Set) (*ebpf.Program, error) {
			p, _, err := s.Tracepoint(0, 24, nil, 0)
			return p, err
		},
		"scratch-output": func(s *Set) (*ebpf.Program, error) {
			p, _, err := s.VarTracepoint(0, 24, locs, nil, 0)
			return p, err
		},
		"reserve-bound": func(s *Set) (*ebpf.Program, error) {
			insns := asm.Instructions{asm.Mov.Reg(asm.R6, asm.R1)}
			insns = append(insns, s.gate()...)
			insns = append(insns, s.reserve(0, HeaderLen+MaxVarPayload)...)
			insns = append(insns, dataEnd(24, locs)...)
			insns = append(insns,
				asm.Mov.Imm(asm.R1, 0),
				asm.StoreMem(asm.R7, HeaderLen, asm.R1, asm.DWord),
				asm.Mov.Reg(asm.R1, asm.R7),
				asm.Add.Imm(asm.R1, HeaderLen+8),
				asm.Mov.Reg(asm.R2, asm.R9),
				asm.Sub.Imm(asm.R2, 8),
				asm.Mov.Reg(asm.R3, asm.R6),
				asm.Add.Imm(asm.R3, 8),
				asm.FnProbeReadKernel.Call())
			insns = append(insns, s.submitAndReturn(HeaderLen+MaxVarPayload, 1)...)
			p, _, err := s.loadProgram("kpcap_tpv_bound", ebpf.TracePoint, insns)
			return p, err
		},
	}
	for _, name := range []string{"fixed-program", "scratch-output", "reserve-bound"} {
		b.Run(name, func(b *testing.B) {
			s, err := New(32<<20, 1)
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			p, err := progs[name](s)
			if err != nil {
				b.Fatal(err)
			}
			fd, err := perf.Open(&perf.Attr{Type: unix.PERF_TYPE_TRACEPOINT, Config: tp, Disabled: true}, -1, 0)
			if err != nil {
				b.Fatal(err)
			}
			defer unix.Close(fd)
			if err := unix.IoctlSetInt(fd, unix.PERF_EVENT_IOC_SET_BPF, p.FD()); err != nil {
				b.Fatal(err)
			}
			if err := s.SetEnabled(true); err != nil {
				b.Fatal(err)
			}
			stop := drainEvery(b, s, time.Millisecond)
			sendLoop(b)
			stop()
		})
	}
}

// drainEvery empties the set's ring every period until the returned stop
// is called, and then reports the records read and lost per op.
func drainEvery(b *testing.B, s *Set, period time.Duration) (stop func()) {
	rd, err := bpfring.Open(s.Ring())
	if err != nil {
		b.Fatal(err)
	}
	done, drained := make(chan struct{}), make(chan int)
	go func() {
		n := 0
		for {
			select {
			case <-done:
				drained <- n
				return
			case <-time.After(period):
			}
			for rec, err := rd.Next(); rec != nil && err == nil; rec, err = rd.Next() {
				n++
			}
			rd.Release()
		}
	}()
	return func() {
		close(done)
		n := <-drained
		rd.Close()
		_, lost, err := s.Counts(0)
		if err != nil {
			b.Fatal(err)
		}
		var l uint64
		for _, v := range lost {
			l += v
		}
		b.ReportMetric(float64(n)/float64(b.N), "records/op")
		b.ReportMetric(float64(l)/float64(b.N), "lost/op")
	}
}

// sendLoop sends b.N one-byte datagrams from a locked thread to a
// loopback socket that never reads them (the kernel drops them once its
// buffer is full, after the device queued them), and reports the
// thread's CPU time per send.
func sendLoop(b *testing.B) {
	rx, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer unix.Close(rx)
	if err := unix.Bind(rx, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		b.Fatal(err)
	}
	to, err := unix.Getsockname(rx)
	if err != nil {
		b.Fatal(err)
	}
	tx, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer unix.Close(tx)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	msg := []byte{1}
	b.ResetTimer()
	start := threadCPU(b)
	for range b.N {
		if err := unix.Sendto(tx, msg, 0, to); err != nil {
			b.Fatal(fmt.Errorf("sendto: %w", err))
		}
	}
	b.ReportMetric(float64(threadCPU(b)-start)/float64(b.N), "cpu-ns/op")
}
