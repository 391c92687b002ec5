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
// or those of pid); later names come from COMM and FORK records. It reads
// /proc with plain syscalls: through os.File each of the hundreds of small
// files also cost fcntl, epoll_ctl and fstat calls, and every recording
// pays this before it starts (a 0.3 s recording here made 2,285 syscalls
// that way, 1,507 now).
func (c *capture) initialComms(pid int) {
	proc, err := unix.Open("/proc", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return
	}
	defer unix.Close(proc)
	var pids []string
	if pid != 0 {
		pids = []string{strconv.Itoa(pid)}
	} else {
		pids = dirNames(proc, ".", pids)
	}
	var tids []string
	var buf [64]byte // TASK_COMM_LEN is 16; kthread names may be a little longer
	for _, p := range pids {
		pidN, err := strconv.ParseUint(p, 10, 32)
		if err != nil {
			continue
		}
		tids = dirNames(proc, p+"/task", tids[:0])
		for _, t := range tids {
			tid, err := strconv.ParseUint(t, 10, 32)
			if err != nil {
				continue
			}
			fd, err := unix.Openat(proc, p+"/task/"+t+"/comm", unix.O_RDONLY|unix.O_CLOEXEC, 0)
			if err != nil {
				continue // exited meanwhile
			}
			n, err := unix.Read(fd, buf[:])
			unix.Close(fd)
			if err != nil || n <= 0 {
				continue
			}
			comm := strings.TrimSuffix(string(buf[:n]), "\n")
			c.comms[uint32(tid)] = taskComm{pid: uint32(pidN), comm: comm}
			c.out.AddComm(format.Comm{PID: uint32(pidN), TID: uint32(tid), Time: c.startNS, Comm: comm})
		}
	}
}

// dirNames appends to names the entries of directory path under dirfd
// whose names start with a digit; it returns names unchanged if the
// directory cannot be read (a process that exited).
func dirNames(dirfd int, path string, names []string) []string {
	fd, err := unix.Openat(dirfd, path, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return names
	}
	defer unix.Close(fd)
	var buf [8192]byte
	for {
		n, err := unix.ReadDirent(fd, buf[:])
		if err != nil || n <= 0 {
			return names
		}
		start := len(names)
		_, _, names = unix.ParseDirent(buf[:n], -1, names)
		// keep numeric names only ("self", "sys", ... are not tasks)
		keep := names[:start]
		for _, nm := range names[start:] {
			if nm != "" && nm[0] >= '0' && nm[0] <= '9' {
				keep = append(keep, nm)
			}
		}
		names = keep
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

// mmapError explains a ring mapping failure: the kernel says only EPERM
// (over the locked-memory limits) or ENOMEM, so name the limit that applies.
func mmapError(cpu, bytes, ncpu int, err error) error {
	total := uint64(bytes) * uint64(ncpu)
	what := fmt.Sprintf("map the %s ring of CPU %d (%s for %d CPUs)", sizeText(uint64(bytes)), cpu, sizeText(total), ncpu)
	if !errors.Is(err, unix.EPERM) && !errors.Is(err, unix.ENOMEM) {
		return fmt.Errorf("%s: %w", what, err)
	}
	if avail, ok := memAvailable(); ok && total > avail {
		return &OptionError{Option: "BufferSize", Err: fmt.Errorf("%s: %w: the rings exceed the memory available (%s); use a smaller one (default 16M)", what, err, sizeText(avail))}
	}
	if canLockMemory() {
		// The mlock limits do not apply: the kernel could not allocate the ring.
		return &OptionError{Option: "BufferSize", Err: fmt.Errorf("%s: %w: the kernel could not allocate a ring this large; use a smaller one (default 16M)", what, err)}
	}
	var rl unix.Rlimit
	lim := "?"
	if unix.Getrlimit(unix.RLIMIT_MEMLOCK, &rl) == nil {
		lim = "unlimited"
		if rl.Cur != unix.RLIM_INFINITY {
			lim = sizeText(rl.Cur)
		}
	}
	return &OptionError{Option: "BufferSize", Err: fmt.Errorf("%s: %w: the rings exceed kernel.perf_event_mlock_kb (%s KiB per user) plus RLIMIT_MEMLOCK (%s); use a smaller one, raise the limits (sysctl kernel.perf_event_mlock_kb, ulimit -l) or record as root",
		what, err, readSysctl("kernel.perf_event_mlock_kb"), lim)}
}

// checkRingMemory refuses rings larger than the machine's memory before any
// event is opened: the kernel would answer only ENOMEM, after a long try.
func checkRingMemory(bytes, ncpu int) error {
	total := uint64(bytes) * uint64(ncpu)
	if mem, ok := memTotal(); ok && total > mem {
		return optionUsage("BufferSize", "", "%s per CPU (rounded down to a power of two) for %d CPUs is %s, more than the machine's memory (%s); use a smaller one (default 16M)",
			sizeText(uint64(bytes)), ncpu, sizeText(total), sizeText(mem))
	}
	return nil
}

// memTotal and memAvailable read /proc/meminfo.
func memTotal() (uint64, bool)     { return meminfo("MemTotal:") }
func memAvailable() (uint64, bool) { return meminfo("MemAvailable:") }

func meminfo(key string) (uint64, bool) {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0, false
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, key); ok {
			f := strings.Fields(rest)
			if len(f) == 0 {
				return 0, false
			}
			n, err := strconv.ParseUint(f[0], 10, 64)
			return n << 10, err == nil // kB
		}
	}
	return 0, false
}

// canLockMemory reports CAP_IPC_LOCK, which lifts the perf mlock limits.
func canLockMemory() bool {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return os.Geteuid() == 0
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, "CapEff:"); ok {
			caps, err := strconv.ParseUint(strings.TrimSpace(rest), 16, 64)
			return err == nil && caps&(1<<unix.CAP_IPC_LOCK) != 0
		}
	}
	return false
}

// sizeText formats bytes in binary units.
func sizeText(n uint64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d KiB", n>>10)
}
