//go:build linux

package bpfprog

import (
	"encoding/binary"
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

// need skips with reason locally and fails under CI=true.
func need(t *testing.T, reason string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI=true: cannot skip: %s", reason)
	}
	t.Skip(reason)
}

// TestTracepointCountsEveryCall attaches a generated program to
// syscalls:sys_enter_getppid, makes a known number of getppid calls from
// one locked thread and checks that the ring holds exactly one record per
// call of that thread, with the call's syscall number in the payload, and
// that the counters agree (hits = records + lost).
func TestTracepointCountsEveryCall(t *testing.T) {
	if os.Geteuid() != 0 {
		need(t, "needs root for BPF and perf_event_open")
	}
	idb, err := os.ReadFile("/sys/kernel/tracing/events/syscalls/sys_enter_getppid/id")
	if err != nil {
		need(t, "no syscalls:sys_enter_getppid tracepoint: "+err.Error())
	}
	id, _ := strconv.ParseUint(strings.TrimSpace(string(idb)), 10, 64)
	s, err := New(1<<20, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	prog, _, err := s.Tracepoint(0, 12, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	fd, err := perf.Open(&perf.Attr{Type: unix.PERF_TYPE_TRACEPOINT, Config: id}, -1, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if err := unix.IoctlSetInt(fd, unix.PERF_EVENT_IOC_SET_BPF, prog.FD()); err != nil {
		t.Fatal(err)
	}
	rd, err := ringbuf.NewReader(s.Ring())
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()

	const n = 1000
	runtime.LockOSThread()
	tid := uint32(unix.Gettid())
	unix.Getppid() // gate closed: not seen
	if err := s.SetEnabled(true); err != nil {
		t.Fatal(err)
	}
	for range n {
		unix.Getppid()
	}
	if err := s.SetEnabled(false); err != nil {
		t.Fatal(err)
	}
	unix.Getppid() // gate closed again
	runtime.UnlockOSThread()

	rd.SetDeadline(time.Now())
	var rec ringbuf.Record
	var r Record
	mine, total := 0, 0
	for {
		err := rd.ReadInto(&rec)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if !Decode(rec.RawSample, &r) {
			t.Fatalf("short record of %d bytes", len(rec.RawSample))
		}
		total++
		if r.TID != tid {
			continue
		}
		mine++
		if nr := binary.NativeEndian.Uint32(r.Raw[8:]); nr != unix.SYS_GETPPID {
			t.Fatalf("record %d: __syscall_nr %d, want %d", mine, nr, unix.SYS_GETPPID)
		}
		if r.Time == 0 || r.Source != 0 {
			t.Fatalf("record %d: time %d source %d", mine, r.Time, r.Source)
		}
	}
	if mine != n {
		t.Errorf("%d records of the calling thread, want %d", mine, n)
	}
	hits, lost, err := s.Counts(0)
	if err != nil {
		t.Fatal(err)
	}
	var h, l uint64
	for i := range hits {
		h, l = h+hits[i], l+lost[i]
	}
	if l != 0 || h != uint64(total) {
		t.Errorf("counters: %d hits, %d lost; ring held %d records", h, l, total)
	}
}

// TestSyscallProgramsCountEveryCall routes getppid's entry and exit to two
// sources of the raw syscall programs and checks one record per call of
// the calling thread for each, with the number, and the return value on
// exit: with the routes compiled into the programs, and, past
// maxInlineRoutes, looked up in a table; and loaded by cilium/ebpf, which
// finds the attach targets by name, as when the kernel refuses them by id.
func TestSyscallProgramsCountEveryCall(t *testing.T) {
	if os.Geteuid() != 0 {
		need(t, "needs root for BPF")
	}
	nr, ok := SyscallNumber("getppid")
	if !ok {
		need(t, "no raw syscall programs on "+runtime.GOARCH)
	}
	t.Run("inline", func(t *testing.T) { testSyscallRoutes(t, nr, 0, false) })
	// x86-64 assigns no system call to 335-423: routes nobody uses.
	t.Run("table", func(t *testing.T) { testSyscallRoutes(t, nr, maxInlineRoutes, false) })
	t.Run("byname", func(t *testing.T) { testSyscallRoutes(t, nr, 0, true) })
}

func testSyscallRoutes(t *testing.T, nr, unused int, byName bool) {
	s, err := New(1<<20, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.AddSyscall(false, nr, 0); err != nil {
		t.Fatal(err)
	}
	if err := s.AddSyscall(true, nr, 1); err != nil {
		t.Fatal(err)
	}
	for i := range unused {
		for _, exit := range []bool{false, true} {
			if err := s.AddSyscall(exit, 340+i, uint32(bool2int(exit))); err != nil {
				t.Fatal(err)
			}
		}
	}
	if byName {
		if s.regs, err = loadSyscallRegs(); err != nil {
			t.Fatal(err)
		}
		s.regs.Enter, s.regs.Exit = 0, 0
	}
	if _, err := s.AttachSyscalls(); err != nil {
		t.Fatal(err)
	}
	rd, err := ringbuf.NewReader(s.Ring())
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	const n = 1000
	runtime.LockOSThread()
	tid := uint32(unix.Gettid())
	ppid := unix.Getppid()
	if err := s.SetEnabled(true); err != nil {
		t.Fatal(err)
	}
	for range n {
		unix.Getppid()
	}
	if err := s.SetEnabled(false); err != nil {
		t.Fatal(err)
	}
	runtime.UnlockOSThread()
	rd.SetDeadline(time.Now())
	var rec ringbuf.Record
	var r Record
	var mine [2]int
	for {
		err := rd.ReadInto(&rec)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if !Decode(rec.RawSample, &r) || r.Source > 1 || len(r.Raw) != [2]int{SyscallRaw, SyscallExitRaw}[r.Source] {
			t.Fatalf("bad record %x", rec.RawSample)
		}
		if r.TID != tid {
			continue
		}
		mine[r.Source]++
		if got := binary.NativeEndian.Uint32(r.Raw[8:]); got != uint32(nr) {
			t.Fatalf("__syscall_nr %d, want %d", got, nr)
		}
		if ret := binary.NativeEndian.Uint64(r.Raw[16:]); r.Source == 1 && ret != uint64(ppid) {
			t.Fatalf("exit ret %d, want %d", ret, ppid)
		}
	}
	if mine[0] != n || mine[1] != n {
		t.Errorf("records of the thread: %d entries, %d exits, want %d each", mine[0], mine[1], n)
	}
	if tabled := s.sys[0].table != nil; tabled != (unused > 0) {
		t.Errorf("routing table in use: %v with %d more routes", tabled, unused)
	}
}

func bool2int(b bool) int {
	if b {
		return 1
	}
	return 0
}
