//go:build linux

// Command workload is kpcap-bench's syscall-heavy workload. It locks its
// goroutine to one OS thread and issues N raw system calls (getppid, or
// openat+close of one file) in a tight loop, then prints one JSON line with
// its pid, tid, call count and the loop's monotonic wall time, so the
// benchmark can measure the slowdown a tracer causes and count exactly the
// events the tracer should have recorded for this pid.
//
// Usage: workload getppid|openat|uprobe N [PATH]
//
// "uprobe" calls probeTarget N times instead: a function for a uprobe.
//
// "workload spin CPU" instead keeps CPU busy until killed: the benchmark's
// other process on a busy machine.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Result is the line the workload prints on stdout.
type Result struct {
	Kind  string `json:"kind"`
	PID   int    `json:"pid"`
	TID   int    `json:"tid"`
	Calls int    `json:"calls"`
	NS    int64  `json:"ns"`     // wall time of the loop
	CPUNS int64  `json:"cpu_ns"` // CPU time of the loop's thread (user+sys): tracepoint work lands here
}

// threadCPU returns the calling thread's CPU time in ns.
func threadCPU() int64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		return 0
	}
	return ts.Nano()
}

func init() { runtime.LockOSThread() }

// probeTarget is the uprobe workload's probed function (main.probeTarget
// in the binary's symbols): not inlined, so every call enters it.
//
//go:noinline
func probeTarget(i int) int { return i*3 + 1 }

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: workload getppid|openat|uprobe N [PATH]")
		os.Exit(2)
	}
	if os.Args[1] == "spin" {
		spin(os.Args[2])
		return
	}
	n, err := strconv.Atoi(os.Args[2])
	if err != nil || n < 0 {
		fmt.Fprintf(os.Stderr, "workload: bad count %q\n", os.Args[2])
		os.Exit(2)
	}
	res := Result{Kind: os.Args[1], PID: os.Getpid(), TID: unix.Gettid(), Calls: n}
	switch os.Args[1] {
	case "getppid":
		start, cpu := time.Now(), threadCPU()
		for i := 0; i < n; i++ {
			syscall.RawSyscall(syscall.SYS_GETPPID, 0, 0, 0)
		}
		res.NS, res.CPUNS = time.Since(start).Nanoseconds(), threadCPU()-cpu
	case "uprobe":
		start, cpu := time.Now(), threadCPU()
		sum := 0
		for i := 0; i < n; i++ {
			sum += probeTarget(i)
		}
		res.NS, res.CPUNS = time.Since(start).Nanoseconds(), threadCPU()-cpu
		runtime.KeepAlive(sum)
	case "openat":
		path := "/dev/null"
		if len(os.Args) > 3 {
			path = os.Args[3]
		}
		p, err := unix.BytePtrFromString(path)
		if err != nil {
			fmt.Fprintf(os.Stderr, "workload: %v\n", err)
			os.Exit(2)
		}
		cwd := unix.AT_FDCWD // a variable: the constant -100 does not convert to uintptr
		dirfd := uintptr(cwd)
		flags := uintptr(unix.O_RDONLY | unix.O_CLOEXEC)
		start, cpu := time.Now(), threadCPU()
		for i := 0; i < n; i++ {
			fd, _, errno := syscall.RawSyscall6(syscall.SYS_OPENAT, dirfd, uintptr(unsafe.Pointer(p)), flags, 0, 0, 0)
			if errno != 0 {
				fmt.Fprintf(os.Stderr, "workload: openat %s: %v\n", path, errno)
				os.Exit(1)
			}
			syscall.RawSyscall(syscall.SYS_CLOSE, fd, 0, 0)
		}
		res.NS, res.CPUNS = time.Since(start).Nanoseconds(), threadCPU()-cpu
		runtime.KeepAlive(p)
	default:
		fmt.Fprintf(os.Stderr, "workload: unknown kind %q (want getppid, openat or uprobe)\n", os.Args[1])
		os.Exit(2)
	}
	if err := json.NewEncoder(os.Stdout).Encode(res); err != nil {
		os.Exit(1)
	}
}

// spin runs a busy loop on the given CPU until the process is killed.
func spin(cpuArg string) {
	cpu, err := strconv.Atoi(cpuArg)
	if err != nil || cpu < 0 {
		fmt.Fprintf(os.Stderr, "workload: bad CPU %q\n", cpuArg)
		os.Exit(2)
	}
	var set unix.CPUSet
	set.Set(cpu)
	if err := unix.SchedSetaffinity(0, &set); err != nil {
		fmt.Fprintf(os.Stderr, "workload: pin to CPU %d: %v\n", cpu, err)
		os.Exit(1)
	}
	x := uint64(1)
	for {
		x = x*6364136223846793005 + 1442695040888963407
		if x == 0 {
			fmt.Println(x) // never: keeps the loop from being optimized away
		}
	}
}
