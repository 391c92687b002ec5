//go:build linux

package record

import (
	"fmt"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// closeWorkers bounds the closes in flight. Releasing a kprobe or uprobe
// perf event waits for RCU grace periods (unregister_kprobe,
// tracepoint_synchronize_unregister), tens of milliseconds each on a slow
// machine; closes that wait together share grace periods, so several hundred
// probes are released in a fraction of the time one close after another takes.
const closeWorkers = 64

// closeAll closes every fd, concurrently when there are many. Every fd is
// closed before it returns.
func closeAll(fds []int) {
	if len(fds) < 2*closeWorkers {
		for _, fd := range fds {
			unix.Close(fd)
		}
		return
	}
	next := make(chan int)
	var wg sync.WaitGroup
	for range closeWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for fd := range next {
				unix.Close(fd)
			}
		}()
	}
	for _, fd := range fds {
		next <- fd
	}
	close(next)
	wg.Wait()
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
