//go:build linux

package record

import (
	"fmt"
	"time"

	"github.com/kpcap/kpcap/record/internal/perf"
	"golang.org/x/sys/unix"
)

// Following a process (--pid) or a command on the BPF path. The programs
// record the events of the followed processes and of every process and
// thread they start (a map the fork program fills before each child first
// runs), a superset of what per-task perf events record; the writer keeps
// a sample only inside its task's per-task window as the perf path's own
// side-band records draw it: from the task's FORK record (or the start,
// or, for a command, its exec) until its EXIT record, which the kernel
// writes once the task's perf events are torn down.

// bpfPurgeEvery is how often the writer drops from the programs' map the
// ids of processes and threads that are gone.
const bpfPurgeEvery = 2 * time.Second

// bpfFollow restricts the programs to the traced process (tgid) and its
// descendants; it must run before any program loads.
func (b *bpfCapture) bpfFollow(c *capture) error {
	tgid := c.opts.PID
	if c.cmdPID != 0 {
		tgid = int(c.cmdPID)
	}
	if tgid <= 0 {
		return nil
	}
	return b.set.SetTasks([]uint32{uint32(tgid)})
}

// attachFork loads and attaches the program that follows forks, when the
// programs follow processes.
func (b *bpfCapture) attachFork(c *capture) error {
	if c.opts.PID == 0 && c.cmdPID == 0 {
		return nil
	}
	fs, err := c.resolver.tracefs()
	if err != nil {
		return err
	}
	id, err := fs.EventID("sched", "sched_process_fork")
	if err != nil {
		return fmt.Errorf("follow forks: %w", err)
	}
	text, err := fs.Format("sched", "sched_process_fork")
	if err != nil {
		return fmt.Errorf("follow forks: %w", err)
	}
	f, ok := parseFields(text)["child_pid"]
	if !ok || f.size != 4 {
		return fmt.Errorf("follow forks: sched_process_fork has no 4-byte child_pid")
	}
	prog, err := b.set.ForkProgram(f.off)
	if err != nil {
		return err
	}
	_, err = b.attachEvent(c, "follow forks: sched:sched_process_fork", perf.Attr{Type: unix.PERF_TYPE_TRACEPOINT, Config: id}, prog)
	return err
}

// bpfInScope reports whether a BPF sample of task tid at time t is one
// the perf path would have recorded when following processes: inside the
// task's per-task window, or, for the sources the perf path records
// CPU-wide (perTaskBlind), with their exit grace.
func (c *capture) bpfInScope(so *source, tid uint32, t uint64) bool {
	if !c.trackTasks {
		return true
	}
	if so.wide {
		return c.isTracked(tid, t)
	}
	exit, ok := c.tracked[tid]
	return ok && (exit == 0 || t < exit) && t >= c.execNS
}

// bpfForgetThread drops a new thread's id from the programs' map: they
// check process ids, and the fork program cannot tell threads from
// processes.
func (c *capture) bpfForgetThread(pid, tid uint32) {
	if c.bpf != nil && pid != tid {
		c.bpf.set.ForgetTask(tid) // best effort: the purge retries
	}
}

// bpfPurgeTasks drops from the programs' map, now and then, the ids of
// processes and threads that are gone (an id may be reused by a process
// nobody traces).
func (c *capture) bpfPurgeTasks() {
	b := c.bpf
	if b == nil || !c.trackTasks || time.Since(b.purged) < bpfPurgeEvery {
		return
	}
	b.purged = time.Now()
	ids, err := b.set.Tasks()
	if err != nil {
		return
	}
	for _, id := range ids {
		if unix.Kill(int(id), 0) == unix.ESRCH {
			b.set.ForgetTask(id)
		}
	}
}
