//go:build linux

package record

import (
	"bytes"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// SelfUsage returns the CPU time and peak memory of this process so far.
func SelfUsage() Usage {
	var ru unix.Rusage
	if unix.Getrusage(unix.RUSAGE_SELF, &ru) != nil {
		return Usage{}
	}
	u := Usage{UserNS: ru.Utime.Nano(), SystemNS: ru.Stime.Nano(), MaxRSS: ru.Maxrss * 1024}
	if hwm, ok := PeakRSS(os.Getpid()); ok {
		u.MaxRSS = hwm
	}
	return u
}

// PeakRSS is the peak resident memory of process pid's own address space
// in bytes (VmHWM of /proc/PID/status). getrusage's ru_maxrss is not: it
// keeps the peak of the address space the process had before its exec,
// and a process started by a Go program (os/exec shares the parent's
// memory until the exec) reports the parent's peak.
func PeakRSS(pid int) (int64, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, false
	}
	_, rest, ok := bytes.Cut(b, []byte("\nVmHWM:"))
	if !ok {
		return 0, false
	}
	line, _, _ := bytes.Cut(rest, []byte("\n"))
	f := bytes.Fields(line) // "1234 kB"
	if len(f) != 2 || string(f[1]) != "kB" {
		return 0, false
	}
	kb, err := strconv.ParseInt(string(f[0]), 10, 64)
	if err != nil {
		return 0, false
	}
	return kb << 10, true
}
