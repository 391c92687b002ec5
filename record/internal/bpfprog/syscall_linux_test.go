//go:build linux

package bpfprog

import (
	"encoding/binary"
	"errors"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/cilium/ebpf/ringbuf"
	"golang.org/x/sys/unix"
)

// TestSyscallEntryArgs routes the entries of getppid (no argument kept)
// and getpid (three kept) to two sources of one entry program and checks
// that each call of the thread has one record of its own length, with its
// number and, for getpid, the argument registers the call passed; inline
// and through the table, where routes of six arguments share the program.
func TestSyscallEntryArgs(t *testing.T) {
	if os.Geteuid() != 0 {
		need(t, "needs root for BPF")
	}
	ppid, ok := SyscallNumber("getppid")
	pid, ok2 := SyscallNumber("getpid")
	if !ok || !ok2 {
		need(t, "no raw syscall programs on "+runtime.GOARCH)
	}
	t.Run("inline", func(t *testing.T) { testSyscallEntryArgs(t, ppid, pid, 0) })
	// x86-64 assigns no system call to 335-423: routes nobody uses.
	t.Run("table", func(t *testing.T) { testSyscallEntryArgs(t, ppid, pid, maxInlineRoutes) })
}

func testSyscallEntryArgs(t *testing.T, ppid, pid, unused int) {
	s, err := New(1<<20, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.AddSyscallEntry(ppid, 0, 0); err != nil {
		t.Fatal(err)
	}
	if err := s.AddSyscallEntry(pid, 1, 3); err != nil {
		t.Fatal(err)
	}
	for i := range unused {
		if err := s.AddSyscall(false, 340+i, 1); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.AddSyscallEntry(ppid, 0, 7); err == nil {
		t.Fatal("AddSyscallEntry took 7 arguments")
	}
	if _, err := s.AttachSyscalls(); err != nil {
		t.Fatal(err)
	}
	rd, err := ringbuf.NewReader(s.Ring())
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	const n = 500
	runtime.LockOSThread()
	tid := uint32(unix.Gettid())
	if err := s.SetEnabled(true); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		unix.RawSyscall(unix.SYS_GETPPID, 0, 0, 0)
		unix.RawSyscall(unix.SYS_GETPID, uintptr(i), 7, 9)
	}
	if err := s.SetEnabled(false); err != nil {
		t.Fatal(err)
	}
	runtime.UnlockOSThread()
	rd.SetDeadline(time.Now())
	var rec ringbuf.Record
	var r Record
	var mine [2]int
	wantLen := [2]int{16, 16 + 3*8}
	wantNr := [2]int{ppid, pid}
	for {
		err := rd.ReadInto(&rec)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if !Decode(rec.RawSample, &r) || r.Source > 1 || len(r.Raw) != wantLen[r.Source] {
			t.Fatalf("bad record %x", rec.RawSample)
		}
		if r.TID != tid {
			continue
		}
		le := binary.NativeEndian
		if got := le.Uint32(r.Raw[8:]); got != uint32(wantNr[r.Source]) {
			t.Fatalf("source %d: __syscall_nr %d, want %d", r.Source, got, wantNr[r.Source])
		}
		if r.Source == 1 {
			if a := [3]uint64{le.Uint64(r.Raw[16:]), le.Uint64(r.Raw[24:]), le.Uint64(r.Raw[32:])}; a != [3]uint64{uint64(mine[1]), 7, 9} {
				t.Fatalf("getpid call %d: arguments %v", mine[1], a)
			}
		}
		mine[r.Source]++
	}
	if mine[0] != n || mine[1] != n {
		t.Errorf("records of the thread: %d getppid, %d getpid, want %d each", mine[0], mine[1], n)
	}
	for src := range 2 {
		hits, lost, err := s.Counts(src)
		if err != nil {
			t.Fatal(err)
		}
		var h, l uint64
		for cpu := range hits {
			h, l = h+hits[cpu], l+lost[cpu]
		}
		if h < n || l != 0 {
			t.Errorf("source %d: %d hits, %d lost, want at least %d hits, none lost", src, h, l, n)
		}
	}
}
