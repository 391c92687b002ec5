//go:build linux

package record

import (
	"fmt"
	"time"

	"golang.org/x/sys/unix"
)

// closeAll closes every fd. Releasing the last perf event of a probe waits
// for the kernel (perf_trace_event_unreg: tracepoint_synchronize_unregister,
// an RCU tasks-trace grace period, under event_mutex): tens of milliseconds
// per probe, one after another, so closes in parallel gain nothing.
func closeAll(fds []int) {
	for _, fd := range fds {
		unix.Close(fd)
	}
}

// releaseFDs closes every perf event of the capture, announcing how long it
// took when there are many probes (each release waits for the kernel).
func (c *capture) releaseFDs() {
	start, n := time.Now(), len(c.fds)
	closeAll(c.fds)
	if len(c.sources) >= manyProbes {
		c.notice(fmt.Sprintf("released %d perf events of %d sources in %.2fs", n, len(c.sources), time.Since(start).Seconds()))
	}
}

// countAttach is how many source events open will open with ntids tasks per
// CPU: one per source, task and CPU, CPU-wide sources once per CPU.
func (c *capture) countAttach(ntids int) int {
	n := 0
	for _, s := range c.sources {
		if s.wide {
			n++
		} else {
			n += ntids
		}
	}
	return n * len(c.cpus)
}

// attached counts n more source events opened and reports the progress.
func (c *capture) attached(n int) {
	c.attachDone += n
	if c.opts.Attaching != nil {
		c.opts.Attaching("events", min(c.attachDone, c.attachTotal), c.attachTotal)
	}
}
