//go:build unix

package format

import (
	"syscall"
	"time"
)

// processCPU returns the CPU time (user+system) this process has used, so
// benchmarks can report throughput per CPU-second, independent of load.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
