//go:build linux

package perf

import (
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Poller waits for ring wakeups with epoll; Wake interrupts a Wait from
// another goroutine through an eventfd.
//
// The epoll fd is itself registered with Go's network poller, so a Wait
// parks the goroutine instead of blocking its thread in epoll_wait: a
// thread blocked in a syscall makes the runtime's sysmon retake its P and
// poll every 20µs, costing thousands of context switches per second.
type Poller struct {
	epfd, evfd int
	events     []unix.EpollEvent
	file       *os.File        // owns epfd
	rc         syscall.RawConn // of file
}

// wakeTag marks the eventfd among the epoll results.
const wakeTag = -1

// NewPoller creates an epoll instance with a wakeup eventfd registered.
func NewPoller() (*Poller, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("epoll_create1: %w", err)
	}
	evfd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		unix.Close(epfd)
		return nil, fmt.Errorf("eventfd: %w", err)
	}
	p := &Poller{epfd: epfd, evfd: evfd}
	if err := unix.SetNonblock(epfd, true); err != nil {
		unix.Close(epfd)
		unix.Close(evfd)
		return nil, fmt.Errorf("epoll: set nonblocking: %w", err)
	}
	// A non-blocking fd makes os.NewFile register it with the runtime poller.
	p.file = os.NewFile(uintptr(epfd), "epoll")
	rc, err := p.file.SyscallConn()
	if err != nil {
		p.Close()
		return nil, fmt.Errorf("epoll: %w", err)
	}
	p.rc = rc
	if err := p.add(evfd, wakeTag, unix.EPOLLIN); err != nil {
		p.Close()
		return nil, err
	}
	return p, nil
}

// Add registers a ring owner's fd; tag is returned by Wait when it is ready.
func (p *Poller) Add(fd int, tag int32) error { return p.add(fd, tag, unix.EPOLLIN) }

// AddEdge registers an fd that is ready whenever it holds data (a BPF
// ring buffer) to be returned by Wait only after a new wakeup: the reader
// drains it on every pass anyway, and level-triggered it would return at
// once, as long as events keep coming, and keep the reader spinning.
func (p *Poller) AddEdge(fd int, tag int32) error {
	return p.add(fd, tag, unix.EPOLLIN|unix.EPOLLET)
}

func (p *Poller) add(fd int, tag int32, events uint32) error {
	ev := unix.EpollEvent{Events: events, Fd: tag}
	if err := unix.EpollCtl(p.epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		return fmt.Errorf("epoll_ctl: %w", err)
	}
	p.events = append(p.events, unix.EpollEvent{})
	return nil
}

// Wait blocks up to msec milliseconds. It reports whether Wake was called
// and whether any ring hit its watermark; hup receives the tags of rings
// whose events hung up (their task exited), which are unregistered so that
// they do not wake every Wait again.
func (p *Poller) Wait(msec int, hup []int32) (woken, ready bool, hups []int32, err error) {
	hups = hup[:0]
	n, err := p.wait(msec)
	if err != nil {
		if errors.Is(err, unix.EINTR) {
			return false, false, hups, nil
		}
		return false, false, hups, fmt.Errorf("epoll_wait: %w", err)
	}
	for _, ev := range p.events[:n] {
		switch {
		case ev.Fd == wakeTag:
			var buf [8]byte
			unix.Read(p.evfd, buf[:])
			woken = true
		case ev.Events&(unix.EPOLLHUP|unix.EPOLLERR) != 0:
			hups = append(hups, ev.Fd)
			ready = true
		default:
			ready = true
		}
	}
	return woken, ready, hups, nil
}

// wait collects ready events without blocking the thread: it parks in the
// runtime poller until the epoll fd is readable or msec pass.
func (p *Poller) wait(msec int) (int, error) {
	if p.rc == nil {
		return unix.EpollWait(p.epfd, p.events, msec)
	}
	if err := p.file.SetReadDeadline(time.Now().Add(time.Duration(msec) * time.Millisecond)); err != nil {
		return unix.EpollWait(p.epfd, p.events, msec)
	}
	var n int
	var werr error
	err := p.rc.Read(func(fd uintptr) bool {
		n, werr = epollPoll(int(fd), p.events)
		if werr == unix.EINTR {
			werr = nil
		}
		return n > 0 || werr != nil
	})
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return n, werr
}

// epollPoll collects ready events without waiting. It is a raw syscall (it
// never blocks): entering the runtime's syscall path right after waking
// from idle would wake sysmon into a burst of 20µs polls.
func epollPoll(epfd int, events []unix.EpollEvent) (int, error) {
	if len(events) == 0 {
		return 0, nil
	}
	r, _, e := unix.RawSyscall6(unix.SYS_EPOLL_PWAIT, uintptr(epfd), uintptr(unsafe.Pointer(&events[0])), uintptr(len(events)), 0, 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(r), nil
}

// Remove unregisters a ring owner's fd.
func (p *Poller) Remove(fd int) error {
	return unix.EpollCtl(p.epfd, unix.EPOLL_CTL_DEL, fd, nil)
}

// Wake makes a concurrent or the next Wait return at once.
func (p *Poller) Wake() {
	one := [8]byte{1}
	unix.Write(p.evfd, one[:])
}

// Close releases the epoll instance and the eventfd.
func (p *Poller) Close() error {
	unix.Close(p.evfd)
	if p.file != nil {
		return p.file.Close()
	}
	return unix.Close(p.epfd)
}
