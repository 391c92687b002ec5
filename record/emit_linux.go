//go:build linux

package record

import (
	"errors"
	"time"

	"github.com/kpcap/kpcap/format"
	"github.com/kpcap/kpcap/record/internal/perf"
)

// writer indexes the chunks and, at each pass marker, writes in time order
// every record older than the marker minus the lag window.
func (c *capture) writer(items <-chan item) error {
	o := c.opts
	every := o.ProgressEvery
	if every <= 0 {
		every = 250 * time.Millisecond
	}
	nextProgress := time.Now().Add(every)
	for {
		var it item
		var ok bool
		select {
		case it, ok = <-items:
		case <-o.Force:
			return nil
		}
		if !ok {
			return nil // the reader stopped without a final pass (forced)
		}
		if it.ch != nil {
			c.index(it)
			continue
		}
		cutoff := ^uint64(0)
		if !it.final {
			cutoff = 0
			if lag := uint64(lagWindow); it.pass > lag {
				cutoff = it.pass - lag
			}
		}
		if err := c.merge.run(cutoff, c.emit, c.release); err != nil {
			if errors.Is(err, errForced) {
				return nil // what is left is counted lost by account
			}
			return err
		}
		for _, q := range c.qs {
			q.compact()
		}
		if c.syms != nil {
			if err := c.syms.flushUser(c.out); err != nil {
				return writeError(c.path, err)
			}
		}
		if it.final {
			return nil
		}
		if err := c.checkRotate(cutoff); err != nil {
			return err
		}
		if err := c.checkSnapshot(); err != nil {
			return err
		}
		if c.trackTasks && len(c.tracked) > 1024 {
			c.purgeTracked(it.pass)
		}
		c.bpfPurgeTasks()
		o.gc.check()
		wall := time.Now()
		if err := c.out.Tick(wall); err != nil {
			return writeError(o.Output, err)
		}
		if o.Progress != nil && !wall.Before(nextProgress) {
			o.Progress(c.stats())
			nextProgress = wall.Add(every)
		}
	}
}

// index indexes a chunk's records in their queues (a BPF ring chunk's in
// its records' CPUs'), or releases it at once when it holds none.
func (c *capture) index(it item) {
	var n int
	var bad bool
	if it.q == bpfItem {
		n, bad = c.addBPF(it.ch)
	} else {
		var tail int
		n, tail = c.qs[it.q].add(it.ch)
		bad = tail > 0
	}
	c.records += uint64(n)
	if bad {
		c.malformed++
	}
	if it.ch.live == 0 {
		c.release(it.ch)
	}
}

// emitted notes a record of time t being written: the newest time so far,
// or a late record (older than one already written).
func (c *capture) emitted(t uint64) {
	if t < c.emittedNS {
		c.late++
	} else {
		c.emittedNS = t
	}
}

// emit writes one record. It allocates nothing for samples.
func (c *capture) emit(qi int, r []byte) error {
	if qi >= c.bpfQ0 {
		return c.emitBPF(qi, r)
	}
	typ, misc, _ := perf.RecordHeader(r)
	t, _, _ := perf.RecordTime(r)
	c.emitted(t)
	switch typ {
	case perf.RecordSample:
		return c.emitSample(qi, r)
	case perf.RecordComm:
		return c.emitComm(r, misc)
	case perf.RecordFork:
		return c.emitFork(r)
	case perf.RecordExit:
		c.taskExit(r)
	case perf.RecordMmap:
		if pid, addr, length, pgoff, path, ok := perf.Mmap(r); ok && c.syms != nil {
			c.syms.mmap(pid, addr, length, pgoff, path)
		}
	case perf.RecordCgroup:
		if id, path, ok := perf.Cgroup(r); ok && c.cg != nil {
			c.cg.paths[id] = string(path)
		}
	case perf.RecordLost, perf.RecordLostSamples:
		return c.emitLost(qi, r, typ)
	}
	return nil
}

// emitComm writes a COMM record (a task's new name, at exec or prctl).
func (c *capture) emitComm(r []byte, misc uint16) error {
	pid, tid, name, ok := perf.Comm(r)
	if !ok {
		return nil
	}
	t, _, _ := perf.RecordTime(r)
	tc := c.comms[tid]
	comm := tc.comm
	if comm != string(name) || tc.pid != pid {
		if comm != string(name) {
			comm = string(name)
		}
		c.comms[tid] = taskComm{pid: pid, comm: comm}
	}
	if misc&perf.MiscCommExec != 0 && c.syms != nil && pid == tid {
		c.syms.exec(pid)
	}
	if misc&perf.MiscCommExec != 0 && pid == c.cmdPID && c.execNS == ^uint64(0) {
		c.execNS = t
	}
	return c.out.AddComm(format.Comm{PID: pid, TID: tid, Time: t, Comm: comm})
}

// emitFork notes a new task, which inherits its parent's name (written as
// its comm when the parent's is known).
func (c *capture) emitFork(r []byte) error {
	pid, ppid, tid, ptid, ok := perf.Task(r)
	if !ok {
		return nil
	}
	if c.syms != nil && pid != ppid {
		c.syms.fork(pid, ppid)
	}
	if c.trackTasks {
		c.tracked[tid] = 0 // per-task dummies report only traced tasks' forks
		c.bpfForgetThread(pid, tid)
	}
	if tc, ok := c.comms[ptid]; ok {
		t, _, _ := perf.RecordTime(r)
		comm := tc.comm
		c.comms[tid] = taskComm{pid: pid, comm: comm}
		return c.out.AddComm(format.Comm{PID: pid, TID: tid, Time: t, Comm: comm})
	}
	return nil
}

// taskExit forgets an exited task. Records are merged in time order, so
// every sample of the task is written already: forgetting it keeps long
// captures bounded.
func (c *capture) taskExit(r []byte) {
	pid, _, tid, _, ok := perf.Task(r)
	if !ok {
		return
	}
	if c.snap != nil {
		t, _, _ := perf.RecordTime(r)
		c.taskExited(tid, c.comms[tid], t)
	}
	delete(c.comms, tid)
	if c.cg != nil {
		delete(c.cg.tids, tid)
	}
	if c.trackTasks {
		// Some kernels (6.1, 6.12) tear the task's perf context down,
		// writing this record, before sched_process_exit fires: keep
		// the task a while for the wide sources.
		t, _, _ := perf.RecordTime(r)
		c.tracked[tid] = max(t, 1)
	}
	if c.syms != nil && pid == tid {
		c.syms.exit(pid)
	}
}

// emitLost writes a LOST or LOST_SAMPLES record of ring qi and counts it.
func (c *capture) emitLost(qi int, r []byte, typ uint32) error {
	n, ok := perf.Lost(r)
	if !ok || n == 0 {
		return nil
	}
	t, id, _ := perf.RecordTime(r)
	src := int32(-1)
	if typ == perf.RecordLostSamples {
		src = c.sourceOf(id)
	} else if len(c.sources) == 1 {
		src = 0 // one source: the ring only carries its samples (and task records)
	}
	l := format.Lost{Time: t, CPU: c.cpuOf[qi], Source: ^uint32(0), Count: n}
	if src >= 0 {
		l.Source = uint32(src)
	}
	c.lostCPU[qi] += n
	c.lostTotal += n
	return c.out.AddLost(l)
}

// emitSample writes one SAMPLE record: the hot path, once per event.
func (c *capture) emitSample(qi int, r []byte) error {
	if c.aborted.Load() {
		return errForced // a forced stop: account counts the rest lost
	}
	if c.limits.full {
		return nil // --max-size reached: account counts the rest lost
	}
	ps := &c.psamp
	if !perf.ParseSample(r, c.opts.CallGraph, ps) {
		c.unmatched++
		return nil
	}
	src := c.sourceOf(ps.ID)
	if src < 0 {
		c.unmatched++
		return nil
	}
	so := c.sources[src]
	c.weightCPU[src][qi] += ps.Period
	if so.wide && !c.isTracked(ps.TID, ps.Time) {
		c.filteredCPU[src][qi]++
		return nil
	}
	s := &c.sample
	s.Source, s.Time, s.CPU, s.PID, s.TID = uint32(src), ps.Time, ps.CPU, ps.PID, ps.TID
	// Most events count one; only a count is worth 8 bytes per sample.
	s.Period, s.HasPeriod = ps.Period, ps.Period != 1
	if s.HasPeriod {
		c.counted[src] = true
	}
	s.Raw = ps.Raw[:so.layout.rawLen(ps.Raw)]
	if c.opts.CallGraph {
		s.Callchain = ps.AppendChain(s.Callchain[:0])
		c.syms.see(ps.PID, s.Callchain)
	}
	if c.cg != nil {
		if id, ok := ps.Cgroup(); ok {
			if err := c.cg.sample(c.out, ps.PID, ps.TID, ps.Time, id); err != nil {
				return writeError(c.opts.Output, err)
			}
		}
	}
	c.recvCPU[src][qi]++
	c.lastNS = ps.Time
	return c.writeSample(s)
}

// writeSample writes sample s, then has the trigger see it and checks the
// size limits now and then.
func (c *capture) writeSample(s *format.Sample) error {
	if err := c.out.WriteSample(s); err != nil {
		return writeError(c.path, err)
	}
	if c.trig != nil {
		c.trig.see(c, s)
	}
	if c.sizeCheck--; c.sizeCheck <= 0 {
		c.sizeCheck = sizeCheckEvery
		if c.opts.sizeLimited() {
			return c.checkSize(s.Time)
		}
	}
	return nil
}
