//go:build linux

package perf

import (
	"errors"
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// SampleType is the fixed sample layout kpcap records; parsers in this
// package assume it (CALLCHAIN is added with call graphs). PERIOD matters
// beyond its value: a tracepoint passing a count (__perf_count, e.g.
// sched_stat_runtime's runtime in ns) makes a non-frequency event with
// PERIOD emit one sample carrying the count; without PERIOD the kernel
// emits one sample per counted unit (perf_swevent_event). perf record sets
// it for tracepoints too.
const SampleType = unix.PERF_SAMPLE_IDENTIFIER | unix.PERF_SAMPLE_TID |
	unix.PERF_SAMPLE_TIME | unix.PERF_SAMPLE_CPU | unix.PERF_SAMPLE_PERIOD |
	unix.PERF_SAMPLE_RAW

// Attr describes one event to open.
type Attr struct {
	Type   uint32 // PERF_TYPE_TRACEPOINT, a PMU type, PERF_TYPE_SOFTWARE
	Config uint64
	// Config1 and Config2 are the probe PMU's extra words. Config1Str, when
	// set, is passed as a pointer to a NUL-terminated copy (symbol or path).
	Config1    uint64
	Config1Str string
	Config2    uint64

	CallGraph    bool // add PERF_SAMPLE_CALLCHAIN
	MaxStack     uint16
	Inherit      bool // follow children (per-task events)
	EnableOnExec bool
	Disabled     bool
	// Task makes the event emit COMM (with exec), FORK and EXIT records:
	// set on the per-CPU dummy event only.
	Task bool
	// Mmap adds MMAP records of executable mappings (for user symbols).
	Mmap bool
	// SampleCgroup adds PERF_SAMPLE_CGROUP (Linux 5.7+): each sample
	// carries its task's cgroup id after the raw payload (Sample.Cgroup).
	SampleCgroup bool
	// CgroupRecords makes the event emit CGROUP records for cgroups created
	// meanwhile (Linux 5.7+): set on the per-CPU dummy event only.
	CgroupRecords bool
	// WakeupBytes is the watermark that wakes the poller (ring owners only).
	WakeupBytes uint32
}

// Open calls perf_event_open for a on (pid, cpu) with FD_CLOEXEC.
func Open(a *Attr, pid, cpu int) (int, error) { return open(a, pid, cpu, 0) }

// OpenCgroup opens a on cpu for the tasks of one cgroup and its
// descendants (PERF_FLAG_PID_CGROUP): cgroupFD is the cgroup directory
// opened read-only.
func OpenCgroup(a *Attr, cgroupFD, cpu int) (int, error) {
	return open(a, cgroupFD, cpu, unix.PERF_FLAG_PID_CGROUP)
}

func open(a *Attr, pid, cpu int, flags int) (int, error) {
	attr := unix.PerfEventAttr{
		Type:        a.Type,
		Size:        uint32(unsafe.Sizeof(unix.PerfEventAttr{})),
		Config:      a.Config,
		Sample:      1, // sample_period: every event (never frequency mode)
		Sample_type: SampleType,
		Ext2:        a.Config2,
		Clockid:     unix.CLOCK_MONOTONIC,
	}
	attr.Bits = unix.PerfBitSampleIDAll | unix.PerfBitUseClockID
	if a.CallGraph {
		attr.Sample_type |= unix.PERF_SAMPLE_CALLCHAIN
		attr.Sample_max_stack = a.MaxStack
	}
	if a.Inherit {
		attr.Bits |= unix.PerfBitInherit
	}
	if a.EnableOnExec {
		attr.Bits |= unix.PerfBitEnableOnExec
	}
	if a.Disabled {
		attr.Bits |= unix.PerfBitDisabled
	}
	if a.Task {
		attr.Bits |= unix.PerfBitComm | unix.PerfBitCommExec | unix.PerfBitTask
	}
	if a.Mmap {
		attr.Bits |= unix.PerfBitMmap
	}
	if a.SampleCgroup {
		attr.Sample_type |= unix.PERF_SAMPLE_CGROUP
	}
	if a.CgroupRecords {
		attr.Bits |= 1 << 32 // the cgroup bit of perf_event_attr
	}
	if a.WakeupBytes > 0 {
		attr.Bits |= unix.PerfBitWatermark
		attr.Wakeup = a.WakeupBytes
	}
	var keep []byte
	if a.Config1Str != "" {
		keep = append([]byte(a.Config1Str), 0)
		attr.Ext1 = uint64(uintptr(unsafe.Pointer(&keep[0])))
	} else {
		attr.Ext1 = a.Config1
	}
	for {
		fd, err := unix.PerfEventOpen(&attr, pid, cpu, -1, unix.PERF_FLAG_FD_CLOEXEC|flags)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		// keep must stay reachable until the kernel has copied the string.
		keepAlive(keep)
		return fd, err
	}
}

//go:noinline
func keepAlive(b []byte) { _ = b }

// ID returns the kernel's unique id of the event behind fd (PERF_EVENT_IOC_ID):
// samples carry it as PERF_SAMPLE_IDENTIFIER.
func ID(fd int) (uint64, error) {
	var id uint64
	_, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), uintptr(unix.PERF_EVENT_IOC_ID), uintptr(unsafe.Pointer(&id)))
	if e != 0 {
		return 0, fmt.Errorf("PERF_EVENT_IOC_ID: %w", e)
	}
	return id, nil
}

// SetOutput redirects fd's records into the ring of target (same CPU).
func SetOutput(fd, target int) error {
	return ioctl(fd, unix.PERF_EVENT_IOC_SET_OUTPUT, uintptr(target))
}

// Enable starts counting fd.
func Enable(fd int) error { return ioctl(fd, unix.PERF_EVENT_IOC_ENABLE, 0) }

// Disable stops counting fd.
func Disable(fd int) error { return ioctl(fd, unix.PERF_EVENT_IOC_DISABLE, 0) }

// SetFilter installs an ftrace filter expression on a tracepoint or probe event.
func SetFilter(fd int, filter string) error {
	return unix.IoctlSetString(fd, unix.PERF_EVENT_IOC_SET_FILTER, filter)
}

func ioctl(fd int, req uint, arg uintptr) error {
	_, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), uintptr(req), arg)
	if e != 0 {
		return e
	}
	return nil
}

// Count reads the event's counter (read_format 0): for a tracepoint or probe
// sampled every event, the sum of the periods of its hits that passed the
// filter, including hits whose samples were lost and hits in inherited
// children. That is the number of hits unless the tracepoint passes a count
// (__perf_count): then it is the sum of the counts.
func Count(fd int) (uint64, error) {
	var b [8]byte
	n, err := unix.Read(fd, b[:])
	if err != nil {
		return 0, fmt.Errorf("read event count: %w", err)
	}
	if n != 8 {
		return 0, fmt.Errorf("read event count: %d bytes", n)
	}
	return *(*uint64)(unsafe.Pointer(&b[0])), nil
}
