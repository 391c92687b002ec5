//go:build linux

package record

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/kpcap/kpcap/format"
	"golang.org/x/sys/unix"
)

// threadsOf lists the thread ids of process pid.
func threadsOf(pid int) ([]int, error) {
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, &UsageError{fmt.Sprintf("no process %d", pid)}
		}
		return nil, fmt.Errorf("threads of %d: %w", pid, err)
	}
	var out []int
	for _, e := range ents {
		if t, err := strconv.Atoi(e.Name()); err == nil {
			out = append(out, t)
		}
	}
	if len(out) == 0 {
		return nil, &UsageError{fmt.Sprintf("no process %d", pid)}
	}
	return out, nil
}

// initialComms records the names of the threads alive at the start (all,
// or those of pid); later names come from COMM and FORK records.
func (c *capture) initialComms(pid int) {
	var pids []string
	if pid != 0 {
		pids = []string{strconv.Itoa(pid)}
	} else {
		ents, _ := os.ReadDir("/proc")
		for _, e := range ents {
			if n := e.Name(); n[0] >= '0' && n[0] <= '9' {
				pids = append(pids, n)
			}
		}
	}
	for _, p := range pids {
		pidN, err := strconv.ParseUint(p, 10, 32)
		if err != nil {
			continue
		}
		tasks, _ := os.ReadDir("/proc/" + p + "/task")
		for _, t := range tasks {
			tid, err := strconv.ParseUint(t.Name(), 10, 32)
			if err != nil {
				continue
			}
			b, err := os.ReadFile("/proc/" + p + "/task/" + t.Name() + "/comm")
			if err != nil {
				continue
			}
			comm := strings.TrimSuffix(string(b), "\n")
			c.comms[uint32(tid)] = comm
			c.out.AddComm(format.Comm{PID: uint32(pidN), TID: uint32(tid), Time: c.startNS, Comm: comm})
		}
	}
}

// raiseMemlock lifts RLIMIT_MEMLOCK so the rings fit (root may; others keep
// their limit and get a clear error from mmap).
func raiseMemlock(ringBytes, ncpu int) {
	need := uint64(ringBytes+os.Getpagesize()) * uint64(ncpu) * 2
	var rl unix.Rlimit
	if unix.Getrlimit(unix.RLIMIT_MEMLOCK, &rl) != nil {
		return
	}
	if rl.Cur >= need || rl.Cur == unix.RLIM_INFINITY {
		return
	}
	nl := unix.Rlimit{Cur: need, Max: max(rl.Max, need)}
	if unix.Setrlimit(unix.RLIMIT_MEMLOCK, &nl) != nil && rl.Max > rl.Cur {
		nl = unix.Rlimit{Cur: rl.Max, Max: rl.Max}
		unix.Setrlimit(unix.RLIMIT_MEMLOCK, &nl)
	}
}

func readSysctl(name string) string {
	b, err := os.ReadFile("/proc/sys/" + strings.ReplaceAll(name, ".", "/"))
	if err != nil {
		return "?"
	}
	return strings.TrimSpace(string(b))
}

// openError explains a perf_event_open failure.
func openError(what string, cpu int, err error) error {
	switch {
	case errors.Is(err, unix.EACCES), errors.Is(err, unix.EPERM):
		return fmt.Errorf("open %s on CPU %d: permission denied: kpcap needs root or CAP_PERFMON+CAP_SYS_ADMIN (kernel.perf_event_paranoid = %s)", what, cpu, readSysctl("kernel.perf_event_paranoid"))
	case errors.Is(err, unix.ENOENT):
		return fmt.Errorf("open %s on CPU %d: the kernel does not know this event or symbol (%w)", what, cpu, err)
	case errors.Is(err, unix.EADDRNOTAVAIL):
		return fmt.Errorf("open %s on CPU %d: the symbol is ambiguous or not probeable (%w)", what, cpu, err)
	case errors.Is(err, unix.EMFILE):
		return fmt.Errorf("open %s on CPU %d: too many open files; raise ulimit -n (%w)", what, cpu, err)
	case errors.Is(err, unix.ENOSYS):
		return fmt.Errorf("open %s: this kernel has no perf_event_open (CONFIG_PERF_EVENTS)", what)
	}
	return fmt.Errorf("open %s on CPU %d: %w", what, cpu, err)
}

// mmapError explains a ring mapping failure.
func mmapError(cpu, bytes int, err error) error {
	if errors.Is(err, unix.EPERM) || errors.Is(err, unix.ENOMEM) {
		return fmt.Errorf("map the %d KiB ring of CPU %d: %w: the rings exceed kernel.perf_event_mlock_kb (%s) and RLIMIT_MEMLOCK; use a smaller --buffer-size or run as root",
			bytes>>10, cpu, err, readSysctl("kernel.perf_event_mlock_kb"))
	}
	return fmt.Errorf("map the ring of CPU %d: %w", cpu, err)
}
