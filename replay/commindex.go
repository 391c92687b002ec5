package replay

import "github.com/kpcap/kpcap/format"

// commIndex maps (tid, time) to comm dictionary indexes: the file's
// format.CommTable, whose names are the comm column's dictionary.
type commIndex struct {
	t    *format.CommTable
	dict []string
}

// newCommIndex indexes comms; cpus is the host's CPU count, for the names
// of the idle tasks.
func newCommIndex(comms []format.Comm, cpus int) *commIndex {
	t := format.NewCommTable(comms, cpus)
	return &commIndex{t: t, dict: t.Names()}
}

// idle returns the comm index of the idle task (tid 0) on cpu.
func (ci *commIndex) idle(cpu uint32) int32 { return ci.t.Idle(cpu) }

// lookup returns the comm index valid for tid (not 0) at t and the time
// range over which that answer holds.
func (ci *commIndex) lookup(pid, tid uint32, t uint64) (idx int32, from, til uint64) {
	return ci.t.Lookup(pid, tid, 0, t)
}
