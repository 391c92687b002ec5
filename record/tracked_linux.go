//go:build linux

package record

import "time"

// exitGrace is how long after its EXIT record a task's samples from wide
// sources are still kept.
const exitGrace = uint64(time.Second)

// trackedTasks are the tasks traced with --pid or a command, for the wide
// sources (opened for every task, filtered here).
type trackedTasks struct {
	tracked    map[uint32]uint64 // tid -> exit time (0: alive)
	trackTasks bool
}

// isTracked reports whether tid belongs to the traced tasks at time at.
func (tt *trackedTasks) isTracked(tid uint32, at uint64) bool {
	exit, ok := tt.tracked[tid]
	return ok && (exit == 0 || at <= exit+exitGrace)
}

// purgeTracked forgets tasks that exited long before now (sample clock).
func (tt *trackedTasks) purgeTracked(now uint64) {
	for tid, exit := range tt.tracked {
		if exit != 0 && exit+2*exitGrace < now {
			delete(tt.tracked, tid)
		}
	}
}
