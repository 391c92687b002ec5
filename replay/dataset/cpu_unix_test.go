//go:build unix

package dataset

import (
	"syscall"
	"time"
)

// cpuTime returns the process's user+system CPU time: on a shared machine
// events per CPU-second is the honest per-core rate.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
