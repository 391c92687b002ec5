//go:build linux

package record

import "golang.org/x/sys/unix"

// SelfUsage returns the CPU time and peak memory of this process so far.
func SelfUsage() Usage {
	var ru unix.Rusage
	if unix.Getrusage(unix.RUSAGE_SELF, &ru) != nil {
		return Usage{}
	}
	return Usage{UserNS: ru.Utime.Nano(), SystemNS: ru.Stime.Nano(), MaxRSS: ru.Maxrss * 1024}
}
