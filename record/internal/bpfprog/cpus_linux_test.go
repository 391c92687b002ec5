//go:build linux

package bpfprog

import (
	"errors"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cilium/ebpf/ringbuf"
	"github.com/kpcap/kpcap/record/internal/perf"
	"golang.org/x/sys/unix"
)

// TestProgramsKeepToTheirCPUs records getppid calls of a thread pinned to
// CPU 0, through a classic tracepoint program and the raw syscall program,
// with the programs restricted to CPU 0 (every call recorded) and to CPU 1
// only (none recorded, none counted).
func TestProgramsKeepToTheirCPUs(t *testing.T) {
	if os.Geteuid() != 0 {
		need(t, "needs root for BPF and perf_event_open")
	}
	for _, raw := range []bool{false, true} {
		for _, cpu := range []int{0, 1} {
			name := "classic"
			if raw {
				name = "raw"
			}
			t.Run(name+"-cpu"+strconv.Itoa(cpu), func(t *testing.T) {
				const n = 500
				want := 0
				if cpu == 0 {
					want = n
				}
				got, hits := pinnedGetppidRecords(t, raw, []int{cpu}, n)
				// Other tasks' calls on CPU 1 may count as hits.
				if got != want || hits < uint64(want) {
					t.Errorf("programs on CPU %d: %d records of the thread pinned to CPU 0 (%d hits), want %d", cpu, got, hits, want)
				}
			})
		}
	}
}

// pinnedGetppidRecords makes n getppid calls from a thread pinned to CPU
// 0 with the program restricted to cpus, and returns the thread's records
// in the ring and the program's hits.
func pinnedGetppidRecords(t *testing.T, raw bool, cpus []int, n int) (int, uint64) {
	s, err := New(1<<20, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.SetCPUs(cpus); err != nil {
		t.Fatal(err)
	}
	if raw {
		nr, ok := SyscallNumber("getppid")
		if !ok {
			need(t, "no raw syscall programs on "+runtime.GOARCH)
		}
		if err := s.AddSyscall(false, nr, 0); err != nil {
			t.Fatal(err)
		}
		if _, err := s.AttachSyscalls(); err != nil {
			t.Fatal(err)
		}
	} else {
		idb, err := os.ReadFile("/sys/kernel/tracing/events/syscalls/sys_enter_getppid/id")
		if err != nil {
			need(t, "no syscalls:sys_enter_getppid tracepoint: "+err.Error())
		}
		id, _ := strconv.ParseUint(strings.TrimSpace(string(idb)), 10, 64)
		prog, _, err := s.Tracepoint(0, 12, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		fd, err := perf.Open(&perf.Attr{Type: unix.PERF_TYPE_TRACEPOINT, Config: id, Disabled: true}, -1, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer unix.Close(fd)
		if err := unix.IoctlSetInt(fd, unix.PERF_EVENT_IOC_SET_BPF, prog.FD()); err != nil {
			t.Fatal(err)
		}
	}
	rd, err := ringbuf.NewReader(s.Ring())
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	var tid uint32
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		var set unix.CPUSet
		set.Set(0)
		if err := unix.SchedSetaffinity(0, &set); err != nil {
			t.Errorf("pin to CPU 0: %v", err)
			return
		}
		tid = uint32(unix.Gettid())
		if err := s.SetEnabled(true); err != nil {
			t.Error(err)
			return
		}
		for range n {
			unix.Getppid()
		}
		if err := s.SetEnabled(false); err != nil {
			t.Error(err)
		}
	}()
	<-done
	rd.SetDeadline(time.Now())
	var rec ringbuf.Record
	var r Record
	mine := 0
	for {
		err := rd.ReadInto(&rec)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if Decode(rec.RawSample, &r) && r.TID == tid {
			if r.CPU != 0 {
				t.Fatalf("record of the thread pinned to CPU 0 on CPU %d", r.CPU)
			}
			mine++
		}
	}
	hits, _, err := s.Counts(0)
	if err != nil {
		t.Fatal(err)
	}
	var h uint64
	for _, v := range hits {
		h += v
	}
	return mine, h
}
