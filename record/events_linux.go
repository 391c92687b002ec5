//go:build linux

package record

import (
	"errors"
	"fmt"
	"slices"

	"github.com/kpcap/kpcap/record/internal/perf"
	"golang.org/x/sys/unix"
)

// maxStack caps callchain depth.
const maxStack = 127

// perfEvents are the capture's open perf events and their rings.
type perfEvents struct {
	rings   []*perf.Ring // one per CPU, index = queue index
	cpuOf   []uint32     // queue index -> cpu
	fds     []int        // every event fd, ring owners included
	srcFDs  []srcFD      // the sources' events, for their counters
	wideFDs []int        // the wide sources' events, enabled before a command execs
	poller  *perf.Poller
	// attachDone of attachTotal source events are open (Options.Attaching).
	attachDone, attachTotal int
}

// srcFD is one source's event on one CPU (or one thread on one CPU).
type srcFD struct {
	fd  int
	src int32
	q   int
}

// open creates the events: per CPU a dummy software event that owns the
// ring and reports COMM/FORK/EXIT, then every source's event redirected
// into that ring.
func (c *capture) open(r *resolver, child *childProc) error {
	o := c.opts
	var tids []int
	switch {
	case child != nil:
		tids = []int{child.pid()}
		c.cmdPID, c.execNS = uint32(child.pid()), ^uint64(0)
	case o.PID != 0:
		var err error
		tids, err = threadsOf(o.PID)
		if err != nil {
			return err
		}
	default:
		tids = []int{-1}
	}
	ringBytes := bufferSize(o.BufferSize, len(c.cpus))
	if err := checkRingMemory(ringBytes, len(c.cpus)); err != nil {
		return err
	}
	raiseMemlock(ringBytes, len(c.cpus))
	poller, err := perf.NewPoller()
	if err != nil {
		return err
	}
	c.poller = poller
	c.ids = map[uint64]int32{}
	if err := c.openBPF(ringBytes); err != nil {
		return err
	}
	ringBytes = c.perfRingBytes(ringBytes)
	if err := r.shareProbes(c.sources, len(c.cpus)); err != nil {
		return err
	}
	base := perf.Attr{
		CallGraph:    o.CallGraph,
		MaxStack:     maxStack,
		Inherit:      o.PID != 0 || child != nil,
		EnableOnExec: child != nil,
		Disabled:     true,
	}
	for _, tid := range tids {
		if tid > 0 {
			c.tracked[uint32(tid)] = 0
		}
	}
	c.attachTotal = c.countAttach(len(tids))
	for qi, cpu := range c.cpus {
		owner := -1
		for ti, tid := range tids {
			if owner, err = c.openTask(r, base, ringBytes, qi, cpu, ti, tid, owner); err != nil {
				return err
			}
		}
		if owner < 0 {
			return fmt.Errorf("process %d has exited", o.PID)
		}
	}
	c.bpfQueues()
	c.merge.qs = c.qs
	c.bpfIDs()
	c.buildDense()
	c.counters.perQueue(c.sources, len(c.qs))
	return nil
}

// openTask opens the events of task tid (-1: every task) on CPU cpu (ring
// qi): the dummy event, which owns the ring when owner is -1, then every
// source's, redirected into the ring. It returns the ring's owner, still -1
// when the thread exited meanwhile.
func (c *capture) openTask(r *resolver, base perf.Attr, ringBytes, qi, cpu, ti, tid, owner int) (int, error) {
	o := c.opts
	d := base
	d.Type, d.Config, d.Task = unix.PERF_TYPE_SOFTWARE, unix.PERF_COUNT_SW_DUMMY, true
	d.Mmap = o.CallGraph
	d.CallGraph = false
	d.CgroupRecords = c.cg != nil && c.cg.perSample
	if owner < 0 {
		// A quarter: fewer wakeups (each costs the runtime a burst
		// of scheduler activity) while three quarters of the ring
		// absorb the reader's scheduling delay.
		d.WakeupBytes = uint32(ringBytes / 4)
	}
	fd, err := perf.Open(&d, tid, cpu)
	if err != nil {
		if errors.Is(err, unix.ESRCH) && o.PID != 0 {
			return owner, nil // thread exited meanwhile
		}
		return owner, openError("dummy event", cpu, err)
	}
	c.fds = append(c.fds, fd)
	if err := c.register(fd, -1); err != nil {
		return owner, err
	}
	if owner < 0 {
		owner = fd
		ring, err := perf.NewRing(fd, ringBytes)
		if err != nil {
			return owner, mmapError(cpu, ringBytes, len(c.cpus), err)
		}
		c.rings = append(c.rings, ring)
		c.qs = append(c.qs, &cpuQueue{sorted: true})
		c.cpuOf = append(c.cpuOf, uint32(cpu))
		if err := c.poller.Add(fd, int32(qi)); err != nil {
			return owner, err
		}
	} else if err := perf.SetOutput(fd, owner); err != nil {
		return owner, fmt.Errorf("redirect dummy event on CPU %d: %w", cpu, err)
	}
	return owner, c.openSources(r, base, qi, cpu, ti, tid, owner)
}

// openSources opens every source's event for task tid (the ti-th traced)
// on CPU cpu, into the ring of owner: wide sources once per CPU, for every
// task.
func (c *capture) openSources(r *resolver, base perf.Attr, qi, cpu, ti, tid, owner int) error {
	o := c.opts
	for si, s := range c.sources {
		if s.desc.Path == PathBPF {
			continue
		}
		a := s.attr
		a.CallGraph, a.MaxStack = base.CallGraph, base.MaxStack
		a.Inherit, a.EnableOnExec, a.Disabled = base.Inherit, base.EnableOnExec, true
		pid := tid
		if s.wide {
			if ti > 0 {
				continue // once per CPU
			}
			pid, a.Inherit, a.EnableOnExec = -1, false, false
		}
		c.attached(1)
		fds, err := c.openSource(&a, pid, cpu)
		if err != nil {
			if errors.Is(err, unix.ESRCH) && o.PID != 0 {
				return nil // the thread exited meanwhile
			}
			return openError(s.desc.Name, cpu, err)
		}
		for _, fd := range fds {
			c.fds = append(c.fds, fd)
			if err := perf.SetOutput(fd, owner); err != nil {
				return fmt.Errorf("%s: redirect into the CPU %d ring: %w", s.desc.Name, cpu, err)
			}
			if s.filter {
				before := ""
				if r.fs != nil {
					before = r.fs.ErrorLog()
				}
				if err := perf.SetFilter(fd, o.Filter); err != nil {
					return filterError(o.Filter, s, err, r, before)
				}
			}
			if err := c.register(fd, int32(si)); err != nil {
				return err
			}
			c.srcFDs = append(c.srcFDs, srcFD{fd: fd, src: int32(si), q: qi})
			if s.wide {
				c.wideFDs = append(c.wideFDs, fd)
			}
		}
	}
	return nil
}

func (c *capture) closeEvents() {
	c.closeBPF()
	for _, r := range c.rings {
		r.Close()
	}
	c.rings = nil
	c.releaseFDs()
	c.fds = nil
	if c.poller != nil {
		c.poller.Close()
		c.poller = nil
	}
	if c.file != nil {
		c.file.Close()
		c.file = nil
	}
}

// filterError explains a filter the kernel refused: its error_log entry
// when it wrote one, else the fields the event has.
func filterError(filter string, s *source, err error, r *resolver, before string) error {
	fe := &FilterError{Filter: filter, Source: s.desc.Name, Err: err}
	if r.fs != nil {
		if after := r.fs.ErrorLog(); after != before && after != "" {
			fe.KernelLog = after
			return fe
		}
	}
	if s.layout != nil {
		fe.Fields = make([]string, 0, len(s.layout.fields))
		for f := range s.layout.fields {
			fe.Fields = append(fe.Fields, f)
		}
		slices.Sort(fe.Fields)
	}
	return fe
}
