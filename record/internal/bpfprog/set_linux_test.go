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
	prog, _, err := s.Tracepoint(0, 12)
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
