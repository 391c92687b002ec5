package format

import (
	"sort"
	"sync"
)

// lookups are the indexes behind CommOf, KernelSymbol and UserSymbol, built
// on first use.
type lookups struct {
	once   sync.Once
	byTID  map[uint32][]Comm // sorted by Time
	byPID  map[uint32][]Comm
	frames map[userKey]UserFrame
}

type userKey struct {
	pid  uint32
	addr uint64
}

func (f *File) buildLookups() {
	l := &f.look
	l.once.Do(func() {
		l.byTID = map[uint32][]Comm{}
		l.byPID = map[uint32][]Comm{}
		for _, c := range f.Comms {
			if c.TID != 0 {
				l.byTID[c.TID] = append(l.byTID[c.TID], c)
			}
			l.byPID[c.PID] = append(l.byPID[c.PID], c)
		}
		for _, m := range []map[uint32][]Comm{l.byTID, l.byPID} {
			for _, cs := range m {
				sort.SliceStable(cs, func(i, j int) bool { return cs[i].Time < cs[j].Time })
			}
		}
		l.frames = make(map[userKey]UserFrame, len(f.UserFrames))
		for _, u := range f.UserFrames {
			l.frames[userKey{u.PID, u.Addr}] = u
		}
	})
}

// commAt returns the name in effect at t: the last record at or before t,
// else the first one (a process named before the trace started).
func commAt(cs []Comm, t uint64) (string, bool) {
	if len(cs) == 0 {
		return "", false
	}
	i := sort.Search(len(cs), func(i int) bool { return cs[i].Time > t })
	if i == 0 {
		return cs[0].Comm, true
	}
	return cs[i-1].Comm, true
}

// CommOf returns the command name of pid (or tid) at time t, "" if unknown.
// A thread's own record wins over its process's.
func (f *File) CommOf(pid uint32, t uint64) string {
	f.buildLookups()
	if c, ok := commAt(f.look.byTID[pid], t); ok {
		return c
	}
	c, _ := commAt(f.look.byPID[pid], t)
	return c
}

// maxSymbolSpan is how far past its start an address may lie for a
// symbol of unknown size that has no successor.
const maxSymbolSpan = 1 << 20

// KernelSymbol resolves a kernel address: name, offset into it, ok.
func (f *File) KernelSymbol(addr uint64) (name string, off uint64, ok bool) {
	s := f.Symbols
	i := sort.Search(len(s), func(i int) bool { return s[i].Addr > addr }) - 1
	if i < 0 {
		return "", 0, false
	}
	sym := &s[i]
	off = addr - sym.Addr
	switch {
	case sym.Size > 0:
		if off >= sym.Size {
			return "", 0, false
		}
	case i == len(s)-1 && off >= maxSymbolSpan:
		return "", 0, false
	}
	return sym.Name, off, true
}

// UserSymbol resolves a user address of pid from the recorded UserFrames.
func (f *File) UserSymbol(pid uint32, addr uint64) (UserFrame, bool) {
	f.buildLookups()
	u, ok := f.look.frames[userKey{pid, addr}]
	return u, ok
}
