package format

import (
	"slices"
	"sort"
	"strconv"
)

// CommTable answers which command name a task had at a time: the rule
// every reader of a trace shares (replay's comm column, CommOf). It holds
// two flat slices sorted by task then time, a few words per comm record
// whatever the number of threads, so a file naming MaxComms threads costs
// tens of MB, not a map entry and a slice per thread.
type CommTable struct {
	byTID []commRec // records naming a thread
	byPID []commRec // records naming a process (its main thread)
	names []string
	// idleCPU[cpu] is the index of "swapper/cpu", idleAny that of "swapper"
	// (for CPUs beyond the host's count).
	idleCPU []int32
	idleAny int32
}

// commRec says that task id is named names[name] from time t on.
type commRec struct {
	id   uint32
	name int32
	t    uint64
}

// maxIdleNames bounds the per-CPU idle names (the kernel's NR_CPUS is at
// most 8192), so a hostile CPU count costs no memory.
const maxIdleNames = 8192

// NewCommTable indexes comms; cpus is the recording host's CPU count, for
// the names of the idle tasks.
func NewCommTable(comms []Comm, cpus int) *CommTable {
	ct := &CommTable{}
	ids := map[string]int32{}
	intern := func(name string) int32 {
		i, ok := ids[name]
		if !ok {
			i = int32(len(ct.names))
			ids[name] = i
			ct.names = append(ct.names, name)
		}
		return i
	}
	nt, np := 0, 0
	for _, c := range comms {
		if c.TID != 0 {
			nt++
		}
		if namesProcess(c) {
			np++
		}
	}
	ct.byTID = make([]commRec, 0, nt)
	ct.byPID = make([]commRec, 0, np)
	for _, c := range comms {
		i := intern(c.Comm)
		if c.TID != 0 {
			ct.byTID = append(ct.byTID, commRec{c.TID, i, c.Time})
		}
		if namesProcess(c) {
			ct.byPID = append(ct.byPID, commRec{c.PID, i, c.Time})
		}
	}
	ct.idleAny = intern("swapper")
	ct.idleCPU = make([]int32, min(max(cpus, 0), maxIdleNames))
	for cpu := range ct.idleCPU {
		ct.idleCPU[cpu] = intern("swapper/" + strconv.Itoa(cpu))
	}
	// Stable: of two records of one task at one time, the later in the file wins.
	for _, rs := range [][]commRec{ct.byTID, ct.byPID} {
		slices.SortStableFunc(rs, func(a, b commRec) int {
			switch {
			case a.id < b.id:
				return -1
			case a.id > b.id:
				return 1
			case a.t < b.t:
				return -1
			case a.t > b.t:
				return 1
			}
			return 0
		})
	}
	return ct
}

// namesProcess reports whether c names a process: its main thread, or a
// process without a thread id.
func namesProcess(c Comm) bool { return c.PID != 0 && (c.TID == 0 || c.TID == c.PID) }

// Names is the table's dictionary: Lookup returns indexes into it.
func (ct *CommTable) Names() []string { return ct.names }

// Idle returns the name index of the idle task (tid 0) on cpu. The kernel
// names it "swapper/N" on CPU N (perf shows "swapper").
func (ct *CommTable) Idle(cpu uint32) int32 {
	if cpu < uint32(len(ct.idleCPU)) {
		return ct.idleCPU[cpu]
	}
	return ct.idleAny
}

// recsOf returns the records of task id in rs (sorted by time).
func recsOf(rs []commRec, id uint32) []commRec {
	lo := sort.Search(len(rs), func(i int) bool { return rs[i].id >= id })
	hi := lo + sort.Search(len(rs)-lo, func(i int) bool { return rs[lo+i].id > id })
	return rs[lo:hi]
}

// Lookup returns the name index of thread tid of process pid on cpu at t,
// -1 if the trace does not name it, and the time range [from, til) over
// which that answer holds. The thread's own record wins over its
// process's; before a task's first record its first name holds (the
// recorder names tasks when it first meets them); the idle task (tid 0)
// is swapper/N on CPU N.
func (ct *CommTable) Lookup(pid, tid, cpu uint32, t uint64) (idx int32, from, til uint64) {
	if tid == 0 {
		return ct.Idle(cpu), 0, ^uint64(0)
	}
	rs := recsOf(ct.byTID, tid)
	if len(rs) == 0 {
		rs = recsOf(ct.byPID, pid)
	}
	if len(rs) == 0 {
		return -1, 0, ^uint64(0)
	}
	j := sort.Search(len(rs), func(i int) bool { return rs[i].t > t }) - 1
	if j < 0 {
		return rs[0].name, 0, rs[0].t
	}
	til = ^uint64(0)
	if j+1 < len(rs) {
		til = rs[j+1].t
	}
	if j == 0 {
		return rs[j].name, 0, til
	}
	return rs[j].name, rs[j].t, til
}
