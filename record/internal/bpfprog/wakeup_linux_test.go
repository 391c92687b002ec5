//go:build linux

package bpfprog

import (
	"os"
	"runtime"
	"testing"

	"golang.org/x/sys/unix"
)

// TestWakeupsPastWatermark checks when the programs wake the ring's
// reader: never below the watermark, and past it once per wake step
// crossed rather than once per event. It records a syscall nobody calls
// (sched_get_priority_max with a bad policy) from one locked thread and
// polls the ring edge-triggered, as the recorder does, after every call.
func TestWakeupsPastWatermark(t *testing.T) {
	if os.Geteuid() != 0 {
		need(t, "needs root for BPF")
	}
	nr, ok := SyscallNumber("sched_get_priority_max")
	if !ok {
		need(t, "no raw syscall programs on "+runtime.GOARCH)
	}
	const ringBytes = 256 << 10
	s, err := New(ringBytes, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.AddSyscall(false, nr, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AttachSyscalls(); err != nil {
		need(t, "raw syscall tracepoint programs unavailable: "+err.Error())
	}
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(epfd)
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLET}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, s.Ring().FD(), &ev); err != nil {
		t.Fatal(err)
	}
	woken := func() bool {
		evs := make([]unix.EpollEvent, 1)
		n, err := unix.EpollWait(epfd, evs, 0)
		if err != nil && err != unix.EINTR {
			t.Fatal(err)
		}
		return n > 0
	}

	total := (HeaderLen + SyscallRaw + ringHeader + 7) &^ 7
	below := s.watermark/total - 1 // records that stay below the watermark
	above := (ringBytes - s.watermark) / total
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := s.SetEnabled(true); err != nil {
		t.Fatal(err)
	}
	call := func() { unix.Syscall(uintptr(nr), ^uintptr(0), 0, 0) }
	early := 0
	for range below {
		call()
		if woken() {
			early++
		}
	}
	wakeups := 0
	for range above {
		call()
		if woken() {
			wakeups++
		}
	}
	if err := s.SetEnabled(false); err != nil {
		t.Fatal(err)
	}
	// A wakeup raised in the kernel (irq_work) may land a little later.
	if woken() {
		wakeups++
	}
	if early > 0 {
		t.Errorf("%d wakeups in %d records below the watermark (%d bytes), want none", early, below, s.watermark)
	}
	steps := (ringBytes - s.watermark) / s.wakeStep()
	if wakeups == 0 || wakeups > steps+1 {
		t.Errorf("%d wakeups in %d records past the watermark, want 1 to %d (one per %d bytes)", wakeups, above, steps+1, s.wakeStep())
	}
	t.Logf("%d wakeups in %d records past the watermark", wakeups, above)
}
