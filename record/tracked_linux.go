//go:build linux

package record

import "time"

// exitGrace is how long after its EXIT record a task's samples from wide
// sources are still kept.
const exitGrace = uint64(time.Second)

// isTracked reports whether tid belongs to the traced tasks at time t.
func (c *capture) isTracked(tid uint32, t uint64) bool {
	exit, ok := c.tracked[tid]
	return ok && (exit == 0 || t <= exit+exitGrace)
}

// purgeTracked forgets tasks that exited long before now (sample clock).
func (c *capture) purgeTracked(now uint64) {
	for tid, exit := range c.tracked {
		if exit != 0 && exit+2*exitGrace < now {
			delete(c.tracked, tid)
		}
	}
}
