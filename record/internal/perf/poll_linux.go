//go:build linux

package perf

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// Poller waits for ring wakeups with epoll; Wake interrupts a Wait from
// another goroutine through an eventfd.
type Poller struct {
	epfd, evfd int
	events     []unix.EpollEvent
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
	if err := p.add(evfd, wakeTag); err != nil {
		p.Close()
		return nil, err
	}
	return p, nil
}

// Add registers a ring owner's fd; tag is returned by Wait when it is ready.
func (p *Poller) Add(fd int, tag int32) error { return p.add(fd, tag) }

func (p *Poller) add(fd int, tag int32) error {
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: tag}
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
	n, err := unix.EpollWait(p.epfd, p.events, msec)
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
	return unix.Close(p.epfd)
}
