//go:build linux

package record

import (
	"fmt"

	"github.com/kpcap/kpcap/record/internal/bpfprog"
)

// Recording by cgroup (--cgroup) on the BPF path: the programs record the
// events of tasks in the target cgroups or below, as perf's cgroup events
// do, and end each record with the task's cgroup id, which the writer
// notes as the perf path notes PERF_SAMPLE_CGROUP's.

// bpfCgroups restricts the programs to the --cgroup targets; it must run
// before any program loads.
func (b *bpfCapture) bpfCgroups(c *capture) error {
	if c.cg == nil {
		return nil
	}
	fds := make([]int, len(c.cg.targets))
	for i, t := range c.cg.targets {
		fds[i] = t.fd
	}
	if err := b.set.SetCgroups(fds); err != nil {
		return err
	}
	b.cgroups = true
	return nil
}

// bpfSplitCgroup takes the cgroup id off the end of a ring record when
// the programs write one; ok is false for a record too short to hold it.
func (b *bpfCapture) bpfSplitCgroup(rec []byte) (rest []byte, id uint64, ok bool) {
	if !b.cgroups {
		return rec, 0, true
	}
	return bpfprog.SplitCgroup(rec)
}

// bpfSampleCgroup notes the cgroup of a BPF sample of task tid of process
// pid at time t, as emitSample notes a perf sample's.
func (c *capture) bpfSampleCgroup(pid, tid uint32, t, id uint64) error {
	if !c.bpf.cgroups {
		return nil
	}
	if err := c.cg.sample(c.out, pid, tid, t, id); err != nil {
		return fmt.Errorf("write %s: %w", c.opts.Output, err)
	}
	return nil
}
