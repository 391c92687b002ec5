package replay

type commCacheEntry struct {
	tid       uint32
	idx       int32
	from, til uint64
	pid       uint32
	ok        bool
}

// commCache remembers, per tid modulo 256, the comm index last found and the
// time range it holds for: consecutive samples of a thread mostly hit it.
// An entry answers for its (pid, tid) pair only: a tid the trace does not
// name takes its process's name, and one tid (-1 in sched_switch rows of
// exiting tasks, or a tid reused across pid namespaces) can come with
// several pids.
type commCache [256]commCacheEntry

// hit reports whether l holds the answer for tid of pid at t.
func (l *commCacheEntry) hit(pid, tid uint32, t uint64) bool {
	return l.ok && l.tid == tid && l.pid == pid && t >= l.from && t < l.til
}

// lookup returns the comm dictionary index of tid (or pid) on cpu at t, -1
// if unknown.
func (c *commCache) lookup(comms *commIndex, pid, tid, cpu uint32, t uint64) int32 {
	if tid == 0 {
		return comms.idle(cpu)
	}
	l := &c[tid&255]
	if l.hit(pid, tid, t) {
		return l.idx
	}
	idx, from, til := comms.lookup(pid, tid, t)
	l.tid, l.pid, l.from, l.til, l.idx, l.ok = tid, pid, from, til, idx, true
	return idx
}
